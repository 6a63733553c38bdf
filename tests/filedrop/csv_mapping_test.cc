// The CSV reader (RFC 4180 over libcsv) and the CsvFormat mapping of rows
// to referrals: every conversion, and every bad cell refused with a reason
// that names the column and field but never quotes the cell.
#include "adapters/filedrop/csv_mapping.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include "adapters/filedrop/csv_reader.h"

namespace refx::adapters {
namespace {

using Rows = std::vector<std::vector<std::string>>;

Status ReadAll(const std::string& text, Rows* rows, size_t piece = 0, char delimiter = ',') {
  CsvReader reader(delimiter, [rows](int64_t row, std::vector<std::string>& fields) {
    EXPECT_EQ(row, static_cast<int64_t>(rows->size()) + 1);
    rows->push_back(fields);
    return Status::OK();
  });
  if (piece == 0) piece = text.size() + 1;
  for (size_t at = 0; at < text.size(); at += piece) {
    REFX_RETURN_IF_ERROR(reader.Feed(text.data() + at, std::min(piece, text.size() - at)));
  }
  return reader.Finish();
}

TEST(CsvReader, ReadsRfc4180QuotingLineBreaksAndBom) {
  const std::string text =
      "\xEF\xBB\xBF" "Ref,Name,Notes\r\n"
      "A1,\"Okafor, Sam\",\"said \"\"leave\"\"\"\r\n"
      "\r\n"
      "A2,Lee,\"two\nlines\"\n"
      "A3,,last";
  for (size_t piece : {size_t{0}, size_t{1}, size_t{2}, size_t{5}}) {
    Rows rows;
    ASSERT_TRUE(ReadAll(text, &rows, piece).ok()) << "piece " << piece;
    ASSERT_EQ(rows.size(), 4u) << "piece " << piece;
    EXPECT_EQ(rows[0], (std::vector<std::string>{"Ref", "Name", "Notes"}));
    EXPECT_EQ(rows[1], (std::vector<std::string>{"A1", "Okafor, Sam", "said \"leave\""}));
    EXPECT_EQ(rows[2], (std::vector<std::string>{"A2", "Lee", "two\nlines"}));
    EXPECT_EQ(rows[3], (std::vector<std::string>{"A3", "", "last"}));
  }
}

// Plain lines are split without libcsv (CsvReader::SplitPlainLine) only
// when a whole line is at hand: fed a byte at a time, every line goes
// through libcsv. Both must give the same records for every kind of line.
TEST(CsvReader, PlainLinesGiveWhatLibcsvGives) {
  const std::string text =
      "Ref,Name,Notes\r\n"
      "  A1 ,\tSam Okafor\t, spaced  out \r\n"
      "A2,,\n"
      ",,\n"
      "\r\n"
      "   \n"
      "\t\n"
      "A3,\"quoted, with\nline break\",x\n"
      "A4,after a quoted record,y\r\n"
      "A5,lone\rA6,cr,z\n"
      "Q1,\"4 Sample Close, Sevenoaks\",\"\",\"plain\"\r\n"
      "Q2,\" inner spaces \",\"x\"  ,  \"y\"\n"
      "Q3,\"said \"\"no\"\"\",\"a,b\"\n"
      "\"Q4 quoted first\",last\n"
      "Q5,\"tab\tinside\",\"\t\"\n"
      "single\n"
      "A7,  ,last";
  Rows whole, bytewise;
  ASSERT_TRUE(ReadAll(text, &whole).ok());
  ASSERT_TRUE(ReadAll(text, &bytewise, 1).ok());
  EXPECT_EQ(whole, bytewise);
  ASSERT_GE(whole.size(), 8u);
  EXPECT_EQ(whole[1], (std::vector<std::string>{"A1", "Sam Okafor", "spaced  out"}));
  EXPECT_EQ(whole[3], (std::vector<std::string>{"", "", ""}));
  bool quoted_seen = false;
  for (const auto& row : whole) {
    if (row[0] != "Q1") continue;
    quoted_seen = true;
    EXPECT_EQ(row, (std::vector<std::string>{"Q1", "4 Sample Close, Sevenoaks", "", "plain"}));
  }
  EXPECT_TRUE(quoted_seen);
  for (size_t piece : {size_t{3}, size_t{7}, size_t{16}}) {
    Rows pieces;
    ASSERT_TRUE(ReadAll(text, &pieces, piece).ok());
    EXPECT_EQ(pieces, whole) << "piece " << piece;
  }
  Rows semicolons, semicolons_bytewise;
  ASSERT_TRUE(ReadAll("a; b ;c\n x ;\"y;z\"; w\n", &semicolons, 0, ';').ok());
  ASSERT_TRUE(ReadAll("a; b ;c\n x ;\"y;z\"; w\n", &semicolons_bytewise, 1, ';').ok());
  EXPECT_EQ(semicolons, semicolons_bytewise);
}

TEST(CsvReader, OtherDelimiter) {
  Rows rows;
  ASSERT_TRUE(ReadAll("a;b\n\"x;y\";z\n", &rows, 0, ';').ok());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1], (std::vector<std::string>{"x;y", "z"}));
}

