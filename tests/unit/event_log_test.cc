// Unit tests for refx::eventlog::EventLog (RocksDB in a temporary directory)
// and the key encodings of eventlog/keys.h.

#include "eventlog/event_log.h"

#include <gtest/gtest.h>
#include <google/protobuf/util/message_differencer.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <sodium.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <sstream>

#include <atomic>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/event_util.h"
#include "eventlog/hash_chain.h"
#include "eventlog/keys.h"
#include "eventlog/rocks_logger.h"
#include "tests/unit/test_util.h"
#include "testsupport/audit_log_builder.h"

namespace refx::eventlog {
namespace {

using audit_testing::RawDb;  // direct RocksDB access, for tampering
using audit_testing::SyntheticRouting;
using audit_testing::SyntheticSubmission;
using google::protobuf::util::MessageDifferencer;
using refx::testing::TempDir;

// ---------------------------------------------------------------------------
// Synthetic events (testsupport/audit_log_builder.h).

PendingEvent Pending(v1::Event e, std::string dedupe_key = {}) {
  PendingEvent p;
  p.event = std::move(e);
  p.dedupe_key = std::move(dedupe_key);
  return p;
}

// A batch of n alternating submitted / routed events starting at `first`.
std::vector<PendingEvent> MixedBatch(uint64_t first, uint64_t n) {
  std::vector<PendingEvent> batch;
  for (uint64_t seq = first; seq < first + n; ++seq) {
    if (seq % 2 == 1) {
      batch.push_back(Pending(SyntheticSubmission(seq, ReferralIdForSeq(seq))));
    } else {
      batch.push_back(Pending(SyntheticRouting(seq, ReferralIdForSeq(seq - 1), "DA_MARAC")));
    }
  }
  return batch;
}

// ---------------------------------------------------------------------------
// Fixture: a fresh log directory per test.

class EventLogTest : public ::testing::Test {
 protected:
  std::string DbPath() const { return dir_.Sub("log"); }

  Status OpenLog(std::unique_ptr<EventLog>* out, bool read_only = false) const {
    OpenOptions o;
    o.path = DbPath();
    o.read_only = read_only;
    return EventLog::Open(o, out);
  }

  std::unique_ptr<EventLog> MustOpen(bool read_only = false) const {
    std::unique_ptr<EventLog> log;
    Status s = OpenLog(&log, read_only);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return log;
  }

  // Creates a log holding `n` events (MixedBatch) and closes it.
  void CreateLogWith(uint64_t n) const {
    auto log = MustOpen();
    ASSERT_NE(log, nullptr);
    Status s = log->AppendBatch(MixedBatch(1, n));
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(log->head_seq(), n);
  }

  TempDir dir_;
};

// ---------------------------------------------------------------------------
// Append and read back.

TEST_F(EventLogTest, NewLogIsEmptyWithGenesisHead) {
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->head_seq(), 0u);
  EXPECT_EQ(log->head_hash(), GenesisHash());
  EXPECT_EQ(GenesisHash(), std::string(kHashBytes, '\0'));
  StoredEvent ev;
  EXPECT_EQ(log->Get(1, &ev).code(), Status::Code::kNotFound);
  VerifyReport report = log->VerifyChain();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.events_checked, 0u);
}

TEST_F(EventLogTest, AppendBatchThenGetReturnsBytesThatParseToTheSameEvent) {
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  const std::vector<PendingEvent> batch = MixedBatch(1, 5);
  Status s = log->AppendBatch(batch);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(log->head_seq(), 5u);

  for (const PendingEvent& p : batch) {
    StoredEvent stored;
    s = log->Get(p.event.seq(), &stored);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(stored.seq, p.event.seq());
    EXPECT_EQ(stored.hash.size(), kHashBytes);
    v1::Event parsed;
    ASSERT_TRUE(parsed.ParseFromString(stored.bytes)) << "seq " << p.event.seq();
    EXPECT_TRUE(MessageDifferencer::Equals(parsed, p.event))
        << "seq " << p.event.seq() << "\nstored: " << parsed.DebugString()
        << "\nappended: " << p.event.DebugString();
  }
  StoredEvent missing;
  EXPECT_EQ(log->Get(0, &missing).code(), Status::Code::kNotFound);
  EXPECT_EQ(log->Get(6, &missing).code(), Status::Code::kNotFound);
}

// RocksDB's information log must not be a file beside the data: on a full
// file system RocksDB 7.8 aborts the process at its next line to it (seen
// in the fault suite's full-file-system trial as SIGABRT).
TEST_F(EventLogTest, KeepsNoRocksDbInformationLogFileInTheDataFolder) {
  CreateLogWith(3);
  auto log = MustOpen();  // a second open would rotate an old LOG to LOG.old.*
  ASSERT_NE(log, nullptr);
  for (const auto& entry : std::filesystem::directory_iterator(DbPath())) {
    const std::string name = entry.path().filename().string();
    EXPECT_NE(name.rfind("LOG", 0), 0u) << "RocksDB wrote its information log to " << entry.path();
  }
}

TEST(RocksLoggerTest, SendsWarningsAndWorseToTheProcessLogAndDropsInformation) {
  std::ostringstream captured;
  auto previous = spdlog::default_logger();
  auto capture = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured));
  capture->set_pattern("%l %v");
  spdlog::set_default_logger(capture);
  auto logger = SharedRocksLogger();
  rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, logger, "flushed %d files", 3);
  rocksdb::Log(rocksdb::InfoLogLevel::WARN_LEVEL, logger, "cannot sync %s\n", "000004.log");
  rocksdb::Log(rocksdb::InfoLogLevel::ERROR_LEVEL, logger, "free space [%d bytes]", 0);
  spdlog::set_default_logger(previous);
  EXPECT_EQ(captured.str(), "warning rocksdb: cannot sync 000004.log\nerror rocksdb: free space [0 bytes]\n");
}

