// Tamper tests for eventlog/verifier.h: a real log of 300 synthetic events
// (submissions with dedupe keys, routed / acknowledged / outcome events with
// destinations, record accesses) with a checkpoint signed every 50 events is
// copied for each case, tampered with through RocksDB directly, and the
// verifier must name the first bad seq and the class of the problem.
// Each case runs with one worker thread, with three (ranges 1-100,
// 101-200, 201-300), so damage at range boundaries is covered, and with
// three taking twelve ranges of 25 in turn (the way big logs are scanned).

#include "eventlog/verifier.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>

#include "core/event_util.h"
#include "eventlog/checkpoints.h"
#include "eventlog/hash_chain.h"
#include "eventlog/keys.h"
#include "testsupport/audit_log_builder.h"
#include "tests/unit/test_util.h"

namespace refx::eventlog {
namespace {

using audit_testing::RawDb;
using refx::testing::TempDir;

constexpr uint64_t kEvents = 300;
constexpr uint64_t kCheckpointEvery = 50;

// The untouched log, its keys and its checkpoints, built once.
struct Master {
  TempDir dir;
  std::string path;
  std::string public_key;
  std::string other_public_key;
  std::unique_ptr<CheckpointSigner> other_signer;
  std::vector<v1::Checkpoint> checkpoints;
};
Master* master = nullptr;

void BuildMaster() {
  master = new Master();
  master->path = master->dir.Sub("log");
  ASSERT_TRUE(GenerateSigningKeyPair(master->dir.path(), "broker").ok());
  ASSERT_TRUE(GenerateSigningKeyPair(master->dir.path(), "other").ok());
  std::unique_ptr<CheckpointSigner> signer;
  ASSERT_TRUE(CheckpointSigner::Load(SigningSecretKeyPath(master->dir.path(), "broker"), &signer).ok());
  ASSERT_TRUE(CheckpointSigner::Load(SigningSecretKeyPath(master->dir.path(), "other"), &master->other_signer).ok());
  ASSERT_TRUE(LoadSigningPublicKey(SigningPublicKeyPath(master->dir.path(), "broker"), &master->public_key).ok());
  ASSERT_TRUE(LoadSigningPublicKey(SigningPublicKeyPath(master->dir.path(), "other"), &master->other_public_key).ok());
  OpenOptions o;
  o.path = master->path;
  std::unique_ptr<EventLog> log;
  ASSERT_TRUE(EventLog::Open(o, &log).ok());
  // Uneven batches, so batches and checkpoints do not line up.
  ASSERT_TRUE(audit_testing::AppendSynthetic(log.get(), kEvents, signer.get(), kCheckpointEvery, 37).ok());
  ASSERT_EQ(log->head_seq(), kEvents);
  ASSERT_TRUE(ReadCheckpoints(*log, &master->checkpoints).ok());
  ASSERT_EQ(master->checkpoints.size(), kEvents / kCheckpointEvery);
}

// VerifyOptions::threads and ranges_per_thread.
struct Workers {
  unsigned threads;
  unsigned ranges_per_thread;
};

class VerifierTest : public ::testing::TestWithParam<Workers> {
 protected:
  static void SetUpTestSuite() {
    if (master == nullptr) BuildMaster();
  }

  void SetUp() override {
    ASSERT_NE(master, nullptr);
    path_ = dir_.Sub("copy");
    std::filesystem::remove_all(path_);
    std::filesystem::copy(master->path, path_, std::filesystem::copy_options::recursive);
    options_.signing_public_keys = {master->public_key};
    options_.threads = GetParam().threads;
    options_.ranges_per_thread = GetParam().ranges_per_thread;
  }

  // Opens the copy as an auditor does (read-only, head check skipped) and
  // verifies it.
  LogVerifyReport Verify() {
    OpenOptions o;
    o.path = path_;
    o.read_only = true;
    o.create_if_missing = false;
    o.skip_head_check = true;
    std::unique_ptr<EventLog> log;
    Status s = EventLog::Open(o, &log);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) return LogVerifyReport();
    return VerifyLog(*log, options_);
  }

