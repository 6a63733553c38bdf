#include "core/event_util.h"

#include <cstdio>

namespace refx {

namespace {
const std::string kEmpty;
}

std::string ReferralIdForSeq(uint64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "R-%010llu", static_cast<unsigned long long>(seq));
  return buf;
}

bool SeqForReferralId(const std::string& id, uint64_t* seq) {
  if (id.size() != 12 || id[0] != 'R' || id[1] != '-') return false;
  uint64_t value = 0;
  for (size_t i = 2; i < id.size(); ++i) {
    if (id[i] < '0' || id[i] > '9') return false;
    value = value * 10 + static_cast<uint64_t>(id[i] - '0');
  }
  *seq = value;
  return value != 0;
}

const std::string& ReferralIdOf(const v1::Event& e) {
  using B = v1::Event::BodyCase;
  switch (e.body_case()) {
    case B::kReferralSubmitted: return e.referral_submitted().referral_id();
    case B::kCaseRouted: return e.case_routed().referral_id();
    case B::kCaseDelivered: return e.case_delivered().referral_id();
    case B::kCaseAcknowledged: return e.case_acknowledged().referral_id();
    case B::kCaseAccepted: return e.case_accepted().referral_id();
    case B::kCaseDeclined: return e.case_declined().referral_id();
    case B::kOutcomeRecorded: return e.outcome_recorded().referral_id();
    case B::kCaseClosed: return e.case_closed().referral_id();
    case B::kReferralWithdrawn: return e.referral_withdrawn().referral_id();
    case B::kCaseUndeliverable: return e.case_undeliverable().referral_id();
    case B::kDeadlineBreached: return e.deadline_breached().referral_id();
    case B::kCaseEscalated: return e.case_escalated().referral_id();
    case B::kSubjectErased: return e.subject_erased().referral_id();
    case B::kRecordAccessed:  // indexed under the one referral read, if it names one
      return e.record_accessed().referral_ids_size() > 0 ? e.record_accessed().referral_ids(0) : kEmpty;
    case B::kCaseReceivedBySystem: return e.case_received_by_system().referral_id();
    case B::kCaseTransferFailed: return e.case_transfer_failed().referral_id();
    case B::kCaseAssigned: return e.case_assigned().referral_id();
    case B::kAccountActivity: return kEmpty;
    case B::kSubjectIndexed: return e.subject_indexed().referral_id();
    case B::BODY_NOT_SET: return kEmpty;
  }
  return kEmpty;
}

const std::string& DestinationOf(const v1::Event& e) {
  using B = v1::Event::BodyCase;
  switch (e.body_case()) {
    case B::kCaseRouted: return e.case_routed().destination();
    case B::kCaseDelivered: return e.case_delivered().destination();
    case B::kCaseAcknowledged: return e.case_acknowledged().destination();
    case B::kCaseAccepted: return e.case_accepted().destination();
    case B::kCaseDeclined: return e.case_declined().destination();
    case B::kOutcomeRecorded: return e.outcome_recorded().destination();
    case B::kCaseClosed: return e.case_closed().destination();
    case B::kCaseUndeliverable: return e.case_undeliverable().destination();
    case B::kDeadlineBreached: return e.deadline_breached().destination();
    case B::kCaseEscalated: return e.case_escalated().destination();
    case B::kCaseReceivedBySystem: return e.case_received_by_system().destination();
    case B::kCaseTransferFailed: return e.case_transfer_failed().destination();
    case B::kCaseAssigned: return e.case_assigned().destination();
    default: return kEmpty;
  }
}

const char* EventTypeName(const v1::Event& e) {
  using B = v1::Event::BodyCase;
  switch (e.body_case()) {
    case B::kReferralSubmitted: return "referral_submitted";
    case B::kCaseRouted: return "case_routed";
    case B::kCaseDelivered: return "case_delivered";
    case B::kCaseAcknowledged: return "case_acknowledged";
    case B::kCaseAccepted: return "case_accepted";
    case B::kCaseDeclined: return "case_declined";
    case B::kOutcomeRecorded: return "outcome_recorded";
    case B::kCaseClosed: return "case_closed";
    case B::kReferralWithdrawn: return "referral_withdrawn";
    case B::kCaseUndeliverable: return "case_undeliverable";
    case B::kDeadlineBreached: return "deadline_breached";
    case B::kCaseEscalated: return "case_escalated";
    case B::kSubjectErased: return "subject_erased";
    case B::kRecordAccessed: return "record_accessed";
    case B::kCaseReceivedBySystem: return "case_received_by_system";
    case B::kCaseTransferFailed: return "case_transfer_failed";
    case B::kCaseAssigned: return "case_assigned";
    case B::kAccountActivity: return "account_activity";
    case B::kSubjectIndexed: return "subject_indexed";
    case B::BODY_NOT_SET: return "none";
  }
  return "none";
}

}  // namespace refx