TEST_F(EventLogTest, ScanVisitsEventsInOrderWithinRange) {
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  const std::vector<PendingEvent> batch = MixedBatch(1, 6);
  ASSERT_TRUE(log->AppendBatch(batch).ok());

  // Whole log (to_seq = 0 means up to the head); bytes match Get.
  std::vector<uint64_t> seen;
  Status s = log->Scan(1, 0, [&](const StoredEvent& ev) {
    seen.push_back(ev.seq);
    StoredEvent got;
    EXPECT_TRUE(log->Get(ev.seq, &got).ok());
    EXPECT_EQ(got.bytes, ev.bytes);
    EXPECT_EQ(got.hash, ev.hash);
    v1::Event parsed;
    EXPECT_TRUE(parsed.ParseFromString(ev.bytes));
    EXPECT_TRUE(MessageDifferencer::Equals(parsed, batch[ev.seq - 1].event)) << "seq " << ev.seq;
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));

  // Inclusive sub-range.
  seen.clear();
  ASSERT_TRUE(log->Scan(2, 4, [&](const StoredEvent& ev) {
                    seen.push_back(ev.seq);
                    return true;
                  }).ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{2, 3, 4}));

  // Single event.
  seen.clear();
  ASSERT_TRUE(log->Scan(6, 6, [&](const StoredEvent& ev) {
                    seen.push_back(ev.seq);
                    return true;
                  }).ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{6}));

  // Stops when fn returns false.
  seen.clear();
  ASSERT_TRUE(log->Scan(1, 0, [&](const StoredEvent& ev) {
                    seen.push_back(ev.seq);
                    return ev.seq < 3;
                  }).ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3}));

  // Beyond the head: nothing.
  seen.clear();
  ASSERT_TRUE(log->Scan(7, 0, [&](const StoredEvent& ev) {
                    seen.push_back(ev.seq);
                    return true;
                  }).ok());
  EXPECT_TRUE(seen.empty());
}

TEST_F(EventLogTest, SeveralBatchesKeepSeqsContiguous) {
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->AppendBatch(MixedBatch(1, 3)).ok());
  ASSERT_TRUE(log->AppendBatch(MixedBatch(4, 1)).ok());
  ASSERT_TRUE(log->AppendBatch(MixedBatch(5, 4)).ok());
  EXPECT_EQ(log->head_seq(), 8u);
  // An empty batch changes nothing.
  const std::string hash = log->head_hash();
  EXPECT_TRUE(log->AppendBatch({}).ok());
  EXPECT_EQ(log->head_seq(), 8u);
  EXPECT_EQ(log->head_hash(), hash);
  VerifyReport report = log->VerifyChain();
  EXPECT_TRUE(report.ok) << report.first_bad_seq << ": " << report.problem;
  EXPECT_EQ(report.events_checked, 8u);
}

// ---------------------------------------------------------------------------
// Refused batches leave the log unchanged.

struct BadSeqCase {
  const char* name;
  std::vector<uint64_t> seqs;  // seqs of the batch appended after seqs 1..2
};

// Keeps ctest names short: print only the case name.
void PrintTo(const BadSeqCase& c, std::ostream* os) { *os << c.name; }

class EventLogBadSeqTest : public EventLogTest, public ::testing::WithParamInterface<BadSeqCase> {};

TEST_P(EventLogBadSeqTest, WrongSeqIsRefusedAndNothingChanges) {
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->AppendBatch(MixedBatch(1, 2)).ok());
  const uint64_t head_seq = log->head_seq();
  const std::string head_hash = log->head_hash();

  std::vector<PendingEvent> batch;
  for (uint64_t seq : GetParam().seqs) {
    batch.push_back(Pending(SyntheticSubmission(seq, ReferralIdForSeq(seq)),
                            DedupeKey("kent-police", "BAD-" + std::to_string(seq))));
  }
  Status s = log->AppendBatch(batch);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();

  EXPECT_EQ(log->head_seq(), head_seq);
  EXPECT_EQ(log->head_hash(), head_hash);
  for (uint64_t seq : GetParam().seqs) {
    if (seq <= head_seq) continue;  // already-present seqs stay as they were
    StoredEvent ev;
    EXPECT_EQ(log->Get(seq, &ev).code(), Status::Code::kNotFound) << "seq " << seq;
    uint64_t dup = 0;
    EXPECT_EQ(log->FindDuplicate(DedupeKey("kent-police", "BAD-" + std::to_string(seq)), &dup).code(),
              Status::Code::kNotFound);
    std::vector<uint64_t> seqs;
    ASSERT_TRUE(log->SeqsForReferral(ReferralIdForSeq(seq), &seqs).ok());
    EXPECT_TRUE(seqs.empty()) << "seq " << seq;
  }
  // Nothing was written even partially: a later correct append still fits.
  Status ok = log->AppendBatch(MixedBatch(3, 1));
  EXPECT_TRUE(ok.ok()) << ok.ToString();
  EXPECT_EQ(log->head_seq(), 3u);
  VerifyReport report = log->VerifyChain();
  EXPECT_TRUE(report.ok) << report.problem;
}

