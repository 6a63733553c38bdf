// The drop folder watcher over an in-memory spool: files being written are
// not read early, renamed files are taken at once, good files go to done/,
// files with bad rows to rejected/ with a report while their good rows go
// through, the spool failing keeps the file, done/ is emptied after the
// retention period, and `refx adapter retry` puts a rejected file back.
#include "adapters/filedrop/file_drop.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>

#include "filedrop_test_util.h"

namespace refx::adapters {
namespace {

using namespace std::chrono_literals;
using testing::AppendFile;
using testing::Exists;
using testing::PoliceRow;
using testing::ReadFile;
using testing::WriteFile;

class FileDropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = dir_.path() + "/inbox";
    FileDropOptions options;
    options.agency_id = "kent-police";
    options.drop.set_folder(folder_);
    options.drop.set_stable_seconds(5);
    options.drop.set_done_retention_days(30);
    v1::CsvFormat format;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(testing::kPoliceFormat, &format));
    options.csv_format = format;
    options.chunk_rows = 2;
    options.now = clock_.fn();
    ASSERT_TRUE(FileDrop::Open(options, &spool_, &drop_).ok());
  }

  std::vector<FileOutcome> Scan() {
    std::vector<FileOutcome> outcomes;
    Status s = drop_->ScanOnce(&outcomes);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return outcomes;
  }

  // Writes `text` elsewhere and renames it into the folder, as a careful writer does.
  void DropByRename(const std::string& name, const std::string& text) {
    const std::string staged = dir_.path() + "/" + name + ".staged";
    WriteFile(staged, text);
    ASSERT_EQ(std::rename(staged.c_str(), (folder_ + "/" + name).c_str()), 0);
  }

  testing::TempFolder dir_;
  std::string folder_;
  testing::ManualClock clock_;
  testing::MemorySpool spool_;
  std::unique_ptr<FileDrop> drop_;
};

TEST_F(FileDropTest, AHalfWrittenFileIsNotReadEarly) {
  const std::string path = folder_ + "/export.csv";
  WriteFile(path, std::string(testing::kPoliceHeader) + PoliceRow("KP-1") + "KP-2,Hann");  // mid-row
  EXPECT_TRUE(Scan().empty());
  clock_.now += 4s;
  EXPECT_TRUE(Scan().empty()) << "not stable for 5 s yet";
  EXPECT_EQ(drop_->Figures().files_waiting, 1u);
  AppendFile(path, "ah,Whitlow,17/04/1991,High,16,\n");
  clock_.now += 4s;  // 8 s since first seen, but it changed 0 s ago
  EXPECT_TRUE(Scan().empty()) << "the file grew: the stable time starts again";
  AppendFile(path, PoliceRow("KP-3"));
  clock_.now += 10s;
  EXPECT_TRUE(Scan().empty()) << "grew again";
  EXPECT_TRUE(spool_.units().empty());
  clock_.now += 5s;
  auto outcomes = Scan();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].moved_to, "done/export.csv");
  EXPECT_EQ(outcomes[0].rows_spooled, 3);
  EXPECT_EQ(spool_.references(), (std::vector<std::string>{"KP-1", "KP-2", "KP-3"}));
}

TEST_F(FileDropTest, RenamedIntoPlaceIsTakenAtOnceInChunks) {
  DropByRename("renamed.csv",
               std::string(testing::kPoliceHeader) + PoliceRow("KP-1") + PoliceRow("KP-2") + PoliceRow("KP-3"));
  WriteFile(folder_ + "/notes.txt", "not ours");
  WriteFile(folder_ + "/.hidden.csv", "not ours");
  WriteFile(folder_ + "/big.csv.part", "not ours");
  auto outcomes = Scan();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].name, "renamed.csv");
  EXPECT_FALSE(outcomes[0].rejected);
  EXPECT_TRUE(Exists(folder_ + "/done/renamed.csv"));
  EXPECT_FALSE(Exists(folder_ + "/renamed.csv"));
  auto units = spool_.units();
  ASSERT_EQ(units.size(), 2u);  // chunk_rows 2: one Append per chunk, not per row
  EXPECT_EQ(units[0].source, "file:renamed.csv");
  EXPECT_EQ(units[0].referrals.size(), 2u);
  EXPECT_EQ(units[1].referrals.size(), 1u);
  EXPECT_TRUE(Exists(folder_ + "/notes.txt"));
  EXPECT_TRUE(Exists(folder_ + "/big.csv.part"));
}

