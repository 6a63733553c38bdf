#include "services/delivery/delivery_tracker.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <iterator>

#include "core/event_util.h"
#include "services/common/state_snapshot.h"

namespace refx {

namespace {

int64_t ToMicros(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

TimePoint FromMicros(int64_t micros) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::microseconds(micros)));
}

TimePoint ToTimePoint(const google::protobuf::Timestamp& t) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::microseconds(google::protobuf::util::TimeUtil::TimestampToMicroseconds(t))));
}

}  // namespace

void DeliveryTracker::Apply(const v1::Event& event) {
  if (event.has_referral_withdrawn()) {
    const std::string prefix = event.referral_withdrawn().referral_id() + '\n';
    for (auto it = cases_.lower_bound(prefix); it != cases_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
      auto here = it++;
      here->second.withdrawn = true;
      PruneIfDone(here);
    }
    return;
  }
  const std::string& destination = DestinationOf(event);
  if (destination.empty()) return;
  const std::string key = Key(ReferralIdOf(event), destination);
  if (event.has_case_routed()) {
    const auto [routed, made] = cases_.try_emplace(key);
    if (made) Reindex(routed);
    if (destination == settings_.escalate_to()) {
      escalation_cases_.insert(ReferralIdOf(event));
      // The escalation of the referral's undeliverable cases is now in place.
      const std::string prefix = ReferralIdOf(event) + '\n';
      for (auto it = cases_.lower_bound(prefix);
           it != cases_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
        PruneIfDone(it++);
      }
    }
    return;
  }
  auto it = cases_.find(key);
  if (it == cases_.end()) return;
  Case& c = it->second;
  c.held = false;
  const TimePoint time = ToTimePoint(event.time());
  switch (event.body_case()) {
    case v1::Event::kCaseDelivered: {
      const uint32_t attempt = std::max<uint32_t>(event.case_delivered().attempt(), 1);
      if (attempt == 1 || c.deliveries == 0) c.first_delivered = std::max(c.first_delivered, time);
      if (attempt >= c.deliveries) c.last_delivered = std::max(c.last_delivered, time);
      c.deliveries = std::max(c.deliveries, attempt);
      break;
    }
    case v1::Event::kCaseAcknowledged:
    case v1::Event::kCaseAccepted:
    case v1::Event::kCaseDeclined:
    case v1::Event::kOutcomeRecorded:
    case v1::Event::kCaseClosed:
      c.finished = true;
      break;
    case v1::Event::kCaseUndeliverable:
      c.undeliverable = true;
      break;
    case v1::Event::kCaseEscalated:
      c.escalated = true;
      break;
    case v1::Event::kCaseReceivedBySystem:  // not an acknowledgement
      c.received_attempt = std::max(c.received_attempt, event.case_received_by_system().attempt());
      break;
    case v1::Event::kCaseTransferFailed:
      c.failed_attempt = std::max(c.failed_attempt, event.case_transfer_failed().attempt());
      ++c.transfer_failures;
      c.last_transfer_failure = event.case_transfer_failed().reason();
      break;
    default:
      break;
  }
  PruneIfDone(it);
}

void DeliveryTracker::PruneIfDone(CaseMap::iterator it) {
  const Case& c = it->second;
  const std::string referral_id = it->first.substr(0, it->first.find('\n'));
  const bool escalation_done =
      settings_.escalate_to().empty() || (c.escalated && (c.escalation_routed || HasEscalationCase(referral_id)));
  if (!(c.withdrawn || (c.undeliverable && escalation_done) || (c.finished && !c.undeliverable))) {
    Reindex(it);
    return;
  }
  if (c.indexed_due != kNever) due_.erase({c.indexed_due, &*it});
  auto next = cases_.erase(it);
  // Keys sort by referral id first: the referral's other open cases are
  // next to this one.
  const std::string prefix = referral_id + '\n';
  auto has_prefix = [&prefix](const std::string& key) { return key.compare(0, prefix.size(), prefix) == 0; };
  const bool open_after = next != cases_.end() && has_prefix(next->first);
  const bool open_before = next != cases_.begin() && has_prefix(std::prev(next)->first);
  if (!open_after && !open_before) escalation_cases_.erase(referral_id);
}