INSTANTIATE_TEST_SUITE_P(
    Seqs, EventLogBadSeqTest,
    ::testing::Values(BadSeqCase{"Gap", {4}}, BadSeqCase{"Repeat", {2}}, BadSeqCase{"Zero", {0}},
                      BadSeqCase{"GoodThenGap", {3, 5}}, BadSeqCase{"GoodThenRepeat", {3, 3}},
                      BadSeqCase{"GoodGoodBackwards", {3, 4, 2}}),
    [](const ::testing::TestParamInfo<BadSeqCase>& info) { return std::string(info.param.name); });

TEST_F(EventLogTest, EventWithoutBodyIsRefused) {
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  v1::Event no_body;
  no_body.set_seq(1);
  no_body.set_actor("kent-police");
  Status s = log->AppendBatch({Pending(no_body)});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(log->head_seq(), 0u);
  EXPECT_EQ(log->head_hash(), GenesisHash());

  // A body-less event in the middle of a batch spoils the whole batch.
  no_body.set_seq(2);
  s = log->AppendBatch({Pending(SyntheticSubmission(1, "R-0000000001")), Pending(no_body),
                        Pending(SyntheticSubmission(3, "R-0000000003"))});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(log->head_seq(), 0u);
  EXPECT_EQ(log->head_hash(), GenesisHash());
  StoredEvent ev;
  EXPECT_EQ(log->Get(1, &ev).code(), Status::Code::kNotFound);
}

// ---------------------------------------------------------------------------
// Indexes.

TEST_F(EventLogTest, DedupeIndexFindsAppendedKeysOnly) {
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  const std::string key1 = EventLog::SubmissionKey("kent-police", "KP-2026-0001");
  const std::string key2 = EventLog::SubmissionKey("sevenoaks-csu", "KP-2026-0001");  // same reference, other identity
  const std::string append_key = EventLog::AppendKey("kent-police", "KP-2026-0001");   // same text, an append's key
  uint64_t seq = 12345;
  EXPECT_EQ(log->FindDuplicate(key1, &seq).code(), Status::Code::kNotFound);
  EXPECT_EQ(seq, 12345u) << "FindDuplicate must not write *seq when absent";

  ASSERT_TRUE(log->AppendBatch({Pending(SyntheticSubmission(1, "R-0000000001"), key1),
                                Pending(SyntheticRouting(2, "R-0000000001", "DA_MARAC"), append_key),
                                Pending(SyntheticSubmission(3, "R-0000000003"), key2)})
                  .ok());
  ASSERT_TRUE(log->FindDuplicate(key1, &seq).ok());
  EXPECT_EQ(seq, 1u);
  ASSERT_TRUE(log->FindDuplicate(append_key, &seq).ok());
  EXPECT_EQ(seq, 2u);
  ASSERT_TRUE(log->FindDuplicate(key2, &seq).ok());
  EXPECT_EQ(seq, 3u);
  EXPECT_EQ(log->FindDuplicate(EventLog::SubmissionKey("kent-police", "KP-2026-0002"), &seq).code(),
            Status::Code::kNotFound);
  EXPECT_EQ(log->FindDuplicate(EventLog::SubmissionKey("kent-police", "KP-2026-000"), &seq).code(),
            Status::Code::kNotFound);
}

// A malformed dedupe value must not read as "absent": the broker would take
// the repeat for a new referral and write it twice.
TEST_F(EventLogTest, MalformedDedupeValueIsCorruptionNotAbsent) {
  const std::string key = EventLog::SubmissionKey("kent-police", "KP-2026-0001");
  {
    auto log = MustOpen();
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(log->AppendBatch({Pending(SyntheticSubmission(1, "R-0000000001"), key)}).ok());
  }
  {
    RawDb raw(DbPath());
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    ASSERT_TRUE(raw.db()->Put(rocksdb::WriteOptions(), raw.cf("dedupe"), key, "\x01\x02\x03").ok());
    ASSERT_TRUE(raw.db()->Put(rocksdb::WriteOptions(), raw.cf("cursors"), "refx-router", "short").ok());
  }
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  uint64_t seq = 12345;
  Status s = log->FindDuplicate(key, &seq);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_EQ(seq, 12345u);
  s = log->GetCursor("refx-router", &seq);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_EQ(seq, 12345u);
}

TEST_F(EventLogTest, StateRecordsAreTypedAndMalformedOnesAreCorruption) {
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  v1::ReferralRecord referral;
  referral.set_referral_id("R-1");
  referral.set_submitter("kent-police");
  v1::CaseRecord marac, idva;
  marac.set_referral_id("R-1");
  marac.set_destination("DA_MARAC");
  idva.set_referral_id("R-1");
  idva.set_destination("IDVA");
  v1::CaseRecord other = marac;
  other.set_referral_id("R-10");  // "R-1" is a prefix of "R-10": not one of R-1's cases
  PendingEvent p = Pending(SyntheticSubmission(1, "R-1"));
  p.state_puts = {{EventLog::ReferralStateKey("R-1"), referral.SerializeAsString()},
                  {EventLog::CaseStateKey("R-1", "IDVA"), idva.SerializeAsString()},
                  {EventLog::CaseStateKey("R-1", "DA_MARAC"), marac.SerializeAsString()},
                  {EventLog::CaseStateKey("R-10", "DA_MARAC"), other.SerializeAsString()}};
  ASSERT_TRUE(log->AppendBatch({std::move(p)}).ok());

  v1::ReferralRecord got_referral;
  ASSERT_TRUE(log->GetReferralRecord("R-1", &got_referral).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(got_referral, referral));
  EXPECT_EQ(log->GetReferralRecord("R-2", &got_referral).code(), Status::Code::kNotFound);
  v1::CaseRecord got_case;
  ASSERT_TRUE(log->GetCaseRecord("R-1", "IDVA", &got_case).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(got_case, idva));
  EXPECT_EQ(log->GetCaseRecord("R-1", "CHILDRENS_FRONT_DOOR", &got_case).code(), Status::Code::kNotFound);
  std::vector<std::string> destinations;
  ASSERT_TRUE(log->ScanCaseRecords("R-1", [&](const v1::CaseRecord& c) {
                   EXPECT_EQ(c.referral_id(), "R-1");
                   destinations.push_back(c.destination());
                 }).ok());
  EXPECT_EQ(destinations, (std::vector<std::string>{"DA_MARAC", "IDVA"}));

  log.reset();
  {
    RawDb raw(DbPath());
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    ASSERT_TRUE(raw.db()->Put(rocksdb::WriteOptions(), raw.cf("case_state"), EventLog::CaseStateKey("R-1", "IDVA"),
                              "\xff\xff\xff").ok());
  }
  log = MustOpen();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->GetCaseRecord("R-1", "IDVA", &got_case).code(), Status::Code::kCorruption);
  EXPECT_EQ(log->ScanCaseRecords("R-1", [](const v1::CaseRecord&) {}).code(), Status::Code::kCorruption);
  EXPECT_TRUE(log->GetReferralRecord("R-1", &got_referral).ok()) << "the damage is only where it is";
}

