// RouterState: what the router knows from the event log, rebuilt at start
// from its snapshot (services/common/state_snapshot.h) and the log after
// it, or by replaying the log from seq 1.
//   * the subject key (core/subject_key.h: a keyed hash, never a name or a
//     date of birth) of each submitted referral, by submission seq;
//   * which cases (referral, destination) exist, whoever routed them;
//   * routing history: subject key -> destination -> the date each of the
//     subject's referrals was routed there, for "repeat" rules;
//   * which referrals were withdrawn;
//   * which referrals' subject keys are in the log (subject_indexed).
//
// History is answered "as of" a referral: RoutingHistoryBefore(seq) only
// counts referrals submitted before seq, so a referral is never its own
// repeat and a decision made again after a crash is the one made first,
// whatever was routed since.
//
// Bounded: ForgetBefore drops referrals, cases and history older than the
// longest repeat window (they stay in the log); memory then follows the
// referrals of that window, not the whole history.
//
// Thread-safety: not thread-safe; owned by the router's one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/civil_date.h"
#include "domain/routing/condition.h"
#include "refx/v1/snapshot.pb.h"

namespace refx {

class RouterState {
 public:
  // Records the subject key of the referral submitted at `seq` on
  // `submitted_on`; "" (no usable identity, or no secret) records nothing.
  void AddReferral(uint64_t seq, const std::string& subject_key, const CivilDate& submitted_on = {});

  // Records that case (referral_id, destination) exists and was routed on
  // `routed_on`. Recording a case again replaces its date (the router first
  // records the date it appended, then the broker's date when the event
  // comes back). A referral id that is not "R-" + seq is ignored.
  void AddCase(const std::string& referral_id, const std::string& destination, const CivilDate& routed_on);

  bool HasCase(const std::string& referral_id, const std::string& destination) const;

  void MarkWithdrawn(const std::string& referral_id) { withdrawn_.insert(referral_id); }
  bool IsWithdrawn(const std::string& referral_id) const { return withdrawn_.count(referral_id) > 0; }

  // The subject key of the referral submitted at `seq`, or "".
  std::string SubjectKeyOf(uint64_t seq) const;

  // Records `subject_key` for the referral submitted at `seq` when it has
  // none (its submission came back erased: the key is then its
  // subject_indexed event's, opened with the history key), with `on` as
  // its submission date, and adds its cases at `destinations` that are
  // recorded to the routing history. Does nothing when it has a key.
  void RestoreSubject(uint64_t seq, const std::string& subject_key, const CivilDate& on,
                      const std::vector<std::string>& destinations);
  // Forgets the subject key of the referral submitted at `seq` and its
  // routing history (its ROUTING_HISTORY retention ended: the broker
  // destroyed its history key). Its cases stay. Returns whether it had one.
  bool ForgetSubject(uint64_t seq);

  // Whether the subject key of the referral submitted at `seq` is in the
  // log (a subject_indexed event, or one the router has queued).
  void MarkSubjectIndexed(uint64_t seq) { subject_indexed_.insert(seq); }
  bool IsSubjectIndexed(uint64_t seq) const { return subject_indexed_.count(seq) > 0; }
  // The submission seqs up to `up_to_seq` that have a subject key but no
  // subject_indexed event yet, in order (the backfill of older logs).
  std::vector<uint64_t> UnindexedSubjects(uint64_t up_to_seq) const;

  // The latest date a referral submitted before `before_seq` with this
  // subject key was routed to `destination`; nullopt when none.
  std::optional<CivilDate> LastRoutedOn(const std::string& subject_key, const std::string& destination,
                                        uint64_t before_seq) const;

  size_t case_count() const { return cases_.size(); }

  // Forgets referrals submitted, cases routed and history dates before
  // `cutoff` (withdrawals are kept: they are few). A referral older than
  // that is then routed as if its subject had no earlier history, and the
  // broker's idempotency keys and "already exists" answers keep a case that
  // is routed again from being opened twice. Returns the entries dropped.
  size_t ForgetBefore(const CivilDate& cutoff);

  // The state as snapshot chunks (services/common/state_snapshot.h) of at
  // most `per_chunk` entries each; the first holds the counts. `add` is
  // called once per chunk with a message it may not keep.
  void ToSnapshotChunks(size_t per_chunk, const std::function<void(const v1::RouterSnapshot&)>& add) const;
  // Adds one chunk to this state (the chunks of one snapshot, in their
  // order, into an empty state).
  void AddSnapshotChunk(const v1::RouterSnapshot& chunk);
  // The state as one snapshot message, and back (replacing this state).
  void ToSnapshot(v1::RouterSnapshot* out) const;
  void FromSnapshot(const v1::RouterSnapshot& in);

 private:
  struct Submitted {
    std::string subject_key;
    int64_t day = 0;  // CivilDate::ToDays of the submission
  };
  std::unordered_map<uint64_t, Submitted> subject_by_seq_;
  std::unordered_set<uint64_t> subject_indexed_;
  std::unordered_map<std::string, int64_t> cases_;  // referral id '\n' destination -> routed on (days)
  // The routing history of one subject at one destination: referral seq ->
  // routed on, and the latest of those dates. Live routing asks about
  // everything before a seq past the last one, answered from `latest`
  // without a walk; only a question about the past walks `dates`.
  struct DestinationHistory {
    std::map<uint64_t, CivilDate> dates;
    CivilDate latest;
  };
  // subject key -> destination -> its history
  std::unordered_map<std::string, std::map<std::string, DestinationHistory>> history_;
  std::set<std::string> withdrawn_;
};

// The RoutingHistory the engine sees while routing the referral submitted
// at `before_seq`. Borrows `state`, which must outlive it and not change
// while the engine runs.
class RoutingHistoryBefore : public RoutingHistory {
 public:
  RoutingHistoryBefore(const RouterState* state, uint64_t before_seq) : state_(state), before_seq_(before_seq) {}
  std::optional<CivilDate> LastRoutedOn(const std::string& subject_key,
                                        const std::string& destination) const override {
    return state_->LastRoutedOn(subject_key, destination, before_seq_);
  }

 private:
  const RouterState* state_;
  uint64_t before_seq_;
};

}  // namespace refx
