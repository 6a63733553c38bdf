#include "core/referral_validation.h"

#include <algorithm>
#include <string>

namespace refx {

namespace {

Status Invalid(const std::string& field, const std::string& message) {
  return Status::InvalidArgument(message, "referral." + field);
}

// An optional date field: empty is fine, otherwise a real date not after today.
Status CheckDate(const std::string& value, const std::string& field, const CivilDate& today) {
  if (value.empty()) return Status::OK();
  CivilDate d;
  if (!ParseCivilDate(value, &d)) return Invalid(field, "must be a date in the form YYYY-MM-DD");
  if (today < d) return Invalid(field, "is in the future (after " + today.ToString() + ")");
  return Status::OK();
}

bool PrintableAscii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

Status CheckPerson(const v1::Person& p, const CivilDate& today) {
  if (p.given_name().empty() && p.family_name().empty() && p.aliases().empty()) {
    return Invalid("person.family_name", "a person needs a given name, family name or alias");
  }
  if (p.date_of_birth().empty()) {
    if (p.age_years() == 0) return Invalid("person.date_of_birth", "give a date of birth or age_years");
  } else {
    REFX_RETURN_IF_ERROR(CheckDate(p.date_of_birth(), "person.date_of_birth", today));
  }
  if (p.age_years() > 120) return Invalid("person.age_years", "must be 0..120");
  if (!v1::Gender_IsValid(p.gender())) return Invalid("person.gender", "unknown value");
  return Status::OK();
}

Status CheckContext(const v1::ContextSubject& c) {
  if (c.kind() == v1::CONTEXT_KIND_UNSPECIFIED || !v1::ContextKind_IsValid(c.kind())) {
    return Invalid("context.kind", "must be LOCATION, PEER_GROUP, SCHOOL or ONLINE_SPACE");
  }
  if (c.name().empty()) return Invalid("context.name", "is required");
  if (c.youngest_age() > 120 || c.oldest_age() > 120) return Invalid("context.youngest_age", "must be 0..120");
  if (c.oldest_age() != 0 && c.youngest_age() > c.oldest_age()) {
    return Invalid("context.youngest_age", "is greater than oldest_age");
  }
  return Status::OK();
}

Status CheckAssessment(const v1::Assessment& a, const CivilDate& today) {
  if (!v1::AssessmentTool_IsValid(a.tool())) return Invalid("assessment.tool", "unknown value");
  if (!v1::RiskLevel_IsValid(a.risk_level())) return Invalid("assessment.risk_level", "unknown value");
  const int dash = a.dash_answers_size();
  const int sdash = a.sdash_answers_size();
  if (dash != 0 && dash != 24) {
    return Invalid("assessment.dash_answers", "must hold 24 answers, got " + std::to_string(dash));
  }
  if (sdash != 0 && sdash != 11) {
    return Invalid("assessment.sdash_answers", "must hold 11 answers, got " + std::to_string(sdash));
  }
  if (a.tool() == v1::DASH && dash == 0 && a.score() == 0 && !a.professional_judgement()) {
    return Invalid("assessment.dash_answers", "tool is DASH but neither answers nor score are given");
  }
  const uint32_t limit = a.tool() == v1::S_DASH ? 11 : 24;
  if (a.score() > limit) {
    return Invalid("assessment.score", "must be 0.." + std::to_string(limit) + ", got " + std::to_string(a.score()));
  }
  // Each answer list given must agree with its score: `score` belongs to the
  // tool's own checklist, `sdash_score` to S-DASH answers given alongside.
  auto check_count = [](const google::protobuf::RepeatedField<bool>& answers, uint32_t score,
                        const char* field) -> Status {
    if (answers.empty()) return Status::OK();
    const auto yes = static_cast<uint32_t>(std::count(answers.begin(), answers.end(), true));
    if (score == yes) return Status::OK();
    return Invalid(field, "is " + std::to_string(score) + " but " + std::to_string(yes) + " answers are yes");
  };
  if (a.tool() == v1::S_DASH) {
    REFX_RETURN_IF_ERROR(check_count(a.sdash_answers(), a.score(), "assessment.score"));
  } else {
    REFX_RETURN_IF_ERROR(check_count(a.dash_answers(), a.score(), "assessment.score"));
    REFX_RETURN_IF_ERROR(check_count(a.sdash_answers(), a.sdash_score(), "assessment.sdash_score"));
  }
  if (a.sdash_score() > 11) return Invalid("assessment.sdash_score", "must be 0..11");
  if (a.police_incidents_12m() > 1000) return Invalid("assessment.police_incidents_12m", "must be 0..1000");
  return CheckDate(a.previous_marac_date(), "assessment.previous_marac_date", today);
}

}  // namespace

Status ValidateReferral(const v1::Referral& r, const CivilDate& today) {
  if (r.referrer_reference().empty()) return Invalid("referrer_reference", "is required (it is the idempotency key)");
  if (r.referrer_reference().size() > 128 || !PrintableAscii(r.referrer_reference())) {
    return Invalid("referrer_reference", "must be 1..128 printable ASCII characters without spaces");
  }
  if (r.category() == v1::CATEGORY_UNSPECIFIED || !v1::Category_IsValid(r.category())) {
    return Invalid("category", "is required and must be a known category");
  }
  if (!v1::Urgency_IsValid(r.urgency())) return Invalid("urgency", "unknown value");
  if (r.referrer().agency_id().empty()) return Invalid("referrer.agency_id", "is required");
  const auto consent = r.consent().position();
  if (consent == v1::CONSENT_POSITION_UNSPECIFIED || !v1::ConsentPosition_IsValid(consent)) {
    return Invalid("consent.position", "is required: CONSENT_GIVEN, CONSENT_REFUSED or CONSENT_NOT_SOUGHT");
  }
  if ((consent == v1::CONSENT_REFUSED || consent == v1::CONSENT_NOT_SOUGHT) && r.consent().reason().empty()) {
    return Invalid("consent.reason", "is required when consent is refused or not sought");
  }
  if (r.lawful_basis() == v1::LAWFUL_BASIS_UNSPECIFIED || !v1::LawfulBasis_IsValid(r.lawful_basis())) {
    return Invalid("lawful_basis", "is required");
  }
  switch (r.subject_case()) {
    case v1::Referral::kPerson: REFX_RETURN_IF_ERROR(CheckPerson(r.person(), today)); break;
    case v1::Referral::kContext: REFX_RETURN_IF_ERROR(CheckContext(r.context())); break;
    case v1::Referral::SUBJECT_NOT_SET: return Invalid("person", "a subject is required: person or context");
  }
  REFX_RETURN_IF_ERROR(CheckAssessment(r.assessment(), today));
  REFX_RETURN_IF_ERROR(CheckDate(r.incident_date(), "incident_date", today));
  REFX_RETURN_IF_ERROR(CheckDate(r.perpetrator().date_of_birth(), "perpetrator.date_of_birth", today));
  for (int i = 0; i < r.asb_incidents_size(); ++i) {
    const auto& inc = r.asb_incidents(i);
    const std::string at = "asb_incidents[" + std::to_string(i) + "].";
    if (inc.incident_date().empty()) return Invalid(at + "incident_date", "is required");
    REFX_RETURN_IF_ERROR(CheckDate(inc.incident_date(), at + "incident_date", today));
    REFX_RETURN_IF_ERROR(CheckDate(inc.reported_date(), at + "reported_date", today));
  }
  return Status::OK();
}

}  // namespace refx