std::optional<DeliveryStep> DeliveryTracker::Next(const std::string& key, const Case& c, TimePoint now) const {
  // Asked of every case the due index says may have a step, and of every
  // case an event touched; many have nothing due: the step's strings are
  // made only once one is.
  if (c.held || c.withdrawn) return std::nullopt;
  DeliveryStep::Kind kind;
  uint32_t attempt = 0;
  if (c.undeliverable) {
    if (settings_.escalate_to().empty()) return std::nullopt;
    if (!c.escalated) {
      kind = DeliveryStep::Kind::kEscalate;
    } else if (!c.escalation_routed && !HasEscalationCase(key.substr(0, key.find('\n')))) {
      kind = DeliveryStep::Kind::kRouteEscalation;
    } else {
      return std::nullopt;
    }
  } else if (c.finished) {
    return std::nullopt;
  } else if (c.deliveries == 0) {
    kind = DeliveryStep::Kind::kDeliver;
    attempt = 1;
  } else {
    const auto undeliverable_after = std::chrono::seconds(settings_.undeliverable_after_seconds());
    const auto interval = std::chrono::seconds(settings_.redelivery_interval_seconds());
    // The latest delivery did not reach the agency's case system (no system
    // took it): known lost, so no point waiting for the interval.
    const bool latest_failed = c.failed_attempt >= c.deliveries && c.received_attempt < c.deliveries;
    if (undeliverable_after.count() > 0 && now - c.first_delivered >= undeliverable_after) {
      kind = DeliveryStep::Kind::kUndeliverable;
    } else if (interval.count() > 0 && (latest_failed || now - c.last_delivered >= interval)) {
      kind = DeliveryStep::Kind::kDeliver;
      attempt = c.deliveries + 1;
    } else {
      return std::nullopt;
    }
  }
  DeliveryStep step;
  const size_t cut = key.find('\n');
  step.referral_id = key.substr(0, cut);
  step.destination = key.substr(cut + 1);
  step.kind = kind;
  step.attempt = attempt;
  step.deliveries = c.deliveries;
  step.transfer_failures = c.transfer_failures;
  step.last_transfer_failure = c.last_transfer_failure;
  return step;
}

TimePoint DeliveryTracker::DueAt(const Case& c) const {
  // Mirrors Next: each branch that can give a step gives the earliest
  // `now` at which it does.
  if (c.held || c.withdrawn) return kNever;
  if (c.undeliverable) {
    // Escalating, or routing the escalation: now (Next decides which, and
    // whether the escalation case exists already).
    if (settings_.escalate_to().empty() || (c.escalated && c.escalation_routed)) return kNever;
    return TimePoint::min();
  }
  if (c.finished) return kNever;
  if (c.deliveries == 0) return TimePoint::min();
  const auto undeliverable_after = std::chrono::seconds(settings_.undeliverable_after_seconds());
  const auto interval = std::chrono::seconds(settings_.redelivery_interval_seconds());
  TimePoint due = kNever;
  if (undeliverable_after.count() > 0) due = c.first_delivered + undeliverable_after;
  if (interval.count() > 0) {
    const bool latest_failed = c.failed_attempt >= c.deliveries && c.received_attempt < c.deliveries;
    due = std::min(due, latest_failed ? TimePoint::min() : c.last_delivered + interval);
  }
  return due;
}

void DeliveryTracker::Reindex(CaseMap::iterator it) {
  Case& c = it->second;
  const TimePoint due = DueAt(c);
  if (due == c.indexed_due) return;
  if (c.indexed_due != kNever) due_.erase({c.indexed_due, &*it});
  if (due != kNever) due_.emplace(due, &*it);
  c.indexed_due = due;
}

