// Unit tests for refx::RoutingEngine over the Sevenoaks sample configuration
// (deploy/config/sevenoaks.textproto): one table row per routing rule and
// each of its boundaries, as the partnership's routing notes set them out
// (rules 1-13: DASH 14 / 10-13 / 0-9, escalation at 3 police incidents,
// repeat within 12 months, ages 11-17 or to 25, 3 complaints in 6 months
// each reported within a month, Care Act s42, consent for voluntary
// services), then deadlines, outcomes and engine properties.

#include "client/curve_keygen.h"
#include "domain/routing/routing_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include "core/subject_key.h"
#include "tests/routing/sample_config.h"

namespace refx {
namespace {

using refx::testing::Date;
using refx::testing::FakeRoutingHistory;

// Submissions are on Thursday 2026-11-26 unless a row says otherwise.
const CivilDate kToday{2026, 11, 26};

// A fixed 32-byte subject key for the tests.
std::string TestSecret() { return std::string(kSubjectSecretBytes, '\x5a'); }

// Loaded once for the whole file.
class SampleEngine {
 public:
  static SampleEngine& Get() {
    static SampleEngine* instance = new SampleEngine();
    return *instance;
  }
  const RoutingEngine* engine() const { return engine_.get(); }
  const Status& status() const { return status_; }

 private:
  SampleEngine() {
    status_ = refx::testing::LoadSampleConfig(&config_);
    if (status_.ok()) status_ = RoutingEngine::Create(config_.get(), TestSecret(), &engine_);
  }
  Status status_;
  std::unique_ptr<PartnershipConfig> config_;
  std::unique_ptr<RoutingEngine> engine_;
};

// --- Referral builders -------------------------------------------------------

// The date of birth of someone who is `age` on kToday: born on this day
// `age` years ago. `day_after` gives the day after, so the person is one
// year younger (the birthday is tomorrow).
std::string DobForAge(int age, bool day_after = false) {
  CivilDate d{kToday.year - age, kToday.month, kToday.day};
  if (day_after) d = CivilDate::FromDays(d.ToDays() + 1);
  return d.ToString();
}

v1::Referral Person(v1::Category category, const std::string& dob = "1990-01-01") {
  v1::Referral r;
  r.set_referrer_reference("TEST-0001");
  r.set_category(category);
  r.set_urgency(v1::ROUTINE);
  r.mutable_referrer()->set_agency_id("kent-police");
  r.mutable_consent()->set_position(v1::CONSENT_GIVEN);
  r.set_lawful_basis(v1::PUBLIC_TASK);
  r.mutable_person()->set_given_name("Alex");
  r.mutable_person()->set_family_name("Example");
  r.mutable_person()->set_date_of_birth(dob);
  return r;
}

v1::Referral Context(v1::ContextKind kind) {
  v1::Referral r = Person(v1::EXTRA_FAMILIAL_HARM);
  r.clear_person();
  r.mutable_context()->set_kind(kind);
  r.mutable_context()->set_name("Example Recreation Ground");
  r.mutable_context()->set_ward("Sevenoaks Town and St John's");
  r.mutable_context()->set_youngest_age(13);
  r.mutable_context()->set_oldest_age(17);
  r.mutable_exploitation()->set_criminal_exploitation(true);
  return r;
}

// A DASH with `yes` "yes" answers. Question 8 (stalking) is "no" unless
// `q8` is set, when it is one of the yes answers.
void SetDash(v1::Referral* r, int yes, bool q8 = false) {
  v1::Assessment* a = r->mutable_assessment();
  a->set_tool(v1::DASH);
  a->clear_dash_answers();
  int others = q8 ? yes - 1 : yes;  // yes answers besides question 8
  for (int q = 1; q <= 24; ++q) {
    if (q == 8) {
      a->add_dash_answers(q8);
    } else {
      a->add_dash_answers(others > 0);
      if (others > 0) --others;
    }
  }
  a->set_score(static_cast<uint32_t>(yes));
}

v1::Referral Da(int dash, bool q8 = false) {
  v1::Referral r = Person(v1::DOMESTIC_ABUSE);
  SetDash(&r, dash, q8);
  r.set_incident_date("2026-11-20");
  return r;
}

void AddIncident(v1::Referral* r, const std::string& happened, const std::string& reported, const std::string& key,
                 const std::string& agency = "kent-police") {
  v1::AsbIncident* i = r->add_asb_incidents();
  i->set_incident_date(happened);
  i->set_reported_date(reported);
  i->set_incident_key(key);
  i->set_agency_id(agency);
  i->set_reference("REF-" + key + "-" + agency);
}

v1::Referral CommunityTrigger() { return Person(v1::ASB_CASE_REVIEW, "1958-06-21"); }

v1::Referral Efh(int age, bool day_after = false) {
  v1::Referral r = Person(v1::EXTRA_FAMILIAL_HARM, DobForAge(age, day_after));
  r.mutable_exploitation()->set_county_lines(true);
  return r;
}

v1::Referral Adult(int flags) {
  v1::Referral r = Person(v1::ADULT_AT_RISK, "1941-09-15");
  r.mutable_adult_care()->set_care_and_support_needs(flags >= 1);
  r.mutable_adult_care()->set_experiencing_or_at_risk_of_abuse(flags >= 2);
  r.mutable_adult_care()->set_unable_to_protect_self(flags >= 3);
  return r;
}

template <typename F>
v1::Referral With(v1::Referral r, F change) {
  change(&r);
  return r;
}

v1::Referral BusinessCrime(bool repeat_offender, bool retail) {
  v1::Referral r = Person(v1::BUSINESS_CRIME, DobForAge(34));
  r.mutable_referrer()->set_agency_id("safer-towns-bcp");
  r.mutable_business_crime()->set_member_business("Example Pharmacy Ltd");
  r.mutable_business_crime()->set_repeat_or_prolific_offender(repeat_offender);
  r.mutable_business_crime()->set_retail_affecting(retail);
  return r;
}

// A modern-slavery referral (labour exploitation) about someone `age`.
v1::Referral Slavery(int age, bool day_after = false) {
  v1::Referral r = Person(v1::MODERN_SLAVERY, DobForAge(age, day_after));
  r.mutable_exploitation()->set_labour_exploitation(true);
  return r;
}

template <typename F>
v1::Referral Harmful(int age, bool day_after, F set) {
  v1::Referral r = Person(v1::HARMFUL_PRACTICES, DobForAge(age, day_after));
  set(r.mutable_harmful_practice());
  return r;
}

// A child who went missing and returned the evening before kToday.
v1::Referral Missing(int age, bool day_after = false) {
  v1::Referral r = Person(v1::MISSING_CHILD, DobForAge(age, day_after));
  r.mutable_missing()->set_went_missing_at("2026-11-23T16:00:00Z");
  r.mutable_missing()->set_returned_at("2026-11-25T21:30:00Z");
  return r;
}

// --- The table -----------------------------------------------------------

struct Row {
  Row(std::string name_in, v1::Referral referral_in, std::vector<std::string> want_in,
      std::vector<std::string> want_rules_in, std::string reason_has_in,
      std::map<std::string, std::string> history_in = {})
      : name(std::move(name_in)),
        referral(std::move(referral_in)),
        want(std::move(want_in)),
        want_rules(std::move(want_rules_in)),
        reason_has(std::move(reason_has_in)),
        history(std::move(history_in)) {}

