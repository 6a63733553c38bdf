// `refx audit verify`, `refx audit checkpoint` and `refx keys
// gen-signing-key` run as a child process (the real binary): exit codes,
// the human line and the --json result.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/json.h"
#include "eventlog/checkpoints.h"
#include "eventlog/event_log.h"
#include "eventlog/hash_chain.h"
#include "eventlog/keys.h"
#include "refx/v1/cli.pb.h"
#include "testsupport/audit_log_builder.h"
#include "tests/unit/test_util.h"

namespace refx::eventlog {
namespace {

using audit_testing::RawDb;
using refx::testing::TempDir;

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

std::string Quote(const std::string& arg) { return "'" + arg + "'"; }

// Runs `binary` with `args`; stdin is /dev/null.
CliRun RunBinary(const std::string& binary, const std::vector<std::string>& args, const std::string& err_file) {
  std::string command = Quote(binary);
  for (const std::string& a : args) command += " " + Quote(a);
  command += " </dev/null 2>" + Quote(err_file);
  CliRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) run.out.append(buf, n);
  const int status = ::pclose(pipe);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_file);
  std::stringstream ss;
  ss << err.rdbuf();
  run.err = ss.str();
  return run;
}

class AuditCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_ = dir_.Sub("keys");
    db_ = dir_.Sub("log");
    // The key pair comes from the CLI itself.
    CliRun gen = Refx({"keys", "gen-signing-key", "broker", "--dir", keys_});
    ASSERT_EQ(gen.code, 0) << gen.out << gen.err;
    ASSERT_NE(gen.out.find("key id"), std::string::npos) << gen.out;
    pub_ = SigningPublicKeyPath(keys_, "broker");
    std::unique_ptr<CheckpointSigner> signer;
    ASSERT_TRUE(CheckpointSigner::Load(SigningSecretKeyPath(keys_, "broker"), &signer).ok());
    OpenOptions o;
    o.path = db_;
    std::unique_ptr<EventLog> log;
    ASSERT_TRUE(EventLog::Open(o, &log).ok());
    ASSERT_TRUE(audit_testing::AppendSynthetic(log.get(), 120, signer.get(), 40).ok());
  }

  CliRun Refx(const std::vector<std::string>& args) { return RunBinary(REFX_CLI_BIN, args, dir_.Sub("stderr.txt")); }

  void FlipActorByte(uint64_t seq) {
    RawDb raw(db_);
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    std::string value;
    ASSERT_TRUE(raw.Get("events", EncodeSeq(seq), &value));
    const size_t at = value.find("refx-router");  // the actor of a routing event
    ASSERT_NE(at, std::string::npos);
    value[at + 5] ^= 0x01;
    ASSERT_TRUE(raw.Put("events", EncodeSeq(seq), value));
  }

  TempDir dir_;
  std::string keys_, db_, pub_;
};

TEST_F(AuditCliTest, IntactLogExitsZero) {
  CliRun run = Refx({"audit", "verify", "--db", db_, "--signing-pub", pub_});
  EXPECT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_EQ(run.out.rfind("intact: 120 events (head seq 120)", 0), 0u) << run.out;
  EXPECT_NE(run.out.find("signed checkpoints verified up to seq 120"), std::string::npos) << run.out;
  // Not a terminal: no progress bar.
  EXPECT_EQ(run.err.find("verifying"), std::string::npos) << run.err;
}

TEST_F(AuditCliTest, IntactLogWithoutAKeyWarns) {
  CliRun run = Refx({"audit", "verify", "--db", db_});
  EXPECT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("NOT checked"), std::string::npos) << run.out;
}

TEST_F(AuditCliTest, JsonResultForAnIntactLog) {
  CliRun run = Refx({"audit", "verify", "--db", db_, "--signing-pub", pub_, "--json"});
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  v1::VerifyResult result;
  Status s = MessageFromJson(run.out, &result);
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << run.out;
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.problem(), "NONE");
  EXPECT_EQ(result.db(), db_);
  EXPECT_EQ(result.events_checked(), 120u);
  EXPECT_EQ(result.head_seq(), 120u);
  EXPECT_EQ(result.last_checkpoint_seq(), 120u);
  EXPECT_EQ(result.checkpoints_checked(), 3u);
  EXPECT_TRUE(result.checkpoints_authenticated());
}

