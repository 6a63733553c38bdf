// Unit tests for refx::ValidateReferral. Table-driven: each case starts from
// a valid minimal referral, changes one thing, and states the outcome.

#include "core/referral_validation.h"

#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "tests/unit/test_util.h"

namespace refx {
namespace {

// Fixed "today" so that the tests do not depend on the clock.
const CivilDate kToday{2026, 11, 26};

// A valid minimal referral about a person (synthetic data).
v1::Referral MinimalPersonReferral() {
  v1::Referral r;
  r.set_referrer_reference("KP-2026-0001");
  r.set_category(v1::DOMESTIC_ABUSE);
  r.mutable_referrer()->set_agency_id("kent-police");
  r.mutable_consent()->set_position(v1::CONSENT_GIVEN);
  r.set_lawful_basis(v1::PUBLIC_TASK);
  v1::Person* p = r.mutable_person();
  p->set_given_name("Alex");
  p->set_family_name("Example");
  p->set_date_of_birth("1990-05-17");
  return r;
}

// A valid minimal referral about a context (a place).
v1::Referral MinimalContextReferral() {
  v1::Referral r;
  r.set_referrer_reference("DCSM-CTX-7");
  r.set_category(v1::EXTRA_FAMILIAL_HARM);
  r.mutable_referrer()->set_agency_id("sevenoaks-csu");
  r.mutable_consent()->set_position(v1::CONSENT_NOT_SOUGHT);
  r.mutable_consent()->set_reason("contextual referral about a place");
  r.set_lawful_basis(v1::PUBLIC_TASK);
  v1::ContextSubject* c = r.mutable_context();
  c->set_kind(v1::LOCATION);
  c->set_name("Example Skate Park");
  c->set_ward("Example Ward");
  return r;
}

void SetDash(v1::Assessment* a, int count, int yes) {
  a->clear_dash_answers();
  for (int i = 0; i < count; ++i) a->add_dash_answers(i < yes);
}

void SetSdash(v1::Assessment* a, int count, int yes) {
  a->clear_sdash_answers();
  for (int i = 0; i < count; ++i) a->add_sdash_answers(i < yes);
}

struct Case {
  const char* name;
  std::function<v1::Referral()> base;
  std::function<void(v1::Referral*)> mutate;
  // Expected field_path of the InvalidArgument; empty means the referral is valid.
  std::string field_path;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string CaseName(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

const auto kPerson = MinimalPersonReferral;
const auto kContext = MinimalContextReferral;
const auto kNoChange = [](v1::Referral*) {};

// ---------------------------------------------------------------------------
// Referrals that must be accepted.

class ValidReferralTest : public ::testing::TestWithParam<Case> {};

TEST_P(ValidReferralTest, IsAccepted) {
  v1::Referral r = GetParam().base();
  GetParam().mutate(&r);
  Status s = ValidateReferral(r, kToday);
  EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << r.DebugString();
}

INSTANTIATE_TEST_SUITE_P(
    Referrals, ValidReferralTest,
    ::testing::Values(
        Case{"MinimalPerson", kPerson, kNoChange, ""},
        Case{"MinimalContextLocation", kContext, kNoChange, ""},
        Case{"ContextPeerGroupWithAges", kContext,
             [](v1::Referral* r) {
               r->mutable_context()->set_kind(v1::PEER_GROUP);
               r->mutable_context()->set_youngest_age(13);
               r->mutable_context()->set_oldest_age(17);
             },
             ""},
        Case{"AgeInsteadOfDateOfBirth", kPerson,
             [](v1::Referral* r) {
               r->mutable_person()->clear_date_of_birth();
               r->mutable_person()->set_age_years(34);
             },
             ""},
        Case{"OnlyAnAlias", kPerson,
             [](v1::Referral* r) {
               r->mutable_person()->clear_given_name();
               r->mutable_person()->clear_family_name();
               r->mutable_person()->add_aliases("Sam Sample");
             },
             ""},
        Case{"DateOfBirthToday", kPerson,
             [](v1::Referral* r) { r->mutable_person()->set_date_of_birth("2026-11-26"); }, ""},
        Case{"LeapDayDateOfBirth", kPerson,
             [](v1::Referral* r) { r->mutable_person()->set_date_of_birth("2000-02-29"); }, ""},
        Case{"ReferenceOf128Characters", kPerson,
             [](v1::Referral* r) { r->set_referrer_reference(std::string(128, 'A')); }, ""},
        Case{"ReferenceOfOneCharacter", kPerson, [](v1::Referral* r) { r->set_referrer_reference("~"); }, ""},
        Case{"ConsentRefusedWithReason", kPerson,
             [](v1::Referral* r) {
               r->mutable_consent()->set_position(v1::CONSENT_REFUSED);
               r->mutable_consent()->set_reason("risk to life outweighs refusal");
             },
             ""},
        Case{"FullDash", kPerson,
             [](v1::Referral* r) {
               auto* a = r->mutable_assessment();
               a->set_tool(v1::DASH);
               SetDash(a, 24, 14);
               a->set_score(14);
               a->set_risk_level(v1::HIGH);
             },
             ""},
        Case{"DashScoreWithoutAnswers", kPerson,
             [](v1::Referral* r) {
               r->mutable_assessment()->set_tool(v1::DASH);
               r->mutable_assessment()->set_score(24);
             },
             ""},
        Case{"DashProfessionalJudgementOnly", kPerson,
             [](v1::Referral* r) {
               r->mutable_assessment()->set_tool(v1::DASH);
               r->mutable_assessment()->set_professional_judgement(true);
             },
             ""},
        Case{"FullSdash", kPerson,
             [](v1::Referral* r) {
               r->set_category(v1::STALKING);
               auto* a = r->mutable_assessment();
               a->set_tool(v1::S_DASH);
               SetSdash(a, 11, 6);
               a->set_score(6);
             },
             ""},
        Case{"PreviousMaracDateToday", kPerson,
             [](v1::Referral* r) { r->mutable_assessment()->set_previous_marac_date("2026-11-26"); }, ""},
        Case{"AsbIncidents", kContext,
             [](v1::Referral* r) {
               r->set_category(v1::ANTISOCIAL_BEHAVIOUR);
               auto* i = r->add_asb_incidents();
               i->set_incident_date("2026-10-01");
               i->set_reported_date("2026-10-02");
               r->add_asb_incidents()->set_incident_date("2026-11-26");
             },
             ""}),
    CaseName);

// ---------------------------------------------------------------------------
// Referrals that must be refused, naming the first offending field.

class InvalidReferralTest : public ::testing::TestWithParam<Case> {};

TEST_P(InvalidReferralTest, IsRefusedNamingTheField) {
  v1::Referral r = GetParam().base();
  // The unchanged base is valid, so the failure is due to the mutation.
  ASSERT_TRUE(ValidateReferral(r, kToday).ok());
  GetParam().mutate(&r);
  Status s = ValidateReferral(r, kToday);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(s.field_path(), GetParam().field_path) << s.ToString();
  EXPECT_FALSE(s.message().empty());
  // The message never quotes personal data.
  for (const char* personal : {"Alex", "Example", "1990-05-17"}) {
    EXPECT_EQ(s.message().find(personal), std::string::npos) << s.message();
  }
}

v1::Referral PersonWithDob(const std::string& dob) {
  v1::Referral r = MinimalPersonReferral();
  r.mutable_person()->set_date_of_birth(dob);
  return r;
}

INSTANTIATE_TEST_SUITE_P(
    Envelope, InvalidReferralTest,
    ::testing::Values(
        Case{"MissingReference", kPerson, [](v1::Referral* r) { r->clear_referrer_reference(); },
             "referral.referrer_reference"},
        Case{"ReferenceOf129Characters", kPerson,
             [](v1::Referral* r) { r->set_referrer_reference(std::string(129, 'A')); },
             "referral.referrer_reference"},
        Case{"ReferenceWithSpace", kPerson, [](v1::Referral* r) { r->set_referrer_reference("KP 2026 0001"); },
             "referral.referrer_reference"},
        Case{"ReferenceWithTab", kPerson, [](v1::Referral* r) { r->set_referrer_reference("KP\t1"); },
             "referral.referrer_reference"},
        Case{"ReferenceNonAscii", kPerson, [](v1::Referral* r) { r->set_referrer_reference("KP-\xc3\xa9"); },
             "referral.referrer_reference"},
        Case{"CategoryUnspecified", kPerson, [](v1::Referral* r) { r->set_category(v1::CATEGORY_UNSPECIFIED); },
             "referral.category"},
        Case{"CategoryUnknown", kPerson,
             [](v1::Referral* r) { r->set_category(static_cast<v1::Category>(99)); }, "referral.category"},
        Case{"UrgencyUnknown", kPerson, [](v1::Referral* r) { r->set_urgency(static_cast<v1::Urgency>(99)); },
             "referral.urgency"},
        Case{"MissingAgencyId", kPerson, [](v1::Referral* r) { r->mutable_referrer()->clear_agency_id(); },
             "referral.referrer.agency_id"},
        Case{"MissingReferrer", kPerson, [](v1::Referral* r) { r->clear_referrer(); },
             "referral.referrer.agency_id"},
        Case{"MissingConsentPosition", kPerson, [](v1::Referral* r) { r->clear_consent(); },
             "referral.consent.position"},
        Case{"UnknownConsentPosition", kPerson,
             [](v1::Referral* r) {
               r->mutable_consent()->set_position(static_cast<v1::ConsentPosition>(42));
             },
             "referral.consent.position"},
        Case{"ConsentRefusedWithoutReason", kPerson,
             [](v1::Referral* r) { r->mutable_consent()->set_position(v1::CONSENT_REFUSED); },
             "referral.consent.reason"},
        Case{"ConsentNotSoughtWithoutReason", kPerson,
             [](v1::Referral* r) { r->mutable_consent()->set_position(v1::CONSENT_NOT_SOUGHT); },
             "referral.consent.reason"},
        Case{"MissingLawfulBasis", kPerson, [](v1::Referral* r) { r->clear_lawful_basis(); },
             "referral.lawful_basis"},
        Case{"UnknownLawfulBasis", kPerson,
             [](v1::Referral* r) { r->set_lawful_basis(static_cast<v1::LawfulBasis>(77)); },
             "referral.lawful_basis"},
        Case{"NoSubject", kPerson, [](v1::Referral* r) { r->clear_subject(); }, "referral.person"},
        // Several problems: the first in checking order is named.
        Case{"FirstProblemIsNamed", kPerson,
             [](v1::Referral* r) {
               r->clear_category();
               r->clear_lawful_basis();
               r->clear_subject();
             },
             "referral.category"},
        Case{"IncidentDateInFuture", kPerson, [](v1::Referral* r) { r->set_incident_date("2026-11-27"); },
             "referral.incident_date"},
        Case{"PerpetratorDateOfBirthMalformed", kPerson,
             [](v1::Referral* r) { r->mutable_perpetrator()->set_date_of_birth("1980-1-01"); },
             "referral.perpetrator.date_of_birth"}),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    Person, InvalidReferralTest,
    ::testing::Values(
        Case{"NoName", kPerson,
             [](v1::Referral* r) {
               r->mutable_person()->clear_given_name();
               r->mutable_person()->clear_family_name();
             },
             "referral.person.family_name"},
        Case{"NeitherDateOfBirthNorAge", kPerson, [](v1::Referral* r) { r->mutable_person()->clear_date_of_birth(); },
             "referral.person.date_of_birth"},
        Case{"DateOfBirthTomorrow", kPerson,
             [](v1::Referral* r) { r->mutable_person()->set_date_of_birth("2026-11-27"); },
             "referral.person.date_of_birth"},
        Case{"DateOfBirthNextYear", kPerson,
             [](v1::Referral* r) { r->mutable_person()->set_date_of_birth("2027-01-01"); },
             "referral.person.date_of_birth"},
        Case{"DateOfBirthFebruary30", kPerson,
             [](v1::Referral* r) { r->mutable_person()->set_date_of_birth("2026-02-30"); },
             "referral.person.date_of_birth"},
        Case{"DateOfBirthNotLeapYear", kPerson,
             [](v1::Referral* r) { r->mutable_person()->set_date_of_birth("1999-02-29"); },
             "referral.person.date_of_birth"},
        Case{"DateOfBirthWrongForm", kPerson,
             [](v1::Referral* r) { r->mutable_person()->set_date_of_birth("17/05/1990"); },
             "referral.person.date_of_birth"},
        Case{"AgeOver120", kPerson,
             [](v1::Referral* r) {
               r->mutable_person()->clear_date_of_birth();
               r->mutable_person()->set_age_years(121);
             },
             "referral.person.age_years"},
        Case{"UnknownGender", kPerson,
             [](v1::Referral* r) { r->mutable_person()->set_gender(static_cast<v1::Gender>(9)); },
             "referral.person.gender"}),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    Context, InvalidReferralTest,
    ::testing::Values(
        Case{"NoKind", kContext, [](v1::Referral* r) { r->mutable_context()->clear_kind(); },
             "referral.context.kind"},
        Case{"UnknownKind", kContext,
             [](v1::Referral* r) { r->mutable_context()->set_kind(static_cast<v1::ContextKind>(5)); },
             "referral.context.kind"},
        Case{"NoName", kContext, [](v1::Referral* r) { r->mutable_context()->clear_name(); },
             "referral.context.name"},
        Case{"YoungestOlderThanOldest", kContext,
             [](v1::Referral* r) {
               r->mutable_context()->set_youngest_age(16);
               r->mutable_context()->set_oldest_age(12);
             },
             "referral.context.youngest_age"}),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    Assessment, InvalidReferralTest,
    ::testing::Values(
        Case{"Dash23Answers", kPerson,
             [](v1::Referral* r) {
               r->mutable_assessment()->set_tool(v1::DASH);
               SetDash(r->mutable_assessment(), 23, 0);
             },
             "referral.assessment.dash_answers"},
        Case{"Dash25Answers", kPerson,
             [](v1::Referral* r) {
               r->mutable_assessment()->set_tool(v1::DASH);
               SetDash(r->mutable_assessment(), 25, 0);
             },
             "referral.assessment.dash_answers"},
        Case{"DashToolWithNothing", kPerson, [](v1::Referral* r) { r->mutable_assessment()->set_tool(v1::DASH); },
             "referral.assessment.dash_answers"},
        Case{"Sdash12Answers", kPerson,
             [](v1::Referral* r) {
               r->set_category(v1::STALKING);
               r->mutable_assessment()->set_tool(v1::S_DASH);
               SetSdash(r->mutable_assessment(), 12, 0);
             },
             "referral.assessment.sdash_answers"},
        Case{"Sdash10Answers", kPerson,
             [](v1::Referral* r) {
               r->mutable_assessment()->set_tool(v1::S_DASH);
               SetSdash(r->mutable_assessment(), 10, 0);
             },
             "referral.assessment.sdash_answers"},
        Case{"DashScoreNotYesCount", kPerson,
             [](v1::Referral* r) {
               auto* a = r->mutable_assessment();
               a->set_tool(v1::DASH);
               SetDash(a, 24, 14);
               a->set_score(13);
             },
             "referral.assessment.score"},
        Case{"DashAnswersWithoutScore", kPerson,
             [](v1::Referral* r) {
               auto* a = r->mutable_assessment();
               a->set_tool(v1::DASH);
               SetDash(a, 24, 3);
             },
             "referral.assessment.score"},
        Case{"SdashScoreNotYesCount", kPerson,
             [](v1::Referral* r) {
               auto* a = r->mutable_assessment();
               a->set_tool(v1::S_DASH);
               SetSdash(a, 11, 5);
               a->set_score(6);
             },
             "referral.assessment.score"},
        Case{"DashScore25", kPerson,
             [](v1::Referral* r) {
               r->mutable_assessment()->set_tool(v1::DASH);
               r->mutable_assessment()->set_score(25);
             },
             "referral.assessment.score"},
        Case{"SdashScore12", kPerson,
             [](v1::Referral* r) {
               r->mutable_assessment()->set_tool(v1::S_DASH);
               r->mutable_assessment()->set_score(12);
             },
             "referral.assessment.score"},
        Case{"UnknownTool", kPerson,
             [](v1::Referral* r) { r->mutable_assessment()->set_tool(static_cast<v1::AssessmentTool>(8)); },
             "referral.assessment.tool"},
        Case{"UnknownRiskLevel", kPerson,
             [](v1::Referral* r) { r->mutable_assessment()->set_risk_level(static_cast<v1::RiskLevel>(8)); },
             "referral.assessment.risk_level"},
        Case{"PoliceIncidentsOutOfRange", kPerson,
             [](v1::Referral* r) { r->mutable_assessment()->set_police_incidents_12m(1001); },
             "referral.assessment.police_incidents_12m"},
        Case{"PreviousMaracDateInFuture", kPerson,
             [](v1::Referral* r) { r->mutable_assessment()->set_previous_marac_date("2026-12-01"); },
             "referral.assessment.previous_marac_date"},
        Case{"PreviousMaracDateMalformed", kPerson,
             [](v1::Referral* r) { r->mutable_assessment()->set_previous_marac_date("2026-13-01"); },
             "referral.assessment.previous_marac_date"}),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    AsbIncidents, InvalidReferralTest,
    ::testing::Values(
        Case{"FirstMissingDate", kContext,
             [](v1::Referral* r) { r->add_asb_incidents()->set_reference("ASB-1"); },
             "referral.asb_incidents[0].incident_date"},
        Case{"SecondMissingDate", kContext,
             [](v1::Referral* r) {
               r->add_asb_incidents()->set_incident_date("2026-10-01");
               r->add_asb_incidents()->set_reported_date("2026-10-03");
             },
             "referral.asb_incidents[1].incident_date"},
        Case{"IncidentDateInFuture", kContext,
             [](v1::Referral* r) { r->add_asb_incidents()->set_incident_date("2026-11-30"); },
             "referral.asb_incidents[0].incident_date"},
        Case{"ReportedDateMalformed", kContext,
             [](v1::Referral* r) {
               auto* i = r->add_asb_incidents();
               i->set_incident_date("2026-10-01");
               i->set_reported_date("2026-10-1");
             },
             "referral.asb_incidents[0].reported_date"}),
    CaseName);

// ---------------------------------------------------------------------------
// Other properties.

TEST(ReferralValidationTest, StatusToStringCarriesCodeAndPath) {
  v1::Referral r = MinimalPersonReferral();
  r.mutable_assessment()->set_tool(v1::DASH);
  SetDash(r.mutable_assessment(), 23, 0);
  Status s = ValidateReferral(r, kToday);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.ToString().rfind("INVALID_ARGUMENT: referral.assessment.dash_answers: ", 0), 0u) << s.ToString();
}

TEST(ReferralValidationTest, FutureMessageDoesNotQuoteTheDate) {
  v1::Referral r = PersonWithDob("2026-12-25");
  Status s = ValidateReferral(r, kToday);
  ASSERT_EQ(s.field_path(), "referral.person.date_of_birth");
  EXPECT_EQ(s.message().find("2026-12-25"), std::string::npos) << s.message();
}

TEST(ReferralValidationTest, TodayDecidesWhatIsInTheFuture) {
  v1::Referral r = PersonWithDob("2026-11-27");
  EXPECT_FALSE(ValidateReferral(r, kToday).ok());
  EXPECT_TRUE(ValidateReferral(r, CivilDate{2026, 11, 27}).ok());
}

// S-DASH answers sent without tool = S_DASH are checked against sdash_score.
TEST(ReferralValidationTest, SdashAnswersWithoutToolMustMatchSdashScore) {
  v1::Referral r = MinimalPersonReferral();
  r.set_category(v1::STALKING);
  auto* a = r.mutable_assessment();
  SetSdash(a, 11, 4);  // 4 yes answers, tool left unspecified
  a->set_sdash_score(9);
  Status s = ValidateReferral(r, kToday);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(s.field_path(), "referral.assessment.sdash_score") << s.ToString();
  a->set_sdash_score(4);
  EXPECT_TRUE(ValidateReferral(r, kToday).ok());
}

// Every offending field is reported at once, in the order the checks run;
// the first is also the status' field_path, and the message names the rest.
TEST(ReferralValidationTest, ReportsEveryBadFieldAtOnce) {
  v1::Referral r = MinimalPersonReferral();
  r.clear_category();
  r.mutable_consent()->set_position(v1::CONSENT_REFUSED);  // without a reason
  r.mutable_person()->set_date_of_birth("2026-13-01");
  r.mutable_assessment()->set_tool(v1::DASH);
  SetDash(r.mutable_assessment(), 23, 0);
  r.set_incident_date("2027-01-01");  // after kToday
  Status s = ValidateReferral(r, kToday);
  ASSERT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  std::vector<std::string> paths;
  for (const FieldViolation& v : s.violations()) {
    paths.push_back(v.field_path);
    EXPECT_FALSE(v.message.empty()) << v.field_path;
  }
  const std::vector<std::string> expected = {"referral.category", "referral.consent.reason",
                                             "referral.person.date_of_birth", "referral.assessment.dash_answers",
                                             "referral.incident_date"};
  EXPECT_EQ(paths, expected) << s.ToString();
  EXPECT_EQ(s.field_path(), "referral.category");
  for (size_t i = 1; i < expected.size(); ++i) {
    EXPECT_NE(s.message().find(expected[i]), std::string::npos) << s.message();
  }
  EXPECT_NE(s.message().find("and 4 more"), std::string::npos) << s.message();
}

// A single bad field is reported exactly as before (message and path).
TEST(ReferralValidationTest, OneBadFieldIsOneViolation) {
  v1::Referral r = MinimalPersonReferral();
  r.clear_lawful_basis();
  Status s = ValidateReferral(r, kToday);
  ASSERT_EQ(s.violations().size(), 1u) << s.ToString();
  EXPECT_EQ(s.field_path(), "referral.lawful_basis");
  EXPECT_EQ(s.message(), "is required");
}

}  // namespace
}  // namespace refx