TEST_F(EventLogTest, ByReferralIndexListsEachReferralsSeqsInOrder) {
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  // "R-1" is a prefix of "R-10": the NUL separator must keep them apart.
  ASSERT_TRUE(log->AppendBatch({Pending(SyntheticSubmission(1, "R-1")), Pending(SyntheticSubmission(2, "R-10")),
                                Pending(SyntheticRouting(3, "R-1", "DA_MARAC")),
                                Pending(SyntheticRouting(4, "R-10", "IDVA")),
                                Pending(SyntheticRouting(5, "R-1", "IDVA"))})
                  .ok());
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(log->SeqsForReferral("R-1", &seqs).ok());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 3, 5}));
  ASSERT_TRUE(log->SeqsForReferral("R-10", &seqs).ok());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{2, 4}));
  seqs = {99};
  ASSERT_TRUE(log->SeqsForReferral("R-2", &seqs).ok());
  EXPECT_TRUE(seqs.empty()) << "output must be cleared";
  ASSERT_TRUE(log->SeqsForReferral("R-", &seqs).ok());
  EXPECT_TRUE(seqs.empty());
}

TEST_F(EventLogTest, ByReferralIndexSpansBatches) {
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->AppendBatch({Pending(SyntheticSubmission(1, ReferralIdForSeq(1)))}).ok());
  ASSERT_TRUE(log->AppendBatch({Pending(SyntheticSubmission(2, ReferralIdForSeq(2)))}).ok());
  ASSERT_TRUE(log->AppendBatch({Pending(SyntheticRouting(3, ReferralIdForSeq(1), "DA_MARAC"))}).ok());
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(log->SeqsForReferral(ReferralIdForSeq(1), &seqs).ok());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 3}));
}

// ---------------------------------------------------------------------------
// Persistence.

TEST_F(EventLogTest, ReopenKeepsHeadAndData) {
  std::string hash;
  std::vector<std::string> bytes;
  {
    auto log = MustOpen();
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(log->AppendBatch(MixedBatch(1, 4)).ok());
    ASSERT_TRUE(log->AppendBatch({Pending(SyntheticSubmission(5, "R-0000000005"), EventLog::SubmissionKey("kent-police", "KP-5"))}).ok());
    hash = log->head_hash();
    ASSERT_TRUE(log->Scan(1, 0, [&](const StoredEvent& ev) {
                      bytes.push_back(ev.bytes);
                      return true;
                    }).ok());
  }
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->head_seq(), 5u);
  EXPECT_EQ(log->head_hash(), hash);
  ASSERT_EQ(bytes.size(), 5u);
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    StoredEvent ev;
    ASSERT_TRUE(log->Get(seq, &ev).ok());
    EXPECT_EQ(ev.bytes, bytes[seq - 1]);
  }
  uint64_t dup = 0;
  ASSERT_TRUE(log->FindDuplicate(EventLog::SubmissionKey("kent-police", "KP-5"), &dup).ok());
  EXPECT_EQ(dup, 5u);
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(log->SeqsForReferral(ReferralIdForSeq(1), &seqs).ok());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2}));
  // And the log continues from the stored head.
  Status s = log->AppendBatch(MixedBatch(6, 1));
  EXPECT_TRUE(s.ok()) << s.ToString();
  VerifyReport report = log->VerifyChain();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.events_checked, 6u);
}

