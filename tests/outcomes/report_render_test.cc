// Rendering the monitoring figures: Markdown tables, one wide CSV table and a
// self-contained HTML page; the previous period beside this one,
// destinations by configured name, times in hours and minutes, free text
// escaped for each format.
#include "domain/monitoring/report_render.h"

#include <gtest/gtest.h>

#include <map>

#include "core/json.h"
#include "tests/render/csv_reader.h"

namespace refx::outcomes {
namespace {

void Add(google::protobuf::RepeatedPtrField<v1::ReportCount>* rows, const std::string& key, uint64_t n) {
  auto* r = rows->Add();
  r->set_key(key);
  r->set_count(n);
}

v1::MonitoringFigures Sample() {
  v1::MonitoringFigures f;
  f.set_partnership("Test <partnership>");
  f.set_period("2026-03");
  f.set_period_label("March 2026");
  f.set_from("2026-03-01");
  f.set_to("2026-03-31");
  f.set_as_of_seq(42);
  f.set_referrals(3);
  f.set_cases(4);
  f.set_open_cases(2);
  Add(f.mutable_by_pathway(), "IDVA", 3);
  Add(f.mutable_by_pathway(), "DA_MARAC", 1);
  Add(f.mutable_referrals_by_pathway(), "DOMESTIC_ABUSE", 3);
  Add(f.mutable_by_referring_agency(), "kent-police", 3);
  Add(f.mutable_breaches_by_destination(), "DA_MARAC", 1);
  Add(f.mutable_declines_by_reason(), "Already open, see case \"A|B\", <urgent>", 1);
  Add(f.mutable_declines_by_reason(), "=HYPERLINK(\"x\")", 1);
  Add(f.mutable_outcomes_by_code(), "SAFETY_PLAN", 2);
  f.mutable_repeat_rate()->set_available(true);
  f.mutable_repeat_rate()->set_person_referrals(3);
  f.mutable_repeat_rate()->set_repeats(1);
  f.mutable_repeat_rate()->set_rate(1.0 / 3);
  f.mutable_time_to_acknowledge()->set_cases(2);
  f.mutable_time_to_acknowledge()->set_median_hours(3.25);
  f.mutable_time_to_accept()->set_cases(1);
  f.mutable_time_to_accept()->set_median_hours(0.01);  // 36 s: not "0.0 h"

  v1::ReportDestination* idva = f.add_destinations();
  idva->set_code("IDVA");
  idva->set_name("Independent <DV> advisers");
  idva->set_cases(3);
  idva->set_due(3);
  idva->set_acknowledged_in_time(2);
  idva->set_accepted_in_time(1);
  idva->mutable_time_to_acknowledge()->set_cases(2);
  idva->mutable_time_to_acknowledge()->set_median_hours(3.25);
  v1::ReportDestination* marac = f.add_destinations();
  marac->set_code("DA_MARAC");  // no configured name
  marac->set_cases(1);
  marac->set_breaches(1);
  v1::ReportSource* police = f.add_sources();
  police->set_agency("kent-police");
  police->set_name("Kent Police");
  police->set_referrals(3);
  police->set_cases(4);
  for (int m = 1; m <= 3; ++m) {
    v1::ReportTrendPoint* t = f.add_trend();
    t->set_month("2026-0" + std::to_string(m));
    t->set_referrals(m);
    t->set_cases(m + 1);
  }

  v1::MonitoringFigures* p = f.mutable_previous();
  p->set_period("2026-02");
  p->set_period_label("February 2026");
  p->set_referrals(5);
  p->set_cases(6);
  v1::ReportDestination* idva_before = p->add_destinations();
  idva_before->set_code("IDVA");
  idva_before->set_cases(1);
  idva_before->set_due(2);
  idva_before->set_acknowledged_in_time(1);
  v1::ReportSource* police_before = p->add_sources();
  police_before->set_agency("kent-police");
  police_before->set_referrals(5);
  police_before->set_cases(6);
  Add(p->mutable_outcomes_by_code(), "SAFETY_PLAN", 4);
  return f;
}

// The CSV's rows keyed "breakdown/code"; every row as wide as the header.
std::map<std::string, std::map<std::string, std::string>> CsvTable(const std::string& csv) {
  EXPECT_EQ(csv.rfind("\xEF\xBB\xBF", 0), 0u) << "UTF-8 byte order mark for Excel";
  auto table = testing::CsvTable(csv);
  for (const auto& [key, row] : table) EXPECT_NE(key.rfind("BAD ROW", 0), 0u) << key << " is not as wide as the header";
  return table;
}

TEST(ReportRenderTest, CsvIsOneWideTableWithThePreviousPeriodBeside) {
  const std::string csv = RenderCsv(Sample());
  EXPECT_EQ(csv.find(std::string("\xEF\xBB\xBF") + kCsvColumns + "\r\n"), 0u) << csv;
  auto table = CsvTable(csv);
  const auto& all = table["all/all referrals"];
  EXPECT_EQ(all.at("period"), "2026-03");
  EXPECT_EQ(all.at("period_label"), "March 2026");
  EXPECT_EQ(all.at("previous_period"), "2026-02");
  EXPECT_EQ(all.at("referrals"), "3");
  EXPECT_EQ(all.at("referrals_previous"), "5");
  EXPECT_EQ(all.at("cases"), "4");
  EXPECT_EQ(all.at("cases_previous"), "6");
  EXPECT_EQ(all.at("repeat_rate_pct"), "33.3");
  EXPECT_EQ(all.at("median_acknowledge_minutes"), "195");
  EXPECT_EQ(all.at("median_accept_minutes"), "1");
  EXPECT_EQ(all.at("median_acknowledge_minutes_previous"), "") << "no data is an empty cell, not 0";

  const auto& idva = table["destination/IDVA"];
  EXPECT_EQ(idva.at("name"), "Independent <DV> advisers");
  EXPECT_EQ(idva.at("cases"), "3");
  EXPECT_EQ(idva.at("cases_previous"), "1");
  EXPECT_EQ(idva.at("acknowledged_in_time_pct"), "66.7");
  EXPECT_EQ(idva.at("acknowledged_in_time_pct_previous"), "50.0");
  EXPECT_EQ(idva.at("accepted_in_time_pct"), "33.3");
  const auto& marac = table["destination/DA_MARAC"];
  EXPECT_EQ(marac.at("name"), "DA_MARAC");
  EXPECT_EQ(marac.at("acknowledged_in_time_pct"), "") << "nothing due";
  EXPECT_EQ(marac.at("breaches"), "1");
  EXPECT_EQ(marac.at("cases_previous"), "0");

  const auto& police = table["source_agency/kent-police"];
  EXPECT_EQ(police.at("name"), "Kent Police");
  EXPECT_EQ(police.at("referrals"), "3");
  EXPECT_EQ(police.at("cases"), "4");
  EXPECT_EQ(police.at("referrals_previous"), "5");
  EXPECT_EQ(table["pathway/DOMESTIC_ABUSE"].at("referrals"), "3");
  EXPECT_EQ(table["pathway/DOMESTIC_ABUSE"].at("name"), "Domestic abuse");
  EXPECT_EQ(table["outcome/SAFETY_PLAN"].at("count"), "2");
  EXPECT_EQ(table["outcome/SAFETY_PLAN"].at("name"), "SAFETY_PLAN") << "outcome codes are the partnership's own";
  EXPECT_EQ(table["outcome/SAFETY_PLAN"].at("count_previous"), "4");
  EXPECT_EQ(table["month/2026-02"].at("referrals"), "2");
  EXPECT_EQ(table["month/2026-02"].at("cases"), "3");
  // Free text is quoted, and a formula stays text.
  EXPECT_EQ(table.count("decline_reason/Already open, see case \"A|B\", <urgent>"), 1u);
  EXPECT_EQ(table.count("decline_reason/'=HYPERLINK(\"x\")"), 1u) << csv;
}

TEST(ReportRenderTest, CsvWithoutTheRepeatRateOrAPreviousPeriod) {
  v1::MonitoringFigures f = Sample();
  f.clear_previous();
  f.mutable_repeat_rate()->Clear();
  f.mutable_repeat_rate()->set_unavailable("the subject key file k is missing or unreadable");
  auto table = CsvTable(RenderCsv(f));
  EXPECT_EQ(table["all/all referrals"].at("repeat_rate_pct"), "");
  EXPECT_EQ(table["all/all referrals"].at("referrals_previous"), "");
  EXPECT_EQ(table["all/all referrals"].at("previous_period"), "");
}

TEST(ReportRenderTest, MarkdownTables) {
  const std::string md = RenderMarkdown(Sample());
  EXPECT_NE(md.find("# Monitoring report: Test &lt;partnership&gt;"), std::string::npos) << md;
  EXPECT_NE(md.find("| figure | March 2026 | February 2026 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| referrals | 3 | 5 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| repeat rate | 33.3% | unavailable |"), std::string::npos) << md;
  EXPECT_NE(md.find("| median time to acknowledge | 3 h 15 min | \u2013 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| median time to accept | 1 min | \u2013 |"), std::string::npos) << md;
  EXPECT_EQ(md.find(" h (") , std::string::npos) << "no decimal hours";
  EXPECT_NE(md.find("| Independent &lt;DV&gt; advisers | 3 (1) | 67% (50%) | 33% (0%) | 3 h 15 min (\u2013) |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| DA_MARAC | 1 (0) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| Kent Police | 3 | 4 | 5 | 6 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| Already open, see case \"A\\|B\", &lt;urgent&gt; | 1 | 0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 2026-03 | 3 | 4 |"), std::string::npos) << md;
}

TEST(ReportRenderTest, HtmlIsSelfContainedWithTrendAndBarCharts) {
  std::string html;
  ASSERT_TRUE(RenderHtml(Sample(), &html).ok());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<svg class=\"chart\""), std::string::npos);
  EXPECT_NE(html.find("<polyline"), std::string::npos) << "the trend line";
  EXPECT_NE(html.find("<rect"), std::string::npos);
  // Nothing fetched from anywhere: no scripts, links, images or URLs.
  for (const char* bad : {"<script", "<link", "<img", "http:", "https:", "url(", "@import", "src="}) {
    EXPECT_EQ(html.find(bad), std::string::npos) << bad;
  }
  // Free text and names are escaped.
  EXPECT_EQ(html.find("<urgent>"), std::string::npos);
  EXPECT_NE(html.find("&lt;urgent&gt;"), std::string::npos);
  EXPECT_NE(html.find("Test &lt;partnership&gt;"), std::string::npos);
  EXPECT_NE(html.find("Independent &lt;DV&gt; advisers"), std::string::npos);
  EXPECT_NE(html.find("Kent Police <code>kent-police</code>"), std::string::npos) << html;
  EXPECT_NE(html.find("<td>DA_MARAC</td>"), std::string::npos) << "a code without a name is shown once";
  // The period and the one before; times in hours and minutes.
  EXPECT_NE(html.find("March 2026"), std::string::npos);
  EXPECT_NE(html.find("compared with February 2026"), std::string::npos);
  EXPECT_NE(html.find("3 h 15 min"), std::string::npos);
  EXPECT_EQ(html.find(" h</"), std::string::npos);
  EXPECT_EQ(html.find("0.0 h"), std::string::npos);
  EXPECT_NE(html.find("@media print"), std::string::npos);
}

TEST(ReportRenderTest, JsonThroughTheProtobufMapping) {
  const v1::MonitoringFigures f = Sample();
  v1::MonitoringFigures back;
  ASSERT_TRUE(MessageFromJson(RenderJson(f), &back).ok());
  EXPECT_EQ(back.referrals(), 3u);
  EXPECT_EQ(back.by_pathway(0).key(), "IDVA");
  EXPECT_EQ(back.previous().referrals(), 5u);
  EXPECT_EQ(back.destinations(0).name(), "Independent <DV> advisers");
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