  // Opens the copy the way the broker does (head checked).
  Status OpenNormally() const {
    OpenOptions o;
    o.path = path_;
    o.create_if_missing = false;
    std::unique_ptr<EventLog> log;
    return EventLog::Open(o, &log);
  }

  static std::string Value(const RawDb& raw, uint64_t seq) {
    std::string value;
    EXPECT_TRUE(raw.Get("events", EncodeSeq(seq), &value)) << "seq " << seq;
    return value;
  }
  static std::string StoredHash(const std::string& value) { return value.substr(value.size() - kHashBytes); }

  // Rewrites events from..last through `edit` and recomputes their chain
  // hashes and the head hash, as an attacker who knows the scheme would.
  static void RewriteTail(const RawDb& raw, uint64_t from, const std::function<void(uint64_t, v1::Event*)>& edit) {
    std::string prev = from == 1 ? GenesisHash() : StoredHash(Value(raw, from - 1));
    std::string value;
    for (uint64_t seq = from; raw.Get("events", EncodeSeq(seq), &value); ++seq) {
      v1::Event event;
      ASSERT_TRUE(event.ParseFromString(value.substr(0, value.size() - kHashBytes)));
      edit(seq, &event);
      const std::string bytes = event.SerializeAsString();
      prev = ChainHash(prev, seq, bytes);
      ASSERT_TRUE(raw.Put("events", EncodeSeq(seq), bytes + prev));
    }
    ASSERT_TRUE(raw.Put("meta", "head_hash", prev));
  }

  // Changes the free-text routing reason of routed events (not indexed).
  static void ForgeReasons(uint64_t seq, v1::Event* event) {
    if (event->has_case_routed()) event->mutable_case_routed()->set_reason("forged " + std::to_string(seq));
  }

  static void ExpectProblem(const LogVerifyReport& report, LogProblem problem, uint64_t seq) {
    EXPECT_FALSE(report.ok());
    EXPECT_EQ(LogProblemName(report.problem), std::string(LogProblemName(problem))) << report.detail;
    EXPECT_EQ(report.first_bad_seq, seq) << report.detail;
    EXPECT_FALSE(report.detail.empty());
  }

  // Writes a new log under dir_/`name`: a synthetic submission of
  // `referral` at seq 1 and `second` at seq 2. Checks that it verifies, and
  // that once seq 2's by_referral entry under `referral` is deleted the
  // verifier reports the index mismatch there: `second` is indexed under it.
  void ExpectIndexedUnderReferral(const std::string& name, const std::string& referral, v1::Event second) {
    const std::string path = dir_.Sub(name);
    {
      OpenOptions o;
      o.path = path;
      std::unique_ptr<EventLog> log;
      ASSERT_TRUE(EventLog::Open(o, &log).ok());
      std::vector<PendingEvent> batch(2);
      batch[0].event = audit_testing::SyntheticEvent(1, &batch[0].dedupe_key);
      batch[1].event = std::move(second);
      batch[1].event.set_seq(2);
      batch[1].event.mutable_time()->set_seconds(1800000000);
      ASSERT_TRUE(log->AppendBatch(batch).ok());
    }
    auto verify = [&] {
      OpenOptions o;
      o.path = path;
      o.read_only = true;
      o.skip_head_check = true;
      std::unique_ptr<EventLog> log;
      EXPECT_TRUE(EventLog::Open(o, &log).ok());
      VerifyOptions options;
      options.threads = GetParam().threads;
      options.ranges_per_thread = GetParam().ranges_per_thread;
      return VerifyLog(*log, options);
    };
    LogVerifyReport report = verify();
    EXPECT_TRUE(report.ok()) << LogProblemName(report.problem) << " at " << report.first_bad_seq << ": "
                             << report.detail;
    {
      RawDb raw(path);
      ASSERT_TRUE(raw.status().ok());
      ASSERT_TRUE(raw.Delete("by_referral", IndexKey(referral, 2)));
    }
    report = verify();
    EXPECT_EQ(report.problem, LogProblem::kIndexMismatch) << report.detail;
    EXPECT_EQ(report.first_bad_seq, 2u);
  }

