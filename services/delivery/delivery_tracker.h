// DeliveryTracker: the delivery service's view of every open case, built
// from the event log (case_routed, case_delivered, acknowledgements,
// undeliverable, escalated, withdrawn...), and what it must do next for
// each at a given time:
//
//   routed, never delivered                     -> deliver (attempt 1)
//   delivered, not acknowledged:
//     undeliverable_after_seconds since the first delivery -> mark undeliverable
//     redelivery_interval_seconds since the last delivery  -> deliver again (attempt n+1)
//     the agency's case system failed to take the latest delivery
//     (case_transfer_failed for it, and no case_received_by_system)
//                                               -> deliver again now, without
//                                                  waiting for the interval
//   undeliverable, not escalated                -> escalate to delivery.escalate_to
//   escalated, no case at escalate_to yet       -> route the referral there
//
// A setting of 0 seconds switches that timer off. Times come from the
// events: the broker's clock for events read from the log, the service's
// clock for an event it has just appended (until the log shows it). When
// both are known the later one counts, so a clock running ahead (a test's
// fake clock) never makes the service redeliver in a loop. Acknowledged,
// accepted, declined, outcome-recorded and closed cases are not delivered
// again (a case_received_by_system is a machine's receipt, not an
// acknowledgement: the case is still redelivered until a person
// acknowledges it, and still becomes undeliverable on time). This tracker is
// the one place that decides what follows a transfer failure: the adapter
// that records it only reports. A case system that keeps failing is
// redelivered at the pace of the adapter's own retries until
// undeliverable_after_seconds, as before. An undeliverable case is still
// escalated; a withdrawn referral's cases need nothing more.
//
// Bounded: a case leaves memory once it needs no further step; of the
// cases at escalate_to it remembers only those of referrals that still have
// an open case (what an escalation asks: is the case there already?). A
// referral whose cases all closed and that later gets one more, which then
// becomes undeliverable, has its escalation route appended again and
// answered by the broker as already done (its idempotency key, or the case
// exists) - the same answer as before, with one more request.
//
// Thread-safety: not thread-safe; owned by the delivery service's thread.
// No I/O; pure bookkeeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "refx/v1/event.pb.h"
#include "refx/v1/routing.pb.h"
#include "refx/v1/snapshot.pb.h"

namespace refx {

using TimePoint = std::chrono::system_clock::time_point;

// One thing the delivery service must append for a case.
struct DeliveryStep {
  enum class Kind { kDeliver, kUndeliverable, kEscalate, kRouteEscalation };
  Kind kind = Kind::kDeliver;
  std::string referral_id;
  std::string destination;
  // kDeliver: the attempt to append (1 for the first release).
  uint32_t attempt = 0;
  // Deliveries made so far (for reasons).
  uint32_t deliveries = 0;
  // Deliveries the agency's case system failed to take (case_transfer_failed),
  // and the last failure's reason (no personal data), for reasons.
  uint32_t transfer_failures = 0;
  std::string last_transfer_failure;
};

class DeliveryTracker {
 public:
  explicit DeliveryTracker(v1::DeliverySettings settings) : settings_(std::move(settings)) {}
  // Movable, not copyable: the due index points at the entries of cases_
  // (a moved map keeps its nodes).
  DeliveryTracker(DeliveryTracker&&) = default;
  DeliveryTracker& operator=(DeliveryTracker&&) = default;
  DeliveryTracker(const DeliveryTracker&) = delete;
  DeliveryTracker& operator=(const DeliveryTracker&) = delete;

  // Takes one event into account: one read from the log (broker time), or
  // one the service has just appended (stamped with its own clock).
  // Events of other kinds are ignored.
  void Apply(const v1::Event& event);

  // The next step for case (referral_id, destination) at `now`; nullopt
  // when it needs nothing now (or is unknown, or held).
  std::optional<DeliveryStep> NextStep(const std::string& referral_id, const std::string& destination,
                                       TimePoint now) const;

  // Every case that has a step due at `now` (its first step each), in the
  // order they fell due. Costs the cases due, not every open case: each
  // case is indexed under the earliest time a step can fall due for it.
  std::vector<DeliveryStep> DueSteps(TimePoint now) const;

  // The broker refused a step for this case as an illegal transition (its
  // state moved on, and the event saying so is on its way): no step for it
  // until the next event about it.
  void Hold(const std::string& referral_id, const std::string& destination);

  // The escalation route of this case is in place (appended, or the broker
  // said the case at escalate_to already exists).
  void MarkEscalationRouted(const std::string& referral_id, const std::string& destination);

  // Cases that may still need a step.
  size_t open_count() const { return cases_.size(); }
  // Referrals remembered as having a case at escalate_to.
  size_t escalation_case_count() const { return escalation_cases_.size(); }

  // The tracker as snapshot chunks (services/common/state_snapshot.h) of at
  // most `per_chunk` cases each (holds are not kept: a step the broker
  // refused is asked again once, and refused again). `add` is called once
  // per chunk with a message it may not keep.
  void ToSnapshotChunks(size_t per_chunk, const std::function<void(const v1::DeliverySnapshot&)>& add) const;
  // Adds one chunk (the chunks of one snapshot, in order, into an empty
  // tracker).
  void AddSnapshotChunk(const v1::DeliverySnapshot& chunk);

 private:
  struct Case {
    uint32_t deliveries = 0;
    TimePoint first_delivered{};
    TimePoint last_delivered{};
    bool finished = false;      // acknowledged or further on, or closed
    bool withdrawn = false;
    bool undeliverable = false;
    bool escalated = false;
    bool escalation_routed = false;
    bool held = false;
    // Machine receipts (the highest attempt each names).
    uint32_t received_attempt = 0;
    uint32_t failed_attempt = 0;
    uint32_t transfer_failures = 0;
    std::string last_transfer_failure;
    // Where the case is in due_ (kNever: not in it).
    TimePoint indexed_due = kNever;
  };
  static constexpr TimePoint kNever = TimePoint::max();
  using CaseMap = std::map<std::string, Case>;

  static std::string Key(const std::string& referral_id, const std::string& destination) {
    return referral_id + '\n' + destination;
  }
  std::optional<DeliveryStep> Next(const std::string& key, const Case& c, TimePoint now) const;
  // The earliest time Next can give case `c` a step: TimePoint::min() for
  // one due now, kNever for none until another event about it. Never later
  // than Next would say (earlier only costs a look that finds nothing).
  TimePoint DueAt(const Case& c) const;
  // Files the case under DueAt in due_ after a change to it.
  void Reindex(CaseMap::iterator it);
  // Forgets a case that can need no further step, and the referral's case
  // at escalate_to once the referral has no open case left. After a change
  // to the case; reindexes it when it stays.
  void PruneIfDone(CaseMap::iterator it);
  // True when the referral has a case at escalate_to (as far as known).
  bool HasEscalationCase(const std::string& referral_id) const {
    return escalation_cases_.count(referral_id) > 0;
  }

  v1::DeliverySettings settings_;
  CaseMap cases_;  // open cases, by referral id '\n' destination
  // (due time, case): every open case that may need a step, by DueAt.
  std::set<std::pair<TimePoint, const CaseMap::value_type*>> due_;
  // Referral ids with an open case and a case at escalate_to.
  std::unordered_set<std::string> escalation_cases_;
};

}  // namespace refx
