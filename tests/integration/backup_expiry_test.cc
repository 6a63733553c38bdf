// Backup expiry (issue 13: "backups: say how long they live and test that
// expiry"), on the real broker binary (CURVE, RocksDB in a temp folder) and
// real BackupEngine folders: after each backup the broker deletes the
// backups that broker { backup { keep_days keep_last } } says have expired,
// never the newest; once the backups taken before an erasure have expired,
// no file under the backup folder holds the erased person's data key (nor
// their sentinel strings, which were only ever stored sealed).
#include <gtest/gtest.h>
#include <rocksdb/env.h>
#include <rocksdb/utilities/backup_engine.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "eventlog/backup.h"
#include "sentinel_files.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

constexpr char kPartnership[] = R"(
destinations { code: "DEST_A" name: "A panel" agency_id: "lead-a" need_to_know: [SUBJECT_IDENTITY, NARRATIVE] purpose: "risk panel" }
)";

std::vector<AgencySpec> Agencies() {
  return {{"agency-a", {"SUBMITTER"}, {}}, {"lead-a", {"LEAD"}, {}}, {"refx-admin", {"ADMIN"}, {}}};
}

// Synthetic person whose strings appear nowhere else.
const std::vector<std::string> kSentinels = {"Backupina", "Expirington", "9 Retentionmere Row", "07700 900913",
                                             "BACKUP-NARRATIVE-c41e77"};

// The ids of the backups in `dir`, oldest first.
std::vector<uint32_t> BackupIds(const std::string& dir) {
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  EXPECT_TRUE(rocksdb::BackupEngineReadOnly::Open(rocksdb::BackupEngineOptions(dir), rocksdb::Env::Default(), &raw).ok());
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  std::vector<rocksdb::BackupInfo> infos;
  if (engine) engine->GetBackupInfo(&infos);
  std::vector<uint32_t> ids;
  for (const auto& info : infos) ids.push_back(info.backup_id);
  return ids;
}

// Makes backup `id` in `dir` look taken `days` days ago: BackupEngine keeps a
// backup's time as the first line of its meta file (schema 1), and reads it
// when a folder is opened. (The broker's own clock cannot be moved from
// outside its process; the backup's age is what expiry looks at.)
void Backdate(const std::string& dir, uint32_t id, int days) {
  const std::string meta = dir + "/meta/" + std::to_string(id);
  std::ifstream in(meta);
  ASSERT_TRUE(in) << meta;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  const size_t eol = text.find('\n');
  ASSERT_NE(eol, std::string::npos);
  const int64_t taken = std::stoll(text.substr(0, eol));
  text = std::to_string(taken - int64_t{days} * 86400) + text.substr(eol);
  std::ofstream out(meta, std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good());
}

class BackupExpiryTest : public ::testing::Test {
 protected:
  explicit BackupExpiryTest(const std::string& backup_settings) : stack_(Agencies(), backup_settings, kPartnership) {}
  void SetUp() override {
    ASSERT_TRUE(stack_.StartBroker());
    admin_ = stack_.ClientFor("refx-admin", 60000, 1);
  }

  // Asks the broker for a backup into backup_dir(); returns its result.
  v1::BackupResult Backup() {
    v1::Frame request, reply;
    request.mutable_backup()->set_dir(backup_dir());
    Status s = admin_->Call(request, &reply);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(reply.has_backup_result()) << reply.DebugString();
    EXPECT_TRUE(reply.backup_result().verified());
    return reply.backup_result();
  }

  std::string Submit(const v1::Referral& referral) {
    auto submitter = stack_.ClientFor("agency-a");
    v1::Ack ack;
    Status s = submitter->Submit(referral, &ack);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return ack.referral_id();
  }

  std::string backup_dir() const { return backups_.path() + "/log-backups"; }

  TestStack stack_;
  TempDir backups_;
  std::unique_ptr<BrokerClient> admin_;
};

class KeepLastTest : public BackupExpiryTest {
 protected:
  KeepLastTest() : BackupExpiryTest("backup { keep_last: 2 }") {}
};