TEST(CsvReader, RefusesMalformedQuotingNamingTheRow) {
  Rows rows;
  Status s = ReadAll("Ref,Name\nA1,ok\nA2,bad \"quote\" here\nA3,never read\n", &rows);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("row 3"), std::string::npos) << s.message();
  EXPECT_EQ(rows.size(), 2u);  // the rows before were delivered

  Rows open;
  Status unclosed = ReadAll("Ref,Name\nA1,\"never closed\n", &open);
  EXPECT_EQ(unclosed.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(unclosed.message().find("row 2"), std::string::npos) << unclosed.message();
}

TEST(CsvReader, CallbackErrorStopsTheReader) {
  int calls = 0;
  CsvReader reader(',', [&calls](int64_t, std::vector<std::string>&) {
    ++calls;
    return Status::IoError("disk full");
  });
  const std::string text = "a\nb\nc\n";
  Status s = reader.Feed(text.data(), text.size());
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(reader.Finish().code(), Status::Code::kIoError);
}

v1::CsvFormat Format(const std::string& text) {
  v1::CsvFormat f;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &f)) << text;
  return f;
}

// A police-style export: every kind of conversion.
const char kFormat[] = R"pb(
  name: "test-police"
  reference_column: "Incident Ref"
  defaults_textproto: "category: DOMESTIC_ABUSE lawful_basis: LAW_ENFORCEMENT consent { position: CONSENT_GIVEN }"
  columns { column: "Surname" field: "person.familyName" }
  columns { column: "DOB" field: "person.dateOfBirth" date_format: "%d/%m/%Y" }
  columns { column: "Children" field: "person.childrenInHousehold" yes_values: ["Y"] no_values: ["N"] }
  columns { column: "Risk" field: "assessment.riskLevel" enum_values { key: "High" value: "HIGH" } }
  columns { column: "DASH" field: "assessment.dashAnswers" separator: ";" yes_values: "Y" no_values: "N" }
  columns { column: "Score" field: "assessment.score" }
  columns { column: "Crimes" field: "crime_references" separator: "|" }
  columns { column: "Returned" field: "missing.returnedAt" date_format: "%d/%m/%Y %H:%M" }
)pb";

std::unique_ptr<CsvMapping> Mapping(const std::string& format = kFormat) {
  std::unique_ptr<CsvMapping> m;
  Status s = CsvMapping::Create(Format(format), &m);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return m;
}

const std::vector<std::string> kHeader = {"Incident Ref", "Surname", "DOB", "Children", "Risk",
                                          "DASH",         "Score",   "Crimes", "Returned", "Unmapped"};
const char kDash[] = "Y;Y;N;N;Y;Y;N;N;Y;Y;N;N;Y;Y;N;N;Y;Y;N;N;Y;Y;N;N";