  TempDir dir_;
  std::string path_;
  VerifyOptions options_;
};

INSTANTIATE_TEST_SUITE_P(Threads, VerifierTest, ::testing::Values(Workers{1, 0}, Workers{3, 0}, Workers{3, 4}),
                         [](const ::testing::TestParamInfo<Workers>& info) {
                           std::string name = std::to_string(info.param.threads) + "Threads";
                           if (info.param.ranges_per_thread != 0) {
                             name += std::to_string(info.param.ranges_per_thread) + "RangesEach";
                           }
                           return name;
                         });

// ---------------------------------------------------------------------------
// Intact.

TEST_P(VerifierTest, UntouchedCopyVerifies) {
  const LogVerifyReport report = Verify();
  EXPECT_TRUE(report.ok()) << LogProblemName(report.problem) << " at " << report.first_bad_seq << ": "
                           << report.detail;
  EXPECT_EQ(report.first_bad_seq, 0u);
  EXPECT_EQ(report.events_checked, kEvents);
  EXPECT_EQ(report.last_seq, kEvents);
  EXPECT_EQ(report.head_seq, kEvents);
  EXPECT_EQ(report.checkpoints_checked, kEvents / kCheckpointEvery);
  EXPECT_EQ(report.last_checkpoint_seq, kEvents);
  EXPECT_TRUE(report.checkpoints_authenticated);
  // by_referral: 4 of every 5 events; by_destination: 3 of 5; dedupe: 3 of 5.
  EXPECT_EQ(report.index_entries_checked, kEvents * 4 / 5 + kEvents * 3 / 5 + kEvents * 3 / 5);
}

TEST_P(VerifierTest, WithoutAKeyCheckpointsAreComparedButNotAuthenticated) {
  options_.signing_public_keys.clear();
  const LogVerifyReport report = Verify();
  EXPECT_TRUE(report.ok()) << report.detail;
  EXPECT_FALSE(report.checkpoints_authenticated);
  EXPECT_EQ(report.last_checkpoint_seq, kEvents);
}

TEST_P(VerifierTest, ProgressIsReportedUpToTheTotal) {
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  options_.progress = [&](uint64_t checked, uint64_t total) { calls.emplace_back(checked, total); };
  const LogVerifyReport report = Verify();
  EXPECT_TRUE(report.ok()) << report.detail;
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back(), std::make_pair(kEvents, kEvents));
  for (size_t i = 1; i < calls.size(); ++i) EXPECT_LE(calls[i - 1].first, calls[i].first);
}

TEST_P(VerifierTest, EmptyLogVerifies) {
  std::filesystem::remove_all(path_);
  {
    OpenOptions o;
    o.path = path_;
    std::unique_ptr<EventLog> log;
    ASSERT_TRUE(EventLog::Open(o, &log).ok());
  }
  const LogVerifyReport report = Verify();
  EXPECT_TRUE(report.ok()) << report.detail;
  EXPECT_EQ(report.events_checked, 0u);
}

// ---------------------------------------------------------------------------
// Events.

// One byte of the actor of seq 123 (an acknowledgement by sevenoaks-csu).
TEST_P(VerifierTest, FlippedByteIsAlteredBytesAtThatSeq) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    std::string value = Value(raw, 123);
    const size_t at = value.find("sevenoaks-csu");
    ASSERT_NE(at, std::string::npos);
    value[at + 3] ^= 0x01;
    ASSERT_TRUE(raw.Put("events", EncodeSeq(123), value));
  }
  EXPECT_TRUE(OpenNormally().ok());  // the head is intact: only verification sees it
  ExpectProblem(Verify(), LogProblem::kAlteredBytes, 123);
}

TEST_P(VerifierTest, FlippedByteAtARangeBoundary) {
  for (uint64_t seq : {25u, 26u, 100u, 101u}) {
    SCOPED_TRACE(seq);
    SetUp();
    {
      RawDb raw(path_);
      ASSERT_TRUE(raw.status().ok());
      std::string value = Value(raw, seq);
      value[value.size() - kHashBytes - 1] ^= 0x20;  // last byte of the event
      ASSERT_TRUE(raw.Put("events", EncodeSeq(seq), value));
    }
    ExpectProblem(Verify(), LogProblem::kAlteredBytes, seq);
  }
}