TEST_F(AuditCliTest, TamperedLogExitsFourNamingTheFirstBadSeq) {
  FlipActorByte(57);  // a routing event
  CliRun run = Refx({"audit", "verify", "--db", db_, "--signing-pub", pub_});
  EXPECT_EQ(run.code, 4) << run.out << run.err;
  EXPECT_EQ(run.out.rfind("first bad seq 57: ALTERED_BYTES: ", 0), 0u) << run.out;

  run = Refx({"audit", "verify", "--db", db_, "--json"});
  EXPECT_EQ(run.code, 4) << run.out << run.err;
  v1::VerifyResult result;
  ASSERT_TRUE(MessageFromJson(run.out, &result).ok()) << run.out;
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.problem(), "ALTERED_BYTES");
  EXPECT_EQ(result.first_bad_seq(), 57u);
  EXPECT_FALSE(result.detail().empty());
}

TEST_F(AuditCliTest, DamagedHeadStillVerifies) {
  {
    RawDb raw(db_);
    ASSERT_TRUE(raw.status().ok());
    ASSERT_TRUE(raw.Delete("events", EncodeSeq(120)));  // the broker would refuse to open it
  }
  CliRun run = Refx({"audit", "verify", "--db", db_, "--signing-pub", pub_});
  EXPECT_EQ(run.code, 4) << run.out << run.err;
  EXPECT_EQ(run.out.rfind("first bad seq 120: TRUNCATED: ", 0), 0u) << run.out;
}

TEST_F(AuditCliTest, SetupErrorsExitOne) {
  CliRun run = Refx({"audit", "verify", "--db", dir_.Sub("nowhere")});
  EXPECT_EQ(run.code, 1) << run.out << run.err;
  EXPECT_NE(run.err.find("nowhere"), std::string::npos) << run.err;

  run = Refx({"audit", "verify", "--db", keys_});  // a folder, but not a log
  EXPECT_EQ(run.code, 1) << run.out << run.err;

  std::ofstream(dir_.Sub("bad.sign.pub")) << "not a key\n";
  run = Refx({"audit", "verify", "--db", db_, "--signing-pub", dir_.Sub("bad.sign.pub")});
  EXPECT_EQ(run.code, 1) << run.out << run.err;
  EXPECT_NE(run.err.find("bad.sign.pub"), std::string::npos) << run.err;

  run = Refx({"audit", "verify", "--db", db_, "--checkpoint", dir_.Sub("missing.jsonl")});
  EXPECT_EQ(run.code, 1) << run.out << run.err;
}

// refx hands the subcommands that open a log folder to refx-audit-offline
// in its own folder; a refx without it says so and changes nothing.
TEST_F(AuditCliTest, ARefxWithoutTheOfflineToolSaysItIsMissing) {
  const std::string alone = dir_.Sub("alone");
  std::filesystem::create_directories(alone);
  const std::string refx = alone + "/refx";
  std::filesystem::copy_file(REFX_CLI_BIN, refx);
  const std::string err = dir_.Sub("alone-stderr.txt");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"audit", "verify", "--db", db_}, {"audit", "checkpoint", "--db", db_},
        {"admin", "restore", dir_.Sub("backup"), "--to", dir_.Sub("restored")}}) {
    CliRun run = RunBinary(refx, args, err);
    EXPECT_EQ(run.code, 1) << args[1] << "\n" << run.out << run.err;
    EXPECT_NE(run.err.find(alone + "/refx-audit-offline, which is missing"), std::string::npos) << run.err;
    EXPECT_TRUE(run.out.empty()) << run.out;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("restored")));
  // What needs no log folder still works from the lone refx.
  CliRun gen = RunBinary(refx, {"keys", "gen-signing-key", "other", "--dir", keys_}, err);
  EXPECT_EQ(gen.code, 0) << gen.out << gen.err;
  // Bad arguments are refused by refx itself, before any hand-over.
  CliRun bad = RunBinary(refx, {"audit", "checkpoint"}, err);
  EXPECT_EQ(bad.code, 2) << bad.out << bad.err;
}