// The indexes are written unsynced after each synced batch, so a power
// loss can take the last index batches with their marker: the events after
// the marker are still found by readers, and a writable open indexes them.
TEST_F(EventLogTest, IndexEntriesLostAfterTheMarkerAreFoundAndRebuilt) {
  {
    auto log = MustOpen();
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(log->AppendBatch(MixedBatch(1, 2)).ok());
    ASSERT_TRUE(log->AppendBatch({Pending(SyntheticRouting(3, ReferralIdForSeq(1), "IDVA")),
                                  Pending(SyntheticRouting(4, ReferralIdForSeq(1), "DA_MARAC"))})
                    .ok());
    EXPECT_EQ(log->indexed_seq(), 4u);
  }
  auto raw_entries = [&](const std::string& family) {
    RawDb raw(DbPath());
    EXPECT_TRUE(raw.status().ok()) << raw.status().ToString();
    size_t n = 0;
    std::unique_ptr<rocksdb::Iterator> it(raw.db()->NewIterator(rocksdb::ReadOptions(), raw.cf(family)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    return n;
  };
  {
    // What the second batch's lost index write held.
    RawDb raw(DbPath());
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    for (uint64_t seq : {3, 4}) {
      ASSERT_TRUE(raw.db()->Delete(rocksdb::WriteOptions(), raw.cf("by_referral"), IndexKey(ReferralIdForSeq(1), seq)).ok());
    }
    ASSERT_TRUE(raw.db()->Delete(rocksdb::WriteOptions(), raw.cf("by_destination"), IndexKey("IDVA", 3)).ok());
    ASSERT_TRUE(raw.db()->Delete(rocksdb::WriteOptions(), raw.cf("by_destination"), IndexKey("DA_MARAC", 4)).ok());
    ASSERT_TRUE(raw.db()->Put(rocksdb::WriteOptions(), raw.cf("meta"), "indexed_seq", EncodeSeq(2)).ok());
  }
  ASSERT_EQ(raw_entries("by_referral"), 2u);
  {
    // Read-only (an auditor): nothing is written, the events fill the gap.
    auto log = MustOpen(/*read_only=*/true);
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(log->indexed_seq(), 2u);
    std::vector<uint64_t> seqs;
    ASSERT_TRUE(log->SeqsForReferral(ReferralIdForSeq(1), &seqs).ok());
    EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 3, 4}));
    ASSERT_TRUE(log->SeqsForDestination("DA_MARAC", &seqs).ok());
    EXPECT_EQ(seqs, (std::vector<uint64_t>{2, 4}));
  }
  ASSERT_EQ(raw_entries("by_referral"), 2u);
  {
    auto log = MustOpen();
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(log->indexed_seq(), 4u);
  }
  EXPECT_EQ(raw_entries("by_referral"), 4u);
  EXPECT_EQ(raw_entries("by_destination"), 3u);
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(log->SeqsForDestination("IDVA", &seqs).ok());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{3}));
}

TEST_F(EventLogTest, CursorsArePersisted) {
  auto cursor = [](const EventLog& log, const std::string& consumer) {
    uint64_t seq = 0;
    Status s = log.GetCursor(consumer, &seq);
    EXPECT_TRUE(s.ok()) << consumer << ": " << s.ToString();
    return seq;
  };
  {
    auto log = MustOpen();
    ASSERT_NE(log, nullptr);
    uint64_t seq = 12345;
    EXPECT_EQ(log->GetCursor("refx-router", &seq).code(), Status::Code::kNotFound);
    EXPECT_EQ(seq, 12345u);
    ASSERT_TRUE(log->PutCursor("refx-router", 17).ok());
    ASSERT_TRUE(log->PutCursor("refx-delivery", 4).ok());
    ASSERT_TRUE(log->PutCursor("refx-delivery", 9).ok());  // overwrite
    EXPECT_EQ(cursor(*log, "refx-router"), 17u);
    EXPECT_EQ(cursor(*log, "refx-delivery"), 9u);
  }
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(cursor(*log, "refx-router"), 17u);
  EXPECT_EQ(cursor(*log, "refx-delivery"), 9u);
  uint64_t seq = 0;
  EXPECT_EQ(log->GetCursor("refx-outcomes", &seq).code(), Status::Code::kNotFound);
  ASSERT_TRUE(log->PutCursor("refx-outcomes", 0).ok());
  EXPECT_TRUE(log->GetCursor("refx-outcomes", &seq).ok()) << "a stored 0 is not \"none\"";
  const uint64_t big = std::numeric_limits<uint64_t>::max() - 1;
  ASSERT_TRUE(log->PutCursor("refx-outcomes", big).ok());
  EXPECT_EQ(cursor(*log, "refx-outcomes"), big);
}

// ---------------------------------------------------------------------------
// The hash chain.

TEST_F(EventLogTest, VerifyChainAcceptsAGoodLog) {
  CreateLogWith(7);
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  VerifyReport report = log->VerifyChain();
  EXPECT_TRUE(report.ok) << report.first_bad_seq << ": " << report.problem;
  EXPECT_EQ(report.events_checked, 7u);
  EXPECT_EQ(report.first_bad_seq, 0u);
  EXPECT_TRUE(report.problem.empty());
}

TEST_F(EventLogTest, StoredHashesEqualARecomputationOverTheStoredBytes) {
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->AppendBatch(MixedBatch(1, 3)).ok());
  ASSERT_TRUE(log->AppendBatch(MixedBatch(4, 3)).ok());

  std::string prev = GenesisHash();
  uint64_t count = 0;
  ASSERT_TRUE(log->Scan(1, 0, [&](const StoredEvent& ev) {
                    const std::string expected = ChainHash(prev, ev.seq, ev.bytes);
                    EXPECT_EQ(ToHex(ev.hash), ToHex(expected)) << "seq " << ev.seq;
                    prev = expected;
                    ++count;
                    return true;
                  }).ok());
  EXPECT_EQ(count, 6u);
  EXPECT_EQ(ToHex(log->head_hash()), ToHex(prev));
}