TEST_P(VerifierTest, FlippedStoredHashIsCaught) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    std::string value = Value(raw, 210);
    value[value.size() - 1] ^= 0x01;
    ASSERT_TRUE(raw.Put("events", EncodeSeq(210), value));
  }
  // The stored hash of 210 no longer chains: the link of 210 breaks.
  ExpectProblem(Verify(), LogProblem::kAlteredBytes, 210);
}

TEST_P(VerifierTest, UnparsableBytesAreAlteredBytes) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    std::string value = Value(raw, 42);
    value[0] = static_cast<char>(0xff);
    ASSERT_TRUE(raw.Put("events", EncodeSeq(42), value));
  }
  const LogVerifyReport report = Verify();
  ExpectProblem(report, LogProblem::kAlteredBytes, 42);
  EXPECT_NE(report.detail.find("parse"), std::string::npos) << report.detail;
}

TEST_P(VerifierTest, DeletedEventIsMissingEvent) {
  for (uint64_t seq : {1u, 77u, 100u, 101u, 299u}) {
    SCOPED_TRACE(seq);
    SetUp();
    {
      RawDb raw(path_);
      ASSERT_TRUE(raw.status().ok());
      ASSERT_TRUE(raw.Delete("events", EncodeSeq(seq)));
    }
    const LogVerifyReport report = Verify();
    ExpectProblem(report, LogProblem::kMissingEvent, seq);
  }
}

TEST_P(VerifierTest, SwappedEventsAreReordered) {
  for (auto [a, b] : {std::pair<uint64_t, uint64_t>{40, 160}, {100, 101}, {7, 8}}) {
    SCOPED_TRACE(std::to_string(a) + "<->" + std::to_string(b));
    SetUp();
    {
      RawDb raw(path_);
      ASSERT_TRUE(raw.status().ok());
      const std::string va = Value(raw, a), vb = Value(raw, b);
      ASSERT_TRUE(raw.Put("events", EncodeSeq(a), vb));
      ASSERT_TRUE(raw.Put("events", EncodeSeq(b), va));
    }
    const LogVerifyReport report = Verify();
    ExpectProblem(report, LogProblem::kReordered, a);
    EXPECT_NE(report.detail.find("seq " + std::to_string(b)), std::string::npos) << report.detail;
  }
}

TEST_P(VerifierTest, CopiedEventIsAlteredBytesNotReordered) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    ASSERT_TRUE(raw.Put("events", EncodeSeq(60), Value(raw, 65)));  // 65 stays in place too
  }
  ExpectProblem(Verify(), LogProblem::kAlteredBytes, 60);
}

TEST_P(VerifierTest, MalformedEventKeysAreAlteredBytes) {
  struct Case {
    std::string key;
    uint64_t seq;
  };
  for (const Case& c : {Case{EncodeSeq(5) + "x", 6}, Case{"zzz", 301}, Case{std::string(3, '\0'), 1}}) {
    SCOPED_TRACE(c.seq);
    SetUp();
    {
      RawDb raw(path_);
      ASSERT_TRUE(raw.status().ok());
      ASSERT_TRUE(raw.Put("events", c.key, "junk"));
    }
    ExpectProblem(Verify(), LogProblem::kAlteredBytes, c.seq);
  }
}

// ---------------------------------------------------------------------------
// Tail and head.

TEST_P(VerifierTest, TruncatedTailWithFixedHeadIsCaughtByTheLastCheckpoint) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    for (uint64_t seq = 291; seq <= 300; ++seq) ASSERT_TRUE(raw.Delete("events", EncodeSeq(seq)));
    ASSERT_TRUE(raw.Put("meta", "head_seq", EncodeSeq(290)));
    ASSERT_TRUE(raw.Put("meta", "head_hash", StoredHash(Value(raw, 290))));
  }
  Status open = OpenNormally();
  EXPECT_TRUE(open.ok()) << open.ToString();  // the head check is satisfied
  const LogVerifyReport report = Verify();
  ExpectProblem(report, LogProblem::kTruncated, 291);
  EXPECT_NE(report.detail.find("checkpoint at seq 300"), std::string::npos) << report.detail;
  EXPECT_EQ(report.events_checked, 290u);
}