// The offline tool verifies log folders only: online verification is refx's.
TEST_F(AuditCliTest, TheOfflineToolRefusesAnOnlineVerify) {
  const std::string tool = (std::filesystem::path(REFX_CLI_BIN).parent_path() / "refx-audit-offline").string();
  CliRun run = RunBinary(tool, {"audit", "verify", "--purpose", "test"}, dir_.Sub("stderr.txt"));
  EXPECT_EQ(run.code, 2) << run.out << run.err;
  EXPECT_NE(run.err.find("refx audit verify --purpose"), std::string::npos) << run.err;
  run = RunBinary(tool, {"--home", dir_.Sub("nowhere"), "audit", "verify", "--db", db_}, dir_.Sub("stderr.txt"));
  EXPECT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_EQ(run.out.rfind("intact: 120 events", 0), 0u) << run.out;
}

// The latest checkpoint, saved off the host, catches a rewrite whose
// stored checkpoints were deleted with it.
TEST_F(AuditCliTest, SavedCheckpointCatchesARewriteWithItsCheckpointsDeleted) {
  CliRun saved = Refx({"audit", "checkpoint", "--db", db_});
  ASSERT_EQ(saved.code, 0) << saved.out << saved.err;
  v1::Checkpoint cp;
  ASSERT_TRUE(MessageFromJson(saved.out, &cp).ok()) << saved.out;
  EXPECT_EQ(cp.seq(), 120u);
  const std::string file = dir_.Sub("trusted.jsonl");
  std::ofstream(file) << saved.out;

  CliRun all = Refx({"audit", "checkpoint", "--db", db_, "--all"});
  ASSERT_EQ(all.code, 0);
  EXPECT_EQ(std::count(all.out.begin(), all.out.end(), '\n'), 3);

  {
    RawDb raw(db_);
    ASSERT_TRUE(raw.status().ok());
    std::string prev, value;
    ASSERT_TRUE(raw.Get("events", EncodeSeq(100), &value));
    prev = value.substr(value.size() - kHashBytes);
    for (uint64_t seq = 101; seq <= 120; ++seq) {
      ASSERT_TRUE(raw.Get("events", EncodeSeq(seq), &value));
      v1::Event e;
      ASSERT_TRUE(e.ParseFromString(value.substr(0, value.size() - kHashBytes)));
      e.mutable_time()->set_seconds(e.time().seconds() + 3600);
      const std::string bytes = e.SerializeAsString();
      prev = ChainHash(prev, seq, bytes);
      ASSERT_TRUE(raw.Put("events", EncodeSeq(seq), bytes + prev));
    }
    ASSERT_TRUE(raw.Put("meta", "head_hash", prev));
    ASSERT_TRUE(raw.Delete("checkpoints", EncodeSeq(120)));
  }
  CliRun fooled = Refx({"audit", "verify", "--db", db_, "--signing-pub", pub_});
  EXPECT_EQ(fooled.code, 0) << fooled.out;
  EXPECT_NE(fooled.out.find("seqs 81..120 are not yet covered"), std::string::npos) << fooled.out;

  CliRun caught = Refx({"audit", "verify", "--db", db_, "--signing-pub", pub_, "--checkpoint", file});
  EXPECT_EQ(caught.code, 4) << caught.out << caught.err;
  EXPECT_EQ(caught.out.rfind("first bad seq 81: CHAIN_RECOMPUTED: ", 0), 0u) << caught.out;
}

TEST_F(AuditCliTest, GenSigningKeyKeepsAnExistingKey) {
  const std::string secret = SigningSecretKeyPath(keys_, "broker");
  std::ifstream before_in(secret);
  const std::string before((std::istreambuf_iterator<char>(before_in)), std::istreambuf_iterator<char>());
  CliRun again = Refx({"keys", "gen-signing-key", "broker", "--dir", keys_});
  EXPECT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("kept"), std::string::npos) << again.out;
  std::ifstream after_in(secret);
  const std::string after((std::istreambuf_iterator<char>(after_in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(before, after);
  struct stat st {};
  ASSERT_EQ(::stat(secret.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace refx::eventlog
