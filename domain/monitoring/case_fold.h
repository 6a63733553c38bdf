// CaseFold: the state of every case (one referral at one destination),
// rebuilt by folding the event log in seq order, as the broker keeps it
// (broker/case_lifecycle.h) plus the times a monitoring report and the
// deadline watch need. The log holds only legal transitions, so the fold
// checks nothing: it records what happened.
//
// Holds referral ids, destination codes, states and times; never personal
// data.
//
// Thread-safety: not thread-safe; one thread folds and reads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "refx/v1/event.pb.h"
#include "refx/v1/snapshot.pb.h"

namespace refx::outcomes {

// Microseconds since the Unix epoch (UTC); 0 means "not yet".
using Micros = int64_t;

// What the fold knows about one case.
struct CaseView {
  std::string referral_id;
  std::string destination;
  v1::CaseState state = v1::CASE_STATE_UNSPECIFIED;
  Micros routed_at = 0;
  Micros deadline = 0;  // case_routed.deadline; 0 = none
  Micros first_delivered_at = 0;
  Micros acknowledged_at = 0;
  Micros accepted_at = 0;
  // deadline_breached with deadline_kind "acknowledge" is in the log.
  bool acknowledge_breached = false;
  // Identities (event actors) that escalated this case.
  std::vector<std::string> escalated_by;
  // When the case last left the open states (CLOSED, DECLINED,
  // UNDELIVERABLE, WITHDRAWN); 0 while open.
  Micros closed_at = 0;
};

// True for ROUTED and DELIVERED: the destination has not acknowledged.
bool AwaitsAcknowledgement(v1::CaseState state);
// True unless the case is CLOSED, DECLINED, UNDELIVERABLE or WITHDRAWN (the
// broker's own definition of an open case).
bool IsOpenState(v1::CaseState state);

class CaseFold {
 public:
  // Applies one event. Events must come in seq order; an event for an
  // unknown case (e.g. a read that started mid-log) is ignored. Returns
  // the case the event changed, or nullptr for referral-wide events and
  // events it ignored.
  const CaseView* Apply(const v1::Event& event);

  // The case, or nullptr when the fold has not seen it routed.
  const CaseView* Find(const std::string& referral_id, const std::string& destination) const;

  // The cases of one referral, in the order they were routed.
  std::vector<const CaseView*> CasesOf(const std::string& referral_id) const;

  // Calls fn for every case, ordered by referral id then destination.
  void ForEach(const std::function<void(const CaseView&)>& fn) const;

  size_t size() const { return cases_.size(); }

  // Forgets the cases that left the open states (IsOpenState) before
  // `cutoff`; later events about them are then ignored, as for any unknown
  // case. They stay in the log for reports. Returns how many were dropped.
  size_t ForgetClosedBefore(Micros cutoff);

  // The fold as snapshot chunks (services/common/state_snapshot.h) of at
  // most `per_chunk` referrals each, in referral id order; every chunk
  // holds last_seq. `add` is called once per chunk with a message it may
  // not keep.
  void ToSnapshotChunks(size_t per_chunk, const std::function<void(const v1::CaseFoldSnapshot&)>& add) const;
  // Adds the referrals of one chunk to this fold (chunks of one snapshot,
  // in their order, into a cleared fold).
  void AddSnapshotChunk(const v1::CaseFoldSnapshot& chunk);
  // The fold as one snapshot message, and back (replacing this fold).
  void ToSnapshot(v1::CaseFoldSnapshot* out) const;
  void FromSnapshot(const v1::CaseFoldSnapshot& in);
  // Seq of the last event applied (0 before any).
  uint64_t last_seq() const { return last_seq_; }

 private:
  using Key = std::pair<std::string, std::string>;
  std::map<Key, CaseView> cases_;
  std::map<std::string, std::vector<std::string>> destinations_;  // referral id -> routed destinations
  uint64_t last_seq_ = 0;
};

// Event time in microseconds since the epoch.
Micros EventMicros(const v1::Event& event);

}  // namespace refx::outcomes