TEST_P(VerifierTest, TruncatedTailWithStaleHeadIsTruncated) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    for (uint64_t seq = 291; seq <= 300; ++seq) ASSERT_TRUE(raw.Delete("events", EncodeSeq(seq)));
  }
  EXPECT_EQ(OpenNormally().code(), Status::Code::kCorruption);
  options_.signing_public_keys.clear();
  ExpectProblem(Verify(), LogProblem::kTruncated, 291);
}

TEST_P(VerifierTest, AlteredHeadHashIsHeadMismatch) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    std::string hash;
    ASSERT_TRUE(raw.Get("meta", "head_hash", &hash));
    hash[0] ^= 1;
    ASSERT_TRUE(raw.Put("meta", "head_hash", hash));
  }
  EXPECT_EQ(OpenNormally().code(), Status::Code::kCorruption);
  ExpectProblem(Verify(), LogProblem::kHeadMismatch, 300);
}

TEST_P(VerifierTest, EventBeyondTheHeadIsHeadMismatch) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    std::string key;
    const std::string bytes = audit_testing::SyntheticEvent(301, &key).SerializeAsString();
    ASSERT_TRUE(raw.Put("events", EncodeSeq(301), bytes + ChainHash(StoredHash(Value(raw, 300)), 301, bytes)));
  }
  ExpectProblem(Verify(), LogProblem::kHeadMismatch, 301);
}

// ---------------------------------------------------------------------------
// A tail rewritten with a correctly recomputed chain and head.

TEST_P(VerifierTest, RecomputedTailIsCaughtOnlyByTheCheckpoint) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    RewriteTail(raw, 251, ForgeReasons);
  }
  EXPECT_TRUE(OpenNormally().ok());
  const LogVerifyReport report = Verify();
  ExpectProblem(report, LogProblem::kChainRecomputed, 251);
  EXPECT_NE(report.detail.find("seq 300"), std::string::npos) << report.detail;
  EXPECT_NE(report.detail.find("seq 250"), std::string::npos) << report.detail;
  EXPECT_EQ(report.last_checkpoint_seq, 250u);
}

// The rewrite starts between checkpoints: the first seq no matching
// checkpoint vouches for is named.
TEST_P(VerifierTest, RecomputedTailFromMidIntervalNamesTheFirstUnvouchedSeq) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    RewriteTail(raw, 270, ForgeReasons);
  }
  const LogVerifyReport report = Verify();
  ExpectProblem(report, LogProblem::kChainRecomputed, 251);
  EXPECT_NE(report.detail.find("between 251 and 300"), std::string::npos) << report.detail;
}

TEST_P(VerifierTest, RecomputedFromTheStartContradictsTheFirstCheckpoint) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    RewriteTail(raw, 1, ForgeReasons);
  }
  ExpectProblem(Verify(), LogProblem::kChainRecomputed, 1);
}

// Deleting the checkpoints with the rewrite defeats the stored ones (the
// documented limit); a checkpoint kept off the host still catches it.
TEST_P(VerifierTest, RecomputedTailWithCheckpointsDeletedNeedsAnExternalCheckpoint) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    RewriteTail(raw, 251, ForgeReasons);
    for (uint64_t seq = 300; seq > 250; seq -= kCheckpointEvery) ASSERT_TRUE(raw.Delete("checkpoints", EncodeSeq(seq)));
  }
  const LogVerifyReport alone = Verify();
  EXPECT_TRUE(alone.ok()) << alone.detail;
  EXPECT_EQ(alone.last_checkpoint_seq, 250u);

  options_.trusted_checkpoints = {master->checkpoints.back()};
  ExpectProblem(Verify(), LogProblem::kChainRecomputed, 251);
}

// ---------------------------------------------------------------------------
// Indexes.

TEST_P(VerifierTest, DeletedByReferralEntryIsIndexMismatch) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    ASSERT_TRUE(raw.Delete("by_referral", IndexKey(audit_testing::SyntheticReferralOf(88), 88)));
  }
  const LogVerifyReport report = Verify();
  ExpectProblem(report, LogProblem::kIndexMismatch, 88);
  EXPECT_NE(report.detail.find("by_referral"), std::string::npos) << report.detail;
}