TEST(CsvMapping, MapsEveryKindOfCell) {
  auto m = Mapping();
  ASSERT_TRUE(m->BindHeader(kHeader).ok());
  v1::Referral r;
  std::vector<RowProblem> problems;
  ASSERT_TRUE(m->MapRow({" KP-1 ", "Whitlow", "17/04/1991", "y", "high", kDash, "12", "46/1/26|46/2/26",
                         "03/07/2026 21:30", "ignored"},
                        &r, &problems));
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(r.referrer_reference(), "KP-1");
  EXPECT_EQ(r.category(), v1::DOMESTIC_ABUSE);  // from the defaults
  EXPECT_EQ(r.lawful_basis(), v1::LAW_ENFORCEMENT);
  EXPECT_EQ(r.person().family_name(), "Whitlow");
  EXPECT_EQ(r.person().date_of_birth(), "1991-04-17");
  EXPECT_TRUE(r.person().children_in_household());
  EXPECT_EQ(r.assessment().risk_level(), v1::HIGH);
  ASSERT_EQ(r.assessment().dash_answers_size(), 24);
  EXPECT_TRUE(r.assessment().dash_answers(0));
  EXPECT_FALSE(r.assessment().dash_answers(2));
  EXPECT_EQ(r.assessment().score(), 12u);
  ASSERT_EQ(r.crime_references_size(), 2);
  EXPECT_EQ(r.crime_references(1), "46/2/26");
  EXPECT_EQ(r.missing().returned_at(), "2026-07-03T21:30:00+01:00");  // BST

  // An enum by its own name; a winter time; empty cells leave fields unset.
  ASSERT_TRUE(m->MapRow({"KP-2", "Lee", "", "N", "MEDIUM", "", "", "", "03/01/2026 09:05", ""}, &r, &problems));
  EXPECT_EQ(r.assessment().risk_level(), v1::MEDIUM);
  EXPECT_FALSE(r.person().children_in_household());
  EXPECT_TRUE(r.person().date_of_birth().empty());
  EXPECT_EQ(r.assessment().dash_answers_size(), 0);
  EXPECT_EQ(r.crime_references_size(), 0);
  EXPECT_EQ(r.missing().returned_at(), "2026-01-03T09:05:00+00:00");
}

TEST(CsvMapping, SeveralColumnsFillARepeatedFieldAllOrNone) {
  std::string format = R"pb(name: "dash-columns" reference_column: "Ref")pb";
  std::vector<std::string> header = {"Ref"};
  for (int q = 1; q <= 24; ++q) {
    format += " columns { column: \"Q" + std::to_string(q) + "\" field: \"assessment.dashAnswers\" }";
    header.push_back("Q" + std::to_string(q));
  }
  auto m = Mapping(format);
  ASSERT_TRUE(m->BindHeader(header).ok());
  std::vector<std::string> row = {"R1"};
  for (int q = 1; q <= 24; ++q) row.push_back(q % 2 ? "yes" : "no");
  v1::Referral r;
  std::vector<RowProblem> problems;
  ASSERT_TRUE(m->MapRow(row, &r, &problems));
  ASSERT_EQ(r.assessment().dash_answers_size(), 24);
  EXPECT_TRUE(r.assessment().dash_answers(0));
  EXPECT_FALSE(r.assessment().dash_answers(1));

  row[7] = "";  // Q7 left empty
  EXPECT_FALSE(m->MapRow(row, &r, &problems));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].column, "Q7");
  EXPECT_EQ(problems[0].field, "assessment.dashAnswers");
  EXPECT_NE(problems[0].reason.find("23 of the 24"), std::string::npos) << problems[0].reason;
  EXPECT_EQ(m->ColumnsFor("referral.assessment.dash_answers"), "Q1 .. Q24 (24 columns)");
}

TEST(CsvMapping, EveryBadCellIsRefusedWithItsColumnFieldAndReason) {
  auto m = Mapping();
  ASSERT_TRUE(m->BindHeader(kHeader).ok());
  v1::Referral r;
  std::vector<RowProblem> problems;
  const std::string secret = "Whitlow\xff";  // Windows-1252 bytes, not UTF-8
  EXPECT_FALSE(m->MapRow({"", secret, "31/02/1991", "maybe", "Severe", "Y;N;X", "twelve", "", "25:99", ""}, &r,
                         &problems));
  std::map<std::string, RowProblem> by_column;
  for (const auto& p : problems) by_column[p.column] = p;
  ASSERT_EQ(problems.size(), 8u);
  EXPECT_EQ(by_column["Incident Ref"].field, "referrerReference");
  EXPECT_NE(by_column["Incident Ref"].reason.find("reference column is empty"), std::string::npos);
  EXPECT_NE(by_column["Surname"].reason.find("UTF-8"), std::string::npos);
  EXPECT_EQ(by_column["DOB"].field, "person.dateOfBirth");
  EXPECT_NE(by_column["DOB"].reason.find("%d/%m/%Y"), std::string::npos);
  EXPECT_NE(by_column["Children"].reason.find("neither a yes word (y) nor a no word (n)"), std::string::npos)
      << by_column["Children"].reason;
  EXPECT_NE(by_column["Risk"].reason.find("High"), std::string::npos);
  EXPECT_EQ(by_column["DASH"].field, "assessment.dashAnswers");
  EXPECT_NE(by_column["Score"].reason.find("whole number"), std::string::npos);
  EXPECT_EQ(by_column["Returned"].field, "missing.returnedAt");
  for (const auto& p : problems) {
    for (const std::string cell : {"Whitlow", "maybe", "Severe", "twelve", "31/02"}) {
      EXPECT_EQ(p.reason.find(cell), std::string::npos) << "quotes the cell: " << p.reason;
    }
  }

  problems.clear();
  EXPECT_FALSE(m->MapRow({"KP-1", "too few"}, &r, &problems));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].reason.find("has 2 fields where the header has 10"), std::string::npos);
}