TEST_F(FileDropTest, BadRowsGoToAReportWhileGoodRowsGoThrough) {
  DropByRename("mixed.csv", std::string(testing::kPoliceHeader) + PoliceRow("KP-1") +
                                "KP-2,Hannah,Whitlow,31/02/1991,High,16,\n" + PoliceRow("KP-3"));
  auto outcomes = Scan();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_TRUE(outcomes[0].rejected);
  EXPECT_EQ(outcomes[0].moved_to, "rejected/mixed.csv");
  EXPECT_EQ(outcomes[0].rows_spooled, 2);
  EXPECT_EQ(outcomes[0].rows_rejected, 1);
  EXPECT_EQ(spool_.references(), (std::vector<std::string>{"KP-1", "KP-3"}));
  const std::string report = ReadFile(folder_ + "/rejected/mixed.csv.report.txt");
  EXPECT_NE(report.find("file:          mixed.csv"), std::string::npos) << report;
  EXPECT_NE(report.find("rows spooled:  2"), std::string::npos) << report;
  EXPECT_NE(report.find("mixed.csv:3: column \"DOB\", field person.dateOfBirth: is not a real date in the format "
                        "%d/%m/%Y"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("refx adapter retry " + folder_ + "/rejected/mixed.csv"), std::string::npos) << report;
  EXPECT_EQ(report.find("Whitlow"), std::string::npos) << "the report never quotes the data";

  // Corrected and retried: back in the folder, the old report gone, taken again.
  std::string text = ReadFile(folder_ + "/rejected/mixed.csv");
  text.replace(text.find("31/02/1991"), 10, "28/02/1991");
  WriteFile(folder_ + "/rejected/mixed.csv", text);
  std::string moved_to;
  ASSERT_TRUE(RetryRejectedFile(folder_ + "/rejected/mixed.csv", &moved_to).ok());
  EXPECT_EQ(moved_to, folder_ + "/mixed.csv");
  EXPECT_FALSE(Exists(folder_ + "/rejected/mixed.csv.report.txt"));
  outcomes = Scan();  // a rename into the folder: taken at once
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_FALSE(outcomes[0].rejected);
  EXPECT_EQ(outcomes[0].rows_spooled, 3);
}

TEST_F(FileDropTest, AnUnreadableFileIsRejectedWithTheReason) {
  DropByRename("broken.json", "{\"referrerReference\": \"KP-1\",");
  auto outcomes = Scan();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_TRUE(outcomes[0].rejected);
  EXPECT_NE(outcomes[0].unreadable.find("not valid JSON"), std::string::npos);
  EXPECT_NE(ReadFile(folder_ + "/rejected/broken.json.report.txt").find("unreadable:    not valid JSON at 1:"),
            std::string::npos);
  EXPECT_TRUE(spool_.units().empty());
}

TEST_F(FileDropTest, TheSpoolFailingKeepsTheFileForTheNextPass) {
  spool_.set_fail(true);
  DropByRename("wait.csv", std::string(testing::kPoliceHeader) + PoliceRow("KP-1"));
  std::vector<FileOutcome> outcomes;
  EXPECT_EQ(drop_->ScanOnce(&outcomes).code(), Status::Code::kIoError);
  EXPECT_TRUE(outcomes.empty());
  EXPECT_TRUE(Exists(folder_ + "/wait.csv"));
  EXPECT_EQ(drop_->Figures().spool_failures, 1u);
  spool_.set_fail(false);
  outcomes = Scan();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].moved_to, "done/wait.csv");
  EXPECT_EQ(spool_.references(), std::vector<std::string>{"KP-1"});
}

