// DeadlineWatch: which cases have passed their acknowledgement deadline
// unacknowledged, and what the outcomes service must append for each: a
// deadline_breached (kind "acknowledge") and then a case_escalated to the
// partnership's escalation destination. Fed with the cases a CaseFold
// changes; knows nothing of sockets, so tests drive it with hand-built
// events and any clock.
//
// The idempotency keys make every action safe to repeat: after a restart
// the watch is rebuilt from the log and a repeat append is answered as a
// duplicate by the broker.
//
// Thread-safety: not thread-safe; one thread updates and asks.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "refx/v1/event.pb.h"
#include "domain/monitoring/case_fold.h"

namespace refx::outcomes {

// One event the outcomes service must append.
struct DeadlineAction {
  enum class Kind { kBreach, kEscalate };
  Kind kind = Kind::kBreach;
  std::string referral_id;
  std::string destination;
  Micros deadline = 0;
  // The event to append (body only: the broker sets seq, time and actor).
  v1::Event event;
  // "breach:<ref>:<dest>:acknowledge" or "escalate-breach:<ref>:<dest>".
  std::string idempotency_key;
};

// "2026-12-08T17:00:00Z" for a time in microseconds.
std::string FormatMicros(Micros micros);

class DeadlineWatch {
 public:
  // `identity` is the outcomes service's own agency id (its escalations in
  // the log are recognised by that actor); `escalate_to` the destination
  // told about a breach ("" = breaches are recorded but not escalated).
  DeadlineWatch(std::string identity, std::string escalate_to);

  // Takes note of the case's current state (call with every case
  // CaseFold::Apply returns). A case awaiting acknowledgement (ROUTED or
  // DELIVERED) with a deadline is watched until its breach and escalation
  // are in the log (or marked Done); any other case is forgotten.
  void Update(const CaseView& c);

  // The actions due at `now`: for each watched case whose deadline is
  // before `now`, the breach (unless already recorded) followed by the
  // escalation (unless this identity already escalated it). Oldest
  // deadline first. The watch is unchanged: call Done for each action once
  // it is durable.
  std::vector<DeadlineAction> Due(Micros now) const;

  // `action` is in the log (appended now, or found to be a duplicate, or
  // refused for good): it is not due again, even if a later Update shows
  // the case from before the event.
  void Done(const DeadlineAction& action);

  // Cases watched (awaiting acknowledgement, with work still to do).
  size_t watching() const { return entries_.size(); }

 private:
  using Key = std::pair<std::string, std::string>;
  struct Entry {
    Micros deadline = 0;
    bool needs_breach = false;
    bool needs_escalation = false;
  };
  // Store when the entry still needs an action, else Forget.
  void StoreOrForget(const Key& key, const Entry& entry);
  void Store(const Key& key, const Entry& entry);
  void Forget(const Key& key);

  std::string identity_;
  std::string escalate_to_;
  std::map<Key, Entry> entries_;
  std::set<std::pair<Micros, Key>> by_deadline_;
  std::set<Key> breach_done_;
  std::set<Key> escalation_done_;
};

}  // namespace refx::outcomes
