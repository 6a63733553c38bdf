// Unit tests for the checks of the routing sections of a partnership
// configuration (core/routing_config_check.h), through
// PartnershipConfig::Parse: every error names FILE:LINE:COLUMN.

#include "core/routing_config_check.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <string>

#include "client/curve_keygen.h"
#include "core/curve_keys.h"
#include "core/partnership_config.h"
#include "tests/routing/sample_config.h"

namespace refx {
namespace {

constexpr char kName[] = "routing.textproto";

// 1-based line of the `occurrence`-th match of `marker` in `text`, or -1.
int LineOf(const std::string& text, const std::string& marker, int occurrence = 1) {
  size_t pos = 0;
  for (int i = 0; i < occurrence; ++i) {
    pos = text.find(marker, i == 0 ? 0 : pos + 1);
    if (pos == std::string::npos) return -1;
  }
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(pos), '\n'));
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const size_t pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << "test text lacks: " << from;
  if (pos != std::string::npos) text.replace(pos, from.size(), to);
  return text;
}

class RoutingConfigCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CurveKeyPair pair;
    ASSERT_TRUE(GenerateCurveKeyPair(&pair).ok());
    key_ = pair.public_key;
  }

  std::string Good() const {
    return "name: \"Test\"\n"
           "agencies { id: \"csu\" roles: [LEAD] public_key: \"" + key_ + "\" }\n"
           "destinations { code: \"TRIAGE\" agency_id: \"csu\" ack_deadline_working_days: 1 }\n"
           "destinations {\n"
           "  code: \"PANEL\"\n"
           "  agency_id: \"csu\"\n"
           "  meetings {\n"
           "    dates: \"2027-01-21\"\n"
           "    dates: \"2027-02-18\"\n"
           "    cutoff_days_before: 10\n"
           "  }\n"
           "}\n"
           "destinations { code: \"VOLUNTARY\" agency_id: \"csu\" consent_required: true }\n"
           "fallback_destination: \"TRIAGE\"\n"
           "rules {\n"
           "  id: \"R1_FIRST\"\n"
           "  when {\n"
           "    category_in: [DOMESTIC_ABUSE]\n"
           "    any_of { dash_score { at_least: 14 } }\n"
           "    any_of { repeat_referral { destination: \"PANEL\" within_months: 12 } }\n"
           "  }\n"
           "  targets { destination: \"PANEL\" }\n"
           "  targets {\n"
           "    destination: \"VOLUNTARY\"\n"
           "    only_if { age { at_least: 11 at_most: 17 extended_at_most: 25 extend_for_care_leaver: true } }\n"
           "  }\n"
           "}\n"
           "rules {\n"
           "  id: \"R2_SECOND\"\n"
           "  when {\n"
           "    category_in: [ASB_CASE_REVIEW]\n"
           "    community_trigger { min_complaints: 3 within_months: 6 reported_within_months: 1 }\n"
           "    not { stalking { dash_question: 8 } }\n"
           "  }\n"
           "  targets { destination: \"TRIAGE\" }\n"
           "}\n"
           "calendar {\n"
           "  weekend_days: [SATURDAY, SUNDAY]\n"
           "  bank_holidays: \"2026-12-25\"\n"
           "  bank_holidays: \"2026-12-28\"\n"
           "}\n"
           "retention {\n"
           "  periods { record_type: MULTI_AGENCY_RECORD months: 72 }\n"
           "  periods { record_type: ROUTING_HISTORY months: 12 }\n"
           "}\n"
           "outcome_codes { code: \"ADOPTED\" destinations: [\"PANEL\"] route_to: \"VOLUNTARY\" }\n"
           "outcome_codes { code: \"NFA\" closes_case: true retention: NFA_OUTCOME }\n"
           "delivery { redelivery_interval_seconds: 300 undeliverable_after_seconds: 86400 escalate_to: \"TRIAGE\" }\n";
  }

  Status Parse(const std::string& text) {
    std::unique_ptr<PartnershipConfig> cfg;
    return PartnershipConfig::Parse(text, kName, ".", &cfg);
  }

  // Expects InvalidArgument "kName:LINE:COL: ..." mentioning `what`.
  void ExpectErrorAt(const std::string& text, int line, const std::string& what) {
    ASSERT_GT(line, 0) << "marker not found";
    Status s = Parse(text);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
    const std::string prefix = std::string(kName) + ":" + std::to_string(line) + ":";
    EXPECT_EQ(s.message().rfind(prefix, 0), 0u) << "want prefix \"" << prefix << "\", got: " << s.message();
    EXPECT_TRUE(std::regex_search(s.message(), std::regex("^[^:]+:[0-9]+:[0-9]+: "))) << s.message();
    EXPECT_NE(s.message().find(what), std::string::npos) << "want \"" << what << "\" in: " << s.message();
  }

  std::string key_;
};

