// SentAlerts, the notifier's journal of the alerts the relay took: keys
// survive reopening (those of a digest too), a torn last line is not a key,
// and Compact keeps the "from" line and the keys asked for, durably,
// leaving no temporary file.
// Alert::ParseKey names the case a key is about.
#include "services/notifier/sent_alerts.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "services/notifier/alert_mail.h"
#include "tests/unit/test_util.h"

namespace refx::notifier {
namespace {

// A new journal at `path` starting after `from_seq`.
void CreateJournal(const std::string& path, uint64_t from_seq, SentAlerts* journal) {
  ASSERT_TRUE(journal->Open(path).ok());
  EXPECT_FALSE(journal->exists());
  ASSERT_TRUE(journal->Create(from_seq).ok());
}

TEST(SentAlertsTest, KeysSurviveReopenAndATornLineIsNotAKey) {
  testing::TempDir tmp;
  const std::string path = tmp.Sub("alerts.journal");
  SentAlerts journal;
  ASSERT_NO_FATAL_FAILURE(CreateJournal(path, 42, &journal));
  ASSERT_TRUE(journal.Add("new:R-0000000001:DA_MARAC").ok());
  std::ofstream(path, std::ios::app) << "new:R-00000";  // a crash mid-write
  SentAlerts again;
  ASSERT_TRUE(again.Open(path).ok());
  EXPECT_TRUE(again.exists());
  EXPECT_EQ(again.from_seq(), 42u);
  EXPECT_TRUE(again.Contains("new:R-0000000001:DA_MARAC"));
  EXPECT_EQ(again.size(), 1u);
}

TEST(SentAlertsTest, AddAllRecordsEveryKeyOfADigest) {
  testing::TempDir tmp;
  const std::string path = tmp.Sub("alerts.journal");
  SentAlerts journal;
  ASSERT_NO_FATAL_FAILURE(CreateJournal(path, 3, &journal));
  ASSERT_TRUE(journal.AddAll({}).ok());
  ASSERT_TRUE(journal.AddAll({"new:R-0000000001:IDVA", "new:R-0000000002:IDVA", "new:R-0000000003:IDVA"}).ok());
  ASSERT_TRUE(journal.Add("deadline:R-0000000001:IDVA").ok());
  SentAlerts again;
  ASSERT_TRUE(again.Open(path).ok());
  EXPECT_EQ(again.from_seq(), 3u);
  EXPECT_EQ(again.size(), 4u);
  for (const char* key : {"new:R-0000000001:IDVA", "new:R-0000000002:IDVA", "new:R-0000000003:IDVA",
                          "deadline:R-0000000001:IDVA"}) {
    EXPECT_TRUE(again.Contains(key)) << key;
  }
}

TEST(SentAlertsTest, CompactKeepsTheFromLineAndTheKeysAskedFor) {
  testing::TempDir tmp;
  const std::string path = tmp.Sub("alerts.journal");
  SentAlerts journal;
  ASSERT_NO_FATAL_FAILURE(CreateJournal(path, 7, &journal));
  for (int i = 1; i <= 100; ++i) {
    const std::string id = "R-" + std::to_string(1000000000 + i);
    ASSERT_TRUE(journal.Add("new:" + id + ":IDVA").ok());
    ASSERT_TRUE(journal.Add("escalated:" + id + ":IDVA").ok());
  }
  // Keep the cases of even referral numbers.
  ASSERT_TRUE(journal
                  .Compact([](const std::string& key) {
                    std::string id, dest;
                    EXPECT_TRUE(Alert::ParseKey(key, &id, &dest)) << key;
                    EXPECT_EQ(dest, "IDVA");
                    return (id.back() - '0') % 2 == 0;
                  })
                  .ok());
  EXPECT_EQ(journal.size(), 100u);
  EXPECT_TRUE(journal.Contains("new:R-1000000002:IDVA"));
  EXPECT_FALSE(journal.Contains("new:R-1000000001:IDVA"));
  EXPECT_FALSE(std::ifstream(path + ".tmp").good()) << "no temporary file left behind";
  // Appends go on after a compaction, and a reopen reads both.
  ASSERT_TRUE(journal.Add("deadline:R-1000000001:IDVA").ok());
  SentAlerts again;
  ASSERT_TRUE(again.Open(path).ok());
  EXPECT_EQ(again.from_seq(), 7u);
  EXPECT_EQ(again.size(), 101u);
  EXPECT_TRUE(again.Contains("escalated:R-1000000100:IDVA"));
  EXPECT_TRUE(again.Contains("deadline:R-1000000001:IDVA"));
  EXPECT_FALSE(again.Contains("escalated:R-1000000099:IDVA"));
}

TEST(SentAlertsTest, AFailedCompactionLeavesTheJournalAsItWas) {
  testing::TempDir tmp;
  const std::string path = tmp.Sub("alerts.journal");
  SentAlerts journal;
  ASSERT_NO_FATAL_FAILURE(CreateJournal(path, 1, &journal));
  ASSERT_TRUE(journal.Add("new:R-0000000001:IDVA").ok());
  // The temporary file's name is taken by a folder: it cannot be created.
  std::filesystem::create_directory(path + ".tmp");
  EXPECT_EQ(journal.Compact([](const std::string&) { return false; }).code(), Status::Code::kIoError);
  EXPECT_TRUE(journal.Contains("new:R-0000000001:IDVA"));
  SentAlerts again;
  ASSERT_TRUE(again.Open(path).ok());
  EXPECT_TRUE(again.Contains("new:R-0000000001:IDVA"));
}

TEST(AlertKeyTest, ParseKeyNamesTheCase) {
  Alert a;
  a.kind = Alert::Kind::kDeadlineNear;
  a.referral_id = "R-0000000012";
  a.destination = "CHILDRENS_FRONT_DOOR";
  std::string id, dest;
  ASSERT_TRUE(Alert::ParseKey(a.Key(), &id, &dest));
  EXPECT_EQ(id, a.referral_id);
  EXPECT_EQ(dest, a.destination);
  for (const std::string bad : {"", "new", "new:", "new:R-1", "new::IDVA", "new:R-1:", "new:R:1:IDVA"}) {
    EXPECT_FALSE(Alert::ParseKey(bad, &id, &dest)) << bad;
  }
}

}  // namespace
}  // namespace refx::notifier