TEST(CsvMapping, HeaderMustHoldEveryMappedColumn) {
  auto m = Mapping();
  Status s = m->BindHeader({"Surname", "DOB", "Children", "Risk", "DASH", "Score", "Crimes"});
  ASSERT_EQ(s.code(), Status::Code::kInvalidArgument);
  ASSERT_EQ(s.violations().size(), 2u);
  EXPECT_EQ(s.violations()[0].field_path, "column Incident Ref");
  EXPECT_EQ(s.violations()[1].field_path, "column Returned");
}

TEST(CsvMapping, RefusesAWrongFormatNamingEveryMistake) {
  std::unique_ptr<CsvMapping> m;
  Status s = CsvMapping::Create(Format(R"pb(
    name: "wrong"
    delimiter: ";;"
    defaults_textproto: "category: NOT_A_CATEGORY"
    columns { column: "A" field: "person.dateOfBrith" }
    columns { column: "B" field: "person.safeToCall" date_format: "%d/%m/%Y" }
    columns { column: "C" field: "urgency" enum_values { key: "Now" value: "NOW" } }
    columns { column: "D" field: "person.familyName" }
    columns { column: "E" field: "person.familyName" }
    columns { column: "F" field: "asbIncidents.incidentDate" }
    columns { column: "G" field: "person" }
    columns { column: "H" field: "narrative" yes_values: "Y" separator: ";" }
  )pb"),
                                &m);
  ASSERT_EQ(s.code(), Status::Code::kInvalidArgument);
  std::string all;
  for (const auto& v : s.violations()) all += v.field_path + ": " + v.message + "\n";
  for (const std::string expected :
       {"csv_formats[wrong].reference_column: is required", "csv_formats[wrong].delimiter: must be one character",
        "csv_formats[wrong].defaults_textproto", "columns[0] (A).field: person.dateOfBrith: no such field",
        "columns[1] (B).date_format: the field is not a text field", "columns[2] (C).enum_values: NOW is not a value",
        "several columns set the singular field person.familyName", "columns[5] (F).field: asbIncidents.incidentDate: "
        "goes through a repeated message", "columns[6] (G).field: person: is a message",
        "columns[7] (H).yes_values", "columns[7] (H).separator"}) {
    EXPECT_NE(all.find(expected), std::string::npos) << "missing: " << expected << "\nin:\n" << all;
  }
  EXPECT_EQ(m, nullptr);
}

TEST(CsvMapping, JsonPathsAndUtf8) {
  EXPECT_EQ(JsonPathOf("referral.person.date_of_birth"), "person.dateOfBirth");
  EXPECT_EQ(JsonPathOf("assessment.police_incidents_12m"), "assessment.policeIncidents12m");
  EXPECT_EQ(JsonPathOf("person.nothing_here"), "person.nothing_here");
  EXPECT_TRUE(IsUtf8("Zoë Ørsted – ok"));
  EXPECT_FALSE(IsUtf8("Zo\xeb"));
  EXPECT_FALSE(IsUtf8("\xc0\xaf"));  // overlong
  EXPECT_FALSE(IsUtf8("\xed\xa0\x80"));  // surrogate
}

}  // namespace
}  // namespace refx::adapters