  std::string name;
  v1::Referral referral;
  // Destinations in the order the engine lists them (rule order).
  std::vector<std::string> want;
  // Rule ids, in the same order (empty = not checked).
  std::vector<std::string> want_rules;
  // A piece of the reason of the last decision (empty = not checked).
  std::string reason_has;
  // Routing history: destination -> date last routed there.
  std::map<std::string, std::string> history;
  CivilDate submitted_on = kToday;
};

// Names the row in test output.
void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

std::vector<Row> Rows() {
  std::vector<Row> rows;
  auto add = [&rows](Row row) { rows.push_back(std::move(row)); };
  const auto refused = [](v1::Referral* r) { r->mutable_consent()->set_position(v1::CONSENT_REFUSED); };
  const auto not_sought = [](v1::Referral* r) { r->mutable_consent()->set_position(v1::CONSENT_NOT_SOUGHT); };

  // Rule 1-3: DASH boundaries 14 / 13, 10 / 9.
  add({"DaDash14IsHighRisk", Da(14), {"DA_MARAC", "IDVA"}, {"R1_DA_HIGH_RISK", "R1_DA_HIGH_RISK"}, "DASH score 14 >= 14"});
  add({"DaDash23WithQuestion8", Da(23, true), {"DA_MARAC", "IDVA", "STALKING"}, {}, ""});
  add({"DaDash13IsMediumRisk", Da(13), {"DA_OUTREACH"}, {"R2_DA_MEDIUM_RISK"}, "DASH score 13 in 10..13"});
  add({"DaDash10IsMediumRisk", Da(10), {"DA_OUTREACH"}, {"R2_DA_MEDIUM_RISK"}, "DASH score 10 in 10..13"});
  add({"DaDash9IsStandardRisk", Da(9), {"DA_OUTREACH"}, {"R3_DA_STANDARD_RISK"}, "DASH score 9 <= 9"});
  add({"DaDash0IsStandardRisk", Da(0), {"DA_OUTREACH"}, {"R3_DA_STANDARD_RISK"}, ""});
  add({"DaScoreWithoutAnswers", With(Person(v1::DOMESTIC_ABUSE), [](v1::Referral* r) {
         r->mutable_assessment()->set_tool(v1::DASH);
         r->mutable_assessment()->set_score(15);
       }),
       {"DA_MARAC", "IDVA"}, {}, "DASH score 15 >= 14"});
  // Professional judgement makes DASH 5 high risk.
  add({"DaProfessionalJudgementAtDash5", With(Da(5), [](v1::Referral* r) {
         r->mutable_assessment()->set_professional_judgement(true);
       }),
       {"DA_MARAC", "IDVA"}, {"R1_DA_HIGH_RISK", "R1_DA_HIGH_RISK"}, "professional judgement"});
  // Escalation: 3 police-recorded incidents in 12 months, not 2.
  add({"DaPoliceIncidents2IsStandard", With(Da(5), [](v1::Referral* r) {
         r->mutable_assessment()->set_police_incidents_12m(2);
       }),
       {"DA_OUTREACH"}, {"R3_DA_STANDARD_RISK"}, ""});
  add({"DaPoliceIncidents3IsHighRisk", With(Da(5), [](v1::Referral* r) {
         r->mutable_assessment()->set_police_incidents_12m(3);
       }),
       {"DA_MARAC", "IDVA"}, {"R1_DA_HIGH_RISK", "R1_DA_HIGH_RISK"}, "police-recorded incidents in 12 months 3 >= 3"});
  // Children in the household: Front Door too, for high risk only.
  add({"DaHighRiskWithChildrenAlsoFrontDoor", With(Da(15), [](v1::Referral* r) {
         r->mutable_person()->set_children_in_household(true);
       }),
       {"DA_MARAC", "IDVA", "CHILDRENS_FRONT_DOOR"}, {}, "children in the household"});
  add({"DaMediumRiskWithChildrenNoFrontDoor", With(Da(11), [](v1::Referral* r) {
         r->mutable_person()->set_children_in_household(true);
       }),
       {"DA_OUTREACH"}, {}, ""});
  // Rule 4 on top of rule 1: DASH question 8.
  add({"DaHighRiskWithQuestion8AlsoStalking", Da(17, true), {"DA_MARAC", "IDVA", "STALKING"},
       {"R1_DA_HIGH_RISK", "R1_DA_HIGH_RISK", "R4_STALKING"}, "DASH question 8 answered yes"});
  add({"DaHighRiskStalkingWithoutConsent", With(Da(17, true), refused), {"DA_MARAC", "IDVA", "CSU_TRIAGE"},
       {"R1_DA_HIGH_RISK", "R1_DA_HIGH_RISK", "R4_STALKING"}, "consent required by STALKING: consent refused"});
  add({"DaMediumRiskStalkingReported", With(Da(11), [](v1::Referral* r) {
         r->mutable_assessment()->set_stalking_reported(true);
       }),
       {"DA_OUTREACH", "STALKING"}, {"R2_DA_MEDIUM_RISK", "R4_STALKING"}, "stalking reported"});
  // Missing DASH: rules 1-3 cannot be applied (rule 13), unless another
  // high-risk criterion decides.
  add({"DaWithoutDashGoesToTriage", Person(v1::DOMESTIC_ABUSE), {"CSU_TRIAGE"}, {"R1_DA_HIGH_RISK"},
       "R1_DA_HIGH_RISK cannot be applied: no DASH score"});
  add({"DaWithoutDashButEscalationIsHighRisk", With(Person(v1::DOMESTIC_ABUSE), [](v1::Referral* r) {
         r->mutable_assessment()->set_police_incidents_12m(4);
       }),
       {"DA_MARAC", "IDVA"}, {}, ""});
  add({"DaWithoutDashButProfessionalJudgement", With(Person(v1::DOMESTIC_ABUSE), [](v1::Referral* r) {
         r->mutable_assessment()->set_professional_judgement(true);
       }),
       {"DA_MARAC", "IDVA"}, {}, ""});
  // Repeat MARAC: 11 months after the last referral counts, 13 do not.
  add({"DaRepeat11MonthsAfterMarac", Da(5), {"DA_MARAC", "IDVA"}, {}, "repeat: referred to DA_MARAC within 12 months",
       {{"DA_MARAC", "2025-12-20"}}});
  add({"DaRepeat12MonthsToTheDay", Da(5), {"DA_MARAC", "IDVA"}, {}, "routing history", {{"DA_MARAC", "2025-11-20"}}});
  add({"DaNotRepeat13MonthsAfterMarac", Da(5), {"DA_OUTREACH"}, {"R3_DA_STANDARD_RISK"}, "",
       {{"DA_MARAC", "2025-10-20"}}});
  add({"DaNotRepeatOtherDestinationInHistory", Da(5), {"DA_OUTREACH"}, {}, "", {{"IDVA", "2026-06-01"}}});
  add({"DaRepeatFromReferrersPreviousMaracDate", With(Da(8), [](v1::Referral* r) {
         r->mutable_assessment()->set_previous_marac_date("2026-05-12");
       }),
       {"DA_MARAC", "IDVA"}, {}, "previous MARAC date"});
  add({"DaOldPreviousMaracDateIsNotRepeat", With(Da(8), [](v1::Referral* r) {
         r->mutable_assessment()->set_previous_marac_date("2025-10-19");
       }),
       {"DA_OUTREACH"}, {}, ""});
  // Consent: voluntary services need it; statutory ones do not.
  add({"DaMediumConsentGiven", Da(12), {"DA_OUTREACH"}, {}, ""});
  add({"DaMediumConsentRefused", With(Da(12), refused), {"CSU_TRIAGE"}, {"R2_DA_MEDIUM_RISK"},
       "consent required by DA_OUTREACH: consent refused"});
  add({"DaMediumConsentNotSought", With(Da(12), not_sought), {"CSU_TRIAGE"}, {"R2_DA_MEDIUM_RISK"},
       "consent required by DA_OUTREACH: consent not sought"});
  add({"DaMediumConsentNotRecorded", With(Da(12), [](v1::Referral* r) { r->clear_consent(); }), {"CSU_TRIAGE"}, {},
       "consent position not recorded"});
  add({"DaHighRiskConsentRefusedStillGoes", With(Da(16), refused), {"DA_MARAC", "IDVA"}, {}, ""});

  // Rule 4: stalking referrals.
  add({"StalkingReferral", Person(v1::STALKING), {"STALKING"}, {"R4_STALKING"}, "category STALKING"});
  add({"StalkingReferralConsentNotSought", With(Person(v1::STALKING), not_sought), {"CSU_TRIAGE"}, {"R4_STALKING"},
       "consent required by STALKING: consent not sought"});

  // Rule 5: Prevent; Front Door for under 18 or an adult parent.
  add({"PreventAdult", Person(v1::RADICALISATION, DobForAge(30)), {"PREVENT"}, {"R5_PREVENT"}, ""});
  add({"PreventAged17AlsoFrontDoor", Person(v1::RADICALISATION, DobForAge(18, true)),
       {"PREVENT", "CHILDRENS_FRONT_DOOR"}, {}, "age 17 or under"});
  add({"PreventAged18", Person(v1::RADICALISATION, DobForAge(18)), {"PREVENT"}, {}, ""});
  add({"PreventAdultParentAlsoFrontDoor", With(Person(v1::RADICALISATION, DobForAge(40)), [](v1::Referral* r) {
         r->mutable_person()->set_parent_or_lives_with_child(true);
       }),
       {"PREVENT", "CHILDRENS_FRONT_DOOR"}, {}, "parent of or living with a child"});
  add({"PreventAgeUnknownAsksTriage", Person(v1::RADICALISATION, ""), {"PREVENT", "CSU_TRIAGE"},
       {"R5_PREVENT", "R5_PREVENT"}, "R5_PREVENT cannot decide on CHILDRENS_FRONT_DOOR: age unknown"});
  add({"PreventConsentRefusedStillGoes", With(Person(v1::RADICALISATION, DobForAge(30)), refused), {"PREVENT"}, {}, ""});

  // Rule 6: DCSM, ages 11-17, or to 25 for a care leaver or SEND.
  add({"EfhAged10NotDcsm", Efh(11, true), {"CSU_TRIAGE"}, {"R6_EXTRA_FAMILIAL_HARM"},
       "R6_EXTRA_FAMILIAL_HARM not met, missing: age not 11..17"});
  add({"EfhAged11", Efh(11), {"DCSM"}, {"R6_EXTRA_FAMILIAL_HARM"}, "age 11..17"});
  add({"EfhAged17", Efh(18, true), {"DCSM"}, {}, ""});
  add({"EfhAged18NotDcsm", Efh(18), {"CSU_TRIAGE"}, {}, "R6_EXTRA_FAMILIAL_HARM not met, missing: age not 11..17"});
  add({"EfhAged18CareLeaver", With(Efh(18), [](v1::Referral* r) { r->mutable_person()->set_care_leaver(true); }),
       {"DCSM"}, {}, "age 11..25 (care leaver)"});
  add({"EfhAged25Send", With(Efh(25), [](v1::Referral* r) { r->mutable_person()->set_send(true); }), {"DCSM"}, {},
       "age 11..25 (SEND)"});
  add({"EfhAged26CareLeaverNotDcsm",
       With(Efh(26), [](v1::Referral* r) { r->mutable_person()->set_care_leaver(true); }), {"CSU_TRIAGE"}, {}, ""});
  add({"EfhSignificantHarmAlsoFrontDoor",
       With(Efh(15), [](v1::Referral* r) { r->mutable_exploitation()->set_significant_harm(true); }),
       {"DCSM", "CHILDRENS_FRONT_DOOR"}, {}, "child at risk of significant harm"});
  add({"EfhCareLeaverSignificantHarmNotFrontDoor", With(Efh(19), [](v1::Referral* r) {
         r->mutable_person()->set_care_leaver(true);
         r->mutable_exploitation()->set_significant_harm(true);
       }),
       {"DCSM"}, {}, ""});
  add({"EfhLocation", Context(v1::LOCATION), {"DCSM"}, {}, "context is a LOCATION"});
  add({"EfhPeerGroup", Context(v1::PEER_GROUP), {"DCSM"}, {}, ""});
  add({"EfhOnlineSpaceWithoutAges", With(Context(v1::ONLINE_SPACE), [](v1::Referral* r) {
         r->mutable_context()->clear_youngest_age();
         r->mutable_context()->clear_oldest_age();
       }),
       {"DCSM"}, {}, ""});
  add({"EfhWithoutExploitationFlag", With(Efh(15), [](v1::Referral* r) { r->clear_exploitation(); }),
       {"CSU_TRIAGE"}, {}, "R6_EXTRA_FAMILIAL_HARM not met, missing: no exploitation flag of the rule"});
  add({"EfhAgeUnknown", With(Efh(15), [](v1::Referral* r) { r->mutable_person()->clear_date_of_birth(); }),
       {"CSU_TRIAGE"}, {"R6_EXTRA_FAMILIAL_HARM"}, "age unknown"});

  // Rule 7: complex ASB, not solely DA.
  add({"ComplexAsb", With(Person(v1::ANTISOCIAL_BEHAVIOUR), [](v1::Referral* r) {
         r->mutable_asb()->set_vulnerable_victim(true);
         r->mutable_asb()->set_needs_multi_agency_plan(true);
       }),
       {"CMARAC"}, {"R7_COMPLEX_ASB"}, "vulnerable victim"});
  add({"ComplexAsbRepeatOffender", With(Person(v1::ANTISOCIAL_BEHAVIOUR), [](v1::Referral* r) {
         r->mutable_asb()->set_repeat_offender(true);
       }),
       {"CMARAC"}, {}, "repeat offender"});
  add({"AsbWithoutPlanNotComplex", With(Person(v1::ANTISOCIAL_BEHAVIOUR), [](v1::Referral* r) {
         r->mutable_asb()->set_vulnerable_victim(true);
       }),
       {"CSU_TRIAGE"}, {"R7_COMPLEX_ASB"}, "R7_COMPLEX_ASB not met, missing: ASB: not needs multi agency plan"});
  // Rule 7 near misses name what is missing, not "no rule matched".
  add({"AsbPlanWithoutVulnerabilityOrRisk", With(Person(v1::ANTISOCIAL_BEHAVIOUR), [](v1::Referral* r) {
         r->mutable_asb()->set_needs_multi_agency_plan(true);
       }),
       {"CSU_TRIAGE"}, {"R7_COMPLEX_ASB"},
       "R7_COMPLEX_ASB not met, missing: none of the ASB flags vulnerable victim, vulnerable perpetrator, high risk "
       "of harm"});
  add({"AsbNoCriterion", Person(v1::ANTISOCIAL_BEHAVIOUR), {"CSU_TRIAGE"}, {"R7_COMPLEX_ASB"},
       "none of the ASB flags repeat offender"});
  add({"AsbSolelyDomesticAbuseExcluded", With(Person(v1::ANTISOCIAL_BEHAVIOUR), [](v1::Referral* r) {
         r->mutable_asb()->set_high_risk_of_harm(true);
         r->mutable_asb()->set_needs_multi_agency_plan(true);
         SetDash(r, 6);
       }),
       {"CSU_TRIAGE"}, {RoutingEngine::kNoRuleId}, "R7_COMPLEX_ASB excluded: solely domestic abuse"});

  // Rule 8: community trigger.
  add({"CommunityTrigger3Complaints", With(CommunityTrigger(), [](v1::Referral* r) {
         AddIncident(r, "2026-06-13", "2026-06-14", "A");
         AddIncident(r, "2026-08-22", "2026-08-29", "B");
         AddIncident(r, "2026-10-30", "2026-11-03", "C");
       }),
       {"ASB_CASE_REVIEW"}, {"R8_ASB_CASE_REVIEW"}, "3 separate incidents in 6 months reported within 1 month >= 3"});
  add({"CommunityTrigger2Complaints", With(CommunityTrigger(), [](v1::Referral* r) {
         AddIncident(r, "2026-08-22", "2026-08-29", "B");
         AddIncident(r, "2026-10-30", "2026-11-03", "C");
       }),
       {"CSU_TRIAGE"}, {"R8_ASB_CASE_REVIEW"},
       "R8_ASB_CASE_REVIEW not met, missing: 2 separate incidents in 6 months reported within 1 month < 3"});
  add({"CommunityTriggerOneReportedAfterAMonth", With(CommunityTrigger(), [](v1::Referral* r) {
         AddIncident(r, "2026-06-13", "2026-07-20", "A");
         AddIncident(r, "2026-08-22", "2026-08-29", "B");
         AddIncident(r, "2026-10-30", "2026-11-03", "C");
       }),
       {"CSU_TRIAGE"}, {}, ""});
  add({"CommunityTriggerReportedExactlyAMonthLater", With(CommunityTrigger(), [](v1::Referral* r) {
         AddIncident(r, "2026-06-13", "2026-07-13", "A");
         AddIncident(r, "2026-08-22", "2026-08-29", "B");
         AddIncident(r, "2026-10-30", "2026-11-03", "C");
       }),
       {"ASB_CASE_REVIEW"}, {}, ""});
  add({"CommunityTriggerSameIncidentTwoAgenciesCountsOnce", With(CommunityTrigger(), [](v1::Referral* r) {
         AddIncident(r, "2026-08-22", "2026-08-29", "B", "west-kent-housing");
         AddIncident(r, "2026-08-22", "2026-09-02", "B", "sevenoaks-csu");
         AddIncident(r, "2026-10-30", "2026-11-03", "C");
       }),
       {"CSU_TRIAGE"}, {}, ""});
  add({"CommunityTrigger4ReportsOf3Incidents", With(CommunityTrigger(), [](v1::Referral* r) {
         AddIncident(r, "2026-06-13", "2026-06-14", "A");
         AddIncident(r, "2026-08-22", "2026-08-29", "B", "west-kent-housing");
         AddIncident(r, "2026-08-22", "2026-09-02", "B", "sevenoaks-csu");
         AddIncident(r, "2026-10-30", "2026-11-03", "C");
       }),
       {"ASB_CASE_REVIEW"}, {}, ""});
  add({"CommunityTriggerOneIncidentOlderThan6Months", With(CommunityTrigger(), [](v1::Referral* r) {
         AddIncident(r, "2026-05-25", "2026-05-26", "A");
         AddIncident(r, "2026-08-22", "2026-08-29", "B");
         AddIncident(r, "2026-10-30", "2026-11-03", "C");
       }),
       {"CSU_TRIAGE"}, {}, ""});
  add({"CommunityTriggerIncidentExactly6MonthsAgo", With(CommunityTrigger(), [](v1::Referral* r) {
         AddIncident(r, "2026-05-26", "2026-05-27", "A");
         AddIncident(r, "2026-08-22", "2026-08-29", "B");
         AddIncident(r, "2026-10-30", "2026-11-03", "C");
       }),
       {"ASB_CASE_REVIEW"}, {}, ""});
  add({"CommunityTriggerWithoutIncidents", CommunityTrigger(), {"CSU_TRIAGE"}, {"R8_ASB_CASE_REVIEW"},
       "R8_ASB_CASE_REVIEW cannot be applied: no ASB incidents listed"});

  // Rule 9: Care Act s42 needs all three conditions and 18 or over.
  add({"AdultAtRiskAllThreeConditions", Adult(3), {"ADULT_SOCIAL_CARE"}, {"R9_ADULT_AT_RISK"}, "Care Act s42"});
  add({"AdultAtRiskTwoConditions", Adult(2), {"CSU_TRIAGE"}, {"R9_ADULT_AT_RISK"},
       "R9_ADULT_AT_RISK not met, missing: Care Act s42 criterion not met: unable to protect self"});
  // Rule 10 (issue 9): a 17-year-old being abused is a child at risk.
  add({"AdultAtRiskAged17", With(Adult(3), [](v1::Referral* r) { r->mutable_person()->set_date_of_birth(DobForAge(18, true)); }),
       {"CHILDRENS_FRONT_DOOR"}, {"R10_ADULT_AT_RISK_UNDER_18"}, "age 17 or under"});
  add({"AdultAtRiskAged18", With(Adult(3), [](v1::Referral* r) { r->mutable_person()->set_date_of_birth(DobForAge(18)); }),
       {"ADULT_SOCIAL_CARE"}, {}, ""});

  // Rule 10.
  add({"ChildAtRisk", Person(v1::CHILD_AT_RISK, DobForAge(8)), {"CHILDRENS_FRONT_DOOR"}, {"R10_CHILD_AT_RISK"}, ""});
  add({"ChildAtRiskConsentRefusedStillGoes", With(Person(v1::CHILD_AT_RISK, DobForAge(8)), refused),
       {"CHILDRENS_FRONT_DOOR"}, {}, ""});

  // Rules 11 and 12: 17 to Kenward, 18 to CGL.
  add({"SubstanceAged17", Person(v1::SUBSTANCE_MISUSE, DobForAge(18, true)), {"DRUG_OUTREACH"},
       {"R11_SUBSTANCE_UNDER_18"}, "age 17 or under"});
  add({"SubstanceAged18", Person(v1::SUBSTANCE_MISUSE, DobForAge(18)), {"SUBSTANCE_SERVICE"}, {"R12_SUBSTANCE_ADULT"},
       "age 18 or over"});
  add({"SubstanceAgeYearsWithoutDob", With(Person(v1::SUBSTANCE_MISUSE, ""), [](v1::Referral* r) {
         r->mutable_person()->set_age_years(30);
       }),
       {"SUBSTANCE_SERVICE"}, {}, ""});
  add({"SubstanceAged17ConsentRefused", With(Person(v1::SUBSTANCE_MISUSE, DobForAge(17)), refused), {"CSU_TRIAGE"},
       {"R11_SUBSTANCE_UNDER_18"}, "consent required by DRUG_OUTREACH: consent refused"});
  add({"SubstanceAdultConsentNotSought", With(Person(v1::SUBSTANCE_MISUSE, DobForAge(40)), not_sought),
       {"CSU_TRIAGE"}, {"R12_SUBSTANCE_ADULT"}, "consent required by SUBSTANCE_SERVICE: consent not sought"});
  add({"SubstanceAgeUnknown", Person(v1::SUBSTANCE_MISUSE, ""), {"CSU_TRIAGE"}, {"R11_SUBSTANCE_UNDER_18"},
       "R11_SUBSTANCE_UNDER_18 cannot be applied: age unknown"});

  // Rule 14: business crime.
  add({"BusinessCrimeRepeatOffender", BusinessCrime(true, true), {"CMARAC"}, {"R14_BUSINESS_CRIME_OFFENDER"},
       "repeat or prolific offender"});
  add({"BusinessCrimeRepeatOffenderNotRetail", BusinessCrime(true, false), {"CMARAC"}, {}, ""});
  add({"BusinessCrimeRetailAsbWithoutOffender", BusinessCrime(false, true), {"CSU_TRIAGE"}, {"R14_RETAIL_ASB"},
       "affects retail premises"});
  add({"BusinessCrimeNeither", BusinessCrime(false, false), {"CSU_TRIAGE"},
       {"R14_BUSINESS_CRIME_OFFENDER"},
       "R14_BUSINESS_CRIME_OFFENDER not met, missing: no named repeat or prolific offender; R14_RETAIL_ASB not met, "
       "missing: does not affect retail premises"});
  add({"BusinessCrimeOffenderConsentRefusedStillGoes", With(BusinessCrime(true, true), refused), {"CMARAC"}, {}, ""});

  // Rule 15: modern slavery; the consent branch for adults, ages 11-17.
  add({"ModernSlaveryAdultConsents", Slavery(30), {"MODERN_SLAVERY"}, {"R15_MODERN_SLAVERY"},
       "consent position CONSENT_GIVEN"});
  add({"ModernSlaveryAdultRefusesDutyToNotify", With(Slavery(30), refused), {"MODERN_SLAVERY_DTN"},
       {"R15_MODERN_SLAVERY"}, "Duty to Notify (MS1) with no identifying details"});
  add({"ModernSlaveryAdultNotSoughtDutyToNotify", With(Slavery(30), not_sought), {"MODERN_SLAVERY_DTN"}, {}, ""});
  add({"ModernSlaveryAged18RefusesDutyToNotify", With(Slavery(18), refused), {"MODERN_SLAVERY_DTN"}, {}, ""});
  add({"ModernSlaveryAged17NoConsentNeeded", With(Slavery(18, true), refused),
       {"MODERN_SLAVERY", "CHILDRENS_FRONT_DOOR"}, {}, "age 17 or under"});
  add({"ModernSlaveryAged17CriminalAlsoDcsm", With(Slavery(18, true), [](v1::Referral* r) {
         r->mutable_exploitation()->set_criminal_exploitation(true);
       }),
       {"MODERN_SLAVERY", "CHILDRENS_FRONT_DOOR", "DCSM"}, {}, "exploitation: criminal exploitation"});
  add({"ModernSlaveryAged11CountyLinesAlsoDcsm", With(Slavery(11), [](v1::Referral* r) {
         r->mutable_exploitation()->set_county_lines(true);
       }),
       {"MODERN_SLAVERY", "CHILDRENS_FRONT_DOOR", "DCSM"}, {}, "age 11..17"});
  add({"ModernSlaveryAged10CriminalNoDcsm", With(Slavery(11, true), [](v1::Referral* r) {
         r->mutable_exploitation()->set_criminal_exploitation(true);
       }),
       {"MODERN_SLAVERY", "CHILDRENS_FRONT_DOOR"}, {}, ""});
  add({"ModernSlaveryAged15LabourOnlyNoDcsm", Slavery(15), {"MODERN_SLAVERY", "CHILDRENS_FRONT_DOOR"}, {}, ""});
  add({"ModernSlaveryAdultCriminalNoDcsm", With(Slavery(19), [](v1::Referral* r) {
         r->mutable_exploitation()->set_criminal_exploitation(true);
       }),
       {"MODERN_SLAVERY"}, {}, ""});
  add({"ModernSlaveryWithoutIndicator", With(Slavery(30), [](v1::Referral* r) { r->clear_exploitation(); }),
       {"CSU_TRIAGE"}, {"R15_MODERN_SLAVERY"}, "R15_MODERN_SLAVERY not met, missing: no exploitation flag"});
  add({"ModernSlaveryAgeUnknownWithoutConsentAsksTriage", With(Slavery(30), [](v1::Referral* r) {
         r->mutable_person()->clear_date_of_birth();
         r->mutable_consent()->set_position(v1::CONSENT_REFUSED);
       }),
       {"CSU_TRIAGE"}, {"R15_MODERN_SLAVERY"}, "age unknown"});

  // Rule 16: FGM, forced marriage, honour-based abuse.
  add({"FgmGirlAged17", Harmful(18, true, [](v1::HarmfulPracticeDetails* h) { h->set_fgm(true); }),
       {"POLICE_SAFEGUARDING", "CHILDRENS_FRONT_DOOR"}, {"R16_FGM_UNDER_18", "R16_FGM_UNDER_18"}, ""});
  add({"FgmWomanAged18SameDayNoFrontDoor",
       Harmful(18, false, [](v1::HarmfulPracticeDetails* h) { h->set_fgm(true); }), {"POLICE_SAFEGUARDING"},
       {"R16_HARMFUL_PRACTICES"}, "harmful practice: FGM"});
  add({"ForcedMarriageAged16", Harmful(16, false, [](v1::HarmfulPracticeDetails* h) { h->set_forced_marriage(true); }),
       {"POLICE_SAFEGUARDING", "CHILDRENS_FRONT_DOOR"}, {"R16_HARMFUL_PRACTICES", "R16_HARMFUL_PRACTICES"},
       "age 17 or under"});
  add({"ForcedMarriageAdult", Harmful(24, false, [](v1::HarmfulPracticeDetails* h) { h->set_forced_marriage(true); }),
       {"POLICE_SAFEGUARDING"}, {}, ""});
  add({"HonourBasedAbuseAdultHighRiskAlsoMarac",
       With(Harmful(29, false, [](v1::HarmfulPracticeDetails* h) { h->set_honour_based_abuse(true); }),
            [](v1::Referral* r) { SetDash(r, 15); }),
       {"DA_MARAC", "IDVA", "POLICE_SAFEGUARDING"}, {"R1_DA_HIGH_RISK", "R1_DA_HIGH_RISK", "R16_HARMFUL_PRACTICES"},
       ""});
  add({"HonourBasedAbuseAdultMediumRiskOutreach",
       With(Harmful(29, false, [](v1::HarmfulPracticeDetails* h) { h->set_honour_based_abuse(true); }),
            [](v1::Referral* r) { SetDash(r, 11); }),
       {"DA_OUTREACH", "POLICE_SAFEGUARDING"}, {"R2_DA_MEDIUM_RISK", "R16_HARMFUL_PRACTICES"}, ""});
  add({"HonourBasedAbuseAdultWithoutDashAsksTriage",
       Harmful(29, false, [](v1::HarmfulPracticeDetails* h) { h->set_honour_based_abuse(true); }),
       {"CSU_TRIAGE", "POLICE_SAFEGUARDING"}, {"R1_DA_HIGH_RISK", "R16_HARMFUL_PRACTICES"}, ""});
  add({"HonourBasedAbuseAged17NotDaRules",
       With(Harmful(18, true, [](v1::HarmfulPracticeDetails* h) { h->set_honour_based_abuse(true); }),
            [](v1::Referral* r) { SetDash(r, 15); }),
       {"POLICE_SAFEGUARDING", "CHILDRENS_FRONT_DOOR"}, {}, ""});
  add({"ForcedMarriageNotDaRules",
       With(Harmful(29, false, [](v1::HarmfulPracticeDetails* h) { h->set_forced_marriage(true); }),
            [](v1::Referral* r) { SetDash(r, 15); }),
       {"POLICE_SAFEGUARDING"}, {}, ""});
  add({"HarmfulPracticeWithoutFlag", Harmful(30, false, [](v1::HarmfulPracticeDetails*) {}), {"CSU_TRIAGE"}, {},
       "R16_HARMFUL_PRACTICES not met, missing: none of FGM, forced marriage, honour based abuse"});

  // Rule 17: missing children; DCSM with exploitation indicators.
  add({"MissingChildReturned", Missing(14), {"MISSING_RHI"}, {"R17_MISSING_CHILD"}, "72 clock hours from the return"});
  add({"MissingChildAged17", Missing(18, true), {"MISSING_RHI"}, {}, ""});
  add({"MissingAged18NotAChild", Missing(18), {"CSU_TRIAGE"}, {"R17_MISSING_CHILD"},
       "R17_MISSING_CHILD not met, missing: age not 17 or under"});
  add({"MissingChildExploitedAlsoDcsm", With(Missing(15), [](v1::Referral* r) {
         r->mutable_exploitation()->set_county_lines(true);
       }),
       {"MISSING_RHI", "DCSM"}, {"R17_MISSING_CHILD", "R17_MISSING_CHILD"}, "exploitation: county lines"});
  add({"MissingChildSexuallyExploitedAlsoDcsm", With(Missing(13), [](v1::Referral* r) {
         r->mutable_exploitation()->set_sexual_exploitation(true);
       }),
       {"MISSING_RHI", "DCSM"}, {}, ""});
  add({"MissingChildSignificantHarmAlsoFrontDoor", With(Missing(13), [](v1::Referral* r) {
         r->mutable_exploitation()->set_significant_harm(true);
       }),
       {"CHILDRENS_FRONT_DOOR", "MISSING_RHI"}, {"R10_CHILD_SIGNIFICANT_HARM", "R17_MISSING_CHILD"}, ""});

  // The Violence Reduction Unit refers young people to the CMARAC and DCSM.
  add({"VruYoungPersonToDcsm", With(Efh(16), [](v1::Referral* r) { r->mutable_referrer()->set_agency_id("kent-vru"); }),
       {"DCSM"}, {"R6_EXTRA_FAMILIAL_HARM"}, ""});
  add({"VruYoungPersonToCmarac", With(Person(v1::ANTISOCIAL_BEHAVIOUR, DobForAge(17)), [](v1::Referral* r) {
         r->mutable_referrer()->set_agency_id("kent-vru");
         r->mutable_asb()->set_vulnerable_perpetrator(true);
         r->mutable_asb()->set_needs_multi_agency_plan(true);
       }),
       {"CMARAC"}, {"R7_COMPLEX_ASB"}, ""});

  // Rule 13.
  add({"OtherGoesToTriage", Person(v1::OTHER), {"CSU_TRIAGE"}, {RoutingEngine::kNoRuleId}, "no rule matched"});
  add({"UnspecifiedCategoryGoesToTriage", Person(v1::CATEGORY_UNSPECIFIED), {"CSU_TRIAGE"}, {}, "no rule matched"});
  return rows;
}

class RoutingTableTest : public ::testing::TestWithParam<Row> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(SampleEngine::Get().status().ok()) << SampleEngine::Get().status().ToString();
    engine_ = SampleEngine::Get().engine();
  }
  const RoutingEngine* engine_ = nullptr;
};

