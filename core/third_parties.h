// Third-party redaction for subject access requests: the data in a
// referral about people other than its subject — the person causing harm
// (Perpetrator: name, date of birth, relationship, notes), the referrer's
// own name and contact details (Referrer: name, email, phone; their role and
// agency stay), and other young people linked to a context
// (ContextSubject.linked_people) — is replaced by kRedactedMarker, so the
// subject sees that something was withheld and where. The referral has no
// other structured field about another person (children in the household
// are a yes/no flag). Free text (narrative, assessment text, notes and
// reasons on events) is kept: it is mostly about the subject and may still
// mention others, so a person reviews it before release.
// Pure functions; thread-safe.
#pragma once

#include <set>
#include <string>

#include "refx/v1/event.pb.h"
#include "refx/v1/referral.pb.h"

namespace refx {

// What a redacted text field holds instead.
inline constexpr char kRedactedMarker[] = "[REDACTED: third party]";

// The full protobuf names of the fields RedactThirdParties redacts, e.g.
// "refx.v1.Perpetrator.name".
const std::set<std::string>& ThirdPartyFields();

// Redacts every set third-party field of *referral in place: text (each
// element of a repeated one) becomes kRedactedMarker, anything else is
// cleared. Adds the full name of each field it redacted to *redacted (may be
// null). Returns how many fields it redacted.
int RedactThirdParties(v1::Referral* referral, std::set<std::string>* redacted);

// The same for every referral an event holds: the submission
// (referral_submitted.referral) and a delivered view (case_delivered.view).
int RedactThirdParties(v1::Event* event, std::set<std::string>* redacted);

}  // namespace refx