TEST_F(KeepLastTest, OldBackupsExpireAndAfterAnErasureNoBackupFileHoldsTheKey) {
  const std::string id = Submit(SentinelReferral("agency-a", "BACKUP-1", kSentinels));
  const std::string wrapped = StoredWrappedKey(stack_.data_dir(), id);
  ASSERT_EQ(wrapped.size(), 72u);
  EXPECT_TRUE(Backup().expired_backup_ids().empty());  // 1
  EXPECT_TRUE(Backup().expired_backup_ids().empty());  // 2
  // The search finds the key in the backups (so finding nothing later means something).
  EXPECT_NE(FilesHolding(backup_dir(), wrapped), "");
  for (const auto& sentinel : kSentinels) EXPECT_EQ(FilesHolding(backup_dir(), sentinel), "") << sentinel;

  v1::Frame request, reply;
  request.mutable_erase()->set_referral_id(id);
  request.mutable_erase()->set_reason("referral made in error");
  ASSERT_TRUE(admin_->Call(request, &reply).ok());
  ASSERT_TRUE(reply.has_erase_result()) << reply.DebugString();
  ASSERT_EQ(FilesHolding(stack_.data_dir(), wrapped), "");

  // Backup 3: backup 1 expires (keep_last 2); backup 2, taken before the
  // erasure, still holds the key.
  v1::BackupResult third = Backup();
  EXPECT_EQ(third.backup_id(), 3u);
  ASSERT_EQ(third.expired_backup_ids_size(), 1);
  EXPECT_EQ(third.expired_backup_ids(0), 1u);
  EXPECT_EQ(third.backups_kept(), 2u);
  EXPECT_EQ(BackupIds(backup_dir()), (std::vector<uint32_t>{2, 3}));
  EXPECT_NE(FilesHolding(backup_dir(), wrapped), "");

  // Backup 4: backup 2 expires, and with it the last copy of the key.
  v1::BackupResult fourth = Backup();
  ASSERT_EQ(fourth.expired_backup_ids_size(), 1);
  EXPECT_EQ(fourth.expired_backup_ids(0), 2u);
  EXPECT_EQ(BackupIds(backup_dir()), (std::vector<uint32_t>{3, 4}));
  EXPECT_EQ(FilesHolding(backup_dir(), wrapped), "");
  for (const auto& sentinel : kSentinels) EXPECT_EQ(FilesHolding(backup_dir(), sentinel), "") << sentinel;

  // What is left restores and holds the whole log.
  TempDir restore;
  eventlog::BackupReport restored;
  Status s = eventlog::RestoreLatestBackup(backup_dir(), restore.path() + "/data", &restored);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(restored.backup_id, 4u);
  EXPECT_EQ(restored.head_seq, fourth.head_seq());
}

class KeepDaysTest : public BackupExpiryTest {
 protected:
  KeepDaysTest() : BackupExpiryTest("backup { keep_days: 7 }") {}
};

TEST_F(KeepDaysTest, BackupsOlderThanKeepDaysExpireOnTheNextBackupNeverTheNewest) {
  Submit(SentinelReferral("agency-a", "BACKUP-DAYS-1", kSentinels));
  Backup();  // 1
  Backup();  // 2
  Backup();  // 3
  Backdate(backup_dir(), 1, 9);  // older than a week
  Backdate(backup_dir(), 2, 7);  // exactly a week: still kept (keep_days counts whole days back from today)
  Backdate(backup_dir(), 3, 8);  // the newest backup, though older than a week, is never deleted
  // ...except by a newer one: backup 4 expires 1 and 3.
  v1::BackupResult fourth = Backup();
  EXPECT_EQ(std::vector<uint32_t>(fourth.expired_backup_ids().begin(), fourth.expired_backup_ids().end()),
            (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(fourth.backups_kept(), 2u);
  EXPECT_EQ(BackupIds(backup_dir()), (std::vector<uint32_t>{2, 4}));
}

TEST(BackupExpiryEngineTest, TheNewestBackupIsNeverDeletedAndAnEmptyFolderIsNotFound) {
  TestStack stack(Agencies(), "", kPartnership);
  ASSERT_TRUE(stack.StartBroker());
  auto admin = stack.ClientFor("refx-admin", 60000, 1);
  TempDir backups;
  const std::string dir = backups.path() + "/b";
  for (int i = 0; i < 2; ++i) {
    v1::Frame request, reply;
    request.mutable_backup()->set_dir(dir);
    ASSERT_TRUE(admin->Call(request, &reply).ok());
    ASSERT_TRUE(reply.has_backup_result()) << reply.DebugString();
    // Without broker { backup { } } nothing expires.
    EXPECT_TRUE(reply.backup_result().expired_backup_ids().empty());
  }
  EXPECT_EQ(BackupIds(dir), (std::vector<uint32_t>{1, 2}));
  // Every backup is past a cutoff in the future, and one is over keep_last:
  // only the newest stays.
  eventlog::BackupExpiry expiry;
  expiry.cutoff_unix = std::numeric_limits<int64_t>::max();
  expiry.keep_last = 1;
  eventlog::ExpiryReport report;
  Status s = eventlog::ExpireBackups(dir, expiry, &report);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(report.deleted_ids, (std::vector<uint32_t>{1}));
  EXPECT_EQ(report.kept, 1u);
  EXPECT_EQ(BackupIds(dir), (std::vector<uint32_t>{2}));
  // Nothing of backup 1 is left: its meta file and private folder are gone.
  EXPECT_FALSE(std::filesystem::exists(dir + "/meta/1"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/private/1"));
  EXPECT_EQ(eventlog::ExpireBackups(backups.path() + "/none", expiry, &report).code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace refx::testing