TEST_P(RoutingTableTest, RoutesAsTheRulesSay) {
  const Row& row = GetParam();
  FakeRoutingHistory history;
  const std::string key = engine_->SubjectKeyOf(row.referral);
  for (const auto& [dest, date] : row.history) {
    ASSERT_FALSE(key.empty());
    history.Add(key, dest, Date(date));
  }
  const std::vector<RoutingDecision> got = engine_->Route(row.referral, row.submitted_on, history);
  std::vector<std::string> dests, rules;
  std::string all_reasons;
  for (const RoutingDecision& d : got) {
    dests.push_back(d.destination);
    rules.push_back(d.rule_id);
    all_reasons += d.destination + " [" + d.rule_id + "]: " + d.reason + "\n";
    EXPECT_FALSE(d.reason.empty()) << d.destination;
    EXPECT_FALSE(d.rule_id.empty()) << d.destination;
    EXPECT_GT(d.deadline.year, 0) << d.destination;
    EXPECT_FALSE(d.deadline < row.submitted_on) << d.destination;
  }
  EXPECT_EQ(dests, row.want) << all_reasons;
  if (!row.want_rules.empty()) {
    EXPECT_EQ(rules, row.want_rules) << all_reasons;
  }
  if (!row.reason_has.empty()) {
    ASSERT_FALSE(got.empty());
    EXPECT_NE(got.back().reason.find(row.reason_has), std::string::npos) << all_reasons;
  }
  // Reasons carry no personal data from the referral.
  for (const RoutingDecision& d : got) {
    EXPECT_EQ(d.reason.find("Alex"), std::string::npos) << d.reason;
    EXPECT_EQ(d.reason.find("Example"), std::string::npos) << d.reason;
    if (!row.referral.person().date_of_birth().empty()) {
      EXPECT_EQ(d.reason.find(row.referral.person().date_of_birth()), std::string::npos) << d.reason;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(SampleConfig, RoutingTableTest, ::testing::ValuesIn(Rows()),
                         [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });

// --- Deadlines -------------------------------------------------------------

class RoutingEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(SampleEngine::Get().status().ok()) << SampleEngine::Get().status().ToString();
    engine_ = SampleEngine::Get().engine();
  }
  std::map<std::string, CivilDate> Deadlines(const v1::Referral& r, const CivilDate& on) const {
    std::map<std::string, CivilDate> out;
    for (const RoutingDecision& d : engine_->Route(r, on, NoRoutingHistory())) out[d.destination] = d.deadline;
    return out;
  }
  const RoutingEngine* engine_ = nullptr;
};

TEST_F(RoutingEngineTest, IdvaWithinOneWorkingDayOverAWeekendAndBankHoliday) {
  // Friday 2027-05-28; Monday 2027-05-31 is the spring bank holiday.
  auto d = Deadlines(Da(16), Date("2027-05-28"));
  EXPECT_EQ(d.at("IDVA"), Date("2027-06-01"));
  // The MARAC deadline is the next meeting (second Tuesday).
  EXPECT_EQ(d.at("DA_MARAC"), Date("2027-06-08"));
}

TEST_F(RoutingEngineTest, IdvaOverChristmas) {
  // Thursday 2026-12-24: Christmas Day (Fri), the weekend, Boxing Day
  // substitute (Mon 28th).
  EXPECT_EQ(Deadlines(Da(16), Date("2026-12-24")).at("IDVA"), Date("2026-12-29"));
}

TEST_F(RoutingEngineTest, DaMaracOnTheMeetingDayIsListedThatDay) {
  // No cut-off is configured for DA_MARAC.
  EXPECT_EQ(Deadlines(Da(16), Date("2027-01-12")).at("DA_MARAC"), Date("2027-01-12"));
  EXPECT_EQ(Deadlines(Da(16), Date("2027-01-13")).at("DA_MARAC"), Date("2027-02-09"));
}

TEST_F(RoutingEngineTest, DcsmDeadlineIsTheNextMeeting) {
  EXPECT_EQ(Deadlines(Efh(15), Date("2026-11-26")).at("DCSM"), Date("2026-12-03"));
  EXPECT_EQ(Deadlines(Efh(15), Date("2027-01-07")).at("DCSM"), Date("2027-01-07"));
  EXPECT_EQ(Deadlines(Efh(15), Date("2027-01-08")).at("DCSM"), Date("2027-02-04"));
}

TEST_F(RoutingEngineTest, CmaracNeedsTenDaysBeforeTheMeeting) {
  v1::Referral r = Person(v1::ANTISOCIAL_BEHAVIOUR);
  r.mutable_asb()->set_repeat_offender(true);
  // Meetings 2027-01-21 and 2027-02-18.
  EXPECT_EQ(Deadlines(r, Date("2027-01-11")).at("CMARAC"), Date("2027-01-21"));
  EXPECT_EQ(Deadlines(r, Date("2027-01-12")).at("CMARAC"), Date("2027-02-18"));
}

TEST_F(RoutingEngineTest, AdultSafeguardingStartsTheSameWorkingDay) {
  EXPECT_EQ(Deadlines(Adult(3), Date("2027-01-08")).at("ADULT_SOCIAL_CARE"), Date("2027-01-08"));  // Friday
  EXPECT_EQ(Deadlines(Adult(3), Date("2027-01-09")).at("ADULT_SOCIAL_CARE"), Date("2027-01-11"));  // Saturday
}

// A day deadline ends at 23:59:59 on London's clock: 22:59:59 UTC during
// British Summer Time, 23:59:59 UTC in winter.
TEST_F(RoutingEngineTest, ADayDeadlineEndsAtMidnightInLondon) {
  const auto due = [&](const CivilDate& on) -> int64_t {
    for (const RoutingDecision& d : engine_->Route(Adult(3), on, NoRoutingHistory())) {
      if (d.destination == "ADULT_SOCIAL_CARE") return d.deadline_unix;
    }
    ADD_FAILURE() << "no ADULT_SOCIAL_CARE decision on " << on.ToString();
    return 0;
  };
  EXPECT_EQ(due(Date("2027-07-09")), 1815173999);  // Friday 2027-07-09T22:59:59Z = 23:59:59 BST
  EXPECT_EQ(due(Date("2027-01-08")), 1799452799);  // Friday 2027-01-08T23:59:59Z = 23:59:59 GMT
}

TEST_F(RoutingEngineTest, AsbCaseReviewAcknowledgedWithinTenWorkingDays) {
  v1::Referral r = CommunityTrigger();
  AddIncident(&r, "2026-06-13", "2026-06-14", "A");
  AddIncident(&r, "2026-08-22", "2026-08-29", "B");
  AddIncident(&r, "2026-10-30", "2026-11-03", "C");
  EXPECT_EQ(Deadlines(r, kToday).at("ASB_CASE_REVIEW"), Date("2026-12-10"));
}

TEST_F(RoutingEngineTest, TriageByTheNextWorkingDay) {
  EXPECT_EQ(Deadlines(Person(v1::OTHER), Date("2026-11-27")).at("CSU_TRIAGE"), Date("2026-11-30"));
}

TEST_F(RoutingEngineTest, PastTheLastMeetingFallsBackToWorkingDaysAndSaysSo) {
  const CivilDate on = Date("2027-12-20");  // after the last DA_MARAC date listed
  for (const RoutingDecision& d : engine_->Route(Da(16), on, NoRoutingHistory())) {
    if (d.destination != "DA_MARAC") continue;
    EXPECT_EQ(d.deadline, Date("2027-12-21"));
    EXPECT_NE(d.reason.find("no DA_MARAC meeting date"), std::string::npos) << d.reason;
  }
}

// --- Other properties ------------------------------------------------------

TEST_F(RoutingEngineTest, FallbackIsListedOnceWithEveryReason) {
  // DA medium risk with stalking, no consent: both voluntary services are
  // replaced by one triage decision.
  v1::Referral r = Da(11);
  r.mutable_assessment()->set_stalking_reported(true);
  r.mutable_consent()->set_position(v1::CONSENT_REFUSED);
  const auto got = engine_->Route(r, kToday, NoRoutingHistory());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].destination, "CSU_TRIAGE");
  EXPECT_NE(got[0].reason.find("consent required by DA_OUTREACH: consent refused"), std::string::npos);
  EXPECT_NE(got[0].reason.find("consent required by STALKING: consent refused"), std::string::npos);
}

