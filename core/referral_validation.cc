#include "core/referral_validation.h"

#include <algorithm>
#include <string>
#include <vector>

namespace refx {

namespace {

// The violations found so far; every check adds to it and goes on.
using Found = std::vector<FieldViolation>;

void Invalid(Found* found, const std::string& field, const std::string& message) {
  found->push_back({"referral." + field, message});
}

// An optional date field: empty is fine, otherwise a real date not after today.
void CheckDate(const std::string& value, const std::string& field, const CivilDate& today, Found* found) {
  if (value.empty()) return;
  CivilDate d;
  if (!ParseCivilDate(value, &d)) return Invalid(found, field, "must be a date in the form YYYY-MM-DD");
  if (today < d) Invalid(found, field, "is in the future (after " + today.ToString() + ")");
}

bool PrintableAscii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

void CheckPerson(const v1::Person& p, const CivilDate& today, Found* found) {
  if (p.given_name().empty() && p.family_name().empty() && p.aliases().empty()) {
    Invalid(found, "person.family_name", "a person needs a given name, family name or alias");
  }
  if (p.date_of_birth().empty()) {
    if (p.age_years() == 0) Invalid(found, "person.date_of_birth", "give a date of birth or age_years");
  } else {
    CheckDate(p.date_of_birth(), "person.date_of_birth", today, found);
  }
  if (p.age_years() > 120) Invalid(found, "person.age_years", "must be 0..120");
  if (!v1::Gender_IsValid(p.gender())) Invalid(found, "person.gender", "unknown value");
}

void CheckContext(const v1::ContextSubject& c, Found* found) {
  if (c.kind() == v1::CONTEXT_KIND_UNSPECIFIED || !v1::ContextKind_IsValid(c.kind())) {
    Invalid(found, "context.kind", "must be LOCATION, PEER_GROUP, SCHOOL or ONLINE_SPACE");
  }
  if (c.name().empty()) Invalid(found, "context.name", "is required");
  if (c.youngest_age() > 120 || c.oldest_age() > 120) {
    Invalid(found, "context.youngest_age", "must be 0..120");
  } else if (c.oldest_age() != 0 && c.youngest_age() > c.oldest_age()) {
    Invalid(found, "context.youngest_age", "is greater than oldest_age");
  }
}

void CheckAssessment(const v1::Assessment& a, const CivilDate& today, Found* found) {
  if (!v1::AssessmentTool_IsValid(a.tool())) Invalid(found, "assessment.tool", "unknown value");
  if (!v1::RiskLevel_IsValid(a.risk_level())) Invalid(found, "assessment.risk_level", "unknown value");
  const int dash = a.dash_answers_size();
  const int sdash = a.sdash_answers_size();
  const bool dash_count_ok = dash == 0 || dash == 24;
  const bool sdash_count_ok = sdash == 0 || sdash == 11;
  if (!dash_count_ok) Invalid(found, "assessment.dash_answers", "must hold 24 answers, got " + std::to_string(dash));
  if (!sdash_count_ok) {
    Invalid(found, "assessment.sdash_answers", "must hold 11 answers, got " + std::to_string(sdash));
  }
  if (a.tool() == v1::DASH && dash == 0 && a.score() == 0 && !a.professional_judgement()) {
    Invalid(found, "assessment.dash_answers", "tool is DASH but neither answers nor score are given");
  }
  const uint32_t limit = a.tool() == v1::S_DASH ? 11 : 24;
  const bool score_ok = a.score() <= limit;
  if (!score_ok) {
    Invalid(found, "assessment.score", "must be 0.." + std::to_string(limit) + ", got " + std::to_string(a.score()));
  }
  const bool sdash_score_ok = a.sdash_score() <= 11;
  if (!sdash_score_ok) Invalid(found, "assessment.sdash_score", "must be 0..11");
  // Each answer list given must agree with its score: `score` belongs to the
  // tool's own checklist, `sdash_score` to S-DASH answers given alongside.
  // (Only when the list and the score are each in range: one wrong field is
  // reported once.)
  auto check_count = [found](const google::protobuf::RepeatedField<bool>& answers, uint32_t score,
                             const char* field) {
    if (answers.empty()) return;
    const auto yes = static_cast<uint32_t>(std::count(answers.begin(), answers.end(), true));
    if (score != yes) {
      Invalid(found, field, "is " + std::to_string(score) + " but " + std::to_string(yes) + " answers are yes");
    }
  };
  if (a.tool() == v1::S_DASH) {
    if (sdash_count_ok && score_ok) check_count(a.sdash_answers(), a.score(), "assessment.score");
  } else {
    if (dash_count_ok && score_ok) check_count(a.dash_answers(), a.score(), "assessment.score");
    if (sdash_count_ok && sdash_score_ok) check_count(a.sdash_answers(), a.sdash_score(), "assessment.sdash_score");
  }
  if (a.police_incidents_12m() > 1000) Invalid(found, "assessment.police_incidents_12m", "must be 0..1000");
  CheckDate(a.previous_marac_date(), "assessment.previous_marac_date", today, found);
}

}  // namespace

Status ValidateReferral(const v1::Referral& r, const CivilDate& today) {
  Found found;
  Found* f = &found;
  if (r.referrer_reference().empty()) {
    Invalid(f, "referrer_reference", "is required (it is the idempotency key)");
  } else if (r.referrer_reference().size() > 128 || !PrintableAscii(r.referrer_reference())) {
    Invalid(f, "referrer_reference", "must be 1..128 printable ASCII characters without spaces");
  }
  if (r.category() == v1::CATEGORY_UNSPECIFIED || !v1::Category_IsValid(r.category())) {
    Invalid(f, "category", "is required and must be a known category");
  }
  if (!v1::Urgency_IsValid(r.urgency())) Invalid(f, "urgency", "unknown value");
  if (r.referrer().agency_id().empty()) Invalid(f, "referrer.agency_id", "is required");
  const auto consent = r.consent().position();
  if (consent == v1::CONSENT_POSITION_UNSPECIFIED || !v1::ConsentPosition_IsValid(consent)) {
    Invalid(f, "consent.position", "is required: CONSENT_GIVEN, CONSENT_REFUSED or CONSENT_NOT_SOUGHT");
  } else if ((consent == v1::CONSENT_REFUSED || consent == v1::CONSENT_NOT_SOUGHT) && r.consent().reason().empty()) {
    Invalid(f, "consent.reason", "is required when consent is refused or not sought");
  }
  if (r.lawful_basis() == v1::LAWFUL_BASIS_UNSPECIFIED || !v1::LawfulBasis_IsValid(r.lawful_basis())) {
    Invalid(f, "lawful_basis", "is required");
  }
  switch (r.subject_case()) {
    case v1::Referral::kPerson: CheckPerson(r.person(), today, f); break;
    case v1::Referral::kContext: CheckContext(r.context(), f); break;
    case v1::Referral::SUBJECT_NOT_SET: Invalid(f, "person", "a subject is required: person or context"); break;
  }
  CheckAssessment(r.assessment(), today, f);
  CheckDate(r.incident_date(), "incident_date", today, f);
  CheckDate(r.perpetrator().date_of_birth(), "perpetrator.date_of_birth", today, f);
  for (int i = 0; i < r.asb_incidents_size(); ++i) {
    const auto& inc = r.asb_incidents(i);
    const std::string at = "asb_incidents[" + std::to_string(i) + "].";
    if (inc.incident_date().empty()) {
      Invalid(f, at + "incident_date", "is required");
    } else {
      CheckDate(inc.incident_date(), at + "incident_date", today, f);
    }
    CheckDate(inc.reported_date(), at + "reported_date", today, f);
  }
  if (found.empty()) return Status::OK();
  return Status::InvalidFields(std::move(found));
}

}  // namespace refx
