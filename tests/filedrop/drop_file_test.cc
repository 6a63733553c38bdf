// Reading one dropped file: good rows go to the sink in chunks, every bad
// row class is refused with its row, column, field and reason, and a file
// that cannot be read as a whole says why.
#include "adapters/filedrop/drop_file.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include "core/json.h"
#include "filedrop_test_util.h"

namespace refx::adapters {
namespace {

using testing::PoliceRow;
using testing::TempFolder;
using testing::WriteFile;

class DropFileTest : public ::testing::Test {
 protected:
  DropFileTest() {
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(testing::kPoliceFormat, &format_));
    options_.agency_id = "kent-police";
    options_.csv_format = &format_;
    options_.today = CivilDate{2026, 11, 26};
  }

  // Reads `text` as file `name`; the chunks land in chunks_.
  DropReadResult Read(const std::string& name, const std::string& text) {
    const std::string path = dir_.path() + "/" + name;
    WriteFile(path, text);
    DropReadResult result;
    Status s = ReadDropFile(
        path, options_,
        [this](std::vector<v1::Referral>* chunk) {
          chunks_.push_back(*chunk);
          return Status::OK();
        },
        &result);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return result;
  }

  std::vector<std::string> References() const {
    std::vector<std::string> refs;
    for (const auto& c : chunks_) {
      for (const auto& r : c) refs.push_back(r.referrer_reference());
    }
    return refs;
  }