TEST(HashChainTest, ChainHashDependsOnEveryInput) {
  ASSERT_TRUE(InitCrypto());
  const std::string a = ChainHash(GenesisHash(), 1, "event bytes");
  EXPECT_EQ(a.size(), kHashBytes);
  EXPECT_EQ(a, ChainHash(GenesisHash(), 1, "event bytes"));
  EXPECT_NE(a, ChainHash(GenesisHash(), 2, "event bytes"));
  EXPECT_NE(a, ChainHash(GenesisHash(), 1, "event byteS"));
  EXPECT_NE(a, ChainHash(a, 1, "event bytes"));
  // Independent one-shot SHA-256 over prev || seq (8 bytes big-endian) ||
  // bytes, the layout documented in hash_chain.h.
  const std::string prev(kHashBytes, '\x5a');
  const std::string input = prev + std::string("\0\0\0\0\0\0\x01\x02", 8) + "stored";
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  EXPECT_EQ(ToHex(ChainHash(prev, 0x102, "stored")),
            ToHex(std::string(reinterpret_cast<const char*>(digest), sizeof digest)));
  EXPECT_EQ(ToHex(std::string("\x00\x01\xab\xff", 4)), "0001abff");
}

// ---------------------------------------------------------------------------
// Tampering.

TEST_F(EventLogTest, OpenRefusesATamperedHeadHash) {
  CreateLogWith(4);
  {
    RawDb raw(DbPath());
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    std::string hash;
    ASSERT_TRUE(raw.db()->Get(rocksdb::ReadOptions(), raw.cf("meta"), "head_hash", &hash).ok());
    ASSERT_EQ(hash.size(), kHashBytes);
    hash[0] = static_cast<char>(hash[0] ^ 0x01);
    ASSERT_TRUE(raw.db()->Put(rocksdb::WriteOptions(), raw.cf("meta"), "head_hash", hash).ok());
  }
  std::unique_ptr<EventLog> log;
  Status s = OpenLog(&log);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_EQ(log, nullptr);
}

TEST_F(EventLogTest, OpenRefusesATamperedHeadSeq) {
  CreateLogWith(4);
  {
    RawDb raw(DbPath());
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    ASSERT_TRUE(raw.db()->Put(rocksdb::WriteOptions(), raw.cf("meta"), "head_seq", EncodeSeq(3)).ok());
  }
  std::unique_ptr<EventLog> log;
  Status s = OpenLog(&log);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_EQ(log, nullptr);
}

TEST_F(EventLogTest, OpenRefusesALogWhoseLastEventWasDeleted) {
  CreateLogWith(4);
  {
    RawDb raw(DbPath());
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    ASSERT_TRUE(raw.db()->Delete(rocksdb::WriteOptions(), raw.cf("events"), EncodeSeq(4)).ok());
  }
  std::unique_ptr<EventLog> log;
  Status s = OpenLog(&log);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_EQ(log, nullptr);
  // Read-only opens check the head too.
  s = OpenLog(&log, /*read_only=*/true);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
}

TEST_F(EventLogTest, OpenRefusesALogWhoseEventsWereAllDeleted) {
  CreateLogWith(2);
  {
    RawDb raw(DbPath());
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    ASSERT_TRUE(raw.db()->Delete(rocksdb::WriteOptions(), raw.cf("events"), EncodeSeq(1)).ok());
    ASSERT_TRUE(raw.db()->Delete(rocksdb::WriteOptions(), raw.cf("events"), EncodeSeq(2)).ok());
  }
  std::unique_ptr<EventLog> log;
  Status s = OpenLog(&log);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
}

TEST_F(EventLogTest, OpenRefusesAnEventAppendedBehindTheHead) {
  CreateLogWith(3);
  std::string value;
  {
    RawDb raw(DbPath());
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    // An extra event 4 with a correct chain hash, but meta not updated.
    std::string prev;
    ASSERT_TRUE(raw.db()->Get(rocksdb::ReadOptions(), raw.cf("meta"), "head_hash", &prev).ok());
    std::string bytes = SyntheticSubmission(4, "R-0000000004").SerializeAsString();
    value = bytes + ChainHash(prev, 4, bytes);
    ASSERT_TRUE(raw.db()->Put(rocksdb::WriteOptions(), raw.cf("events"), EncodeSeq(4), value).ok());
  }
  std::unique_ptr<EventLog> log;
  Status s = OpenLog(&log);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
}

// Flips one byte of the actor string ("kent-police" -> "kent-polico") so the
// event still parses but its chain hash no longer matches.
TEST_F(EventLogTest, VerifyChainNamesTheFirstAlteredEvent) {
  CreateLogWith(5);
  {
    RawDb raw(DbPath());
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    std::string value;
    ASSERT_TRUE(raw.db()->Get(rocksdb::ReadOptions(), raw.cf("events"), EncodeSeq(3), &value).ok());
    const size_t at = value.find("kent-police");
    ASSERT_NE(at, std::string::npos);
    ASSERT_LT(at, value.size() - kHashBytes);
    value[at + 10] = 'o';
    ASSERT_TRUE(raw.db()->Put(rocksdb::WriteOptions(), raw.cf("events"), EncodeSeq(3), value).ok());
  }
  // The head (seq 5) is intact, so the log opens; verification finds seq 3.
  auto log = MustOpen(/*read_only=*/true);
  ASSERT_NE(log, nullptr);
  StoredEvent ev;
  ASSERT_TRUE(log->Get(3, &ev).ok());
  v1::Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(ev.bytes));
  EXPECT_EQ(parsed.actor(), "kent-polico");

  VerifyReport report = log->VerifyChain();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 3u) << report.problem;
  EXPECT_EQ(report.events_checked, 2u);
  EXPECT_FALSE(report.problem.empty());
}

