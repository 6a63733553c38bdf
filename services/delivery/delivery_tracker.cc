#include "services/delivery/delivery_tracker.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "core/event_util.h"

namespace refx {

namespace {

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
    exists_.insert(key);
    cases_.try_emplace(key);
    if (destination == settings_.escalate_to()) {
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

void DeliveryTracker::PruneIfDone(std::map<std::string, Case>::iterator it) {
  const Case& c = it->second;
  const bool escalation_done =
      settings_.escalate_to().empty() ||
      (c.escalated && (c.escalation_routed ||
                       exists_.count(Key(it->first.substr(0, it->first.find('\n')), settings_.escalate_to()))));
  if (c.withdrawn || (c.undeliverable && escalation_done) || (c.finished && !c.undeliverable)) cases_.erase(it);
}

std::optional<DeliveryStep> DeliveryTracker::Next(const std::string& key, const Case& c, TimePoint now) const {
  if (c.held || c.withdrawn) return std::nullopt;
  DeliveryStep step;
  const size_t cut = key.find('\n');
  step.referral_id = key.substr(0, cut);
  step.destination = key.substr(cut + 1);
  step.deliveries = c.deliveries;
  step.transfer_failures = c.transfer_failures;
  step.last_transfer_failure = c.last_transfer_failure;
  if (c.undeliverable) {
    if (settings_.escalate_to().empty()) return std::nullopt;
    if (!c.escalated) {
      step.kind = DeliveryStep::Kind::kEscalate;
      return step;
    }
    if (!c.escalation_routed && !exists_.count(Key(step.referral_id, settings_.escalate_to()))) {
      step.kind = DeliveryStep::Kind::kRouteEscalation;
      return step;
    }
    return std::nullopt;
  }
  if (c.finished) return std::nullopt;
  if (c.deliveries == 0) {
    step.kind = DeliveryStep::Kind::kDeliver;
    step.attempt = 1;
    return step;
  }
  const auto undeliverable_after = std::chrono::seconds(settings_.undeliverable_after_seconds());
  const auto interval = std::chrono::seconds(settings_.redelivery_interval_seconds());
  if (undeliverable_after.count() > 0 && now - c.first_delivered >= undeliverable_after) {
    step.kind = DeliveryStep::Kind::kUndeliverable;
    return step;
  }
  // The latest delivery did not reach the agency's case system (no system
  // took it): known lost, so no point waiting for the interval.
  const bool latest_failed = c.failed_attempt >= c.deliveries && c.received_attempt < c.deliveries;
  if (interval.count() > 0 && (latest_failed || now - c.last_delivered >= interval)) {
    step.kind = DeliveryStep::Kind::kDeliver;
    step.attempt = c.deliveries + 1;
    return step;
  }
  return std::nullopt;
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
  for (const auto& [key, c] : cases_) {
    if (std::optional<DeliveryStep> step = Next(key, c, now)) out.push_back(std::move(*step));
  }
  return out;
}

void DeliveryTracker::Hold(const std::string& referral_id, const std::string& destination) {
  auto it = cases_.find(Key(referral_id, destination));
  if (it != cases_.end()) it->second.held = true;
}

void DeliveryTracker::MarkEscalationRouted(const std::string& referral_id, const std::string& destination) {
  auto it = cases_.find(Key(referral_id, destination));
  if (it == cases_.end()) return;
  it->second.escalation_routed = true;
  PruneIfDone(it);
}

}  // namespace refx