// The index entries after the log's marker (meta "indexed_seq") are written
// unsynced; a power loss may take them, and the broker's next open writes
// them again: missing ones there are not damage. A wrong one still is.
TEST_P(VerifierTest, IndexEntriesMissingAfterTheMarkerAreNotFindings) {
  const std::string referral = audit_testing::SyntheticReferralOf(kEvents - 2);
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    ASSERT_TRUE(raw.Put("meta", "indexed_seq", EncodeSeq(kEvents - 3)));
    for (uint64_t seq = kEvents - 2; seq <= kEvents; ++seq) {
      ASSERT_TRUE(raw.Delete("by_referral", IndexKey(audit_testing::SyntheticReferralOf(seq), seq)));
    }
  }
  const LogVerifyReport report = Verify();
  EXPECT_TRUE(report.ok()) << LogProblemName(report.problem) << " at " << report.first_bad_seq << ": "
                           << report.detail;
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    ASSERT_TRUE(raw.Put("by_referral", IndexKey(ReferralIdForSeq(1), kEvents - 1), ""));
  }
  ExpectProblem(Verify(), LogProblem::kIndexMismatch, kEvents - 1);
}

TEST_P(VerifierTest, BogusByReferralEntriesAreIndexMismatch) {
  struct Case {
    std::string key;
    uint64_t seq;
  };
  const std::vector<Case> cases = {
      {IndexKey(ReferralIdForSeq(1), 95), 95},    // 95 is a record access: no referral
      {IndexKey(ReferralIdForSeq(1), 7), 7},      // 7 belongs to R-..6: a second entry
      {IndexKey(ReferralIdForSeq(1), 5000), 5000},  // no such event
      {IndexKey("R-1", 130), 130},                // a non-canonical id for seq 130
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.seq);
    SetUp();
    {
      RawDb raw(path_);
      ASSERT_TRUE(raw.status().ok());
      ASSERT_TRUE(raw.Put("by_referral", c.key, ""));
    }
    ExpectProblem(Verify(), LogProblem::kIndexMismatch, c.seq);
  }
}

TEST_P(VerifierTest, MovedByReferralEntryIsIndexMismatchAtTheEarlierSeq) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    // 133 filed under another referral.
    const std::string referral = audit_testing::SyntheticReferralOf(133);
    ASSERT_TRUE(raw.Delete("by_referral", IndexKey(referral, 133)));
    ASSERT_TRUE(raw.Put("by_referral", IndexKey(ReferralIdForSeq(1), 133), ""));
  }
  const LogVerifyReport report = Verify();
  ExpectProblem(report, LogProblem::kIndexMismatch, 133);
  EXPECT_NE(report.detail.find(audit_testing::SyntheticReferralOf(133)), std::string::npos) << report.detail;
}

TEST_P(VerifierTest, ByDestinationEntriesMustMatch) {
  using audit_testing::SyntheticDestinationOf;
  ASSERT_FALSE(SyntheticDestinationOf(143).empty());  // an acknowledgement
  ASSERT_TRUE(SyntheticDestinationOf(96).empty());    // a submission
  ASSERT_FALSE(SyntheticDestinationOf(147).empty());  // a routing
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    ASSERT_TRUE(raw.Delete("by_destination", IndexKey(SyntheticDestinationOf(143), 143)));
  }
  ExpectProblem(Verify(), LogProblem::kIndexMismatch, 143);
  SetUp();
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    ASSERT_TRUE(raw.Put("by_destination", IndexKey("DA_MARAC", 96), ""));
  }
  ExpectProblem(Verify(), LogProblem::kIndexMismatch, 96);
  SetUp();
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    const std::string right = SyntheticDestinationOf(147);
    const std::string wrong = right == "IDVA" ? "DA_MARAC" : "IDVA";
    ASSERT_TRUE(raw.Delete("by_destination", IndexKey(right, 147)));
    ASSERT_TRUE(raw.Put("by_destination", IndexKey(wrong, 147), ""));
  }
  const LogVerifyReport report = Verify();
  ExpectProblem(report, LogProblem::kIndexMismatch, 147);
  EXPECT_NE(report.detail.find(SyntheticDestinationOf(147)), std::string::npos) << report.detail;
}