TEST_F(FileDropTest, AFileThatCannotBeMovedIsNotSpooledAgainEachPass) {
  // done/ replaced by a plain file: the move into it fails (ENOTDIR), as
  // permissions cannot make it fail for root.
  ASSERT_EQ(::rmdir((folder_ + "/done").c_str()), 0);
  WriteFile(folder_ + "/done", "in the way");
  DropByRename("stuck.csv", std::string(testing::kPoliceHeader) + PoliceRow("KP-1"));
  std::vector<FileOutcome> outcomes;
  EXPECT_EQ(drop_->ScanOnce(&outcomes).code(), Status::Code::kIoError);
  EXPECT_EQ(drop_->ScanOnce(&outcomes).code(), Status::Code::kIoError);
  EXPECT_EQ(spool_.units().size(), 1u) << "read and spooled once, not once per pass";
  ASSERT_EQ(::unlink((folder_ + "/done").c_str()), 0);
  ASSERT_EQ(::mkdir((folder_ + "/done").c_str(), 0750), 0);
  outcomes = Scan();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].moved_to, "done/stuck.csv");
  EXPECT_EQ(outcomes[0].rows_spooled, 1);
  EXPECT_EQ(spool_.units().size(), 1u);
}

TEST_F(FileDropTest, TheSameNameTwiceIsKeptTwiceAndDoneIsEmptiedAfterRetention) {
  DropByRename("daily.csv", std::string(testing::kPoliceHeader) + PoliceRow("KP-1"));
  ASSERT_EQ(Scan().size(), 1u);
  clock_.now += 24h * 20;
  DropByRename("daily.csv", std::string(testing::kPoliceHeader) + PoliceRow("KP-1"));
  auto outcomes = Scan();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].moved_to, "done/daily~2.csv");
  // Both spooled: the broker's idempotency key lands KP-1 once (the
  // integration test shows it against the real broker).
  EXPECT_EQ(spool_.references(), (std::vector<std::string>{"KP-1", "KP-1"}));
  clock_.now += 24h * 11;  // the first is 31 days old, the second 11
  Scan();
  EXPECT_FALSE(Exists(folder_ + "/done/daily.csv"));
  EXPECT_TRUE(Exists(folder_ + "/done/daily~2.csv"));
}

TEST_F(FileDropTest, TheWatcherThreadTakesRenamedFiles) {
  drop_.reset();
  FileDropOptions options;
  options.agency_id = "kent-police";
  options.drop.set_folder(folder_);
  ASSERT_TRUE(FileDrop::Open(options, &spool_, &drop_).ok());
  drop_->Start();
  std::string line = R"({"referrerReference":"KP-J1","category":"DOMESTIC_ABUSE","consent":{"position":"CONSENT_GIVEN"},)"
                     R"("lawfulBasis":"LAW_ENFORCEMENT","person":{"familyName":"Whitlow","ageYears":35}})";
  DropByRename("one.jsonl", line + "\n");
  for (int i = 0; i < 600 && drop_->Figures().files_done == 0; ++i) std::this_thread::sleep_for(50ms);
  drop_->Stop();
  EXPECT_EQ(drop_->Figures().files_done, 1u);
  EXPECT_EQ(spool_.references(), std::vector<std::string>{"KP-J1"});
}

TEST(RetryRejectedFile, RefusesWhatItCannotRetry) {
  testing::TempFolder dir;
  const std::string rejected = dir.path() + "/inbox/rejected";
  ASSERT_EQ(::mkdir((dir.path() + "/inbox").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(rejected.c_str(), 0755), 0);
  WriteFile(rejected + "/a.csv", "x");
  WriteFile(rejected + "/a.csv.report.txt", "x");
  WriteFile(dir.path() + "/inbox/b.csv", "x");
  WriteFile(rejected + "/b.csv", "x");
  std::string moved_to;
  EXPECT_EQ(RetryRejectedFile(rejected + "/nothing.csv", &moved_to).code(), Status::Code::kNotFound);
  EXPECT_EQ(RetryRejectedFile(rejected + "/a.csv.report.txt", &moved_to).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(RetryRejectedFile(dir.path() + "/inbox/b.csv", &moved_to).code(), Status::Code::kInvalidArgument);
  Status exists = RetryRejectedFile(rejected + "/b.csv", &moved_to);
  EXPECT_EQ(exists.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(exists.message().find("already exists"), std::string::npos);
  EXPECT_EQ(ReadFile(dir.path() + "/inbox/b.csv"), "x");  // nothing overwritten
  EXPECT_TRUE(Exists(rejected + "/b.csv"));
}

}  // namespace
}  // namespace refx::adapters