TEST_F(EventLogTest, VerifyChainNamesAnEventWhoseBytesNoLongerParse) {
  CreateLogWith(5);
  {
    RawDb raw(DbPath());
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    std::string value;
    ASSERT_TRUE(raw.db()->Get(rocksdb::ReadOptions(), raw.cf("events"), EncodeSeq(2), &value).ok());
    // The first byte is the tag of field 1 (seq, varint): 0x08. 0xff is not a
    // valid tag, so the bytes no longer parse.
    ASSERT_EQ(static_cast<unsigned char>(value[0]), 0x08);
    value[0] = static_cast<char>(0xff);
    ASSERT_TRUE(raw.db()->Put(rocksdb::WriteOptions(), raw.cf("events"), EncodeSeq(2), value).ok());
  }
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  VerifyReport report = log->VerifyChain();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 2u) << report.problem;
  EXPECT_EQ(report.events_checked, 1u);
}

TEST_F(EventLogTest, VerifyChainNamesAnEventDeletedFromTheMiddle) {
  CreateLogWith(6);
  {
    RawDb raw(DbPath());
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    ASSERT_TRUE(raw.db()->Delete(rocksdb::WriteOptions(), raw.cf("events"), EncodeSeq(4)).ok());
  }
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->head_seq(), 6u);
  StoredEvent ev;
  EXPECT_EQ(log->Get(4, &ev).code(), Status::Code::kNotFound);
  VerifyReport report = log->VerifyChain();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 4u) << report.problem;
  EXPECT_EQ(report.events_checked, 3u);
}

TEST_F(EventLogTest, VerifyChainNamesTheFirstEventWhenItIsDeleted) {
  CreateLogWith(3);
  {
    RawDb raw(DbPath());
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    ASSERT_TRUE(raw.db()->Delete(rocksdb::WriteOptions(), raw.cf("events"), EncodeSeq(1)).ok());
  }
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  VerifyReport report = log->VerifyChain();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 1u) << report.problem;
  EXPECT_EQ(report.events_checked, 0u);
}

// An attacker who rewrites an event and recomputes its own stored hash still
// breaks the link to the next event.
TEST_F(EventLogTest, VerifyChainDetectsARewrittenEventWithRecomputedHash) {
  CreateLogWith(4);
  {
    RawDb raw(DbPath());
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    std::string prev_value;
    ASSERT_TRUE(raw.db()->Get(rocksdb::ReadOptions(), raw.cf("events"), EncodeSeq(1), &prev_value).ok());
    const std::string prev_hash = prev_value.substr(prev_value.size() - kHashBytes);
    v1::Event forged = SyntheticRouting(2, ReferralIdForSeq(1), "FORGED_DEST");
    const std::string bytes = forged.SerializeAsString();
    ASSERT_TRUE(raw.db()
                    ->Put(rocksdb::WriteOptions(), raw.cf("events"), EncodeSeq(2),
                          bytes + ChainHash(prev_hash, 2, bytes))
                    .ok());
  }
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  VerifyReport report = log->VerifyChain();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 3u) << report.problem;
  EXPECT_EQ(report.events_checked, 2u);
}

// ---------------------------------------------------------------------------
// Concurrent readers.

// Readers running alongside AppendBatch always see a complete prefix: every
// seq up to head_seq() is readable, in order, with no gaps.
TEST_F(EventLogTest, ReadersSeeACompletePrefixWhileAppending) {
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  constexpr uint64_t kBatches = 40;
  constexpr uint64_t kPerBatch = 5;
  std::atomic<bool> done{false};
  std::atomic<int> problems{0};
  std::atomic<uint64_t> checks{0};

  auto reader = [&]() {
    uint64_t last_head = 0;
    // At least one pass, even when the appends finish before this thread
    // first runs (a fast disk and a busy CPU): `checks` must then be > 0.
    do {
      const uint64_t head = log->head_seq();
      if (head < last_head) ++problems;  // the head never goes backwards
      last_head = head;
      if (head == 0) continue;
      StoredEvent ev;
      if (!log->Get(head, &ev).ok()) ++problems;
      uint64_t expected = 1;
      Status s = log->Scan(1, head, [&](const StoredEvent& e) {
        if (e.seq != expected) ++problems;
        ++expected;
        return true;
      });
      if (!s.ok() || expected != head + 1) ++problems;
      ++checks;
    } while (!done.load());
  };
  std::thread r1(reader), r2(reader);
  for (uint64_t b = 0; b < kBatches; ++b) {
    Status s = log->AppendBatch(MixedBatch(1 + b * kPerBatch, kPerBatch));
    if (!s.ok()) {
      ADD_FAILURE() << s.ToString();
      break;
    }
  }
  done = true;
  r1.join();
  r2.join();
  EXPECT_EQ(problems.load(), 0);
  EXPECT_GT(checks.load(), 0u);
  EXPECT_EQ(log->head_seq(), kBatches * kPerBatch);
  VerifyReport report = log->VerifyChain();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.events_checked, kBatches * kPerBatch);
}

// ---------------------------------------------------------------------------
// Read-only.

TEST_F(EventLogTest, ReadOnlyOpenReadsButRefusesAppend) {
  CreateLogWith(3);
  std::string hash;
  {
    auto log = MustOpen();
    ASSERT_NE(log, nullptr);
    hash = log->head_hash();
  }
  auto log = MustOpen(/*read_only=*/true);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->head_seq(), 3u);
  EXPECT_EQ(log->head_hash(), hash);
  StoredEvent ev;
  ASSERT_TRUE(log->Get(2, &ev).ok());
  VerifyReport report = log->VerifyChain();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.events_checked, 3u);

  Status s = log->AppendBatch(MixedBatch(4, 1));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(log->head_seq(), 3u);
  EXPECT_EQ(log->head_hash(), hash);
  EXPECT_EQ(log->Get(4, &ev).code(), Status::Code::kNotFound);
  log.reset();

  // Nothing reached the disk either.
  auto again = MustOpen();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->head_seq(), 3u);
}

