// The rendering module: one CSV writer with the formula guard, durations in
// hours and minutes, UK times to the second, templates compiled into the
// binary, a referral as labelled fields, and inline SVG charts.
#include <gtest/gtest.h>

#include <regex>

#include "core/london_time.h"
#include "refx/v1/referral.pb.h"
#include "render/chart.h"
#include "render/csv.h"
#include "render/fields.h"
#include "render/format.h"
#include "render/templates.h"

namespace refx::render {
namespace {

TEST(CsvWriterTest, QuotesAndGuardsFormulas) {
  CsvWriter csv;
  csv.Row({"a", "b"});
  csv.Text("=HYPERLINK(\"http://x\")").Text("+1").EndRow();
  csv.Text("-2").Text("@SUM(A1)").EndRow();
  csv.Text("tab\tfirst").Text("\tlead").EndRow();
  csv.Text("a, b").Text("say \"hi\"\nthen").EndRow();
  csv.Number(int64_t{-5}).Number(2.5, 1).Number(0.0, 1, false).Number(uint64_t{7}).EndRow();
  EXPECT_EQ(csv.str(),
            "a,b\r\n"
            "\"'=HYPERLINK(\"\"http://x\"\")\",'+1\r\n"
            "'-2,'@SUM(A1)\r\n"
            "tab\tfirst,'\tlead\r\n"
            "\"a, b\",\"say \"\"hi\"\"\nthen\"\r\n"
            "-5,2.5,,7\r\n");
}

TEST(CsvWriterTest, ByteOrderMarkOnlyWhenAsked) {
  EXPECT_EQ(CsvWriter(true).Text("x").EndRow().str(), "\xEF\xBB\xBFx\r\n");
  EXPECT_EQ(CsvWriter().Text("x").EndRow().str(), "x\r\n");
  EXPECT_EQ(CsvTextCell(" padded"), "\" padded\"");
}

TEST(FormatTest, HoursAndMinutes) {
  EXPECT_EQ(HoursMinutes(0), "0 min");
  EXPECT_EQ(HoursMinutes(-1), "0 min");
  EXPECT_EQ(HoursMinutes(0.001), "under 1 min");  // 3.6 s: not "0.0 h"
  EXPECT_EQ(HoursMinutes(0.75), "45 min");
  EXPECT_EQ(HoursMinutes(3.0 + 5.0 / 60), "3 h 05 min");
  EXPECT_EQ(HoursMinutes(52), "52 h 00 min");
}

TEST(FormatTest, LondonTimeToTheSecondWithSummerTime) {
  // 2026: BST from 29 March 01:00 UTC to 25 October 01:00 UTC.
  EXPECT_EQ(LondonTime(1764858400), "2025-12-04 14:26:40 GMT");
  EXPECT_EQ(LondonTime(1782918245), "2026-07-01 16:04:05 BST");  // 15:04:05 UTC
  EXPECT_FALSE(IsBritishSummerTime(1774745999));                 // 2026-03-29 00:59:59 UTC
  EXPECT_TRUE(IsBritishSummerTime(1774746000));                  // 01:00:00 UTC
  EXPECT_TRUE(IsBritishSummerTime(1792889999));                  // 2026-10-25 00:59:59 UTC
  EXPECT_FALSE(IsBritishSummerTime(1792890000));
  EXPECT_EQ(LondonTime(0), "-");
  EXPECT_EQ(UtcTime(1764858400), "2025-12-04T14:26:40Z");
}

TEST(TemplatesTest, CompiledInAndEscaping) {
  const std::vector<std::string> names = TemplateNames();
  for (const char* expected : {"audit_export", "bar_chart", "monitoring_report", "page_style", "trend_chart"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  std::string text;
  EXPECT_TRUE(TemplateSource("no_such_page", &text).code() == Status::Code::kNotFound);
  EXPECT_TRUE(RenderTemplate("no_such_page", Data(), &text).code() == Status::Code::kNotFound);

  Data chart = BarChart("Cases <per> destination", {{"IDVA & <b>", 3, "3"}, {"DA_MARAC", 1, "1"}}, "#123456");
  ASSERT_TRUE(RenderTemplate("bar_chart", chart, &text).ok());
  EXPECT_EQ(text.find("<b>"), std::string::npos);
  EXPECT_NE(text.find("IDVA &amp; &lt;b&gt;"), std::string::npos) << text;
  EXPECT_NE(text.find("aria-label=\"Cases &lt;per&gt; destination\""), std::string::npos) << text;
  EXPECT_NE(text.find("width=\"320\""), std::string::npos) << "the largest bar is full width:\n" << text;
  EXPECT_NE(text.find("width=\"106.67\""), std::string::npos) << "a third of it:\n" << text;
}

TEST(ChartTest, TrendLinesAcrossLabels) {
  Data chart = TrendChart("Referrals", {"Jan", "Feb", "Mar"}, {{"referrals", "#2f6db5", {0, 4, 8}}});
  std::string svg;
  ASSERT_TRUE(RenderTemplate("trend_chart", chart, &svg).ok());
  // y axis 0..8 (ticks 0, 2, 4, 6, 8) over 204 px from y=16; x from 48 to 704.
  EXPECT_NE(svg.find("points=\"48,220 376,118 704,16\""), std::string::npos) << svg;
  EXPECT_NE(svg.find("<title>referrals, Feb: 4</title>"), std::string::npos) << svg;
  for (const char* tick : {">0<", ">2<", ">4<", ">6<", ">8<"}) EXPECT_NE(svg.find(tick), std::string::npos) << tick;
  // A small count still has whole-number ticks.
  ASSERT_TRUE(RenderTemplate("trend_chart", TrendChart("x", {"Jan", "Feb"}, {{"r", "#000", {1, 3}}}), &svg).ok());
  EXPECT_EQ(svg.find(".25<"), std::string::npos) << svg;
  EXPECT_EQ(svg.find(".5<"), std::string::npos) << svg;
}

TEST(FieldsTest, ReferralAsLabelledFields) {
  v1::Referral r;
  r.set_referrer_reference("REF-1");
  r.set_category(v1::DOMESTIC_ABUSE);
  r.add_criteria_met("VHR14");
  r.add_criteria_met("REPEAT");
  r.mutable_person()->set_given_name("Robin");
  r.mutable_referrer()->set_agency_id("kent-police");
  const std::vector<FieldGroup> groups = LabelledFields(r, "Referral");
  ASSERT_GE(groups.size(), 3u);
  EXPECT_EQ(groups[0].heading, "Referral");
  bool category = false, criteria = false, name = false;
  for (const FieldGroup& g : groups) {
    for (const LabelledField& f : g.fields) {
      if (f.label == "Category") category = f.value == "Domestic abuse";
      if (f.label == "Criteria met") criteria = f.value == "VHR14, REPEAT";
      if (g.heading == "Person" && f.label == "Given name") name = f.value == "Robin";
    }
  }
  EXPECT_TRUE(category);
  EXPECT_TRUE(criteria);
  EXPECT_TRUE(name);
  EXPECT_EQ(Humanise("DATE_OF_BIRTH"), "Date of birth");
}

}  // namespace
}  // namespace refx::render
