// Rendering the monitoring figures: Markdown tables, CSV rows and a
// self-contained HTML page; free text is escaped for each format.
#include "services/outcomes/report_render.h"

#include <gtest/gtest.h>

#include "core/json.h"

namespace refx::outcomes {
namespace {

v1::MonitoringFigures Sample() {
  v1::MonitoringFigures f;
  f.set_partnership("Test <partnership>");
  f.set_from("2026-03-01");
  f.set_to("2026-03-31");
  f.set_as_of_seq(42);
  f.set_referrals(3);
  f.set_cases(4);
  f.set_open_cases(2);
  auto add = [](google::protobuf::RepeatedPtrField<v1::ReportCount>* rows, const std::string& key, uint64_t n) {
    auto* r = rows->Add();
    r->set_key(key);
    r->set_count(n);
  };
  add(f.mutable_by_pathway(), "IDVA", 3);
  add(f.mutable_by_pathway(), "DA_MARAC", 1);
  add(f.mutable_by_referring_agency(), "kent-police", 3);
  add(f.mutable_breaches_by_destination(), "DA_MARAC", 1);
  add(f.mutable_declines_by_reason(), "Already open, see case \"A|B\", <urgent>", 1);
  add(f.mutable_declines_by_reason(), "=HYPERLINK(\"x\")", 1);
  add(f.mutable_outcomes_by_code(), "SAFETY_PLAN", 2);
  f.mutable_repeat_rate()->set_available(true);
  f.mutable_repeat_rate()->set_person_referrals(3);
  f.mutable_repeat_rate()->set_repeats(1);
  f.mutable_repeat_rate()->set_rate(1.0 / 3);
  f.mutable_time_to_acknowledge()->set_cases(2);
  f.mutable_time_to_acknowledge()->set_median_hours(3.25);
  return f;
}

TEST(ReportRenderTest, CsvIsSectionKeyValueRows) {
  const std::string csv = RenderCsv(Sample());
  EXPECT_EQ(csv.rfind("section,key,value\r\n", 0), 0u);
  for (const char* row : {"report,as_of_seq,42\r\n", "summary,referrals,3\r\n", "pathway,IDVA,3\r\n",
                          "pathway,DA_MARAC,1\r\n", "referring_agency,kent-police,3\r\n", "breaches,DA_MARAC,1\r\n",
                          "outcomes,SAFETY_PLAN,2\r\n", "repeat_rate,available,true\r\n", "repeat_rate,repeats,1\r\n",
                          "repeat_rate,rate,0.3333\r\n", "time_to_acknowledge,cases,2\r\n",
                          "time_to_acknowledge,median_hours,3.25\r\n", "time_to_accept,median_hours,\r\n",
                          "declines,\"Already open, see case \"\"A|B\"\", <urgent>\",1\r\n",
                          "declines,\"'=HYPERLINK(\"\"x\"\")\",1\r\n"}) {
    EXPECT_NE(csv.find(row), std::string::npos) << row << "\n" << csv;
  }
}

TEST(ReportRenderTest, CsvSaysWhenTheRepeatRateIsUnavailable) {
  v1::MonitoringFigures f = Sample();
  f.mutable_repeat_rate()->Clear();
  f.mutable_repeat_rate()->set_unavailable("the subject key file k is missing or unreadable");
  const std::string csv = RenderCsv(f);
  EXPECT_NE(csv.find("repeat_rate,available,false\r\n"), std::string::npos);
  EXPECT_NE(csv.find("repeat_rate,unavailable,the subject key file k is missing or unreadable\r\n"), std::string::npos);
  EXPECT_EQ(csv.find("repeat_rate,rate"), std::string::npos);
}

TEST(ReportRenderTest, MarkdownTables) {
  const std::string md = RenderMarkdown(Sample());
  EXPECT_NE(md.find("# Monitoring report: Test &lt;partnership&gt;"), std::string::npos) << md;
  EXPECT_NE(md.find("| repeat rate | 33.3% (1 of 3 person referrals) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| median time to acknowledge | 3.2 h (2 cases) |"), std::string::npos) << md;
  EXPECT_NE(md.find("## Referrals per pathway\n\n| destination | count |\n|---|---:|\n| IDVA | 3 |\n| DA_MARAC | 1 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| Already open, see case \"A\\|B\", &lt;urgent&gt; | 1 |"), std::string::npos) << md;
  EXPECT_NE(md.find("## Escalations per destination\n\n_None._"), std::string::npos) << md;
}

TEST(ReportRenderTest, HtmlIsSelfContainedWithBarCharts) {
  const std::string html = RenderHtml(Sample());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<svg class=\"chart\""), std::string::npos);
  EXPECT_NE(html.find("<rect"), std::string::npos);
  // Nothing fetched from anywhere: no scripts, links, images or URLs.
  for (const char* bad : {"<script", "<link", "<img", "http:", "https:", "url(", "@import", "src="}) {
    EXPECT_EQ(html.find(bad), std::string::npos) << bad;
  }
  // Free text is escaped.
  EXPECT_EQ(html.find("<urgent>"), std::string::npos);
  EXPECT_NE(html.find("&lt;urgent&gt;"), std::string::npos);
  EXPECT_NE(html.find("Test &lt;partnership&gt;"), std::string::npos);
}

TEST(ReportRenderTest, JsonThroughTheProtobufMapping) {
  const v1::MonitoringFigures f = Sample();
  v1::MonitoringFigures back;
  ASSERT_TRUE(MessageFromJson(RenderJson(f), &back).ok());
  EXPECT_EQ(back.referrals(), 3u);
  EXPECT_EQ(back.by_pathway(0).key(), "IDVA");
}

TEST(ReportRenderTest, Formats) {
  ReportFormat fmt;
  ASSERT_TRUE(ParseReportFormat("md", &fmt));
  EXPECT_EQ(fmt, ReportFormat::kMarkdown);
  ASSERT_TRUE(ParseReportFormat("csv", &fmt));
  EXPECT_EQ(fmt, ReportFormat::kCsv);
  ASSERT_TRUE(ParseReportFormat("html", &fmt));
  EXPECT_EQ(fmt, ReportFormat::kHtml);
  EXPECT_FALSE(ParseReportFormat("pdf", &fmt));
}

}  // namespace
}  // namespace refx::outcomes