TEST_F(RoutingEngineTest, HistoryIsLookedUpByTheKeyedSubjectHash) {
  FakeRoutingHistory history;
  const v1::Referral r = Da(5);
  const std::string key = engine_->SubjectKeyOf(r);
  EXPECT_EQ(key, SubjectKey(TestSecret(), r));
  ASSERT_EQ(key.size(), 64u);
  history.Add(key, "DA_MARAC", Date("2026-03-01"));
  EXPECT_EQ(engine_->Route(r, kToday, history).front().destination, "DA_MARAC");
  EXPECT_GT(history.lookups(), 0);
  // The same person with a differently written name is the same subject.
  v1::Referral same = r;
  same.mutable_person()->set_given_name("  ALEX ");
  EXPECT_EQ(engine_->Route(same, kToday, history).front().destination, "DA_MARAC");
  // Someone else is not.
  v1::Referral other = r;
  other.mutable_person()->set_date_of_birth("1990-01-02");
  EXPECT_EQ(engine_->Route(other, kToday, history).front().destination, "DA_OUTREACH");
}

TEST_F(RoutingEngineTest, PreventAdoptionOpensChannel) {
  EXPECT_EQ(engine_->RouteOnOutcome("PREVENT", "ADOPTED_TO_CHANNEL"), std::optional<std::string>("CHANNEL"));
  EXPECT_EQ(engine_->RouteOnOutcome("PREVENT", "POLICE_LED"), std::nullopt);
  EXPECT_EQ(engine_->RouteOnOutcome("PREVENT", "NOT_APPROPRIATE"), std::nullopt);
  // Only the Prevent gateway may adopt a case to Channel.
  EXPECT_EQ(engine_->RouteOnOutcome("DCSM", "ADOPTED_TO_CHANNEL"), std::nullopt);
  EXPECT_EQ(engine_->RouteOnOutcome("PREVENT", "NO_SUCH_CODE"), std::nullopt);

  std::optional<RoutingDecision> d = engine_->RouteOnOutcome("PREVENT", "ADOPTED_TO_CHANNEL", Date("2027-01-04"));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->destination, "CHANNEL");
  EXPECT_EQ(d->rule_id, "OUTCOME:ADOPTED_TO_CHANNEL");
  EXPECT_EQ(d->deadline, Date("2027-01-20"));  // next Channel panel
}

