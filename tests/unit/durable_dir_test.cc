// WriteAll, CreateFileDurably and ReplaceFileDurably (core/durable_dir.h):
// every byte written or an error naming the file; a new file never replaces
// one; a replaced file holds the new content whole.
#include "core/durable_dir.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace refx {
namespace {

namespace fs = std::filesystem;

class DurableDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("refx-durable-dir-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    ASSERT_TRUE(CreateDirDurably(dir_.string()).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  fs::path dir_;
};

TEST_F(DurableDirTest, WriteAllHandsEveryByteThroughAPipeFasterThanItDrains) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string data(1 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  std::string received;
  std::thread reader([&] {
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) received.append(buf, static_cast<size_t>(n));
  });
  const Status s = WriteAll(fds[1], data, "the pipe");
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(received, data);
}

TEST_F(DurableDirTest, WriteAllGoesOnAfterAShortWriteAndNamesTheFileWhenItFails) {
  // RLIMIT_FSIZE makes the first write(2) short (it stops at the limit) and
  // the next fail with EFBIG, once SIGXFSZ is ignored.
  const std::string path = (dir_ / "limited").string();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  struct rlimit before;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &before), 0);
  struct sigaction ignore {}, old_action {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &old_action), 0);
  struct rlimit limited = before;
  limited.rlim_cur = 1000;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  const Status s = WriteAll(fd, std::string(4000, 'x'), path);
  ::setrlimit(RLIMIT_FSIZE, &before);
  ::sigaction(SIGXFSZ, &old_action, nullptr);
  ::close(fd);
  EXPECT_EQ(s.code(), Status::Code::kIoError) << s.ToString();
  EXPECT_NE(s.message().find("cannot write " + path), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("large"), std::string::npos) << "the reason: " << s.ToString();
  EXPECT_EQ(fs::file_size(path), 1000u) << "the short write's bytes, then the error";
}

TEST_F(DurableDirTest, WriteAllOnAClosedDescriptorIsAnError) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  ::close(fds[1]);
  const Status s = WriteAll(fds[1], "x", "gone.txt");
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_NE(s.message().find("cannot write gone.txt"), std::string::npos) << s.ToString();
}

TEST_F(DurableDirTest, ReplaceFileDurablyLeavesTheNewContentAndNoTemporaryFile) {
  const fs::path path = dir_ / "state.txt";
  ASSERT_TRUE(ReplaceFileDurably(path.string(), "old\n").ok());
  ASSERT_TRUE(ReplaceFileDurably(path.string(), "new content\n").ok());
  EXPECT_EQ(Read(path), "new content\n");
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
}

TEST_F(DurableDirTest, ReplaceFileDurablyInAMissingFolderNamesTheFile) {
  const std::string path = (dir_ / "missing" / "state.txt").string();
  const Status s = ReplaceFileDurably(path, "x");
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_NE(s.message().find(path + ".tmp"), std::string::npos) << s.ToString();
}

TEST_F(DurableDirTest, CreateFileDurablyWritesANewFileAndNeverReplacesOne) {
  const fs::path path = dir_ / "master.key";
  ASSERT_TRUE(CreateFileDurably(path.string(), "first\n", 0600, "master key").ok());
  EXPECT_EQ(Read(path), "first\n");
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  const Status again = CreateFileDurably(path.string(), "second\n", 0600, "master key");
  EXPECT_EQ(again.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(again.message().find(path.string() + ": already exists; refusing to replace a master key"),
            std::string::npos)
      << again.ToString();
  EXPECT_EQ(Read(path), "first\n") << "the existing file is left alone";
  const Status missing = CreateFileDurably((dir_ / "missing" / "k").string(), "x", 0600, "master key");
  EXPECT_EQ(missing.code(), Status::Code::kIoError);
  EXPECT_NE(missing.message().find("cannot create " + (dir_ / "missing" / "k").string()), std::string::npos)
      << missing.ToString();
}

}  // namespace
}  // namespace refx