TEST_P(VerifierTest, DedupeEntriesMustNameTheSubmissionOfThatAgencyAndReference) {
  // The key of submission 11 repointed at submission 16.
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    ASSERT_TRUE(raw.Put("dedupe", DedupeKey("kent-police", "KP-AUDIT-11"), EncodeSeq(16)));
  }
  ExpectProblem(Verify(), LogProblem::kIndexMismatch, 11);
  // The key of submission 56 deleted.
  SetUp();
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    ASSERT_TRUE(raw.Delete("dedupe", DedupeKey("kent-police", "KP-AUDIT-56")));
  }
  ExpectProblem(Verify(), LogProblem::kIndexMismatch, 56);
  // Another agency's key naming a submission.
  SetUp();
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    ASSERT_TRUE(raw.Delete("dedupe", DedupeKey("kent-police", "KP-AUDIT-71")));
    ASSERT_TRUE(raw.Put("dedupe", DedupeKey("sevenoaks-csu", "KP-AUDIT-71"), EncodeSeq(71)));
  }
  ExpectProblem(Verify(), LogProblem::kIndexMismatch, 71);
  // An append key naming an event of another actor.
  SetUp();
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    ASSERT_TRUE(raw.Put("dedupe", DedupeKey("kent-police", "append:forged"), EncodeSeq(73)));  // 73: ack
  }
  ExpectProblem(Verify(), LogProblem::kIndexMismatch, 73);
}

TEST_P(VerifierTest, IndexChecksCanBeTurnedOff) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    ASSERT_TRUE(raw.Delete("by_referral", IndexKey(audit_testing::SyntheticReferralOf(88), 88)));
  }
  options_.check_indexes = false;
  const LogVerifyReport report = Verify();
  EXPECT_TRUE(report.ok()) << report.detail;
  EXPECT_EQ(report.index_entries_checked, 0u);
}

// ---------------------------------------------------------------------------
// Checkpoints.

TEST_P(VerifierTest, CheckpointWithABadSignatureIsBadSignature) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    std::string bytes;
    ASSERT_TRUE(raw.Get("checkpoints", EncodeSeq(150), &bytes));
    v1::Checkpoint cp;
    ASSERT_TRUE(cp.ParseFromString(bytes));
    cp.mutable_signature()->at(3) ^= 0x04;
    ASSERT_TRUE(raw.Put("checkpoints", EncodeSeq(150), cp.SerializeAsString()));
  }
  const LogVerifyReport report = Verify();
  ExpectProblem(report, LogProblem::kBadSignature, 150);
  EXPECT_NE(report.detail.find("does not verify"), std::string::npos) << report.detail;
}

TEST_P(VerifierTest, CheckpointsCheckedWithAnotherKeyAreBadSignature) {
  options_.signing_public_keys = {master->other_public_key};
  ExpectProblem(Verify(), LogProblem::kBadSignature, kCheckpointEvery);
}

// A checkpoint forged with another key for a rewritten chain is refused,
// and the rewrite is still caught by the genuine checkpoints.
TEST_P(VerifierTest, ForgedCheckpointIsBadSignature) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    v1::Checkpoint forged;
    ASSERT_TRUE(master->other_signer->SignAt(200, std::string(kHashBytes, 'f'), 1795000000, &forged).ok());
    ASSERT_TRUE(raw.Put("checkpoints", EncodeSeq(200), forged.SerializeAsString()));
  }
  ExpectProblem(Verify(), LogProblem::kBadSignature, 200);
}

TEST_P(VerifierTest, UnparsableOrMisfiledCheckpointIsBadSignature) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    ASSERT_TRUE(raw.Put("checkpoints", EncodeSeq(120), std::string("\xff\xff\xff", 3)));
  }
  ExpectProblem(Verify(), LogProblem::kBadSignature, 120);
  SetUp();
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    std::string bytes;
    ASSERT_TRUE(raw.Get("checkpoints", EncodeSeq(250), &bytes));
    ASSERT_TRUE(raw.Put("checkpoints", EncodeSeq(260), bytes));  // a genuine checkpoint under another seq
  }
  ExpectProblem(Verify(), LogProblem::kBadSignature, 250);
}

// ---------------------------------------------------------------------------
// Several problems: the lowest seq wins.

