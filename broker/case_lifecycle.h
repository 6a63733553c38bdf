// The case lifecycle: which event may follow which, and who may append it.
//
//   (none) --routed--> ROUTED --delivered--> DELIVERED --acknowledged--> ACKNOWLEDGED
//   ACKNOWLEDGED --accepted--> ACCEPTED --outcome--> OUTCOME_RECORDED (--outcome--> ...)
//   ACKNOWLEDGED --declined(reason)--> DECLINED
//   OUTCOME_RECORDED | DECLINED | UNDELIVERABLE --closed--> CLOSED
//   ROUTED | DELIVERED --undeliverable--> UNDELIVERABLE;  DELIVERED --delivered--> DELIVERED (redelivery)
//   deadline_breached and escalated leave the state as it is (open cases only);
//   referral_withdrawn marks the referral and every open case WITHDRAWN.
//   case_assigned (DELIVERED..OUTCOME_RECORDED) sets the case's assignee, a
//   configured enabled lead who works the destination; a hand-over names the
//   current assignee as previous_assignee. The state is left as it is.
//   case_received_by_system and case_transfer_failed (the destination's
//   agency, for an attempt already delivered, in any state) change nothing.
//
// Services (role SERVICE) route, deliver, redeliver, mark undeliverable,
// breach, escalate and close; only the destination's own agency (role LEAD)
// acknowledges, accepts, declines, records outcomes, assigns and closes; only the
// submitting agency withdraws. Pure functions; thread-safe.
#pragma once

#include <string>

#include "core/partnership_config.h"
#include "core/status.h"
#include "refx/v1/event.pb.h"

namespace refx::broker {

// The state a transition is checked against.
struct LifecycleContext {
  const v1::ReferralRecord* referral = nullptr;  // nullptr: no such referral
  const v1::CaseRecord* current = nullptr;       // nullptr: no such case yet
};

// Checks that `event` (a lifecycle body, seq/time/actor set) may be appended
// by `actor` in `context`. On success returns OK and fills *next with the
// case's new record (and *referral_next for referral-wide changes, when the
// referral record changes). On failure returns, naming the event and state:
//   InvalidArgument   a required field is missing (e.g. decline reason), or
//                     the outcome code is not configured (for this destination)
//   NotFound          the referral or case does not exist
//   UnknownAgency     the destination is not configured
//   PermissionDenied  the actor may not append this event here
//   IllegalTransition the case's current state does not allow it
Status CheckTransition(const v1::Event& event, const v1::Agency& actor, const PartnershipConfig& config,
                       const LifecycleContext& context, v1::CaseRecord* next, v1::ReferralRecord* referral_next,
                       bool* referral_changed);

}  // namespace refx::broker
