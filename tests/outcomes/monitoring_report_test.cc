// The monitoring figures over a hand-built event sequence: the date
// window, counts per pathway and agency, the repeat rate, medians,
// breaches, declines, outcomes and open cases.
#include "domain/monitoring/monitoring_report.h"

#include <gtest/gtest.h>

#include <map>

#include "event_builder.h"

namespace refx::outcomes {
namespace {

using testing::EventLogBuilder;

std::map<std::string, uint64_t> AsMap(const google::protobuf::RepeatedPtrField<v1::ReportCount>& rows) {
  std::map<std::string, uint64_t> out;
  for (const auto& r : rows) out[r.key()] = r.count();
  return out;
}

std::vector<std::string> Keys(const google::protobuf::RepeatedPtrField<v1::ReportCount>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.key());
  return out;
}

ReportOptions March(std::string secret) {
  ReportOptions o;
  EXPECT_TRUE(ParseCivilDate("2026-03-01", &o.from));
  EXPECT_TRUE(ParseCivilDate("2026-03-31", &o.to));
  o.partnership = "Test partnership";
  o.subject_secret = std::move(secret);
  o.repeat_unavailable = "the subject key file keys/subject.hmac is missing or unreadable";
  return o;
}

// A month of made-up referrals, with one before and one after the window.
EventLogBuilder MarchLog() {
  EventLogBuilder b;
  // Before the window: counts only as history for the repeat rate.
  const std::string feb = b.Submit("2026-02-28T23:59:59Z", "agency-a", "Alex", "Example", "1990-04-01");
  b.Route("2026-02-28T23:59:59Z", feb, "IDVA", "2026-03-02T17:00:00Z");

  const std::string a = b.Submit("2026-03-01T00:00:00Z", "agency-a", "alex ", "EXAMPLE", "1990-04-01");  // repeat
  b.Route("2026-03-01T00:00:01Z", a, "IDVA", "2026-03-03T00:00:00Z");
  b.Route("2026-03-01T00:00:01Z", a, "DA_MARAC", "2026-03-10T00:00:00Z");
  b.Deliver("2026-03-02T09:00:00Z", a, "IDVA");
  b.Deliver("2026-03-02T09:00:00Z", a, "DA_MARAC");
  b.Deliver("2026-03-02T09:05:00Z", a, "IDVA", 2);  // a redelivery does not restart the clock
  b.Acknowledge("2026-03-02T11:00:00Z", a, "IDVA");  // 2 h
  b.Accept("2026-03-02T13:00:00Z", a, "IDVA");       // 4 h
  b.Outcome("2026-03-05T13:00:00Z", a, "IDVA", "SAFETY_PLAN");
  b.Close("2026-03-05T13:00:01Z", a, "IDVA");
  b.Breach("2026-03-10T00:00:01Z", a, "DA_MARAC", "2026-03-10T00:00:00Z");
  b.Escalate("2026-03-10T00:00:02Z", a, "DA_MARAC", "CSU");

  const std::string bee = b.Submit("2026-03-10T08:00:00Z", "agency-b", "Jo", "Sample", "1985-01-01");
  b.Route("2026-03-10T08:00:01Z", bee, "IDVA", "2026-03-12T00:00:00Z");
  b.Deliver("2026-03-10T10:00:00Z", bee, "IDVA");
  b.Acknowledge("2026-03-10T14:00:00Z", bee, "IDVA");  // 4 h
  b.Decline("2026-03-10T15:00:00Z", bee, "IDVA", "  Not known   to\nservice ");

  const std::string c = b.Submit("2026-03-15T08:00:00Z", "agency-a", "Sam", "Test", "1970-01-01");
  b.Route("2026-03-15T08:00:01Z", c, "IDVA", "2026-03-17T00:00:00Z");
  b.Deliver("2026-03-15T10:00:00Z", c, "IDVA");
  b.Acknowledge("2026-03-15T11:00:00Z", c, "IDVA");  // 1 h
  b.Accept("2026-03-15T12:00:00Z", c, "IDVA");       // 2 h
  b.Outcome("2026-03-16T12:00:00Z", c, "IDVA", "NFA");
  b.Outcome("2026-03-17T12:00:00Z", c, "IDVA", "SAFETY_PLAN");

  const std::string d = b.Submit("2026-03-20T08:00:00Z", "agency-b", "Alex", "Example", "1990-04-01");  // repeat
  b.Route("2026-03-20T08:00:01Z", d, "CSU", "2026-03-23T00:00:00Z");
  b.Deliver("2026-03-20T09:00:00Z", d, "CSU");
  b.Acknowledge("2026-03-20T15:00:00Z", d, "CSU");  // 6 h
  b.Accept("2026-03-20T17:00:00Z", d, "CSU");       // 8 h

  const std::string e = b.Submit("2026-03-21T08:00:00Z", "agency-a", "Chris", "", "");  // no date of birth
  b.Route("2026-03-21T08:00:01Z", e, "CSU", "2026-03-24T00:00:00Z");
  b.Withdraw("2026-03-21T09:00:00Z", e, "agency-a");

  const std::string h = b.Submit("2026-03-05T08:00:00Z", "agency-c", "Pat", "Erased", "1960-06-06");
  b.Erase("2026-03-06T08:00:00Z", h);
  const std::string i = b.Submit("2026-03-07T08:00:00Z", "agency-c", "Pat", "Erased", "1960-06-06");
  (void)i;

  const std::string f = b.SubmitContext("2026-03-31T23:59:59Z", "agency-c", "Example Park");
  b.Route("2026-03-31T23:59:59Z", f, "CSU", "2026-04-02T00:00:00Z");

  // After the window: ignored, and so is what happens to it.
  const std::string g = b.Submit("2026-04-01T00:00:00Z", "agency-b", "Jo", "Sample", "1985-01-01");
  b.Route("2026-04-01T00:00:01Z", g, "IDVA", "2026-04-02T00:00:00Z");
  b.Breach("2026-04-02T00:00:01Z", g, "IDVA", "2026-04-02T00:00:00Z");
  return b;
}

v1::MonitoringFigures FiguresOf(const EventLogBuilder& b, ReportOptions options) {
  MonitoringReport report(std::move(options));
  for (const auto& e : b.events()) report.Add(e);
  return report.Figures();
}

TEST(MonitoringReportTest, CountsReferralsInTheWindowByPathwayAndAgency) {
  const EventLogBuilder b = MarchLog();
  const v1::MonitoringFigures f = FiguresOf(b, March(std::string(32, 'k')));
  EXPECT_EQ(f.partnership(), "Test partnership");
  EXPECT_EQ(f.from(), "2026-03-01");
  EXPECT_EQ(f.to(), "2026-03-31");
  EXPECT_EQ(f.as_of_seq(), b.events().size());
  EXPECT_EQ(f.referrals(), 8u);
  EXPECT_EQ(f.cases(), 7u);
  EXPECT_EQ(f.withdrawn_referrals(), 1u);
  EXPECT_EQ(AsMap(f.by_pathway()), (std::map<std::string, uint64_t>{{"IDVA", 3}, {"CSU", 3}, {"DA_MARAC", 1}}));
  EXPECT_EQ(Keys(f.by_pathway()), (std::vector<std::string>{"CSU", "IDVA", "DA_MARAC"})) << "largest first, then by key";
  EXPECT_EQ(AsMap(f.by_referring_agency()),
            (std::map<std::string, uint64_t>{{"agency-a", 3}, {"agency-b", 2}, {"agency-c", 3}}));
}

TEST(MonitoringReportTest, RepeatRateMatchesSubjectsAcrossTheWholeHistory) {
  const v1::MonitoringFigures f = FiguresOf(MarchLog(), March(std::string(32, 'k')));
  const v1::ReportRepeatRate& r = f.repeat_rate();
  EXPECT_TRUE(r.available());
  // Alex (x2), Jo, Sam, Chris (no date of birth), Pat (the second; the
  // first was erased) - the context referral is not a person.
  EXPECT_EQ(r.person_referrals(), 6u);
  EXPECT_EQ(r.unmatchable(), 1u);
  // Both Alex referrals in March repeat the February one (the name is
  // matched after normalising case and spaces).
  EXPECT_EQ(r.repeats(), 2u);
  EXPECT_DOUBLE_EQ(r.rate(), 2.0 / 5.0);
}

TEST(MonitoringReportTest, RepeatRateUnavailableWithoutTheSubjectKey) {
  const v1::MonitoringFigures f = FiguresOf(MarchLog(), March(""));
  EXPECT_FALSE(f.repeat_rate().available());
  EXPECT_EQ(f.repeat_rate().unavailable(), "the subject key file keys/subject.hmac is missing or unreadable");
  EXPECT_EQ(f.repeat_rate().repeats(), 0u);
  EXPECT_EQ(f.referrals(), 8u) << "everything else is still there";
}

TEST(MonitoringReportTest, MediansFromFirstDelivery) {
  const v1::MonitoringFigures f = FiguresOf(MarchLog(), March(""));
  // Acknowledge: 2, 4, 1, 6 hours -> (2 + 4) / 2.
  EXPECT_EQ(f.time_to_acknowledge().cases(), 4u);
  EXPECT_DOUBLE_EQ(f.time_to_acknowledge().median_hours(), 3.0);
  // Accept: 4, 2, 8 hours.
  EXPECT_EQ(f.time_to_accept().cases(), 3u);
  EXPECT_DOUBLE_EQ(f.time_to_accept().median_hours(), 4.0);
}

TEST(MonitoringReportTest, BreachesDeclinesOutcomesAndOpenCases) {
  const v1::MonitoringFigures f = FiguresOf(MarchLog(), March(""));
  EXPECT_EQ(AsMap(f.breaches_by_destination()), (std::map<std::string, uint64_t>{{"DA_MARAC", 1}}));
  EXPECT_EQ(AsMap(f.escalations_by_destination()), (std::map<std::string, uint64_t>{{"DA_MARAC", 1}}));
  EXPECT_EQ(AsMap(f.declines_by_reason()), (std::map<std::string, uint64_t>{{"Not known to service", 1}}));
  EXPECT_EQ(AsMap(f.outcomes_by_code()), (std::map<std::string, uint64_t>{{"SAFETY_PLAN", 2}, {"NFA", 1}}));
  EXPECT_EQ(f.open_cases(), 4u);
  EXPECT_EQ(AsMap(f.open_by_destination()),
            (std::map<std::string, uint64_t>{{"CSU", 2}, {"DA_MARAC", 1}, {"IDVA", 1}}));
  EXPECT_EQ(AsMap(f.open_by_state()), (std::map<std::string, uint64_t>{
                                          {"DELIVERED", 1}, {"OUTCOME_RECORDED", 1}, {"ACCEPTED", 1}, {"ROUTED", 1}}));
}

TEST(MonitoringReportTest, AWindowOfOneDay) {
  ReportOptions o = March("");
  ASSERT_TRUE(ParseCivilDate("2026-03-31", &o.from));
  const v1::MonitoringFigures f = FiguresOf(MarchLog(), o);
  EXPECT_EQ(f.referrals(), 1u);  // the context referral at 23:59:59 UTC
  EXPECT_EQ(AsMap(f.by_pathway()), (std::map<std::string, uint64_t>{{"CSU", 1}}));
  EXPECT_EQ(f.time_to_acknowledge().cases(), 0u);
  EXPECT_TRUE(f.breaches_by_destination().empty());
}

TEST(MonitoringReportTest, EmptyLog) {
  MonitoringReport report(March(std::string(32, 'k')));
  const v1::MonitoringFigures f = report.Figures();
  EXPECT_EQ(f.referrals(), 0u);
  EXPECT_EQ(f.as_of_seq(), 0u);
  EXPECT_TRUE(f.repeat_rate().available());
  EXPECT_EQ(f.repeat_rate().rate(), 0.0);
}

const v1::ReportDestination* Destination(const v1::MonitoringFigures& f, const std::string& code) {
  for (const auto& d : f.destinations()) {
    if (d.code() == code) return &d;
  }
  return nullptr;
}

TEST(MonitoringReportTest, PerDestinationByConfiguredName) {
  ReportOptions o = March("");
  o.destination_names = {{"IDVA", "Independent domestic violence advisers"}, {"CSU", "Community safety unit"}};
  const v1::MonitoringFigures f = FiguresOf(MarchLog(), o);
  ASSERT_EQ(f.destinations_size(), 3);
  EXPECT_EQ(f.destinations(0).code(), "CSU") << "largest first, then by code";
  const v1::ReportDestination* idva = Destination(f, "IDVA");
  ASSERT_NE(idva, nullptr);
  EXPECT_EQ(idva->name(), "Independent domestic violence advisers");
  EXPECT_EQ(idva->cases(), 3u);
  EXPECT_EQ(idva->due(), 3u);
  EXPECT_EQ(idva->acknowledged_in_time(), 3u);
  EXPECT_EQ(idva->accepted_in_time(), 2u);  // one was declined
  EXPECT_DOUBLE_EQ(idva->time_to_acknowledge().median_hours(), 2.0);  // 2, 4, 1 h
  EXPECT_DOUBLE_EQ(idva->time_to_accept().median_hours(), 3.0);       // 4, 2 h
  EXPECT_EQ(idva->declined(), 1u);
  EXPECT_EQ(idva->open(), 1u);
  const v1::ReportDestination* marac = Destination(f, "DA_MARAC");
  ASSERT_NE(marac, nullptr);
  EXPECT_EQ(marac->name(), "") << "a destination without a configured name keeps its code only";
  EXPECT_EQ(marac->due(), 1u);
  EXPECT_EQ(marac->acknowledged_in_time(), 0u);
  EXPECT_EQ(marac->time_to_acknowledge().cases(), 0u);
  EXPECT_EQ(marac->breaches(), 1u);
  EXPECT_EQ(marac->escalations(), 1u);
  const v1::ReportDestination* csu = Destination(f, "CSU");
  ASSERT_NE(csu, nullptr);
  // d acknowledged in time; e (withdrawn) and f never acknowledged, their
  // deadlines passed by the last event read.
  EXPECT_EQ(csu->due(), 3u);
  EXPECT_EQ(csu->acknowledged_in_time(), 1u);
  EXPECT_EQ(csu->accepted_in_time(), 1u);
  EXPECT_DOUBLE_EQ(csu->time_to_acknowledge().median_hours(), 6.0);
  EXPECT_EQ(csu->open(), 2u);
}

TEST(MonitoringReportTest, ReferralsAndCasesPerSourceAgencyAndPathway) {
  ReportOptions o = March("");
  o.agency_names = {{"agency-a", "Agency A Police"}};
  const v1::MonitoringFigures f = FiguresOf(MarchLog(), o);
  std::map<std::string, std::pair<uint64_t, uint64_t>> sources;
  for (const auto& s : f.sources()) sources[s.agency()] = {s.referrals(), s.cases()};
  EXPECT_EQ(sources, (std::map<std::string, std::pair<uint64_t, uint64_t>>{
                         {"agency-a", {3, 4}}, {"agency-b", {2, 2}}, {"agency-c", {3, 1}}}));
  EXPECT_EQ(f.sources(0).name(), "Agency A Police");
  EXPECT_EQ(AsMap(f.referrals_by_pathway()), (std::map<std::string, uint64_t>{{"CATEGORY_UNSPECIFIED", 8}}));
}

TEST(MonitoringReportTest, PreviousPeriodBesideAndTwelveMonthTrend) {
  ReportOptions o = March("");
  o.period = "2026-03";
  o.period_label = "March 2026";
  o.has_previous = true;
  ASSERT_TRUE(ParseReportPeriod("2026-02", &o.previous).ok());
  const v1::MonitoringFigures f = FiguresOf(MarchLog(), o);
  EXPECT_EQ(f.period(), "2026-03");
  EXPECT_EQ(f.period_label(), "March 2026");
  EXPECT_EQ(f.referrals(), 8u);
  ASSERT_TRUE(f.has_previous());
  EXPECT_EQ(f.previous().period(), "2026-02");
  EXPECT_EQ(f.previous().period_label(), "February 2026");
  EXPECT_EQ(f.previous().from(), "2026-02-01");
  EXPECT_EQ(f.previous().referrals(), 1u);
  EXPECT_EQ(f.previous().cases(), 1u);
  EXPECT_FALSE(f.previous().has_previous());
  ASSERT_EQ(f.trend_size(), 12);
  EXPECT_EQ(f.trend(0).month(), "2025-04");
  EXPECT_EQ(f.trend(10).month(), "2026-02");
  EXPECT_EQ(f.trend(10).referrals(), 1u);
  EXPECT_EQ(f.trend(10).cases(), 1u);
  EXPECT_EQ(f.trend(11).month(), "2026-03");
  EXPECT_EQ(f.trend(11).referrals(), 8u);
  EXPECT_EQ(f.trend(11).cases(), 7u);
  EXPECT_EQ(f.trend(0).referrals(), 0u);
}

TEST(MonitoringReportTest, Periods) {
  ReportPeriod p;
  ASSERT_TRUE(ParseReportPeriod("2026-11", &p).ok());
  EXPECT_EQ(p.from.ToString(), "2026-11-01");
  EXPECT_EQ(p.to.ToString(), "2026-11-30");
  EXPECT_EQ(p.label, "November 2026");
  ASSERT_TRUE(ParseReportPeriod("2024-02", &p).ok());
  EXPECT_EQ(p.to.ToString(), "2024-02-29");
  ASSERT_TRUE(ParseReportPeriod("2026-Q3", &p).ok());
  EXPECT_EQ(p.from.ToString(), "2026-07-01");
  EXPECT_EQ(p.to.ToString(), "2026-09-30");
  EXPECT_EQ(p.label, "Jul\u2013Sep 2026");
  ASSERT_TRUE(ParseReportPeriod("2026-Q1", &p).ok());
  const ReportPeriod q4 = PreviousPeriod(p);
  EXPECT_EQ(q4.id, "2025-Q4");
  EXPECT_EQ(q4.from.ToString(), "2025-10-01");
  EXPECT_EQ(q4.to.ToString(), "2025-12-31");
  ASSERT_TRUE(ParseReportPeriod("2026-01", &p).ok());
  EXPECT_EQ(PreviousPeriod(p).id, "2025-12");
  CivilDate from, to;
  ASSERT_TRUE(ParseCivilDate("2026-03-01", &from));
  ASSERT_TRUE(ParseCivilDate("2026-03-10", &to));
  const ReportPeriod before = PreviousPeriod(DatesPeriod(from, to));
  EXPECT_EQ(before.from.ToString(), "2026-02-19");
  EXPECT_EQ(before.to.ToString(), "2026-02-28");
  EXPECT_EQ(before.id, "2026-02-19..2026-02-28");
  for (const char* bad : {"2026-13", "2026-Q5", "2026-Q0", "26-01", "2026-1", "2026-01x", "", "2026-00"}) {
    EXPECT_FALSE(ParseReportPeriod(bad, &p).ok()) << bad;
  }
}

TEST(MonitoringReportTest, MedianAndUtcDate) {
  EXPECT_EQ(Median({}), 0.0);
  EXPECT_EQ(Median({5}), 5.0);
  EXPECT_EQ(Median({9, 1, 5}), 5.0);
  EXPECT_EQ(Median({4, 1, 3, 2}), 2.5);
  EXPECT_EQ(UtcDate(EventLogBuilder::Micros("2026-03-31T23:59:59Z")).ToString(), "2026-03-31");
  EXPECT_EQ(UtcDate(EventLogBuilder::Micros("1969-12-31T23:00:00Z")).ToString(), "1969-12-31");
}

}  // namespace
}  // namespace refx::outcomes