TEST_F(RoutingEngineTest, SafeToShareBetweenThreads) {
  const std::vector<Row> rows = Rows();
  std::vector<std::vector<std::string>> expected;
  for (const Row& row : rows) {
    if (!row.history.empty()) continue;
    std::vector<std::string> d;
    for (const auto& x : engine_->Route(row.referral, row.submitted_on, NoRoutingHistory())) d.push_back(x.destination);
    expected.push_back(d);
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        size_t i = 0;
        for (const Row& row : rows) {
          if (!row.history.empty()) continue;
          std::vector<std::string> d;
          for (const auto& x : engine_->Route(row.referral, row.submitted_on, NoRoutingHistory())) {
            d.push_back(x.destination);
          }
          if (d != expected[i++]) ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}


// Rule 10 as a matrix: for each category, a referral about a person under
// 18 who is being harmed goes to the Front Door; the same referral about
// an 18-year-old, or about an unharmed child where the category's own
// rules do not send children there, does not.
TEST_F(RoutingEngineTest, ChildAtRiskOfSignificantHarmGoesToTheFrontDoorWhateverTheCategory) {
  struct Cell {
    v1::Category category;
    std::function<void(v1::Referral*)> harmed;  // what makes the child "being harmed" here
    bool unharmed_child_goes;                   // the category's own rules send any child
  };
  const auto flag = [](v1::Referral* r) { r->mutable_exploitation()->set_significant_harm(true); };
  const std::vector<Cell> cells = {
      {v1::CHILD_AT_RISK, [](v1::Referral*) {}, true},
      {v1::ADULT_AT_RISK,
       [](v1::Referral* r) {
         r->mutable_adult_care()->set_care_and_support_needs(true);
         r->mutable_adult_care()->set_experiencing_or_at_risk_of_abuse(true);
       },
       false},
      {v1::DOMESTIC_ABUSE, [](v1::Referral* r) { SetDash(r, 6); }, true},
      {v1::EXTRA_FAMILIAL_HARM,
       [&](v1::Referral* r) {
         r->mutable_exploitation()->set_county_lines(true);
         flag(r);
       },
       false},
      {v1::SUBSTANCE_MISUSE, flag, false},
      {v1::ANTISOCIAL_BEHAVIOUR, flag, false},
      {v1::STALKING, flag, false},
      {v1::OTHER, flag, false},
      {v1::MISSING_CHILD, flag, false},
      {v1::BUSINESS_CRIME, flag, false},
      {v1::RADICALISATION, flag, true},
      {v1::MODERN_SLAVERY,
       [&](v1::Referral* r) {
         r->mutable_exploitation()->set_labour_exploitation(true);
         flag(r);
       },
       true},
      {v1::HARMFUL_PRACTICES,
       [&](v1::Referral* r) {
         r->mutable_harmful_practice()->set_forced_marriage(true);
         flag(r);
       },
       true},
  };
  auto goes_to_front_door = [&](const v1::Referral& r) {
    for (const RoutingDecision& d : engine_->Route(r, kToday, NoRoutingHistory())) {
      if (d.destination == "CHILDRENS_FRONT_DOOR") return true;
    }
    return false;
  };
  for (const Cell& cell : cells) {
    SCOPED_TRACE(v1::Category_Name(cell.category));
    // 17 (the 18th birthday is tomorrow), being harmed.
    v1::Referral child = Person(cell.category, DobForAge(18, true));
    cell.harmed(&child);
    EXPECT_TRUE(goes_to_front_door(child));
    if (cell.category == v1::CHILD_AT_RISK) continue;  // any age: the category is the test
    // 18 today, the same facts.
    v1::Referral adult = child;
    adult.mutable_person()->set_date_of_birth(DobForAge(18));
    EXPECT_FALSE(goes_to_front_door(adult));
    // A child not being harmed: only categories that send every child.
    v1::Referral unharmed = Person(cell.category, DobForAge(15));
    if (cell.category == v1::DOMESTIC_ABUSE) SetDash(&unharmed, 6);
    if (cell.category == v1::MODERN_SLAVERY) unharmed.mutable_exploitation()->set_labour_exploitation(true);
    if (cell.category == v1::HARMFUL_PRACTICES) unharmed.mutable_harmful_practice()->set_forced_marriage(true);
    if (cell.category == v1::EXTRA_FAMILIAL_HARM) unharmed.mutable_exploitation()->set_county_lines(true);
    EXPECT_EQ(goes_to_front_door(unharmed), cell.unharmed_child_goes);
  }
}

TEST_F(RoutingEngineTest, FgmInAGirlIsDueByTheEndOfTheNextWorkingDay) {
  // Friday 2026-12-18: the next working day is Monday 2026-12-21.
  const v1::Referral fgm = Harmful(15, false, [](v1::HarmfulPracticeDetails* h) { h->set_fgm(true); });
  const auto d = Deadlines(fgm, Date("2026-12-18"));
  EXPECT_EQ(d.at("POLICE_SAFEGUARDING"), Date("2026-12-21"));
  // Forced marriage: the same working day.
  const v1::Referral fm = Harmful(15, false, [](v1::HarmfulPracticeDetails* h) { h->set_forced_marriage(true); });
  EXPECT_EQ(Deadlines(fm, Date("2026-12-18")).at("POLICE_SAFEGUARDING"), Date("2026-12-18"));
  for (const RoutingDecision& dec : engine_->Route(fgm, Date("2026-12-18"), NoRoutingHistory())) {
    if (dec.destination == "POLICE_SAFEGUARDING") {
      EXPECT_NE(dec.reason.find("FGM mandatory report: by the end of the next working day"), std::string::npos);
    }
  }
}

// The return-home interview deadline is 72 clock hours from the return,
// whatever day the referral is submitted: through a weekend, and through
// the end of British Summer Time (Sunday 2026-10-25, 02:00 BST -> 01:00 GMT).
TEST_F(RoutingEngineTest, ReturnHomeInterviewIsDue72ClockHoursAfterTheReturn) {
  v1::Referral r = Missing(14);
  // Returned Friday 2026-10-23 at 18:30 BST (17:30 UTC); referred Saturday.
  r.mutable_missing()->set_returned_at("2026-10-23T18:30:00+01:00");
  const std::vector<RoutingDecision> got = engine_->Route(r, Date("2026-10-24"), NoRoutingHistory());
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].destination, "MISSING_RHI");
  const int64_t returned = 1792776600;  // 2026-10-23T17:30:00Z
  EXPECT_EQ(got[0].deadline_unix, returned + 72 * 3600);
  // 72 elapsed hours later the clocks have gone back: 17:30 GMT on Monday,
  // not 18:30, and not Wednesday (working days would skip the weekend).
  EXPECT_EQ(got[0].deadline, Date("2026-10-26"));
  EXPECT_NE(got[0].reason.find("due 2026-10-26 17:30 GMT: 72 clock hours from the return"), std::string::npos)
      << got[0].reason;
  // Into summer time: returned Friday 2027-03-26 (Good Friday) 20:00 GMT;
  // BST starts Sunday 2027-03-28; due Monday 21:00 BST (a bank holiday).
  r.mutable_missing()->set_returned_at("2027-03-26T20:00:00Z");
  const std::vector<RoutingDecision> spring = engine_->Route(r, Date("2027-03-27"), NoRoutingHistory());
  ASSERT_EQ(spring.size(), 1u);
  EXPECT_EQ(spring[0].deadline, Date("2027-03-29"));
  EXPECT_NE(spring[0].reason.find("2027-03-29 21:00 BST"), std::string::npos) << spring[0].reason;
}