  TempFolder dir_;
  v1::CsvFormat format_;
  DropReadOptions options_;
  std::vector<std::vector<v1::Referral>> chunks_;
};

TEST_F(DropFileTest, EveryBadRowClassIsRefusedWithItsReasonWhileGoodRowsPass) {
  const std::string csv = std::string(testing::kPoliceHeader) +
                          PoliceRow("KP-1") +                                       // row 2: good
                          ",Hannah,Whitlow,17/04/1991,High,16,\n" +                 // 3: no reference
                          "KP-3,Hannah,Whitlow,1991-04-17,High,16,\n" +             // 4: date format
                          "KP-4,Hannah,Whitlow,17/04/1991,Severe,16,\n" +           // 5: unknown risk
                          "KP-5,,,17/04/2099,High,16,\n" +                          // 6: no name, future DOB
                          "KP-6,Hannah,Whitlow\n" +                                 // 7: too few fields
                          "KP-7,Hannah,Whitlow,17/04/1991,High,16,west-kent-housing\n" +  // 8: other agency
                          "KP-1,Hannah,Whitley,17/04/1991,High,16,\n" +             // 9: reference reused
                          PoliceRow("KP-1") +                                       // 10: row 2 again
                          "KP 10,Hannah,Whitlow,17/04/1991,High,16,\n" +            // 11: space in reference
                          "KP-11,Hannah,Whitlow,17/04/1991,High,30,\n" +            // 12: score out of range
                          PoliceRow("KP-12");                                       // 13: good
  DropReadResult result = Read("export.csv", csv);
  EXPECT_TRUE(result.unreadable.empty()) << result.unreadable;
  EXPECT_EQ(References(), (std::vector<std::string>{"KP-1", "KP-12"}));
  EXPECT_EQ(result.rows_good, 2);
  EXPECT_EQ(result.rows_bad, 9);
  ASSERT_FALSE(chunks_.empty());
  EXPECT_EQ(chunks_[0][0].referrer().agency_id(), "kent-police");  // filled in
  EXPECT_EQ(chunks_[0][0].person().date_of_birth(), "1991-04-17");

  std::map<int64_t, std::vector<RowProblem>> by_row;
  for (const auto& p : result.problems) by_row[p.row].push_back(p);
  auto has = [&](int64_t row, const std::string& column, const std::string& field, const std::string& reason) {
    for (const auto& p : by_row[row]) {
      if (p.column == column && p.field == field && p.reason.find(reason) != std::string::npos) return true;
    }
    std::string got;
    for (const auto& p : by_row[row]) got += "[" + p.column + "|" + p.field + "|" + p.reason + "] ";
    ADD_FAILURE() << "row " << row << " lacks " << column << "|" << field << "|" << reason << "; has " << got;
    return false;
  };
  has(3, "Incident Ref", "referrerReference", "reference column is empty");
  has(4, "DOB", "person.dateOfBirth", "not a real date in the format %d/%m/%Y");
  has(5, "Risk", "assessment.riskLevel", "not a value this format knows");
  // Validation names every bad field of the row, each with its column.
  has(6, "Surname", "person.familyName", "needs a given name, family name or alias");
  has(6, "DOB", "person.dateOfBirth", "in the future");
  has(7, "", "", "has 3 fields where the header has 7");
  has(8, "Agency", "referrer.agencyId", "names another agency");
  has(9, "Incident Ref", "referrerReference", "row 2 has the same reference with different contents");
  has(11, "Incident Ref", "referrerReference", "");
  has(12, "DASH Score", "assessment.score", "must be 0..24");
  EXPECT_EQ(by_row.count(10), 0u) << "the same row twice is one referral, not a problem";
  EXPECT_EQ(by_row.count(2) + by_row.count(13), 0u);
}

TEST_F(DropFileTest, GoodRowsGoInChunks) {
  options_.chunk_rows = 3;
  std::string csv = testing::kPoliceHeader;
  for (int i = 1; i <= 10; ++i) csv += PoliceRow("KP-" + std::to_string(i));
  DropReadResult result = Read("bulk.CSV", csv);
  EXPECT_EQ(result.rows_good, 10);
  ASSERT_EQ(chunks_.size(), 4u);
  EXPECT_EQ(chunks_[0].size(), 3u);
  EXPECT_EQ(chunks_[3].size(), 1u);
  EXPECT_EQ(References().back(), "KP-10");
}

TEST_F(DropFileTest, SinkErrorIsReturnedSoTheFileStays) {
  const std::string path = dir_.path() + "/x.csv";
  WriteFile(path, std::string(testing::kPoliceHeader) + PoliceRow("KP-1"));
  DropReadResult result;
  Status s = ReadDropFile(
      path, options_, [](std::vector<v1::Referral>*) { return Status::IoError("disk full"); }, &result);
  EXPECT_EQ(s.code(), Status::Code::kIoError);
}

TEST_F(DropFileTest, UnreadableFilesSayWhy) {
  EXPECT_NE(Read("a.csv", "Surname,DOB\nWhitlow,17/04/1991\n").unreadable.find("lacks the column(s) Incident Ref, "
                                                                              "Forename, Risk, DASH Score, Agency"),
            std::string::npos);
  EXPECT_NE(Read("b.csv", "").unreadable.find("empty"), std::string::npos);
  EXPECT_NE(Read("c.json", "{\"referrerReference\": ").unreadable.find("not valid JSON at 1:"), std::string::npos);
  EXPECT_NE(Read("d.json", "{\"colour\": \"blue\"}").unreadable.find("colour"), std::string::npos);
  options_.csv_format = nullptr;
  EXPECT_NE(Read("e.csv", testing::kPoliceHeader).unreadable.find("no csv_format"), std::string::npos);
  EXPECT_TRUE(chunks_.empty());
}

TEST_F(DropFileTest, MalformedCsvKeepsTheGoodRowsBeforeIt) {
  DropReadResult result = Read("m.csv", std::string(testing::kPoliceHeader) + PoliceRow("KP-1") +
                                            "KP-2,Han\"nah,Whitlow,17/04/1991,High,16,\n" + PoliceRow("KP-3"));
  EXPECT_EQ(References(), std::vector<std::string>{"KP-1"});
  EXPECT_NE(result.unreadable.find("row 3: malformed CSV"), std::string::npos) << result.unreadable;
}

TEST_F(DropFileTest, JsonAndJsonLines) {
  v1::Referral r;
  ASSERT_TRUE(MessageFromJson(testing::ReadFile(std::string(REFX_SOURCE_DIR) + "/deploy/samples/01-da-high-risk.json"),
                              &r)
                  .ok());
  const std::string line = ToJsonLine(r);
  DropReadResult one = Read("one.json", testing::ReadFile(std::string(REFX_SOURCE_DIR) +
                                                          "/deploy/samples/01-da-high-risk.json"));
  EXPECT_EQ(one.rows_good, 1);
  EXPECT_EQ(References(), std::vector<std::string>{"KP-DA-2026-0001"});

  chunks_.clear();
  v1::Referral second = r;
  second.set_referrer_reference("KP-DA-2026-0002");
  second.mutable_assessment()->add_dash_answers(true);  // 25 answers
  v1::Referral third = r;
  third.set_referrer_reference("KP-DA-2026-0003");
  DropReadResult lines =
      Read("many.jsonl", line + "\n\n{not json}\n" + ToJsonLine(second) + "\r\n" + ToJsonLine(third) + "\n");
  EXPECT_EQ(References(), (std::vector<std::string>{"KP-DA-2026-0001", "KP-DA-2026-0003"}));
  EXPECT_EQ(lines.rows_bad, 2);
  ASSERT_EQ(lines.problems.size(), 2u);
  EXPECT_EQ(lines.problems[0].row, 3);
  EXPECT_NE(lines.problems[0].reason.find("not valid JSON"), std::string::npos);
  EXPECT_EQ(lines.problems[1].row, 4);
  EXPECT_EQ(lines.problems[1].field, "assessment.dashAnswers");

  // A .json from another agency is refused whole.
  DropReadResult other = Read("other.json", ToJsonLine(r));
  options_.agency_id = "west-kent-housing";
  other = Read("other.json", ToJsonLine(r));
  EXPECT_EQ(other.rows_bad, 1);
  EXPECT_EQ(other.problems[0].field, "referrer.agencyId");
}

}  // namespace
}  // namespace refx::adapters
