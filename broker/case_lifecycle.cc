#include "broker/case_lifecycle.h"

#include <algorithm>
#include <initializer_list>

#include "core/event_util.h"

namespace refx::broker {

namespace {

using B = v1::Event::BodyCase;

bool In(v1::CaseState s, std::initializer_list<v1::CaseState> allowed) {
  return std::find(allowed.begin(), allowed.end(), s) != allowed.end();
}

bool IsOpen(v1::CaseState s) {
  return !In(s, {v1::CLOSED, v1::WITHDRAWN, v1::UNDELIVERABLE, v1::DECLINED});
}

Status Illegal(const v1::Event& e, v1::CaseState from) {
  return Status::IllegalTransition(std::string(EventTypeName(e)) + " is not allowed for case " + ReferralIdOf(e) +
                                   "/" + DestinationOf(e) + " in state " + v1::CaseState_Name(from));
}

// case_received_by_system / case_transfer_failed: only the destination's
// own agency (its adapter), only for an attempt that was delivered.
Status CheckSystemReceipt(const v1::Event& e, bool is_owner, const v1::Destination& dest,
                          const v1::CaseRecord& current) {
  const bool received = e.has_case_received_by_system();
  const std::string field = received ? "append.event.case_received_by_system" : "append.event.case_transfer_failed";
  const uint32_t attempt = received ? e.case_received_by_system().attempt() : e.case_transfer_failed().attempt();
  const std::string& receiver = received ? e.case_received_by_system().receiver() : e.case_transfer_failed().receiver();
  if (!is_owner) {
    return Status::PermissionDenied("only " + dest.agency_id() + " may record what its systems received of " +
                                    dest.code() + " cases");
  }
  if (attempt == 0) return Status::InvalidArgument("is required (the delivery attempt passed on)", field + ".attempt");
  if (receiver.empty()) return Status::InvalidArgument("is required (the receiving system's name)", field + ".receiver");
  if (!received && e.case_transfer_failed().reason().empty()) {
    return Status::InvalidArgument("is required (what went wrong, without personal data)", field + ".reason");
  }
  if (attempt > current.deliveries()) {
    return Status::IllegalTransition(std::string(EventTypeName(e)) + " for attempt " + std::to_string(attempt) +
                                     " of case " + ReferralIdOf(e) + "/" + DestinationOf(e) + ", which has had " +
                                     std::to_string(current.deliveries()) + " deliveries");
  }
  return Status::OK();
}

// subject_indexed: only a SERVICE identity (the router, which holds the
// subject key), and only a well-formed key (64 lower-case hex characters),
// since the broker indexes by_subject under it.
Status CheckSubjectIndexed(const v1::Event& e, bool is_service) {
  if (!is_service) return Status::PermissionDenied("only a SERVICE identity may record a subject key");
  const std::string& key = e.subject_indexed().subject_key();
  const bool hex = key.size() == 64 && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
  if (!hex) {
    return Status::InvalidArgument("must be 64 lower-case hexadecimal characters",
                                   "append.event.subject_indexed.subject_key");
  }
  return Status::OK();
}

}  // namespace

Status CheckTransition(const v1::Event& e, const v1::Agency& actor, const PartnershipConfig& config,
                       const LifecycleContext& ctx, v1::CaseRecord* next, v1::ReferralRecord* referral_next,
                       bool* referral_changed) {
  *referral_changed = false;
  const std::string& referral_id = ReferralIdOf(e);
  const std::string& destination = DestinationOf(e);
  const bool is_service = PartnershipConfig::HasRole(actor, v1::SERVICE);

  switch (e.body_case()) {
    case B::kReferralSubmitted:
      return Status::UnsupportedFrame("referrals are submitted with a submit frame, not appended");
    case B::kRecordAccessed:
      return Status::PermissionDenied("record_accessed events are written by the broker itself");
    case B::BODY_NOT_SET:
      return Status::InvalidArgument("event has no body", "append.event");
    default:
      break;
  }
  if (referral_id.empty()) return Status::InvalidArgument("is required", "append.event.referral_id");
  if (ctx.referral == nullptr) return Status::NotFound("no referral " + referral_id);

  if (e.has_referral_withdrawn()) {
    if (actor.id() != ctx.referral->submitter()) {
      return Status::PermissionDenied("only the submitting agency may withdraw referral " + referral_id);
    }
    if (ctx.referral->withdrawn()) return Status::IllegalTransition("referral " + referral_id + " is already withdrawn");
    if (e.referral_withdrawn().reason().empty()) {
      return Status::InvalidArgument("is required", "append.event.referral_withdrawn.reason");
    }
    *referral_next = *ctx.referral;
    referral_next->set_withdrawn(true);
    *referral_changed = true;
    return Status::OK();
  }
  if (e.has_subject_indexed()) return CheckSubjectIndexed(e, is_service);
  if (e.has_subject_erased()) {
    if (!PartnershipConfig::HasRole(actor, v1::ADMIN)) {
      return Status::PermissionDenied("only an ADMIN identity may record an erasure");
    }
    // An erasure event that destroyed no key would claim what did not
    // happen: the broker makes it itself, with the key's destruction.
    return Status::InvalidArgument("an erasure is made with an EraseRequest (refx admin erase), which destroys the data key",
                                   "append.event.subject_erased");
  }

  if (destination.empty()) return Status::InvalidArgument("is required", "append.event.destination");
  const v1::Destination* dest = config.DestinationByCode(destination);
  if (dest == nullptr) {
    return Status::UnknownAgency("destination \"" + destination + "\" is not configured", "append.event.destination");
  }
  const bool is_owner = actor.id() == dest->agency_id() && PartnershipConfig::HasRole(actor, v1::LEAD);

  if (e.has_case_routed()) {
    if (!is_service) return Status::PermissionDenied("only a SERVICE identity may route");
    if (ctx.current) return Illegal(e, ctx.current->state());
    if (ctx.referral->withdrawn()) return Status::IllegalTransition("referral " + referral_id + " was withdrawn");
    next->set_referral_id(referral_id);
    next->set_destination(destination);
    next->set_state(v1::ROUTED);
    next->set_rule_id(e.case_routed().rule_id());
    *next->mutable_deadline() = e.case_routed().deadline();
    *next->mutable_routed_at() = e.time();
    *referral_next = *ctx.referral;
    referral_next->add_destinations(destination);
    *referral_changed = true;
    next->set_version(e.seq());
    return Status::OK();
  }

  if (ctx.current == nullptr) return Status::NotFound("no case " + referral_id + "/" + destination);
  const v1::CaseState from = ctx.current->state();
  *next = *ctx.current;
  if (e.has_case_received_by_system() || e.has_case_transfer_failed()) {
    // Machine receipts change nothing about the case (its record, version
    // included, stays as it is), and are facts about a delivery already
    // made, so they are taken in any state, withdrawn referrals included.
    return CheckSystemReceipt(e, is_owner, *dest, *ctx.current);
  }
  next->set_version(e.seq());
  if (ctx.referral->withdrawn() && !e.has_case_closed()) {
    return Status::IllegalTransition("referral " + referral_id + " was withdrawn");
  }

  switch (e.body_case()) {
    case B::kCaseDelivered:
      if (!is_service) return Status::PermissionDenied("only a SERVICE identity may deliver");
      if (!In(from, {v1::ROUTED, v1::DELIVERED})) return Illegal(e, from);
      next->set_state(v1::DELIVERED);
      next->set_deliveries(ctx.current->deliveries() + 1);
      return Status::OK();
    case B::kCaseUndeliverable:
      if (!is_service) return Status::PermissionDenied("only a SERVICE identity may mark a case undeliverable");
      if (!In(from, {v1::ROUTED, v1::DELIVERED})) return Illegal(e, from);
      next->set_state(v1::UNDELIVERABLE);
      return Status::OK();
    case B::kCaseAcknowledged:
      if (!is_owner) return Status::PermissionDenied("only " + dest->agency_id() + " may acknowledge " + destination + " cases");
      if (from != v1::DELIVERED) return Illegal(e, from);
      next->set_state(v1::ACKNOWLEDGED);
      return Status::OK();
    case B::kCaseAccepted:
      if (!is_owner) return Status::PermissionDenied("only " + dest->agency_id() + " may accept " + destination + " cases");
      if (from != v1::ACKNOWLEDGED) return Illegal(e, from);
      next->set_state(v1::ACCEPTED);
      return Status::OK();
    case B::kCaseDeclined:
      if (!is_owner) return Status::PermissionDenied("only " + dest->agency_id() + " may decline " + destination + " cases");
      if (e.case_declined().reason().empty()) {
        return Status::InvalidArgument("a decline needs a reason", "append.event.case_declined.reason");
      }
      if (from != v1::ACKNOWLEDGED) return Illegal(e, from);
      next->set_state(v1::DECLINED);
      return Status::OK();
    case B::kOutcomeRecorded: {
      if (!is_owner) return Status::PermissionDenied("only " + dest->agency_id() + " may record outcomes for " + destination);
      const std::string& code = e.outcome_recorded().code();
      if (code.empty()) return Status::InvalidArgument("is required", "append.event.outcome_recorded.code");
      const auto& codes = config.proto().outcome_codes();
      auto found = std::find_if(codes.begin(), codes.end(), [&](const v1::OutcomeCode& c) { return c.code() == code; });
      if (!codes.empty() && found == codes.end()) {
        return Status::InvalidArgument("outcome code \"" + code + "\" is not configured", "append.event.outcome_recorded.code");
      }
      if (found != codes.end() && !found->destinations().empty() &&
          std::find(found->destinations().begin(), found->destinations().end(), destination) == found->destinations().end()) {
        return Status::InvalidArgument("outcome code \"" + code + "\" is not one " + destination + " may record",
                                       "append.event.outcome_recorded.code");
      }
      if (!In(from, {v1::ACCEPTED, v1::OUTCOME_RECORDED})) return Illegal(e, from);
      next->set_state(v1::OUTCOME_RECORDED);
      next->set_last_outcome(code);
      return Status::OK();
    }
    case B::kCaseClosed:
      if (!is_owner && !is_service) return Status::PermissionDenied("only " + dest->agency_id() + " or a service may close");
      if (!In(from, {v1::OUTCOME_RECORDED, v1::DECLINED, v1::UNDELIVERABLE, v1::WITHDRAWN})) return Illegal(e, from);
      next->set_state(v1::CLOSED);
      return Status::OK();
    case B::kCaseAssigned: {
      if (!is_owner) return Status::PermissionDenied("only " + dest->agency_id() + " may assign " + destination + " cases");
      const v1::CaseAssigned& a = e.case_assigned();
      if (a.assignee().empty()) return Status::InvalidArgument("is required", "append.event.case_assigned.assignee");
      const v1::StaffMember* assignee = config.PersonById(a.assignee());
      if (assignee == nullptr || assignee->disabled() ||
          !PartnershipConfig::PersonHasRole(*assignee, v1::StaffMember::LEAD) ||
          std::find(assignee->destinations().begin(), assignee->destinations().end(), destination) ==
              assignee->destinations().end()) {
        return Status::InvalidArgument("\"" + a.assignee() + "\" is not an enabled lead who works " + destination,
                                       "append.event.case_assigned.assignee");
      }
      if (!In(from, {v1::DELIVERED, v1::ACKNOWLEDGED, v1::ACCEPTED, v1::OUTCOME_RECORDED})) return Illegal(e, from);
      // A hand-over names whom it takes the case from, so two people handing
      // the same case over at once cannot both succeed.
      if (a.previous_assignee() != ctx.current->assignee()) {
        return Status::IllegalTransition(
            ctx.current->assignee().empty()
                ? "case " + referral_id + "/" + destination + " is not assigned yet: previous_assignee must be empty"
                : "case " + referral_id + "/" + destination + " is assigned to \"" + ctx.current->assignee() +
                      "\": a hand-over must name them as previous_assignee");
      }
      if (a.assignee() == ctx.current->assignee()) {
        return Status::InvalidArgument("the case is already assigned to \"" + a.assignee() + "\"",
                                       "append.event.case_assigned.assignee");
      }
      next->set_assignee(a.assignee());
      return Status::OK();
    }
    case B::kDeadlineBreached:
      if (!is_service) return Status::PermissionDenied("only a SERVICE identity may record a breach");
      if (!IsOpen(from)) return Illegal(e, from);
      next->set_deadline_breached(true);
      return Status::OK();
    case B::kCaseEscalated:
      if (!is_service) return Status::PermissionDenied("only a SERVICE identity may escalate");
      if (!config.DestinationByCode(e.case_escalated().escalated_to())) {
        return Status::UnknownAgency("escalated_to \"" + e.case_escalated().escalated_to() + "\" is not configured",
                                     "append.event.case_escalated.escalated_to");
      }
      return Status::OK();
    default:
      return Status::UnsupportedFrame(std::string("cannot append ") + EventTypeName(e));
  }
}

}  // namespace refx::broker
