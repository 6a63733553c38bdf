#include "domain/monitoring/case_fold.h"

#include <google/protobuf/util/time_util.h>

#include "core/event_util.h"

namespace refx::outcomes {

namespace {
using google::protobuf::util::TimeUtil;
}  // namespace

bool AwaitsAcknowledgement(v1::CaseState state) { return state == v1::ROUTED || state == v1::DELIVERED; }

bool IsOpenState(v1::CaseState state) {
  return state != v1::CLOSED && state != v1::DECLINED && state != v1::UNDELIVERABLE && state != v1::WITHDRAWN &&
         state != v1::CASE_STATE_UNSPECIFIED;
}

Micros EventMicros(const v1::Event& event) { return TimeUtil::TimestampToMicroseconds(event.time()); }

const CaseView* CaseFold::Apply(const v1::Event& e) {
  using B = v1::Event::BodyCase;
  last_seq_ = e.seq();
  const std::string& referral_id = ReferralIdOf(e);
  const std::string& destination = DestinationOf(e);

  if (e.has_referral_withdrawn()) {
    auto it = destinations_.find(referral_id);
    if (it == destinations_.end()) return nullptr;
    for (const std::string& d : it->second) {
      auto found = cases_.find({referral_id, d});
      if (found == cases_.end()) continue;
      CaseView& c = found->second;
      if (c.state != v1::CLOSED && c.state != v1::DECLINED && c.state != v1::UNDELIVERABLE) c.state = v1::WITHDRAWN;
    }
    return nullptr;
  }
  if (referral_id.empty() || destination.empty()) return nullptr;

  if (e.has_case_routed()) {
    CaseView& c = cases_[{referral_id, destination}];
    if (c.state != v1::CASE_STATE_UNSPECIFIED) return &c;  // routed twice: the broker refuses this
    c.referral_id = referral_id;
    c.destination = destination;
    c.state = v1::ROUTED;
    c.routed_at = EventMicros(e);
    if (e.case_routed().has_deadline()) c.deadline = TimeUtil::TimestampToMicroseconds(e.case_routed().deadline());
    destinations_[referral_id].push_back(destination);
    return &c;
  }

  auto it = cases_.find({referral_id, destination});
  if (it == cases_.end()) return nullptr;
  CaseView& c = it->second;
  const Micros t = EventMicros(e);
  switch (e.body_case()) {
    case B::kCaseDelivered:
      c.state = v1::DELIVERED;
      if (c.first_delivered_at == 0) c.first_delivered_at = t;
      break;
    case B::kCaseAcknowledged:
      c.state = v1::ACKNOWLEDGED;
      if (c.acknowledged_at == 0) c.acknowledged_at = t;
      break;
    case B::kCaseAccepted:
      c.state = v1::ACCEPTED;
      if (c.accepted_at == 0) c.accepted_at = t;
      break;
    case B::kCaseDeclined:
      c.state = v1::DECLINED;
      break;
    case B::kOutcomeRecorded:
      c.state = v1::OUTCOME_RECORDED;
      break;
    case B::kCaseClosed:
      c.state = v1::CLOSED;
      break;
    case B::kCaseUndeliverable:
      c.state = v1::UNDELIVERABLE;
      break;
    case B::kDeadlineBreached:
      if (e.deadline_breached().deadline_kind() == "acknowledge") c.acknowledge_breached = true;
      break;
    case B::kCaseEscalated:
      c.escalated_by.push_back(e.actor());
      break;
    default:
      return nullptr;
  }
  return &c;
}

const CaseView* CaseFold::Find(const std::string& referral_id, const std::string& destination) const {
  auto it = cases_.find({referral_id, destination});
  return it == cases_.end() ? nullptr : &it->second;
}

std::vector<const CaseView*> CaseFold::CasesOf(const std::string& referral_id) const {
  std::vector<const CaseView*> out;
  auto it = destinations_.find(referral_id);
  if (it == destinations_.end()) return out;
  for (const std::string& d : it->second) {
    if (const CaseView* c = Find(referral_id, d)) out.push_back(c);
  }
  return out;
}

void CaseFold::ForEach(const std::function<void(const CaseView&)>& fn) const {
  for (const auto& [key, c] : cases_) fn(c);
}

}  // namespace refx::outcomes
