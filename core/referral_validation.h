// Checks that a submitted referral is complete and in range before the
// broker accepts it. Pure function; thread-safe.
#pragma once

#include "core/civil_date.h"
#include "core/status.h"
#include "refx/v1/referral.pb.h"

namespace refx {

// Returns OK if `referral` may be accepted on `today`; otherwise
// InvalidArgument (Status::InvalidFields) listing EVERY offending field in
// violations(), each with a dotted path that starts with "referral." (e.g.
// "referral.assessment.dash_answers") and a message saying what is wrong;
// field_path() is the first of them. Messages never quote personal data.
//
// Required: referrer_reference (1..128 printable ASCII), a known category,
// referrer.agency_id, consent.position (with a reason when refused or not
// sought), lawful_basis, and a subject: a person with a name and a date of
// birth or age, or a context with a kind and a name. Dates must be real
// "YYYY-MM-DD" dates not after `today`; DASH answers number 0 or 24, S-DASH
// 0 or 11, and a score given with answers equals the number of yes answers.
Status ValidateReferral(const v1::Referral& referral, const CivilDate& today);

}  // namespace refx