TEST_F(RoutingConfigCheckTest, GoodConfigurationPasses) {
  Status s = Parse(Good());
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_F(RoutingConfigCheckTest, SampleConfigurationPasses) {
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = refx::testing::LoadSampleConfig(&cfg);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_GE(cfg->proto().rules_size(), 12);
  EXPECT_EQ(cfg->proto().fallback_destination(), "CSU_TRIAGE");
  EXPECT_EQ(cfg->proto().subject_key_file(), "keys/subject.hmac");
}

TEST_F(RoutingConfigCheckTest, NoRoutingSectionsIsFine) {
  const std::string text = "name: \"Test\"\n"
                           "agencies { id: \"csu\" roles: [LEAD] public_key: \"" + key_ + "\" }\n"
                           "destinations { code: \"TRIAGE\" agency_id: \"csu\" }\n";
  EXPECT_TRUE(Parse(text).ok());
}

TEST_F(RoutingConfigCheckTest, UnknownTargetDestination) {
  const std::string text = Replace(Good(), "targets { destination: \"PANEL\" }", "targets { destination: \"PANNEL\" }");
  ExpectErrorAt(text, LineOf(text, "PANNEL"), "unknown destination \"PANNEL\"");
}

TEST_F(RoutingConfigCheckTest, DuplicateTargetInARule) {
  const std::string text = Replace(Good(), "destination: \"VOLUNTARY\"\n", "destination: \"PANEL\"\n");
  ExpectErrorAt(text, LineOf(text, "destination: \"PANEL\"", 3), "targets PANEL twice");
}

TEST_F(RoutingConfigCheckTest, DuplicateRuleId) {
  const std::string text = Replace(Good(), "id: \"R2_SECOND\"", "id: \"R1_FIRST\"");
  ExpectErrorAt(text, LineOf(text, "id: \"R1_FIRST\"", 2), "used twice");
}

TEST_F(RoutingConfigCheckTest, MalformedRuleId) {
  const std::string text = Replace(Good(), "id: \"R2_SECOND\"", "id: \"second rule\"");
  ExpectErrorAt(text, LineOf(text, "second rule"), "rule id");
}

TEST_F(RoutingConfigCheckTest, RuleWithoutTargets) {
  const std::string text = Replace(Good(), "  targets { destination: \"TRIAGE\" }\n", "");
  ExpectErrorAt(text, LineOf(text, "rules {", 2), "R2_SECOND has no targets");
}

TEST_F(RoutingConfigCheckTest, RuleWithoutCondition) {
  std::string text = Good();
  const size_t from = text.find("  when {\n    category_in: [ASB_CASE_REVIEW]");
  const size_t to = text.find("  }\n", from) + 4;
  text.erase(from, to - from);
  ExpectErrorAt(text, LineOf(text, "rules {", 2), "no `when`");
}

TEST_F(RoutingConfigCheckTest, EmptyConditionNamesItsLine) {
  const std::string text =
      Replace(Good(), "any_of { dash_score { at_least: 14 } }", "any_of { dash_score { at_least: 14 } }\n    any_of { }");
  ExpectErrorAt(text, LineOf(text, "any_of { }"), "when.any_of[1] is an empty condition");
}

TEST_F(RoutingConfigCheckTest, RangeUpsideDown) {
  const std::string text = Replace(Good(), "dash_score { at_least: 14 }", "dash_score { at_least: 14 at_most: 9 }");
  ExpectErrorAt(text, LineOf(text, "dash_score"), "at_least 14 is above at_most 9");
}

TEST_F(RoutingConfigCheckTest, DashScoreBeyondTheChecklist) {
  const std::string text = Replace(Good(), "dash_score { at_least: 14 }", "dash_score { at_least: 25 }");
  ExpectErrorAt(text, LineOf(text, "dash_score"), "24 questions");
}

TEST_F(RoutingConfigCheckTest, ExtendedAgeBelowUpperAge) {
  const std::string text = Replace(Good(), "extended_at_most: 25", "extended_at_most: 16");
  ExpectErrorAt(text, LineOf(text, "extended_at_most"), "below at_most");
}

TEST_F(RoutingConfigCheckTest, ExtendedAgeWithoutWhoItExtendsFor) {
  const std::string text = Replace(Good(), " extend_for_care_leaver: true", "");
  ExpectErrorAt(text, LineOf(text, "extended_at_most"), "extend_for_care_leaver or extend_for_send");
}

TEST_F(RoutingConfigCheckTest, RepeatNamingUnknownDestination) {
  const std::string text = Replace(Good(), "repeat_referral { destination: \"PANEL\"", "repeat_referral { destination: \"MARAC\"");
  ExpectErrorAt(text, LineOf(text, "repeat_referral"), "unknown destination \"MARAC\"");
}

TEST_F(RoutingConfigCheckTest, CommunityTriggerWithTwoReportingWindows) {
  const std::string text = Replace(Good(), "reported_within_months: 1", "reported_within_months: 1 reported_within_days: 31");
  ExpectErrorAt(text, LineOf(text, "community_trigger"), "not both");
}

TEST_F(RoutingConfigCheckTest, StalkingQuestionOutOfRangeInsideNot) {
  const std::string text = Replace(Good(), "dash_question: 8", "dash_question: 25");
  ExpectErrorAt(text, LineOf(text, "stalking {"), "when.not.stalking.dash_question");
}

TEST_F(RoutingConfigCheckTest, ExcludeReasonWithoutExclude) {
  const std::string text = Replace(Good(), "  id: \"R2_SECOND\"\n", "  id: \"R2_SECOND\"\n  exclude_reason: \"why\"\n");
  ExpectErrorAt(text, LineOf(text, "exclude_reason"), "no exclude condition");
}

TEST_F(RoutingConfigCheckTest, UnspecifiedCategory) {
  const std::string text = Replace(Good(), "category_in: [ASB_CASE_REVIEW]", "category_in: [CATEGORY_UNSPECIFIED]");
  ExpectErrorAt(text, LineOf(text, "CATEGORY_UNSPECIFIED"), "unspecified");
}

TEST_F(RoutingConfigCheckTest, CategoryNumberWithNoValue) {
  const std::string text = Replace(Good(), "category_in: [ASB_CASE_REVIEW]", "category_in: [ASB_CASE_REVIEW, 99]");
  const Status s = Parse(text);
  // Either the text parser or the checker refuses it; never loaded.
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(kName), std::string::npos) << s.message();
}

