// Power loss on refx-faultfs (tests/faultfs/faultfs.cc) for the durable
// state of the event log and of the services, file by file: what was
// acknowledged as stored must be there after a cut. Skipped where /dev/fuse
// or fusermount3 is missing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "adapters/spool/spool.h"
#include "eventlog/event_log.h"
#include "services/common/state_dir_lock.h"
#include "client/cursor_file.h"

namespace refx {
namespace {

namespace fs = std::filesystem;

bool IsMountPoint(const fs::path& p) {
  std::ifstream mounts("/proc/self/mounts");
  std::string dev, dir, rest;
  while (mounts >> dev >> dir && std::getline(mounts, rest)) {
    if (dir == p.string()) return true;
  }
  return false;
}

// A refx-faultfs mount in a fresh temporary folder, unmounted at the end.
class PowerLossTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists("/dev/fuse") || std::system("command -v fusermount3 >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "no /dev/fuse or no fusermount3 (Debian package fuse3)";
    }
    char tmpl[] = "/tmp/refx-power-loss-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    mnt_ = tmp_ / "mnt";
    fs::create_directories(mnt_);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl(REFX_FAULTFS_BIN, REFX_FAULTFS_BIN, mnt_.c_str(), "-f", "-o", "auto_unmount,max_threads=8",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !IsMountPoint(mnt_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    ASSERT_TRUE(IsMountPoint(mnt_)) << "refx-faultfs did not mount at " << mnt_;
  }

  void TearDown() override {
    if (pid_ > 0) {
      std::system(("fusermount3 -u " + mnt_.string() + " 2>/dev/null").c_str());
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    if (!tmp_.empty()) fs::remove_all(tmp_, ec);
  }

  // Drops every write, create, rename and unlink not yet made durable.
  void Cut() { Control("cut"); }

  void Control(const std::string& command) {
    std::ofstream control(mnt_ / ".faultfs");
    control << command;
    control.close();
    ASSERT_TRUE(control.good()) << command;
  }

  fs::path tmp_, mnt_;
  pid_t pid_ = -1;
};

TEST_F(PowerLossTest, AnEventAppendedIntoANewLogFolderSurvives) {
  const std::string path = (mnt_ / "var" / "data").string();
  {
    eventlog::OpenOptions options;
    options.path = path;
    std::unique_ptr<eventlog::EventLog> log;
    ASSERT_TRUE(eventlog::EventLog::Open(options, &log).ok());
    eventlog::PendingEvent pending;
    pending.event.set_seq(1);
    pending.event.set_actor("agency-a");
    pending.event.mutable_time()->set_seconds(1767225600);
    pending.event.mutable_referral_submitted()->set_referral_id("R-0000000001");
    ASSERT_TRUE(log->AppendBatch({pending}).ok());  // synced: the broker would acknowledge now
  }
  Cut();
  eventlog::OpenOptions options;
  options.path = path;
  options.read_only = true;
  options.create_if_missing = false;
  std::unique_ptr<eventlog::EventLog> log;
  const Status s = eventlog::EventLog::Open(options, &log);
  ASSERT_TRUE(s.ok()) << "the acknowledged log is gone: " << s.ToString();
  EXPECT_EQ(log->head_seq(), 1u);
}

TEST_F(PowerLossTest, ACursorStoredInANewStateFolderSurvives) {
  const std::string dir = (mnt_ / "state" / "router").string();
  {
    StateDirLock lock;
    ASSERT_TRUE(lock.Acquire(dir, "refx-router").ok());
    ASSERT_TRUE(CursorFile(dir + "/router.cursor").Store(42).ok());
  }
  Cut();
  uint64_t seq = 0;
  ASSERT_TRUE(CursorFile(dir + "/router.cursor").Load(&seq).ok());
  EXPECT_EQ(seq, 42u) << "the router would route the whole log again";
}

TEST_F(PowerLossTest, AFolderAScriptMadeBeforehandIsMadeDurable) {
  fs::create_directories(mnt_ / "state");  // as `mkdir -p` would: not synced
  const std::string dir = (mnt_ / "state" / "delivery").string();
  fs::create_directories(dir);
  {
    StateDirLock lock;
    ASSERT_TRUE(lock.Acquire(dir, "refx-delivery").ok());
  }
  Cut();
  EXPECT_TRUE(fs::is_directory(dir));
}

TEST_F(PowerLossTest, AReferralTheAdapterSpooledInANewSpoolSurvives) {
  const std::string dir = (mnt_ / "state" / "adapter-spool").string();
  fs::create_directories(mnt_ / "state");
  Control("sync");  // state/ itself is durable; the spool makes its own folders
  {
    std::unique_ptr<adapters::Spool> spool;
    ASSERT_TRUE(adapters::Spool::Open(dir, &spool).ok());
    v1::Referral referral;
    referral.set_referrer_reference("SPOOLED-1");
    ASSERT_TRUE(spool->Append({referral}, "http").ok());  // the intake would answer 202 now
  }
  Cut();
  std::unique_ptr<adapters::Spool> spool;
  ASSERT_TRUE(adapters::Spool::Open(dir, &spool).ok());
  EXPECT_TRUE(spool->FindWaiting("SPOOLED-1").ok()) << "a referral answered 202 is gone";
}

}  // namespace
}  // namespace refx