TEST_F(EventLogTest, ReadOnlyOpenOfAMissingLogFails) {
  std::unique_ptr<EventLog> log;
  Status s = OpenLog(&log, /*read_only=*/true);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(log, nullptr);
}

TEST_F(EventLogTest, OpenWithoutCreateIfMissingFailsOnAMissingLog) {
  OpenOptions o;
  o.path = DbPath();
  o.create_if_missing = false;
  std::unique_ptr<EventLog> log;
  EXPECT_FALSE(EventLog::Open(o, &log).ok());
  EXPECT_EQ(log, nullptr);
}

// ---------------------------------------------------------------------------
// keys.h

TEST(KeysTest, EncodeSeqIsEightBytesBigEndian) {
  EXPECT_EQ(EncodeSeq(0), std::string(8, '\0'));
  EXPECT_EQ(EncodeSeq(1), std::string("\0\0\0\0\0\0\0\x01", 8));
  EXPECT_EQ(EncodeSeq(0x0102030405060708ULL), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(EncodeSeq(std::numeric_limits<uint64_t>::max()), std::string(8, '\xff'));
}

TEST(KeysTest, DecodeSeqInvertsEncodeSeq) {
  const uint64_t values[] = {0,          1,          0x7f,        0x80,        0xff,
                             0x100,      0xffff,     0x10000,     0xffffffffULL, 0x100000000ULL,
                             0x8000000000000000ULL, std::numeric_limits<uint64_t>::max() - 1,
                             std::numeric_limits<uint64_t>::max()};
  for (uint64_t v : values) {
    const std::string e = EncodeSeq(v);
    ASSERT_EQ(e.size(), 8u);
    EXPECT_EQ(DecodeSeq(e), v) << v;
  }
  // Only the first 8 bytes count.
  EXPECT_EQ(DecodeSeq(EncodeSeq(42) + "trailing"), 42u);
}

TEST(KeysTest, BytewiseOrderOfEncodedSeqsIsNumericOrder) {
  const uint64_t ordered[] = {0,     1,      2,       0xff,        0x100,       0x101,
                              0xfffe, 0xffff, 0x10000, 0xffffffffULL, 0x100000000ULL,
                              0x7fffffffffffffffULL, 0x8000000000000000ULL,
                              std::numeric_limits<uint64_t>::max()};
  const size_t n = sizeof(ordered) / sizeof(ordered[0]);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      const std::string a = EncodeSeq(ordered[i]);
      const std::string b = EncodeSeq(ordered[j]);
      const int cmp = std::memcmp(a.data(), b.data(), 8);
      if (i < j) {
        EXPECT_LT(cmp, 0) << ordered[i] << " vs " << ordered[j];
      } else if (i == j) {
        EXPECT_EQ(cmp, 0);
      } else {
        EXPECT_GT(cmp, 0) << ordered[i] << " vs " << ordered[j];
      }
      // The RocksDB default comparator agrees.
      EXPECT_EQ(rocksdb::Slice(a).compare(rocksdb::Slice(b)) < 0, i < j);
    }
  }
}

TEST(KeysTest, DedupeAndIndexKeysSeparateWithNul) {
  EXPECT_EQ(DedupeKey("kent-police", "KP-1"), std::string("kent-police\0KP-1", 16));
  EXPECT_NE(DedupeKey("ab", "c"), DedupeKey("a", "bc"));
  EXPECT_EQ(IndexKey("R-1", 2), std::string("R-1\0", 4) + EncodeSeq(2));
  EXPECT_EQ(IndexKey("R-1", 2).size(), 3u + 1u + 8u);
}

// AppendBatch puts a batch's case states in key order (for the memtable);
// a key written by two events of one batch must still end with the later
// event's value, whatever keys sort between them.
TEST_F(EventLogTest, AStateWrittenTwiceInOneBatchKeepsTheLaterEventsValue) {
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  v1::CaseRecord first, second, between;
  first.set_referral_id("R-1");
  first.set_destination("IDVA");
  first.set_state(v1::ROUTED);
  second = first;
  second.set_state(v1::DELIVERED);
  between = first;
  between.set_destination("DA_MARAC");  // sorts before IDVA: the batch's key order differs from event order
  PendingEvent a = Pending(SyntheticSubmission(1, "R-1"));
  a.state_puts = {{EventLog::CaseStateKey("R-1", "IDVA"), first.SerializeAsString()}};
  PendingEvent b = Pending(SyntheticSubmission(2, "R-2"));
  b.state_puts = {{EventLog::CaseStateKey("R-1", "DA_MARAC"), between.SerializeAsString()},
                  {EventLog::CaseStateKey("R-1", "IDVA"), second.SerializeAsString()}};
  std::vector<PendingEvent> batch;
  batch.push_back(std::move(a));
  batch.push_back(std::move(b));
  ASSERT_TRUE(log->AppendBatch(batch).ok());

  v1::CaseRecord got;
  ASSERT_TRUE(log->GetCaseRecord("R-1", "IDVA", &got).ok());
  EXPECT_EQ(got.state(), v1::DELIVERED);
  ASSERT_TRUE(log->GetCaseRecord("R-1", "DA_MARAC", &got).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(got, between));
}

}  // namespace
}  // namespace refx::eventlog