TEST_F(RoutingConfigCheckTest, RuleNamingAMissingNewDestination) {
  const std::string text = Replace(Good(), "targets { destination: \"TRIAGE\" }",
                                   "targets { destination: \"MODERN_SLAVERY\" }");
  ExpectErrorAt(text, LineOf(text, "MODERN_SLAVERY"), "unknown destination \"MODERN_SLAVERY\"");
}

TEST_F(RoutingConfigCheckTest, RuleNamingAMissingCategory) {
  const std::string text = Replace(Good(), "category_in: [ASB_CASE_REVIEW]", "category_in: [MODERN_SLAVERYY]");
  const Status s = Parse(text);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("MODERN_SLAVERYY"), std::string::npos) << s.message();
}

TEST_F(RoutingConfigCheckTest, AnonymousDestinationMayNotListIdentifyingGroups) {
  const std::string ok = Replace(Good(), "destinations { code: \"VOLUNTARY\"",
                                 "destinations { code: \"DTN\" agency_id: \"csu\" anonymous: true\n"
                                 "  need_to_know: [ENVELOPE, PATHWAY, ASSESSMENT] }\n"
                                 "destinations { code: \"VOLUNTARY\"");
  EXPECT_TRUE(Parse(ok).ok()) << Parse(ok).ToString();
  for (const char* group : {"SUBJECT_IDENTITY", "SUBJECT_CONTACT", "REFERRER", "NARRATIVE", "CRIMINAL_OFFENCE"}) {
    SCOPED_TRACE(group);
    const std::string text = Replace(ok, "need_to_know: [ENVELOPE, PATHWAY, ASSESSMENT]",
                                     std::string("need_to_know: [ENVELOPE, PATHWAY,\n  ") + group + "]");
    ExpectErrorAt(text, LineOf(text, "need_to_know: [ENVELOPE, PATHWAY,"),
                  std::string("DTN is anonymous but its need_to_know lists ") + group);
  }
}

