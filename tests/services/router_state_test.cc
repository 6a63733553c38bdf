// RouterState (routing history "as of" a referral), CursorFile and
// StateDirLock. No sockets.
#include "services/router/router_state.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/event_util.h"
#include "client/cursor_file.h"
#include "services/common/state_dir_lock.h"
#include "tests/unit/test_util.h"

namespace refx {
namespace {

CivilDate D(const char* text) {
  CivilDate d;
  EXPECT_TRUE(ParseCivilDate(text, &d));
  return d;
}

TEST(RouterStateTest, HistoryCountsOnlyEarlierReferralsOfTheSubject) {
  RouterState s;
  s.AddReferral(1, "subject-a");
  s.AddReferral(5, "subject-a");
  s.AddReferral(7, "subject-b");
  s.AddReferral(9, "");  // no usable identity
  s.AddCase(ReferralIdForSeq(1), "DA_MARAC", D("2026-01-10"));
  s.AddCase(ReferralIdForSeq(5), "DA_MARAC", D("2026-06-01"));
  s.AddCase(ReferralIdForSeq(7), "DA_MARAC", D("2026-07-01"));
  s.AddCase(ReferralIdForSeq(9), "CSU_TRIAGE", D("2026-07-02"));

  EXPECT_FALSE(s.LastRoutedOn("subject-a", "DA_MARAC", 1)) << "a referral is not its own repeat";
  EXPECT_EQ(s.LastRoutedOn("subject-a", "DA_MARAC", 5)->ToString(), "2026-01-10");
  EXPECT_EQ(s.LastRoutedOn("subject-a", "DA_MARAC", 100)->ToString(), "2026-06-01");
  EXPECT_FALSE(s.LastRoutedOn("subject-a", "IDVA", 100));
  EXPECT_EQ(s.LastRoutedOn("subject-b", "DA_MARAC", 100)->ToString(), "2026-07-01");
  EXPECT_TRUE(s.HasCase(ReferralIdForSeq(9), "CSU_TRIAGE"));
  EXPECT_FALSE(s.HasCase(ReferralIdForSeq(9), "DA_MARAC"));
  EXPECT_EQ(s.case_count(), 4u);

  // The broker's date replaces the one recorded at append time.
  s.AddCase(ReferralIdForSeq(5), "DA_MARAC", D("2026-06-02"));
  EXPECT_EQ(s.LastRoutedOn("subject-a", "DA_MARAC", 100)->ToString(), "2026-06-02");
  EXPECT_EQ(s.case_count(), 4u);

  const RoutingHistoryBefore view(&s, 6);
  EXPECT_EQ(view.LastRoutedOn("subject-a", "DA_MARAC")->ToString(), "2026-06-02");
}

TEST(RouterStateTest, RestoredSubjectCountsItsCasesAndAForgottenOneNoLongerDoesNorIsSnapshotted) {
  RouterState s;
  // Referral 1's submission came back erased: no key from it; its cases are known.
  s.AddReferral(1, "");
  s.AddCase(ReferralIdForSeq(1), "DA_MARAC", D("2026-01-10"));
  s.AddCase(ReferralIdForSeq(1), "IDVA", D("2026-01-11"));
  s.AddReferral(3, "subject-a");
  s.AddCase(ReferralIdForSeq(3), "DA_MARAC", D("2026-03-01"));
  EXPECT_EQ(s.LastRoutedOn("subject-a", "DA_MARAC", 3), std::nullopt);

  // Its subject_indexed event (opened with the history key) gives the key.
  s.RestoreSubject(1, "subject-a", D("2026-01-10"), {"DA_MARAC", "IDVA", "CSU_TRIAGE"});
  EXPECT_EQ(s.SubjectKeyOf(1), "subject-a");
  EXPECT_EQ(s.LastRoutedOn("subject-a", "DA_MARAC", 3)->ToString(), "2026-01-10");
  EXPECT_EQ(s.LastRoutedOn("subject-a", "IDVA", 100)->ToString(), "2026-01-11");
  EXPECT_EQ(s.LastRoutedOn("subject-a", "CSU_TRIAGE", 100), std::nullopt);
  // A key it has already is kept.
  s.RestoreSubject(3, "subject-b", D("2026-03-01"), {"DA_MARAC"});
  EXPECT_EQ(s.SubjectKeyOf(3), "subject-a");

  // Its history key destroyed: gone from the history, the latest date
  // recomputed, and from the snapshot.
  EXPECT_TRUE(s.ForgetSubject(1));
  EXPECT_FALSE(s.ForgetSubject(1));
  EXPECT_EQ(s.SubjectKeyOf(1), "");
  EXPECT_EQ(s.LastRoutedOn("subject-a", "IDVA", 100), std::nullopt);
  EXPECT_EQ(s.LastRoutedOn("subject-a", "DA_MARAC", 100)->ToString(), "2026-03-01");
  EXPECT_EQ(s.LastRoutedOn("subject-a", "DA_MARAC", 3), std::nullopt);
  EXPECT_TRUE(s.HasCase(ReferralIdForSeq(1), "DA_MARAC")) << "its cases stay";
  v1::RouterSnapshot snapshot;
  s.ToSnapshot(&snapshot);
  for (const auto& r : snapshot.referrals()) EXPECT_NE(r.seq(), 1u);
  for (const auto& h : snapshot.history()) {
    for (uint64_t seq : h.seqs()) EXPECT_NE(seq, 1u);
  }
  RouterState restored;
  restored.FromSnapshot(snapshot);
  EXPECT_EQ(restored.LastRoutedOn("subject-a", "IDVA", 100), std::nullopt);
  EXPECT_EQ(restored.LastRoutedOn("subject-a", "DA_MARAC", 100)->ToString(), "2026-03-01");
}

TEST(RouterStateTest, Withdrawn) {
  RouterState s;
  EXPECT_FALSE(s.IsWithdrawn("R-0000000003"));
  s.MarkWithdrawn("R-0000000003");
  EXPECT_TRUE(s.IsWithdrawn("R-0000000003"));
}

TEST(CursorFileTest, MissingIsZeroAndStoresSurviveReopening) {
  testing::TempDir dir;
  CursorFile cursor(dir.Sub("router.cursor"));
  uint64_t seq = 99;
  ASSERT_TRUE(cursor.Load(&seq).ok());
  EXPECT_EQ(seq, 0u);
  ASSERT_TRUE(cursor.Store(42).ok());
  ASSERT_TRUE(cursor.Store(1234567).ok());
  ASSERT_TRUE(CursorFile(dir.Sub("router.cursor")).Load(&seq).ok());
  EXPECT_EQ(seq, 1234567u);
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("router.cursor.tmp")));
}

TEST(CursorFileTest, GarbageIsCorruption) {
  testing::TempDir dir;
  std::ofstream(dir.Sub("router.cursor")) << "12x\n";
  uint64_t seq = 0;
  Status s = CursorFile(dir.Sub("router.cursor")).Load(&seq);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("router.cursor"), std::string::npos);
}

TEST(StateDirLockTest, OneHolderAtATime) {
  testing::TempDir dir;
  const std::string state = dir.Sub("state/router");
  {
    StateDirLock first, second;
    ASSERT_TRUE(first.Acquire(state, "refx-router").ok());
    Status s = second.Acquire(state, "refx-router");
    EXPECT_EQ(s.code(), Status::Code::kUnavailable);
    EXPECT_NE(s.message().find("refx-router.lock"), std::string::npos);
  }
  StateDirLock again;
  EXPECT_TRUE(again.Acquire(state, "refx-router").ok()) << "released with its holder";
}

}  // namespace
}  // namespace refx