TEST_F(RoutingEngineTest, ReturnHomeInterviewWithoutAReturnTimeCountsFromSubmission) {
  v1::Referral r = Missing(14);
  r.mutable_missing()->clear_returned_at();
  const int64_t submitted = 1795684800;  // 2026-11-26T09:20:00Z
  const std::vector<RoutingDecision> got = engine_->Route(r, kToday, NoRoutingHistory(), submitted);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].deadline_unix, submitted + 72 * 3600);
  EXPECT_NE(got[0].reason.find("from submission (no return time given)"), std::string::npos) << got[0].reason;
}

TEST(RoutingEngineCreateTest, RefusesBadArguments) {
  std::unique_ptr<RoutingEngine> engine;
  EXPECT_EQ(RoutingEngine::Create(nullptr, "", &engine).code(), Status::Code::kInvalidArgument);
  std::unique_ptr<PartnershipConfig> config;
  ASSERT_TRUE(refx::testing::LoadSampleConfig(&config).ok());
  EXPECT_EQ(RoutingEngine::Create(config.get(), "short", &engine).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(engine, nullptr);
  // Without a secret, routing works but history is not consulted.
  ASSERT_TRUE(RoutingEngine::Create(config.get(), "", &engine).ok());
  EXPECT_EQ(engine->SubjectKeyOf(Da(5)), "");
  FakeRoutingHistory history;
  EXPECT_EQ(engine->Route(Da(5), kToday, history).front().destination, "DA_OUTREACH");
  EXPECT_EQ(history.lookups(), 0);
}

// --- Rule semantics on a small configuration ---------------------------------

class RuleSemanticsTest : public ::testing::Test {
 protected:
  // A partnership with one agency, destinations TRIAGE (fallback), ALPHA,
  // BRAVO, CHARLIE and VOLUNTARY (needs consent), and the given rules.
  Status Load(const std::string& rules) {
    CurveKeyPair pair;
    REFX_RETURN_IF_ERROR(GenerateCurveKeyPair(&pair));
    const std::string text =
        "name: \"Test\"\n"
        "agencies { id: \"csu\" roles: [LEAD] public_key: \"" + pair.public_key + "\" }\n"
        "destinations { code: \"TRIAGE\" agency_id: \"csu\" ack_deadline_working_days: 1 }\n"
        "destinations { code: \"ALPHA\" agency_id: \"csu\" }\n"
        "destinations { code: \"BRAVO\" agency_id: \"csu\" }\n"
        "destinations { code: \"CHARLIE\" agency_id: \"csu\" }\n"
        "destinations { code: \"VOLUNTARY\" agency_id: \"csu\" consent_required: true }\n"
        "fallback_destination: \"TRIAGE\"\n" + rules;
    REFX_RETURN_IF_ERROR(PartnershipConfig::Parse(text, "test.textproto", ".", &config_));
    return RoutingEngine::Create(config_.get(), "", &engine_);
  }
  std::vector<std::string> Route(const v1::Referral& r) const {
    std::vector<std::string> out;
    for (const RoutingDecision& d : engine_->Route(r, kToday, NoRoutingHistory())) {
      out.push_back(d.destination + "/" + d.rule_id);
    }
    return out;
  }
  std::unique_ptr<PartnershipConfig> config_;
  std::unique_ptr<RoutingEngine> engine_;
};

TEST_F(RuleSemanticsTest, LaterRulesAddUntilStopAndNothingIsListedTwice) {
  ASSERT_TRUE(Load("rules { id: \"FIRST\" when { category_in: [OTHER] } targets { destination: \"ALPHA\" } }\n"
                   "rules { id: \"SECOND\" when { category_in: [OTHER] }\n"
                   "        targets { destination: \"ALPHA\" } targets { destination: \"BRAVO\" } after_match: STOP }\n"
                   "rules { id: \"THIRD\" when { category_in: [OTHER] } targets { destination: \"CHARLIE\" } }\n")
                  .ok());
  EXPECT_EQ(Route(Person(v1::OTHER)), (std::vector<std::string>{"ALPHA/FIRST", "BRAVO/SECOND"}));
}

TEST_F(RuleSemanticsTest, ExclusiveGroupTakesTheFirstThatApplies) {
  ASSERT_TRUE(Load("rules { id: \"HIGH\" exclusive_group: \"G\" when { dash_score { at_least: 14 } }\n"
                   "        targets { destination: \"ALPHA\" } }\n"
                   "rules { id: \"ANY\" exclusive_group: \"G\" when { category_in: [DOMESTIC_ABUSE] }\n"
                   "        targets { destination: \"BRAVO\" } }\n"
                   "rules { id: \"ALSO\" when { category_in: [DOMESTIC_ABUSE] } targets { destination: \"CHARLIE\" } }\n")
                  .ok());
  EXPECT_EQ(Route(Da(15)), (std::vector<std::string>{"ALPHA/HIGH", "CHARLIE/ALSO"}));
  EXPECT_EQ(Route(Da(3)), (std::vector<std::string>{"BRAVO/ANY", "CHARLIE/ALSO"}));
  // HIGH cannot be decided without a DASH: the group is settled by triage.
  EXPECT_EQ(Route(Person(v1::DOMESTIC_ABUSE)), (std::vector<std::string>{"TRIAGE/HIGH", "CHARLIE/ALSO"}));
}

TEST_F(RuleSemanticsTest, NotAnyOfAllOfInThreeValuedLogic) {
  ASSERT_TRUE(Load("rules { id: \"NOT_GIVEN\" when { category_in: [OTHER] not { consent_in: [CONSENT_GIVEN] } }\n"
                   "        targets { destination: \"ALPHA\" } }\n"
                   "rules { id: \"OR\" when { any_of { category_in: [OTHER] } any_of { dash_score { at_most: 2 } } }\n"
                   "        targets { destination: \"BRAVO\" } }\n"
                   "rules { id: \"AND\" when { all_of { category_in: [STALKING] } all_of { dash_score { at_most: 2 } } }\n"
                   "        targets { destination: \"CHARLIE\" } }\n")
                  .ok());
  v1::Referral r = Person(v1::OTHER);
  // OR: a true part wins over an undecided one (there is no DASH).
  EXPECT_EQ(Route(r), (std::vector<std::string>{"BRAVO/OR"}));
  r.mutable_consent()->set_position(v1::CONSENT_REFUSED);
  EXPECT_EQ(Route(r), (std::vector<std::string>{"ALPHA/NOT_GIVEN", "BRAVO/OR"}));
  v1::Referral da = Da(1);
  EXPECT_EQ(Route(da), (std::vector<std::string>{"BRAVO/OR"}));
  // Undecided OR and AND: triage, with both reasons.
  const auto stalking = engine_->Route(Person(v1::STALKING), kToday, NoRoutingHistory());
  ASSERT_EQ(stalking.size(), 1u);
  EXPECT_EQ(stalking[0].destination, "TRIAGE");
  EXPECT_EQ(stalking[0].reason, "OR cannot be applied: no DASH score; AND cannot be applied: no DASH score");
  // AND: a false part wins over an undecided one.
  const auto prevent = engine_->Route(Person(v1::RADICALISATION), kToday, NoRoutingHistory());
  ASSERT_EQ(prevent.size(), 1u);
  EXPECT_EQ(prevent[0].reason, "OR cannot be applied: no DASH score");
}

TEST_F(RuleSemanticsTest, ConsentRequiredDestinationIsReplacedByTheFallback) {
  ASSERT_TRUE(Load("rules { id: \"VOL\" when { category_in: [OTHER] } targets { destination: \"VOLUNTARY\" }\n"
                   "        targets { destination: \"ALPHA\" } }\n")
                  .ok());
  v1::Referral r = Person(v1::OTHER);
  EXPECT_EQ(Route(r), (std::vector<std::string>{"VOLUNTARY/VOL", "ALPHA/VOL"}));
  r.mutable_consent()->set_position(v1::CONSENT_NOT_SOUGHT);
  EXPECT_EQ(Route(r), (std::vector<std::string>{"TRIAGE/VOL", "ALPHA/VOL"}));
}

}  // namespace
}  // namespace refx