TEST_F(RoutingConfigCheckTest, ClockHourDeadlines) {
  const std::string base = Replace(Good(), "destinations { code: \"VOLUNTARY\"",
                                   "destinations { code: \"RHI\" agency_id: \"csu\"\n"
                                   "  deadline_clock_hours: 72 deadline_from: CHILD_RETURNED }\n"
                                   "destinations { code: \"VOLUNTARY\"");
  EXPECT_TRUE(Parse(base).ok()) << Parse(base).ToString();
  const std::string no_hours = Replace(base, "deadline_clock_hours: 72 ", "");
  ExpectErrorAt(no_hours, LineOf(no_hours, "deadline_from"), "sets deadline_from but no deadline_clock_hours");
  const std::string meetings =
      Replace(Good(), "  code: \"PANEL\"\n", "  code: \"PANEL\"\n  deadline_clock_hours: 72\n");
  ExpectErrorAt(meetings, LineOf(meetings, "deadline_clock_hours"), "both meetings and deadline_clock_hours");
  const std::string override_days =
      Replace(base, "targets { destination: \"TRIAGE\" }",
              "targets { destination: \"TRIAGE\" }\n  targets {\n    destination: \"RHI\"\n"
              "    deadline_working_days: 1\n  }");
  ExpectErrorAt(override_days, LineOf(override_days, "    deadline_working_days: 1"),
                "sets deadline_working_days for RHI");
}

TEST_F(RoutingConfigCheckTest, BankHolidayNotADate) {
  const std::string text = Replace(Good(), "bank_holidays: \"2026-12-28\"", "bank_holidays: \"2026-12-32\"");
  ExpectErrorAt(text, LineOf(text, "2026-12-32"), "bank holiday \"2026-12-32\"");
}

TEST_F(RoutingConfigCheckTest, BankHolidayTwice) {
  const std::string text = Replace(Good(), "bank_holidays: \"2026-12-28\"", "bank_holidays: \"2026-12-25\"");
  ExpectErrorAt(text, LineOf(text, "2026-12-25", 2), "listed twice");
}

TEST_F(RoutingConfigCheckTest, NoWorkingDay) {
  const std::string text = Replace(Good(), "weekend_days: [SATURDAY, SUNDAY]",
                                   "weekend_days: [MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY]");
  ExpectErrorAt(text, LineOf(text, "weekend_days"), "no working day");
}

TEST_F(RoutingConfigCheckTest, MeetingDateNotADate) {
  const std::string text = Replace(Good(), "dates: \"2027-02-18\"", "dates: \"18/02/2027\"");
  ExpectErrorAt(text, LineOf(text, "18/02/2027"), "meeting date \"18/02/2027\" of PANEL");
}

TEST_F(RoutingConfigCheckTest, RetentionOfZeroMonths) {
  const std::string text = Replace(Good(), "MULTI_AGENCY_RECORD months: 72", "MULTI_AGENCY_RECORD months: 0");
  ExpectErrorAt(text, LineOf(text, "MULTI_AGENCY_RECORD"), "months above 0");
}

TEST_F(RoutingConfigCheckTest, RetentionTypeTwice) {
  const std::string text = Replace(Good(), "record_type: ROUTING_HISTORY months: 12", "record_type: MULTI_AGENCY_RECORD months: 12");
  ExpectErrorAt(text, LineOf(text, "MULTI_AGENCY_RECORD", 2), "given twice");
}

TEST_F(RoutingConfigCheckTest, RoutingHistoryShorterThanTheRepeatWindow) {
  const std::string text = Replace(Good(), "ROUTING_HISTORY months: 12", "ROUTING_HISTORY months: 6");
  ExpectErrorAt(text, LineOf(text, "retention {"), "less than the 12 months");
  const std::string none = Replace(Good(), "  periods { record_type: ROUTING_HISTORY months: 12 }\n", "");
  ExpectErrorAt(none, LineOf(none, "repeat_referral"), "ROUTING_HISTORY");
}

