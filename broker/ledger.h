// Ledger: the broker's decisions, without sockets or threads. It takes
// referrals and lifecycle appends from authenticated agencies, checks them
// (validation, roles, idempotency, lifecycle transitions), fills in what the
// broker decides (seq, time, actor, a delivery's disclosed view) and stages
// each accepted event in the batch being built. It answers state lookups as
// of that batch: the batch being built, then the batch being written (in
// flight), then the log. It never writes the log: the broker's loop hands
// the built batch to its writer (BeginCommit) and reports the outcome
// (CommitSucceeded / CommitFailed).
//
// Every refusal leaves the ledger as it was. A state that cannot be read is
// never taken for an absent one (that could write an event twice or skip a
// check): the request is refused with state_unreadable set.
//
// Thread-safety: not thread-safe; one thread (the broker's loop) calls every
// method. Between BeginCommit and CommitSucceeded/CommitFailed another
// thread may read in_flight().events (the broker's writer); the ledger only
// reads that batch meanwhile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/timestamp.pb.h>

#include "broker/group_commit.h"
#include "broker/waiter.h"
#include "core/civil_date.h"
#include "core/partnership_config.h"
#include "core/status.h"
#include "eventlog/event_log.h"
#include "refx/v1/wire.pb.h"

namespace refx::broker {

// The time the broker stamps on events: the system clock to the nanosecond
// (protobuf's TimeUtil::GetCurrentTime may round), so events of the same
// second keep their order in time filters and as-of views.
google::protobuf::Timestamp EventTimeNow();

// Reads the logged event at `seq` opened (EventLog::OpenStored: sealed
// fields merged back, or marked erased once the referral's key is
// destroyed): OK; NotFound when there is none; Corruption when its bytes do
// not parse or cannot be opened; IoError when unreadable.
Status ReadEvent(const eventlog::EventLog& log, uint64_t seq, v1::Event* out);

// Where one request stands once the ledger has looked at it.
struct Staged {
  // Not OK: refused, nothing staged. Field paths of TakeReferral's
  // refusals begin with "referral", Append's with "append".
  Status status;
  // The refusal is the log's state being unreadable, not the request's
  // fault (status says why; the client should be told to retry).
  bool state_unreadable = false;
  // The referral id and seq of the event (of the original, for a
  // duplicate); the referral id is empty for an event of no referral.
  std::string referral_id;
  uint64_t seq = 0;
  bool duplicate = false;  // repeats an earlier request; nothing new staged
  // The batch (building or in flight) whose commit makes it durable and
  // its index in that batch's events; the caller adds its waiter there.
  // Null when it is durable already (a duplicate of a logged event).
  // Owned by the ledger; valid until the next BeginCommit/Commit* call.
  std::vector<Waiter>* wait_list = nullptr;
  size_t pending_index = 0;
};

class Ledger {
 public:
  // `config` and `log` must outlive the ledger, which takes the log's head
  // as committed. The ledger only reads the log.
  Ledger(const PartnershipConfig* config, const eventlog::EventLog* log);
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Checks one referral from `submitter` (which must have the SUBMITTER
  // role; the caller checks), dated no later than `today`. De-duplicates it
  // by (agency, referrer_reference) against the log and both batches: the
  // same referral again is a duplicate, a different one is refused with
  // IDEMPOTENCY_CONFLICT. A new one is staged as a referral_submitted event;
  // *referral is taken (attached without a copy if it lives on an arena,
  // which the caller must then keep in building().arenas; else swapped out).
  Staged TakeReferral(const v1::Agency& submitter, v1::Referral* referral, const CivilDate& today);

  // Checks a lifecycle append by `actor`: its idempotency key (if any)
  // against the log and both batches, then the transition against the
  // case's current state (case_lifecycle.h). A new event is staged with its
  // case and referral state; a delivery gets the destination's disclosed
  // view of the submitted referral, which the broker, not the client, fills.
  // A withdrawal withdraws every open case of its referral. A
  // case_received_by_system or case_transfer_failed needs an idempotency
  // key (InvalidArgument, append.idempotency_key, without one).
  //
  // With `person` (a request a CONSOLE identity made on behalf of that
  // person; `actor` is then ActingFor's agency), only the lead actions
  // (acknowledge, accept, decline, outcome, close, assign) on cases at the
  // destinations the person works, and account_activity, are taken; the
  // event records the person, and the idempotency key is the person's own.
  // account_activity (no referral) is taken only from a CONSOLE identity or
  // on behalf of a person; its account must be a configured person or
  // "unknown".
  Staged Append(const v1::Agency& actor, const v1::AppendRequest& request, const v1::StaffMember* person = nullptr);

  // Stages a record_accessed event (an audit read by `actor`: `what` names
  // what was read with ids and seqs only) and returns its seq.
  // `person`, when set, is recorded on the event.
  uint64_t StageAccess(const v1::Agency& actor, const std::string& what, const std::string& purpose,
                       const std::string& referral_id, const v1::StaffMember* person = nullptr);
  // The same for a read of several referrals (a subject query): every id
  // is recorded, and the event is indexed under the first.
  uint64_t StageAccess(const v1::Agency& actor, const std::string& what, const std::string& purpose,
                       const std::vector<std::string>& referral_ids, const v1::StaffMember* person);

  // Stages `event` (its body set; seq, time and actor filled here) as the
  // broker's own, deleting the data key of `erase_data_key` in the same
  // write when not empty (an erasure, broker_erase.cc), and the history
  // key and by_subject entries of `erase_history_key`. Returns its seq.
  uint64_t StageBrokerEvent(const v1::Agency& actor, v1::Event event, const std::string& erase_data_key,
                            const std::string& erase_history_key = "");

  // Uses `config` (which must outlive its use) from the next request on: a
  // reloaded configuration. Batches already staged are unaffected.
  void SetConfig(const PartnershipConfig* config);
  const PartnershipConfig& config() const { return *config_; }

  // The rights a request `identity` makes on behalf of `person_id` is
  // checked against. OK with *acting set to the person's agency holding only
  // the roles the person holds (LEAD, AUDITOR; an ADMIN person holds none of
  // the agency roles) and *person to the configured person (owned by the
  // configuration). PermissionDenied, naming the reason, when `identity`
  // lacks the CONSOLE role or the person is unknown or disabled.
  Status ActingFor(const v1::Agency& identity, const std::string& person_id, v1::Agency* acting,
                   const v1::StaffMember** person) const;
  // The destinations whose cases `agency` may see and work: those it owns,
  // or with `person`, only those the person works.
  const std::set<std::string>& Worked(const v1::Agency& agency, const v1::StaffMember* person) const;

  // State as of the batch being built: OK with *out set; NotFound if there
  // is none; any other error when it cannot be read.
  Status LoadReferral(const std::string& referral_id, v1::ReferralRecord* out) const;
  Status LoadCase(const std::string& referral_id, const std::string& destination, v1::CaseRecord* out) const;
  // The submitted referral of `referral_id` (a copy into *out).
  Status LoadSubmission(const std::string& referral_id, v1::Referral* out) const;

  // Whether `agency` sees every event (SERVICE or AUDITOR).
  static bool MaySeeAll(const v1::Agency& agency);
  // Whether `agency`, which may not see everything, may see `event`: events
  // of the destinations it owns, and withdrawals of referrals sent to one.
  // False when the referral cannot be read (never disclose on doubt).
  // With `person`, only the destinations that person works count.
  bool Visible(const v1::Agency& agency, const v1::Event& event, const v1::StaffMember* person = nullptr) const;
  // The destination codes `agency_id` owns (empty for an unknown agency).
  const std::set<std::string>& OwnedBy(const std::string& agency_id) const;

  // The batch being built and the batch in flight (empty when none is).
  GroupCommit& building() { return *building_; }
  GroupCommit& in_flight() { return *in_flight_; }
  bool in_flight_active() const { return in_flight_active_; }
  // The seq the next staged event gets.
  uint64_t NextSeq() const;
  // The head of the log as of the last CommitSucceeded/CommitFailed.
  uint64_t committed_head() const { return committed_head_; }

  // Makes the batch being built the batch in flight and starts a new one.
  // False, changing nothing, when a batch is in flight or nothing is built.
  bool BeginCommit();
  // The batch in flight is in the log: returns it (to be answered) and
  // advances the committed head past it. Requires in_flight_active().
  std::unique_ptr<GroupCommit> CommitSucceeded();
  // The batch in flight could not be written: returns it and the batch
  // built on top of it (which assumed its seqs and state), both dropped
  // from the ledger for their waiters to be told; the head is re-read from
  // the log. Requires in_flight_active().
  std::pair<std::unique_ptr<GroupCommit>, std::unique_ptr<GroupCommit>> CommitFailed();

 private:
  // Whether a request under dedupe key `key` was seen before, in the batch
  // being built, the one in flight or the log. If so *out is its answer: a
  // duplicate (waiting on its batch, or durable), `conflict(first seq)` when
  // same(first event) is false, or INTERNAL when the index or the first
  // cannot be read (never "new" on an error: that could write it twice).
  // `kind`, `by` and `who` name the request in the log ("append", "an
  // append by", agency id).
  template <typename Same>
  bool FindRepeat(const std::string& key, const Same& same, Status (*conflict)(uint64_t), const char* kind,
                  const char* by, const std::string& who, Staged* out) const;
  // The serialised record staged under a case_state key, or null.
  const std::string* StagedState(const std::string& key) const;
  void StageState(eventlog::PendingEvent* pending, const std::string& key, const google::protobuf::Message& value);
  // Whether `person` may append `event` (acting as `actor`): the lead
  // actions at a destination the person works, or account_activity.
  Status CheckPersonAppend(const v1::StaffMember& person, const v1::Agency& actor, const v1::Event& event) const;
  // Checks and stages an account_activity event (seq, time, actor and
  // person already set), under dedupe key `key` if not empty.
  Staged StageAccountActivity(const v1::Agency& actor, const v1::StaffMember* person, v1::Event event,
                              std::string key);
  // Stages `pending` in the batch being built (under dedupe key `key` if
  // not empty) and returns where it waits.
  Staged StagePending(eventlog::PendingEvent pending, std::string key);
  // Fills a case_delivered event: recipient, disclosed groups and view.
  Status Disclose(const v1::CaseRecord& current, const v1::CaseRecord& next, v1::Event* event) const;

  const PartnershipConfig* config_;
  const eventlog::EventLog* log_;
  std::unique_ptr<GroupCommit> building_;
  std::unique_ptr<GroupCommit> in_flight_;
  bool in_flight_active_ = false;
  // The log's head as the loop last saw it committed (the writer advances
  // the log's own head before the loop has answered the batch).
  uint64_t committed_head_ = 0;
  // The submission LoadSubmission last opened from the log: the
  // case_delivered events of one referral's destinations come together, and
  // each would open the same sealed event again. Kept only while the log's
  // committed content stays as it was (forgotten at BeginCommit,
  // CommitSucceeded and CommitFailed), so an erasure's write is never
  // outlived by an opened copy.
  mutable std::string opened_submission_id_;
  mutable v1::Referral opened_submission_;
  // Destination codes each agency owns (for LEAD visibility).
  std::map<std::string, std::set<std::string>> owned_destinations_;
  // Destination codes each person works (for a person's visibility).
  std::map<std::string, std::set<std::string>> person_destinations_;
};

}  // namespace refx::broker
