// How `refx audit` writes an event for people: one line without personal
// data (timeline, replay), and the details the export shows with the notes
// and reasons people wrote.
//
// Thread-safety: pure functions; thread-safe.
#pragma once

#include <string>

#include "refx/v1/event.pb.h"

namespace refx::audit {

// One line for an event, without personal data: "seq N  TIME  ACTOR  KIND
// [REFERRAL] [DESTINATION]  details" where the details are ids, codes,
// rule ids, routing reasons, disclosed groups, deadlines and purposes.
// Free text written by people (accept and outcome notes, decline and
// withdrawal reasons, erasure reasons) is never printed, only flagged.
std::string AuditLine(const v1::Event& event);

// The details part of AuditLine. With `free_text` the notes and reasons
// written by people are included (quoted) — only for outputs that are
// personal data anyway (`audit export`).
std::string EventDetail(const v1::Event& event, bool free_text);

// The rule id a case_routed or case_delivered event names, else "".
std::string RuleOf(const v1::Event& event);

// "ENVELOPE,SUBJECT_IDENTITY,..." for a case_delivered event's groups.
std::string GroupsText(const v1::CaseDelivered& delivered);

}  // namespace refx::audit