TEST_F(RoutingConfigCheckTest, DisclosureRecordShorterThanTheRecordsItDisclosesOrWithoutThem) {
  const std::string with = Replace(Good(), "  periods { record_type: ROUTING_HISTORY months: 12 }\n",
                                   "  periods { record_type: ROUTING_HISTORY months: 12 }\n"
                                   "  periods { record_type: NFA_OUTCOME months: 24 }\n"
                                   "  periods { record_type: DISCLOSURE_RECORD months: 72 }\n");
  EXPECT_TRUE(Parse(with).ok()) << Parse(with).ToString();
  const std::string shorter = Replace(with, "DISCLOSURE_RECORD months: 72", "DISCLOSURE_RECORD months: 60");
  ExpectErrorAt(shorter, LineOf(shorter, "DISCLOSURE_RECORD"), "less than the 72 months of MULTI_AGENCY_RECORD");
  const std::string below_nfa = Replace(Replace(with, "DISCLOSURE_RECORD months: 72", "DISCLOSURE_RECORD months: 80"),
                                        "NFA_OUTCOME months: 24", "NFA_OUTCOME months: 96");
  ExpectErrorAt(below_nfa, LineOf(below_nfa, "DISCLOSURE_RECORD"), "less than the 96 months of NFA_OUTCOME");
  const std::string alone = Replace(with, "  periods { record_type: MULTI_AGENCY_RECORD months: 72 }\n", "");
  ExpectErrorAt(alone, LineOf(alone, "DISCLOSURE_RECORD"), "no MULTI_AGENCY_RECORD period");
}

TEST_F(RoutingConfigCheckTest, OutcomeRoutingToUnknownDestination) {
  const std::string text = Replace(Good(), "route_to: \"VOLUNTARY\"", "route_to: \"CHANNEL\"");
  ExpectErrorAt(text, LineOf(text, "route_to"), "unknown destination \"CHANNEL\"");
}

TEST_F(RoutingConfigCheckTest, OutcomeCodeTwice) {
  const std::string text = Replace(Good(), "code: \"NFA\"", "code: \"ADOPTED\"");
  ExpectErrorAt(text, LineOf(text, "code: \"ADOPTED\"", 2), "used twice");
}

TEST_F(RoutingConfigCheckTest, OutcomeCodeForUnknownDestination) {
  const std::string text = Replace(Good(), "destinations: [\"PANEL\"]", "destinations: [\"NOBODY\"]");
  ExpectErrorAt(text, LineOf(text, "NOBODY"), "unknown destination \"NOBODY\"");
}

TEST_F(RoutingConfigCheckTest, DeliveryEscalatingToUnknownDestination) {
  const std::string text = Replace(Good(), "escalate_to: \"TRIAGE\"", "escalate_to: \"NOBODY\"");
  ExpectErrorAt(text, LineOf(text, "NOBODY"), "delivery.escalate_to");
}

TEST_F(RoutingConfigCheckTest, FallbackMustBeKnownAndNeedNoConsent) {
  std::string text = Replace(Good(), "fallback_destination: \"TRIAGE\"", "fallback_destination: \"NOBODY\"");
  ExpectErrorAt(text, LineOf(text, "NOBODY"), "fallback_destination");
  text = Replace(Good(), "fallback_destination: \"TRIAGE\"", "fallback_destination: \"VOLUNTARY\"");
  ExpectErrorAt(text, LineOf(text, "fallback_destination"), "must not need consent");
  text = Replace(Good(), "fallback_destination: \"TRIAGE\"\n", "");
  ExpectErrorAt(text, LineOf(text, "rules {"), "need a fallback_destination");
}

TEST(RoutingConfigCheckDirectTest, WithoutALocationTreeNamesLineOne) {
  v1::PartnershipConfig c;
  c.add_destinations()->set_code("TRIAGE");
  c.set_fallback_destination("NOBODY");
  Status s = ValidateRoutingConfig(c, "x.textproto", nullptr);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("x.textproto:1:1: ", 0), 0u) << s.message();
}

}  // namespace
}  // namespace refx
