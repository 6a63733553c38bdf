// Checks the routing sections of a partnership configuration - rules,
// calendar, retention, outcome codes, delivery, fallback destination - and
// the destinations' meeting dates, after the rest of the file has been
// checked (PartnershipConfig::Parse calls it).
//
// Thread-safety: pure function; thread-safe.
#pragma once

#include <google/protobuf/text_format.h>

#include <string>

#include "core/status.h"
#include "refx/v1/config.pb.h"

namespace refx {

// Returns OK, or InvalidArgument whose message starts "NAME:LINE:COLUMN: "
// (the position of the offending field as recorded in `tree`; "NAME:1:1: "
// when nothing better is known) and says what is wrong: a rule with no id,
// a duplicate id, no condition or no target; a destination code no
// destination has; an empty or contradictory condition (at_least above
// at_most, a DASH question outside 1..24, an unspecified enum value...);
// a bank holiday or meeting date that is not a YYYY-MM-DD date; a week with
// no working day; a retention period of 0 months, a duplicated record type,
// or routing history kept for less time than a repeat rule looks back; a
// duplicated or malformed outcome code; a fallback destination that needs
// consent. `tree` may be null (positions are then "NAME:1:1").
// True when `text` has the form of a destination code, rule id or outcome
// code: 2-64 characters, upper-case letters, digits and '_', starting with a
// letter ("IDVA", "HIGH_RISK_MARAC"). Pure function.
bool IsUpperCaseCode(const std::string& text);

Status ValidateRoutingConfig(const v1::PartnershipConfig& config, const std::string& name,
                             const google::protobuf::TextFormat::ParseInfoTree* tree);

}  // namespace refx
