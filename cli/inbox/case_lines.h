// How `refx inbox` writes a case's events on the lead's terminal. The lead
// reads the cases at their own destinations, so the lines carry the notes
// and reasons of the case (unlike the audit lines, cli/audit/event_lines.h).
// Times in Europe/London (cli/london_time.h).
//
// Thread-safety: pure functions; thread-safe.
#pragma once

#include <string>

#include "refx/v1/event.pb.h"

namespace refx::cli::inbox {

// One line for an event of a case: "seq N  R-…  DEST  type by ACTOR  details".
std::string EventLine(const v1::Event& event);

// The lines written for a delivery: the event line (attempt, deadline, rule,
// reason) and an indented summary of the view: category, urgency and the
// subject's name (or the context's kind and name) when the view has them.
std::string DeliveryLines(const v1::Event& event);

}  // namespace refx::cli::inbox
