#include "services/outcomes/deadline_watch.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

namespace refx::outcomes {

namespace {
using google::protobuf::util::TimeUtil;
constexpr const char* kKind = "acknowledge";
}  // namespace

std::string FormatMicros(Micros micros) {
  // Whole seconds are enough for people; TimeUtil prints RFC 3339 in UTC.
  return TimeUtil::ToString(TimeUtil::SecondsToTimestamp(micros / 1000000));
}

DeadlineWatch::DeadlineWatch(std::string identity, std::string escalate_to)
    : identity_(std::move(identity)), escalate_to_(std::move(escalate_to)) {}

void DeadlineWatch::Update(const CaseView& c) {
  const Key key{c.referral_id, c.destination};
  Entry entry;
  entry.deadline = c.deadline;
  if (AwaitsAcknowledgement(c.state) && c.deadline != 0) {
    entry.needs_breach = !c.acknowledge_breached && !breach_done_.count(key);
    const bool escalated = std::find(c.escalated_by.begin(), c.escalated_by.end(), identity_) != c.escalated_by.end();
    entry.needs_escalation = !escalate_to_.empty() && !escalated && !escalation_done_.count(key);
  }
  StoreOrForget(key, entry);
}

std::vector<DeadlineAction> DeadlineWatch::Due(Micros now) const {
  std::vector<DeadlineAction> out;
  for (const auto& [due_at, key] : by_deadline_) {
    if (due_at >= now) break;
    const Micros deadline = due_at;  // a copy: C++17 lambdas cannot capture a structured binding
    const Entry& entry = entries_.at(key);
    const std::string& ref = key.first;
    const std::string& dest = key.second;
    // The breach and the escalation of one case differ only in their event
    // and idempotency key.
    auto action = [&](DeadlineAction::Kind kind) -> DeadlineAction& {
      DeadlineAction& a = out.emplace_back();
      a.kind = kind;
      a.referral_id = ref;
      a.destination = dest;
      a.deadline = deadline;
      return a;
    };
    if (entry.needs_breach) {
      DeadlineAction& a = action(DeadlineAction::Kind::kBreach);
      auto* b = a.event.mutable_deadline_breached();
      b->set_referral_id(ref);
      b->set_destination(dest);
      b->set_deadline_kind(kKind);
      *b->mutable_deadline() = TimeUtil::MicrosecondsToTimestamp(deadline);
      a.idempotency_key = "breach:" + ref + ":" + dest + ":" + kKind;
    }
    if (entry.needs_escalation) {
      DeadlineAction& a = action(DeadlineAction::Kind::kEscalate);
      auto* e = a.event.mutable_case_escalated();
      e->set_referral_id(ref);
      e->set_destination(dest);
      e->set_escalated_to(escalate_to_);
      e->set_reason(dest + " did not acknowledge the case by its deadline " + FormatMicros(deadline));
      a.idempotency_key = "escalate-breach:" + ref + ":" + dest;
    }
  }
  return out;
}

void DeadlineWatch::Done(const DeadlineAction& action) {
  const Key key{action.referral_id, action.destination};
  (action.kind == DeadlineAction::Kind::kBreach ? breach_done_ : escalation_done_).insert(key);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry entry = it->second;
  (action.kind == DeadlineAction::Kind::kBreach ? entry.needs_breach : entry.needs_escalation) = false;
  StoreOrForget(key, entry);
}

void DeadlineWatch::StoreOrForget(const Key& key, const Entry& entry) {
  if (entry.needs_breach || entry.needs_escalation) {
    Store(key, entry);
  } else {
    Forget(key);
  }
}

void DeadlineWatch::Store(const Key& key, const Entry& entry) {
  auto it = entries_.find(key);
  if (it != entries_.end()) by_deadline_.erase({it->second.deadline, key});
  entries_[key] = entry;
  by_deadline_.insert({entry.deadline, key});
}

void DeadlineWatch::Forget(const Key& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  by_deadline_.erase({it->second.deadline, key});
  entries_.erase(it);
}

}  // namespace refx::outcomes