std::optional<DeliveryStep> DeliveryTracker::NextStep(const std::string& referral_id, const std::string& destination,
                                                      TimePoint now) const {
  const std::string key = Key(referral_id, destination);
  auto it = cases_.find(key);
  if (it == cases_.end()) return std::nullopt;
  return Next(key, it->second, now);
}

std::vector<DeliveryStep> DeliveryTracker::DueSteps(TimePoint now) const {
  std::vector<DeliveryStep> out;
  for (auto entry = due_.begin(); entry != due_.end() && entry->first <= now; ++entry) {
    const auto& [key, c] = *entry->second;
    if (std::optional<DeliveryStep> step = Next(key, c, now)) out.push_back(std::move(*step));
  }
  return out;
}

void DeliveryTracker::Hold(const std::string& referral_id, const std::string& destination) {
  auto it = cases_.find(Key(referral_id, destination));
  if (it == cases_.end()) return;
  it->second.held = true;
  Reindex(it);
}

void DeliveryTracker::MarkEscalationRouted(const std::string& referral_id, const std::string& destination) {
  auto it = cases_.find(Key(referral_id, destination));
  if (it == cases_.end()) return;
  it->second.escalation_routed = true;
  PruneIfDone(it);
}

void DeliveryTracker::ToSnapshotChunks(size_t per_chunk,
                                       const std::function<void(const v1::DeliverySnapshot&)>& add) const {
  ChunkWriter<v1::DeliverySnapshot> w(per_chunk, add);
  v1::DeliverySnapshot& out = *w.chunk();
  for (const auto& [key, c] : cases_) {
    const size_t cut = key.find('\n');
    v1::DeliverySnapshot::Case* o = out.add_open();
    o->mutable_referral_id()->assign(key, 0, cut);
    o->mutable_destination()->assign(key, cut + 1);
    o->add_times(ToMicros(c.first_delivered));
    o->add_times(ToMicros(c.last_delivered));
    for (uint32_t n : {c.deliveries, c.received_attempt, c.failed_attempt, c.transfer_failures}) o->add_counts(n);
    o->set_flags((c.finished ? 1u : 0u) | (c.withdrawn ? 2u : 0u) | (c.undeliverable ? 4u : 0u) |
                 (c.escalated ? 8u : 0u) | (c.escalation_routed ? 16u : 0u));
    o->set_last_transfer_failure(c.last_transfer_failure);
    w.Added();
  }
  for (const std::string& referral_id : escalation_cases_) {
    out.add_exists(referral_id);
    w.Added();
  }
  w.Flush();
}

void DeliveryTracker::AddSnapshotChunk(const v1::DeliverySnapshot& chunk) {
  std::string key;
  for (const auto& o : chunk.open()) {
    key.assign(o.referral_id()).append(1, '\n').append(o.destination());
    // Chunks hold the cases in key order: each goes at the end.
    const auto it = cases_.emplace_hint(cases_.end(), key, Case());
    Case& c = it->second;
    if (o.times_size() >= 2) {
      c.first_delivered = FromMicros(o.times(0));
      c.last_delivered = FromMicros(o.times(1));
    }
    if (o.counts_size() >= 4) {
      c.deliveries = o.counts(0);
      c.received_attempt = o.counts(1);
      c.failed_attempt = o.counts(2);
      c.transfer_failures = o.counts(3);
    }
    c.finished = o.flags() & 1u;
    c.withdrawn = o.flags() & 2u;
    c.undeliverable = o.flags() & 4u;
    c.escalated = o.flags() & 8u;
    c.escalation_routed = o.flags() & 16u;
    c.last_transfer_failure = o.last_transfer_failure();
    Reindex(it);
  }
  for (const std::string& referral_id : chunk.exists()) escalation_cases_.insert(referral_id);
}

}  // namespace refx
