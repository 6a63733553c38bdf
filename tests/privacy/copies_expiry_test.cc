// The other copies of personal data (issue 13, docs/SECURITY.md "Where
// copies live"), on real files: what each holds while it lives, and that
// it leaves the disk when its time is up. (Backups: backup_expiry_test;
// the adapter's done/ folder: FileDropTest.TheSameNameTwiceIsKeptTwiceAnd-
// DoneIsEmptiedAfterRetention; rejected/: FileDropTest.BadRowsGoToAReport-
// WhileGoodRowsGoThrough; logs and the demo's state: privacy_sweep_test.)
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "adapters/spool/spool.h"
#include "sentinel_files.h"
#include "services/common/state_snapshot.h"
#include "services/router/router_state.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

// The adapter's spool holds each referral in plaintext (the agency's own
// disk) only until the broker has acknowledged it: the acknowledged unit
// and its cursor leave the spool folder.
TEST(CopiesExpiryTest, ASpoolUnitLeavesTheDiskOnceTheBrokerHasAcknowledgedIt) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/spool";
  std::unique_ptr<adapters::Spool> spool;
  ASSERT_TRUE(adapters::Spool::Open(dir, &spool).ok());
  const std::vector<std::string> sentinels = {"Spoolina", "Spoolworthy", "3 Forwarding Mews", "07700 900317",
                                               "SPOOL-NARRATIVE-3b7f20"};
  std::vector<v1::Referral> referrals = {SentinelReferral("kent-police", "SPOOL-1", sentinels),
                                         SentinelReferral("kent-police", "SPOOL-2", sentinels)};
  ASSERT_TRUE(spool->Append(referrals, "http").ok());
  EXPECT_NE(FilesHolding(dir, "Spoolworthy"), "");  // the search sees it while it is there
  adapters::SpoolUnit unit;
  ASSERT_TRUE(spool->Oldest(&unit).ok());
  ASSERT_TRUE(spool->MarkAcknowledged(unit.name, 1).ok());
  EXPECT_NE(FilesHolding(dir, "Spoolworthy"), "");  // half acknowledged: kept
  ASSERT_TRUE(spool->MarkAcknowledged(unit.name, 2).ok());
  EXPECT_EQ(FilesHolding(dir, "Spoolworthy"), "");
  EXPECT_EQ(FilesHolding(dir, "SPOOL-NARRATIVE-3b7f20"), "");
}

// The router's snapshot holds keyed subject hashes (never names), and only
// for the longest repeat window: once the router forgets the older
// referrals, the next snapshot file no longer holds their hashes.
TEST(CopiesExpiryTest, TheRoutersSnapshotDropsSubjectHashesOlderThanTheRepeatWindow) {
  TempDir tmp;
  CivilDate old_day, new_day, cutoff;
  ASSERT_TRUE(ParseCivilDate("2025-01-10", &old_day));
  ASSERT_TRUE(ParseCivilDate("2026-11-20", &new_day));
  ASSERT_TRUE(ParseCivilDate("2025-11-20", &cutoff));  // twelve months back
  const std::string old_key = "OLD-SUBJECT-HASH-7e1d0c95a2", new_key = "NEW-SUBJECT-HASH-40b8f3e611";
  RouterState state;
  state.AddReferral(1, old_key, old_day);
  state.AddCase("R-1", "DA_MARAC", old_day);
  state.AddReferral(7, new_key, new_day);
  state.AddCase("R-7", "DA_MARAC", new_day);
  SnapshotFile file(tmp.path(), "router");
  v1::RouterSnapshot snapshot;
  state.ToSnapshot(&snapshot);
  ASSERT_TRUE(file.Store(7, "hash-of-7", snapshot).ok());
  EXPECT_EQ(FilesHolding(tmp.path(), old_key), "router.snapshot ");

  EXPECT_GT(state.ForgetBefore(cutoff), 0u);
  snapshot.Clear();
  state.ToSnapshot(&snapshot);
  ASSERT_TRUE(file.Store(7, "hash-of-7", snapshot).ok());
  EXPECT_EQ(FilesHolding(tmp.path(), old_key), "");
  EXPECT_EQ(FilesHolding(tmp.path(), new_key), "router.snapshot ");
}

}  // namespace
}  // namespace refx::testing
