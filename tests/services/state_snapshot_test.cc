// Service snapshots: the snapshot file (round trip, chunks, a torn,
// altered, foreign, older-format or other-key file refused), and the state
// each service snapshots - RouterState and CaseFold survive their snapshot
// chunks unchanged, and forget what is older than their horizon. No sockets.
#include "services/common/state_snapshot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "core/event_util.h"
#include "domain/monitoring/case_fold.h"
#include "refx/v1/snapshot.pb.h"
#include "services/router/router_state.h"
#include "tests/outcomes/event_builder.h"
#include "tests/unit/test_util.h"

namespace refx {
namespace {

CivilDate D(const char* text) {
  CivilDate d;
  EXPECT_TRUE(ParseCivilDate(text, &d));
  return d;
}

v1::RouterSnapshot SomeState() {
  RouterState s;
  s.AddReferral(1, "subject-a", D("2026-01-05"));
  s.AddReferral(5, "subject-a", D("2026-03-01"));
  s.AddCase(ReferralIdForSeq(1), "DA_MARAC", D("2026-01-05"));
  s.AddCase(ReferralIdForSeq(5), "DA_MARAC", D("2026-03-01"));
  v1::RouterSnapshot out;
  s.ToSnapshot(&out);
  return out;
}

TEST(SnapshotFileTest, MissingIsNotFoundAndStoresRoundTrip) {
  testing::TempDir dir;
  SnapshotFile file(dir.path(), "router");
  v1::RouterSnapshot state;
  uint64_t seq = 0;
  std::string hash;
  EXPECT_EQ(file.Load(&state, &seq, &hash).code(), Status::Code::kNotFound);

  const v1::RouterSnapshot stored = SomeState();
  ASSERT_TRUE(file.Store(42, "hash-of-42", stored).ok());
  ASSERT_TRUE(file.Load(&state, &seq, &hash).ok());
  EXPECT_EQ(seq, 42u);
  EXPECT_EQ(hash, "hash-of-42");
  EXPECT_EQ(state.SerializeAsString(), stored.SerializeAsString());
  EXPECT_FALSE(std::filesystem::exists(file.path() + ".tmp"));
}

TEST(SnapshotFileTest, TornAlteredOrForeignFilesAreCorruption) {
  testing::TempDir dir;
  SnapshotFile file(dir.path(), "router");
  ASSERT_TRUE(file.Store(42, "hash-of-42", SomeState()).ok());
  std::string bytes;
  {
    std::ifstream in(file.path(), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  v1::RouterSnapshot state;
  uint64_t seq = 0;
  std::string hash;
  auto write = [&](const std::string& content) {
    std::ofstream(file.path(), std::ios::binary | std::ios::trunc) << content;
    return file.Load(&state, &seq, &hash);
  };
  // Torn: the first half of the file (a crash cannot leave this through the
  // rename, but a disk can).
  Status s = write(bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  // One byte changed inside the state.
  std::string altered = bytes;
  altered[bytes.size() / 2] ^= 0x01;
  s = write(altered);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find(file.path()), std::string::npos) << s.ToString();
  // Another service's snapshot under this name.
  ASSERT_TRUE(write(bytes).ok());
  SnapshotFile outcomes(dir.path(), "outcomes");
  std::filesystem::copy_file(file.path(), outcomes.path());
  s = outcomes.Load(&state, &seq, &hash);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
}

TEST(SnapshotFileTest, ChunksComeBackOneAtATimeInOrder) {
  testing::TempDir dir;
  SnapshotFile file(dir.path(), "router");
  ASSERT_TRUE(file.Store(7, "hash-of-7", [](const SnapshotFile::ChunkSink& add) {
                    for (uint64_t i = 1; i <= 3; ++i) {
                      v1::RouterSnapshot chunk;
                      chunk.add_subject_indexed(i);
                      add(chunk);
                    }
                  }).ok());
  v1::RouterSnapshot chunk;
  std::vector<uint64_t> seen;
  uint64_t seq = 0;
  std::string hash;
  ASSERT_TRUE(file.Load(&seq, &hash, &chunk, [&](const google::protobuf::MessageLite& c) {
                    const auto& r = static_cast<const v1::RouterSnapshot&>(c);
                    ASSERT_EQ(r.subject_indexed_size(), 1);  // one chunk, not the merge of all
                    seen.push_back(r.subject_indexed(0));
                  }).ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(seq, 7u);
  EXPECT_EQ(hash, "hash-of-7");
}

// A file of the first format (one ServiceSnapshot with the whole state) is
// refused: the service replays the log once and writes the new format.
TEST(SnapshotFileTest, OlderFormatIsCorruption) {
  testing::TempDir dir;
  SnapshotFile file(dir.path(), "router");
  v1::ServiceSnapshot old;
  old.set_service("router");
  old.set_seq(42);
  old.set_state(SomeState().SerializeAsString());
  std::ofstream(file.path(), std::ios::binary) << old.SerializeAsString();
  v1::RouterSnapshot state;
  uint64_t seq = 0;
  std::string hash;
  const Status s = file.Load(&state, &seq, &hash);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("format"), std::string::npos) << s.ToString();
}

// The router's state holds subject keys: a snapshot taken with no key or
// another key is refused by a start with this one, and the check value
// does not hold the key.
TEST(SnapshotFileTest, AnotherKeyCheckIsRefusedBeforeAnyChunk) {
  testing::TempDir dir;
  const std::string key_a(32, 'a'), key_b(32, 'b');
  const std::string check_a = SnapshotKeyCheck(key_a, "router subject keys");
  EXPECT_EQ(SnapshotKeyCheck("", "router subject keys"), "");
  EXPECT_NE(check_a, "");
  EXPECT_NE(check_a, SnapshotKeyCheck(key_b, "router subject keys"));
  EXPECT_NE(check_a, SnapshotKeyCheck(key_a, "another purpose"));
  EXPECT_EQ(check_a.find(key_a), std::string::npos);

  SnapshotFile no_key(dir.path(), "router");
  ASSERT_TRUE(no_key.Store(42, "hash-of-42", SomeState()).ok());
  SnapshotFile with_a(dir.path(), "router");
  with_a.set_key_check(check_a);
  v1::RouterSnapshot chunk;
  uint64_t seq = 0;
  std::string hash;
  int applied = 0;
  auto count = [&](const google::protobuf::MessageLite&) { ++applied; };
  Status s = with_a.Load(&seq, &hash, &chunk, count);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(with_a.path()), std::string::npos) << s.ToString();
  EXPECT_EQ(applied, 0);

  ASSERT_TRUE(with_a.Store(43, "hash-of-43", SomeState()).ok());
  ASSERT_TRUE(with_a.Load(&seq, &hash, &chunk, count).ok());
  EXPECT_EQ(seq, 43u);
  SnapshotFile with_b(dir.path(), "router");
  with_b.set_key_check(SnapshotKeyCheck(key_b, "router subject keys"));
  EXPECT_EQ(with_b.Load(&seq, &hash, &chunk, count).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(no_key.Load(&seq, &hash, &chunk, count).code(), Status::Code::kInvalidArgument);
}

TEST(SnapshotScheduleTest, DueAfterEveryEventsAndOffAtZero) {
  SnapshotSchedule every_ten({10, 3600});
  every_ten.Taken(100);
  EXPECT_FALSE(every_ten.Due(105));
  EXPECT_TRUE(every_ten.Due(110));
  EXPECT_TRUE(every_ten.Behind(101));
  EXPECT_FALSE(every_ten.Behind(100));
  SnapshotSchedule off({0, 1});
  EXPECT_FALSE(off.Due(1000000));
  EXPECT_FALSE(off.Behind(1000000));
}

TEST(RouterStateSnapshotTest, RoundTripKeepsCasesHistoryAndWithdrawals) {
  RouterState s;
  s.AddReferral(1, "subject-a", D("2026-01-05"));
  s.AddReferral(5, "subject-a", D("2026-03-01"));
  s.AddReferral(7, "subject-b", D("2026-03-02"));
  s.AddCase(ReferralIdForSeq(1), "DA_MARAC", D("2026-01-05"));
  s.AddCase(ReferralIdForSeq(5), "DA_MARAC", D("2026-03-01"));
  s.AddCase(ReferralIdForSeq(7), "IDVA", D("2026-03-02"));
  s.MarkWithdrawn(ReferralIdForSeq(7));
  v1::RouterSnapshot snap;
  s.ToSnapshot(&snap);
  RouterState back;
  back.FromSnapshot(snap);
  EXPECT_EQ(back.case_count(), 3u);
  EXPECT_TRUE(back.HasCase(ReferralIdForSeq(5), "DA_MARAC"));
  EXPECT_TRUE(back.IsWithdrawn(ReferralIdForSeq(7)));
  EXPECT_EQ(back.SubjectKeyOf(5), "subject-a");
  EXPECT_EQ(back.LastRoutedOn("subject-a", "DA_MARAC", 100), D("2026-03-01"));
  EXPECT_EQ(back.LastRoutedOn("subject-a", "DA_MARAC", 5), D("2026-01-05"));
  EXPECT_EQ(back.LastRoutedOn("subject-b", "DA_MARAC", 100), std::nullopt);
  // A case routed after the restart adds to the restored history.
  back.AddReferral(9, "subject-a", D("2026-04-01"));
  back.AddCase(ReferralIdForSeq(9), "DA_MARAC", D("2026-04-01"));
  EXPECT_EQ(back.LastRoutedOn("subject-a", "DA_MARAC", 100), D("2026-04-01"));
}

TEST(RouterStateSnapshotTest, ForgetBeforeDropsOnlyWhatIsOlderThanTheCutoff) {
  RouterState s;
  s.AddReferral(1, "subject-a", D("2024-01-05"));
  s.AddCase(ReferralIdForSeq(1), "DA_MARAC", D("2024-01-05"));
  s.AddReferral(5, "subject-a", D("2026-03-01"));
  s.AddCase(ReferralIdForSeq(5), "DA_MARAC", D("2026-03-01"));
  EXPECT_EQ(s.ForgetBefore(D("2025-03-01")), 3u);  // referral 1, its case, its history date
  EXPECT_FALSE(s.HasCase(ReferralIdForSeq(1), "DA_MARAC"));
  EXPECT_TRUE(s.HasCase(ReferralIdForSeq(5), "DA_MARAC"));
  EXPECT_EQ(s.SubjectKeyOf(1), "");
  EXPECT_EQ(s.LastRoutedOn("subject-a", "DA_MARAC", 100), D("2026-03-01"));
  EXPECT_EQ(s.LastRoutedOn("subject-a", "DA_MARAC", 5), std::nullopt);
  EXPECT_EQ(s.ForgetBefore(D("2027-01-01")), 3u);
  EXPECT_EQ(s.LastRoutedOn("subject-a", "DA_MARAC", 100), std::nullopt);
  EXPECT_EQ(s.case_count(), 0u);
}

TEST(CaseFoldSnapshotTest, RoundTripThenTheSameEventsGiveTheSameFold) {
  testing::EventLogBuilder log;
  const std::string a = log.Submit("2026-03-02T09:00:00Z", "kent-police", "Ann", "Test", "1990-01-01");
  log.Route("2026-03-02T09:00:01Z", a, "DA_MARAC", "2026-03-05T17:00:00Z");
  log.Route("2026-03-02T09:00:01Z", a, "IDVA", "");
  log.Deliver("2026-03-02T09:00:02Z", a, "DA_MARAC");
  log.Breach("2026-03-06T00:00:00Z", a, "DA_MARAC", "2026-03-05T17:00:00Z");
  log.Escalate("2026-03-06T00:00:01Z", a, "DA_MARAC", "CSU_TRIAGE");
  log.Deliver("2026-03-06T00:00:02Z", a, "IDVA");
  const std::vector<v1::Event>& events = log.events();
  const size_t half = 4;
  outcomes::CaseFold whole, first;
  for (size_t i = 0; i < events.size(); ++i) {
    whole.Apply(events[i]);
    if (i < half) first.Apply(events[i]);
  }
  v1::CaseFoldSnapshot snap;
  first.ToSnapshot(&snap);
  outcomes::CaseFold restored;
  restored.FromSnapshot(snap);
  EXPECT_EQ(restored.last_seq(), events[half - 1].seq());
  for (size_t i = half; i < events.size(); ++i) restored.Apply(events[i]);
  v1::CaseFoldSnapshot want, got;
  whole.ToSnapshot(&want);
  restored.ToSnapshot(&got);
  EXPECT_EQ(got.DebugString(), want.DebugString());
  EXPECT_EQ(restored.CasesOf(a).size(), 2u);
  EXPECT_TRUE(restored.Find(a, "DA_MARAC")->acknowledge_breached);
}

// The router's snapshot with its lists in one order (they come from hash
// maps, whose order depends on their history).
std::string Canonical(v1::RouterSnapshot s) {
  auto* r = s.mutable_referrals();
  std::sort(r->begin(), r->end(), [](const auto& a, const auto& b) { return a.seq() < b.seq(); });
  auto* c = s.mutable_cases();
  std::sort(c->begin(), c->end(), [](const auto& a, const auto& b) {
    return std::tie(a.referral_id(), a.destination()) < std::tie(b.referral_id(), b.destination());
  });
  auto* h = s.mutable_history();
  std::sort(h->begin(), h->end(), [](const auto& a, const auto& b) {
    return std::tie(a.subject_key(), a.destination()) < std::tie(b.subject_key(), b.destination());
  });
  std::sort(s.mutable_subject_indexed()->begin(), s.mutable_subject_indexed()->end());
  return s.DebugString();
}

// Many small chunks load into the same state as one message.
TEST(RouterStateSnapshotTest, ChunksRebuildTheSameState) {
  RouterState s;
  for (uint64_t seq = 1; seq <= 40; seq += 2) {
    const std::string subject = "subject-" + std::to_string(seq % 7);
    s.AddReferral(seq, subject, D("2026-01-05"));
    s.AddCase(ReferralIdForSeq(seq), seq % 3 ? "DA_MARAC" : "IDVA", D("2026-01-06"));
    if (seq % 5 == 0) s.MarkSubjectIndexed(seq);
  }
  s.MarkWithdrawn(ReferralIdForSeq(3));
  RouterState back;
  int chunks = 0;
  s.ToSnapshotChunks(3, [&](const v1::RouterSnapshot& chunk) {
    ++chunks;
    back.AddSnapshotChunk(chunk);
  });
  EXPECT_GT(chunks, 10);
  v1::RouterSnapshot want, got;
  s.ToSnapshot(&want);
  back.ToSnapshot(&got);
  EXPECT_EQ(Canonical(got), Canonical(want));
  EXPECT_EQ(back.LastRoutedOn("subject-3", "DA_MARAC", 100), D("2026-01-06"));
}

TEST(CaseFoldSnapshotTest, ChunksRebuildTheSameFold) {
  testing::EventLogBuilder log;
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    const std::string a = log.Submit("2026-03-02T09:00:00Z", "kent-police", "Ann", "Test", "1990-01-01");
    log.Route("2026-03-02T09:00:01Z", a, "IDVA", "2026-03-05T17:00:00Z");
    log.Route("2026-03-02T09:00:01Z", a, "DA_MARAC", "");
    if (i % 2) log.Deliver("2026-03-02T09:00:02Z", a, "IDVA");
    ids.push_back(a);
  }
  outcomes::CaseFold fold;
  for (const v1::Event& e : log.events()) fold.Apply(e);
  outcomes::CaseFold back;
  int chunks = 0;
  fold.ToSnapshotChunks(2, [&](const v1::CaseFoldSnapshot& chunk) {
    ++chunks;
    EXPECT_LE(chunk.referrals_size(), 2);
    back.AddSnapshotChunk(chunk);
  });
  EXPECT_EQ(chunks, 4);
  v1::CaseFoldSnapshot want, got;
  fold.ToSnapshot(&want);
  back.ToSnapshot(&got);
  EXPECT_EQ(got.DebugString(), want.DebugString());
  EXPECT_EQ(back.last_seq(), fold.last_seq());
  // Cases of a referral keep their routed order.
  ASSERT_EQ(back.CasesOf(ids[0]).size(), 2u);
  EXPECT_EQ(back.CasesOf(ids[0])[0]->destination, "IDVA");
}

TEST(CaseFoldSnapshotTest, ForgetsClosedCasesOlderThanTheCutoffOnly) {
  testing::EventLogBuilder log;
  const std::string a = log.Submit("2026-01-02T09:00:00Z", "kent-police", "Ann", "Test", "1990-01-01");
  log.Route("2026-01-02T09:00:01Z", a, "DA_MARAC", "");
  log.Route("2026-01-02T09:00:01Z", a, "IDVA", "");
  log.Deliver("2026-01-02T09:00:02Z", a, "DA_MARAC");
  log.Acknowledge("2026-01-02T10:00:00Z", a, "DA_MARAC");
  log.Decline("2026-01-03T10:00:00Z", a, "DA_MARAC", "not ours");
  log.Close("2026-01-04T10:00:00Z", a, "DA_MARAC");  // closed on 4 January
  const std::string b = log.Submit("2026-03-02T09:00:00Z", "kent-police", "Bea", "Test", "1990-01-01");
  log.Route("2026-03-02T09:00:01Z", b, "IDVA", "");
  outcomes::CaseFold fold;
  for (const v1::Event& e : log.events()) fold.Apply(e);
  ASSERT_EQ(fold.size(), 3u);
  const outcomes::Micros feb = google::protobuf::util::TimeUtil::TimestampToMicroseconds(
      testing::EventLogBuilder::T("2026-02-01T00:00:00Z"));
  EXPECT_EQ(fold.ForgetClosedBefore(feb), 1u);
  EXPECT_EQ(fold.Find(a, "DA_MARAC"), nullptr);
  ASSERT_NE(fold.Find(a, "IDVA"), nullptr);  // still open, however old
  EXPECT_EQ(fold.CasesOf(a).size(), 1u);
  EXPECT_EQ(fold.size(), 2u);
}

}  // namespace
}  // namespace refx
