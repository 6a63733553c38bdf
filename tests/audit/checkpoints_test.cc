// Unit tests for eventlog/checkpoints.h (signing keys, signing, verifying,
// storing checkpoints, the schedule) and eventlog/fast_chain_hash.h.

#include "eventlog/checkpoints.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "eventlog/fast_chain_hash.h"
#include "eventlog/hash_chain.h"
#include "eventlog/keys.h"
#include "testsupport/audit_log_builder.h"
#include "tests/unit/test_util.h"

namespace refx::eventlog {
namespace {

using refx::testing::TempDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

std::string Hash(char fill) { return std::string(kHashBytes, fill); }

class CheckpointKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto());
    std::string id;
    Status s = GenerateSigningKeyPair(dir_.path(), "broker", &id);
    ASSERT_TRUE(s.ok()) << s.ToString();
    key_id_ = id;
    s = CheckpointSigner::Load(SigningSecretKeyPath(dir_.path(), "broker"), &signer_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = LoadSigningPublicKey(SigningPublicKeyPath(dir_.path(), "broker"), &public_key_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  TempDir dir_;
  std::string key_id_;
  std::unique_ptr<CheckpointSigner> signer_;
  std::string public_key_;
};

TEST_F(CheckpointKeysTest, KeyFilesAreHexLinesAndTheSecretIsPrivate) {
  const std::string secret_path = SigningSecretKeyPath(dir_.path(), "broker");
  const std::string public_path = SigningPublicKeyPath(dir_.path(), "broker");
  EXPECT_EQ(secret_path, dir_.path() + "/broker.sign.key");
  EXPECT_EQ(public_path, dir_.path() + "/broker.sign.pub");
  struct stat st {};
  ASSERT_EQ(::stat(secret_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  for (const std::string& path : {secret_path, public_path}) {
    const std::string text = ReadFile(path);
    ASSERT_EQ(text.size(), 65u) << path;
    EXPECT_EQ(text.back(), '\n');
    EXPECT_EQ(text.find_first_not_of("0123456789abcdef"), 64u) << path;
  }
  EXPECT_NE(ReadFile(secret_path), ReadFile(public_path));
  EXPECT_EQ(public_key_.size(), kSigningPublicKeyBytes);
  EXPECT_EQ(signer_->public_key(), public_key_);
  EXPECT_EQ(signer_->key_id(), key_id_);
  EXPECT_EQ(SigningKeyId(public_key_), key_id_);
  EXPECT_EQ(key_id_.size(), 16u);
}

TEST_F(CheckpointKeysTest, GenerateRefusesToReplaceAKeyAndLeavesItUnchanged) {
  const std::string before = ReadFile(SigningSecretKeyPath(dir_.path(), "broker"));
  Status s = GenerateSigningKeyPair(dir_.path(), "broker");
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(ReadFile(SigningSecretKeyPath(dir_.path(), "broker")), before);
  // Only the secret left: still refused, and no public key is made up.
  std::filesystem::remove(SigningPublicKeyPath(dir_.path(), "broker"));
  s = GenerateSigningKeyPair(dir_.path(), "broker");
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_FALSE(std::filesystem::exists(SigningPublicKeyPath(dir_.path(), "broker")));
}

TEST_F(CheckpointKeysTest, GenerateCreatesTheFolderAndDistinctKeys) {
  const std::string sub = dir_.Sub("a/b");
  std::string id1, id2;
  ASSERT_TRUE(GenerateSigningKeyPair(sub, "one", &id1).ok());
  ASSERT_TRUE(GenerateSigningKeyPair(sub, "two", &id2).ok());
  EXPECT_NE(id1, id2);
  EXPECT_EQ(GenerateSigningKeyPair(sub, "", nullptr).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(GenerateSigningKeyPair(sub, "x/y", nullptr).code(), Status::Code::kInvalidArgument);
}

TEST_F(CheckpointKeysTest, MalformedKeyFilesAreRefusedNamingTheFile) {
  const std::string path = dir_.Sub("bad.sign.pub");
  for (const std::string& text : {std::string(""), std::string(63, 'a'), std::string(65, 'a'),
                                  std::string(64, 'g'), std::string(62, 'a') + "  "}) {
    WriteFile(path, text);
    std::string key;
    Status s = LoadSigningPublicKey(path, &key);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << "'" << text << "'";
    EXPECT_NE(s.message().find(path), std::string::npos) << s.ToString();
    std::unique_ptr<CheckpointSigner> signer;
    EXPECT_EQ(CheckpointSigner::Load(path, &signer).code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(signer, nullptr);
  }
  // Surrounding white space is fine.
  WriteFile(path, "  \n" + ReadFile(SigningPublicKeyPath(dir_.path(), "broker")) + "\n\n");
  std::string key;
  ASSERT_TRUE(LoadSigningPublicKey(path, &key).ok());
  EXPECT_EQ(key, public_key_);
  std::unique_ptr<CheckpointSigner> signer;
  EXPECT_EQ(CheckpointSigner::Load(dir_.Sub("missing.sign.key"), &signer).code(), Status::Code::kIoError);
  EXPECT_EQ(LoadSigningPublicKey(dir_.Sub("missing.sign.pub"), &key).code(), Status::Code::kIoError);
}

TEST_F(CheckpointKeysTest, SignedBytesAreTheDocumentedLayout) {
  const std::string bytes = CheckpointSignedBytes(0x0102030405060708ULL, Hash('\x11'), 0x1122334455667788LL);
  const std::string expected = std::string("refx-checkpoint-v1") + "\x01\x02\x03\x04\x05\x06\x07\x08" + Hash('\x11') +
                               "\x11\x22\x33\x44\x55\x66\x77\x88";
  EXPECT_EQ(bytes, expected);
  EXPECT_EQ(bytes.size(), 18u + 8u + 32u + 8u);
}

TEST_F(CheckpointKeysTest, SignThenVerify) {
  v1::Checkpoint cp;
  ASSERT_TRUE(signer_->SignAt(42, Hash('h'), 1795000000, &cp).ok());
  EXPECT_EQ(cp.seq(), 42u);
  EXPECT_EQ(cp.chain_hash(), Hash('h'));
  EXPECT_EQ(cp.signed_at().seconds(), 1795000000);
  EXPECT_EQ(cp.signed_at().nanos(), 0);
  EXPECT_EQ(cp.key_id(), key_id_);
  EXPECT_EQ(cp.signature().size(), kCheckpointSignatureBytes);
  Status s = VerifyCheckpoint(cp, public_key_);
  EXPECT_TRUE(s.ok()) << s.ToString();
  // The signature is Ed25519 over the documented bytes, checkable without us.
  const std::string message = CheckpointSignedBytes(42, Hash('h'), 1795000000);
  EXPECT_EQ(crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(cp.signature().data()),
                                        reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                                        reinterpret_cast<const unsigned char*>(public_key_.data())),
            0);

  v1::Checkpoint now;
  ASSERT_TRUE(signer_->Sign(42, Hash('h'), &now).ok());
  EXPECT_GT(now.signed_at().seconds(), 1700000000);
  EXPECT_TRUE(VerifyCheckpoint(now, public_key_).ok());

  EXPECT_EQ(signer_->SignAt(0, Hash('h'), 1, &cp).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(signer_->SignAt(1, "short", 1, &cp).code(), Status::Code::kInvalidArgument);
}

TEST_F(CheckpointKeysTest, EveryChangedFieldFailsVerification) {
  v1::Checkpoint good;
  ASSERT_TRUE(signer_->SignAt(42, Hash('h'), 1795000000, &good).ok());
  std::vector<std::pair<const char*, v1::Checkpoint>> bad;
  v1::Checkpoint c = good;
  c.set_seq(43);
  bad.emplace_back("seq", c);
  c = good;
  c.set_seq(0);
  bad.emplace_back("seq 0", c);
  c = good;
  c.mutable_chain_hash()->at(5) ^= 1;
  bad.emplace_back("hash", c);
  c = good;
  c.set_chain_hash("short");
  bad.emplace_back("short hash", c);
  c = good;
  c.mutable_signed_at()->set_seconds(1795000001);
  bad.emplace_back("time", c);
  c = good;
  c.mutable_signed_at()->set_nanos(5);
  bad.emplace_back("nanos", c);
  c = good;
  c.mutable_signature()->at(10) ^= 1;
  bad.emplace_back("signature", c);
  c = good;
  c.mutable_signature()->pop_back();
  bad.emplace_back("short signature", c);
  c = good;
  c.set_key_id("0000000000000000");
  bad.emplace_back("key id", c);
  for (const auto& [what, cp] : bad) {
    Status s = VerifyCheckpoint(cp, public_key_);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << what;
  }
  // Another key, even when the key id is forged to match it.
  std::string other_id;
  ASSERT_TRUE(GenerateSigningKeyPair(dir_.path(), "other", &other_id).ok());
  std::string other;
  ASSERT_TRUE(LoadSigningPublicKey(SigningPublicKeyPath(dir_.path(), "other"), &other).ok());
  EXPECT_FALSE(VerifyCheckpoint(good, other).ok());
  c = good;
  c.set_key_id(other_id);
  Status s = VerifyCheckpoint(c, other);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("does not verify"), std::string::npos) << s.ToString();
  EXPECT_FALSE(VerifyCheckpoint(good, "not a key").ok());
}

TEST_F(CheckpointKeysTest, SignAndStoreHeadThenReadCheckpoints) {
  OpenOptions o;
  o.path = dir_.Sub("log");
  std::unique_ptr<EventLog> log;
  ASSERT_TRUE(EventLog::Open(o, &log).ok());
  v1::Checkpoint cp;
  ASSERT_TRUE(SignAndStoreHead(*signer_, log.get(), &cp).ok());  // empty log: nothing
  std::vector<v1::Checkpoint> stored;
  ASSERT_TRUE(ReadCheckpoints(*log, &stored).ok());
  EXPECT_TRUE(stored.empty());

  ASSERT_TRUE(audit_testing::AppendSynthetic(log.get(), 7, nullptr, 0).ok());
  ASSERT_TRUE(SignAndStoreHead(*signer_, log.get(), &cp).ok());
  EXPECT_EQ(cp.seq(), 7u);
  EXPECT_EQ(cp.chain_hash(), log->head_hash());
  ASSERT_TRUE(audit_testing::AppendSynthetic(log.get(), 3, nullptr, 0).ok());
  ASSERT_TRUE(SignAndStoreHead(*signer_, log.get(), nullptr).ok());
  const std::string head10 = log->head_hash();
  log.reset();

  o.read_only = true;
  ASSERT_TRUE(EventLog::Open(o, &log).ok());
  ASSERT_TRUE(ReadCheckpoints(*log, &stored).ok());
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].seq(), 7u);
  EXPECT_EQ(stored[1].seq(), 10u);
  EXPECT_EQ(stored[1].chain_hash(), head10);
  for (const auto& c : stored) EXPECT_TRUE(VerifyCheckpoint(c, public_key_).ok());
  // Read-only logs cannot store checkpoints.
  EXPECT_FALSE(log->PutCheckpoint(11, "x").ok());
}

// A log written before the checkpoints family existed opens read-only
// without it (no checkpoints), and read-write adds it.
TEST_F(CheckpointKeysTest, LogWithoutTheCheckpointsFamilyOpens) {
  OpenOptions o;
  o.path = dir_.Sub("old");
  {
    std::unique_ptr<EventLog> log;
    ASSERT_TRUE(EventLog::Open(o, &log).ok());
    ASSERT_TRUE(audit_testing::AppendSynthetic(log.get(), 5, nullptr, 0).ok());
  }
  {
    audit_testing::RawDb raw(o.path);
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    ASSERT_TRUE(raw.db()->DropColumnFamily(raw.cf("checkpoints")).ok());
  }
  o.read_only = true;
  o.create_if_missing = false;
  std::unique_ptr<EventLog> log;
  Status s = EventLog::Open(o, &log);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(log->head_seq(), 5u);
  std::vector<v1::Checkpoint> stored;
  EXPECT_TRUE(ReadCheckpoints(*log, &stored).ok());
  EXPECT_TRUE(stored.empty());
  EXPECT_FALSE(log->PutCheckpoint(5, "x").ok());
  log.reset();

  o.read_only = false;
  o.create_if_missing = true;  // as the broker opens it: missing families are created
  ASSERT_TRUE(EventLog::Open(o, &log).ok());
  ASSERT_TRUE(SignAndStoreHead(*signer_, log.get()).ok());
  ASSERT_TRUE(ReadCheckpoints(*log, &stored).ok());
  EXPECT_EQ(stored.size(), 1u);
}

TEST(CheckpointScheduleTest, DueAfterEnoughEventsOrTimeWhenTheHeadMoved) {
  using Clock = CheckpointSchedule::Clock;
  const Clock::time_point t0 = Clock::now();
  CheckpointSchedule schedule(100, std::chrono::seconds(60));
  EXPECT_FALSE(schedule.Due(0, t0));  // empty log
  EXPECT_TRUE(schedule.Due(5, t0));   // never signed: the time trigger has passed
  schedule.Done(5, t0);
  EXPECT_FALSE(schedule.Due(5, t0 + std::chrono::hours(1)));  // head did not move
  EXPECT_FALSE(schedule.Due(104, t0 + std::chrono::seconds(59)));
  EXPECT_TRUE(schedule.Due(105, t0 + std::chrono::seconds(1)));  // 100 events
  EXPECT_TRUE(schedule.Due(6, t0 + std::chrono::seconds(60)));   // 60 seconds
  schedule.Done(105, t0 + std::chrono::seconds(1));
  EXPECT_FALSE(schedule.Due(106, t0 + std::chrono::seconds(2)));

  CheckpointSchedule events_only(10, std::chrono::seconds(0));
  events_only.Done(1, t0);
  EXPECT_FALSE(events_only.Due(2, t0 + std::chrono::hours(24)));
  EXPECT_TRUE(events_only.Due(11, t0));
  CheckpointSchedule time_only(0, std::chrono::seconds(5));
  time_only.Done(1, t0);
  EXPECT_FALSE(time_only.Due(1000000, t0 + std::chrono::seconds(4)));
  EXPECT_TRUE(time_only.Due(2, t0 + std::chrono::seconds(5)));
}

// The accelerated chain hash agrees with ChainHash for every length around
// the block boundaries and for random contents.
TEST(FastChainHashTest, MatchesChainHash) {
  ASSERT_TRUE(InitCrypto());
  std::mt19937_64 rng(7);
  for (size_t len = 0; len < 700; ++len) {
    for (int rep = 0; rep < 3; ++rep) {
      std::string prev(kHashBytes, '\0'), bytes(len, '\0');
      for (auto& ch : prev) ch = static_cast<char>(rng());
      for (auto& ch : bytes) ch = static_cast<char>(rng());
      const uint64_t seq = rng();
      unsigned char out[kHashBytes];
      ChainHashInto(prev, seq, bytes, out);
      ASSERT_EQ(std::string(reinterpret_cast<char*>(out), kHashBytes), ChainHash(prev, seq, bytes))
          << "length " << len << (ChainHashAccelerated() ? " (SHA extensions)" : " (portable)");
    }
  }
  // A large event too.
  std::string big(100000, 'x');
  unsigned char out[kHashBytes];
  ChainHashInto(GenesisHash(), 1, big, out);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(out), kHashBytes), ChainHash(GenesisHash(), 1, big));
}

}  // namespace
}  // namespace refx::eventlog