TEST_P(VerifierTest, TheFirstOfSeveralProblemsIsReported) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    std::string value = Value(raw, 220);
    value[5] ^= 1;
    ASSERT_TRUE(raw.Put("events", EncodeSeq(220), value));
    ASSERT_TRUE(raw.Delete("events", EncodeSeq(180)));
    ASSERT_TRUE(raw.Delete("by_referral", IndexKey(audit_testing::SyntheticReferralOf(262), 262)));
  }
  ExpectProblem(Verify(), LogProblem::kMissingEvent, 180);
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    ASSERT_TRUE(raw.Delete("by_referral", IndexKey(audit_testing::SyntheticReferralOf(12), 12)));
  }
  ExpectProblem(Verify(), LogProblem::kIndexMismatch, 12);
}

// An event stored in a valid but unusual encoding (a body field repeated,
// which protobuf merges) is read like the full parser reads it: the
// light-weight reader must not disagree with ReferralIdOf/DestinationOf.
TEST_P(VerifierTest, UnusualEncodingIsReadLikeTheFullParser) {
  {
    RawDb raw(path_);
    ASSERT_TRUE(raw.status().ok());
    // Seq 3 acknowledges R-..1 at DA_MARAC; append a second copy of the
    // body naming IDVA: the merged event concerns IDVA.
    std::string value = Value(raw, 3);
    std::string bytes = value.substr(0, value.size() - kHashBytes);
    v1::Event extra;
    extra.mutable_case_acknowledged()->set_destination("IDVA");
    bytes += extra.SerializeAsString();
    v1::Event merged;
    ASSERT_TRUE(merged.ParseFromString(bytes));
    ASSERT_EQ(DestinationOf(merged), "IDVA");
    ASSERT_EQ(ReferralIdOf(merged), ReferralIdForSeq(1));
    std::string prev = StoredHash(Value(raw, 2));
    prev = ChainHash(prev, 3, bytes);
    ASSERT_TRUE(raw.Put("events", EncodeSeq(3), bytes + prev));
    ASSERT_TRUE(raw.Delete("by_destination", IndexKey("DA_MARAC", 3)));
    ASSERT_TRUE(raw.Put("by_destination", IndexKey("IDVA", 3), ""));
    // Recompute the rest of the chain and drop the checkpoints it contradicts.
    RewriteTail(raw, 4, [](uint64_t, v1::Event*) {});
    for (uint64_t seq = kCheckpointEvery; seq <= kEvents; seq += kCheckpointEvery) {
      ASSERT_TRUE(raw.Delete("checkpoints", EncodeSeq(seq)));
    }
  }
  const LogVerifyReport report = Verify();
  EXPECT_TRUE(report.ok()) << LogProblemName(report.problem) << " at " << report.first_bad_seq << ": "
                           << report.detail;
}

// The broker indexes a record_accessed event under the first referral it
// names (ReferralIdOf): the verifier must expect exactly that entry.
TEST_P(VerifierTest, RecordAccessedIsIndexedUnderTheFirstReferralItNames) {
  const std::string referral = audit_testing::SyntheticReferralOf(1);
  v1::Event accessed;
  accessed.set_actor("ig-auditor");
  v1::RecordAccessed* record = accessed.mutable_record_accessed();
  record->set_what("read seq 1..head referral " + referral);
  record->set_purpose("case review");
  record->add_referral_ids(referral);
  record->add_referral_ids("R-0000000099");  // only the first is indexed
  ExpectIndexedUnderReferral("accessed", referral, std::move(accessed));
}

// subject_indexed (body field 50, outside 10..27) is indexed under its
// referral like the other events: the verifier's light reader must see it.
TEST_P(VerifierTest, SubjectIndexedIsIndexedUnderItsReferral) {
  const std::string referral = audit_testing::SyntheticReferralOf(1);
  v1::Event indexed;
  indexed.set_actor("refx-router");
  indexed.mutable_subject_indexed()->set_referral_id(referral);
  indexed.mutable_subject_indexed()->set_subject_key(std::string(64, 'a'));
  ExpectIndexedUnderReferral("subject", referral, std::move(indexed));
}

}  // namespace
}  // namespace refx::eventlog
