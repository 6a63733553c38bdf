// RouterService: the refx-router process as a library. It reads the event
// log through the broker and opens cases: for each referral_submitted it
// applies the partnership's routing rules (domain/routing) and appends
// one case_routed per destination; for each outcome_recorded whose code has
// a route_to (e.g. PREVENT ADOPTED_TO_CHANNEL -> CHANNEL) it appends a
// case_routed for the next destination. Nothing is dropped: the engine
// always names at least the fallback destination.
//
// Restart and exactly-once:
//   * At start RouterState - which cases exist, the routing history for
//     repeat rules - is loaded from STATE_DIR/router.snapshot and the log
//     after its seq is replayed (not following); without a usable snapshot
//     the log is replayed from seq 1 (services/common/state_snapshot.h).
//     Then the service follows the log from its cursor and acts only on
//     events after it.
//   * A snapshot is taken every RouterOptions::snapshot events or seconds,
//     and when the router stops, only when no route is queued: every route
//     in RouterState was then acknowledged by the broker, so a restart from
//     the snapshot never takes an unappended route as done. Its seq may be
//     past the cursor (as after a full replay); the events in between are
//     handled again and find their cases in RouterState or the broker.
//   * Memory: before each snapshot, referrals, cases and history older than
//     the longest repeat window in the rules plus 12 months (for late
//     incident dates), counted back from the newest event, are forgotten
//     (RouterState::ForgetBefore).
//   * Routes are queued while a burst of the read (the batches the broker
//     had sent when the first was taken; BrokerClient::Read) is handled and
//     appended together in AppendBatchRequest frames (they share the
//     broker's group commits), after each burst or every kMaxQueued routes.
//     They are appended by an AppendPipeline (client/append_pipeline.h):
//     the router reads and routes the next burst while the last one's
//     routes are committed, with two such jobs in flight at most. A route
//     never depends on another's acknowledgement (RouterState counts a case
//     from the moment it is queued), so jobs may be committed in either
//     order. The cursor (STATE_DIR/router.cursor, see CursorFile) is the last seq
//     fully handled: it moves past an event only once every route it caused
//     is acknowledged, and is stored at most once a second (and when Run
//     ends): it only says where a restart resumes.
//   * Each append carries the idempotency key "route:<referral_id>:<dest>"
//     and a case already in RouterState is not appended again, so a crash
//     between an append and the cursor store never routes twice; a case the
//     broker refuses as ILLEGAL_TRANSITION (already open, or the referral
//     was withdrawn) counts as done.
//
// Subject index: for each referral_submitted with a subject key the router
// also appends one subject_indexed event (idempotency key
// "subject:<referral_id>") carrying the key, so that the broker, which
// never holds the subject key, can index the referral by subject for
// subject access requests. Withdrawn referrals are indexed too. After the
// replay, referrals up to the cursor that have none (a log written before
// subject_indexed existed) are indexed first: the backfill. The broker
// seals the key under the referral's history key: while that lives, a
// referral whose record was erased still counts as a repeat (its key comes
// from its subject_indexed event); once the broker destroys it (a
// subject_erased with history_key, when the ROUTING_HISTORY retention
// ends) the router forgets the referral's subject and routing history, and
// takes a snapshot at the next chance so the snapshot forgets it too.
//
// Deadlines: the case_routed deadline is the engine's deadline_unix:
// 23:59:59 Europe/London time on the deadline date (the last second of the
// deadline day in London: 22:59:59 UTC during BST; core/london_time.h
// EndOfLondonDay), or the exact instant for a clock-hour destination (a return-home
// interview 72 hours after the child's return); clock hours without a
// better start count from the referral_submitted event's broker time.
//
// History dates: a case counts in the routing history on the UTC date of its
// case_routed event (broker clock); for a case the router has just appended
// it uses the date of the event that caused it until the routed event comes
// back.
//
// Broker trouble: when the broker stops answering (after the client's
// retries) the service waits and starts again with a fresh replay; any
// other refusal stops Run with that Status, leaving the cursor before the
// event, so a restart tries it again.
//
// Thread-safety: Run blocks the calling thread; other methods may be called
// from any thread while it runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "client/append_pipeline.h"
#include "client/broker_client.h"
#include "core/metrics_http.h"
#include "core/partnership_config.h"
#include "core/status.h"
#include "client/cursor_file.h"
#include "services/router/router_state.h"
#include "services/common/state_dir_lock.h"
#include "services/common/state_snapshot.h"
#include "domain/routing/routing_engine.h"

namespace refx {

struct RouterOptions {
  // The partnership configuration (rules, destinations, calendar). Not
  // owned; must outlive the service.
  const PartnershipConfig* config = nullptr;
  // The subject key secret (kSubjectSecretBytes bytes, see
  // LoadSubjectKeyFile), or "" to route without repeat detection.
  std::string subject_secret;
  // How to reach the broker as the router's identity (a SERVICE agency).
  ClientOptions client;
  // Folder for the cursor and the instance lock; created when missing.
  std::string state_dir;
  // Wait before starting again after the broker stopped answering.
  int retry_delay_ms = 1000;
  // When to snapshot RouterState (every_events 0: never).
  SnapshotPolicy snapshot;
};

class RouterService {
 public:
  // Builds the routing engine and takes the state folder's lock. On success
  // *out is ready to Run. InvalidArgument when the configuration or secret
  // is unusable (see RoutingEngine::Create); IoError or Unavailable (held by
  // another process) from the state folder.
  static Status Create(RouterOptions options, std::unique_ptr<RouterService>* out);

  // Replays, then follows the log and routes until `should_stop` (polled
  // about every 200 ms; may be null) returns true: then OK, with the cursor
  // stored. Returns the Status of a refusal that is not "already done", or
  // of the state folder (see the top of this file).
  Status Run(const std::function<bool()>& should_stop);

  // The last seq fully handled (what the cursor says or is about to say).
  uint64_t handled_seq() const { return handled_seq_.load(); }

  // Events received from the broker since the service was made, replays
  // included (refx_router_events_read_total). Any thread.
  uint64_t events_read() const { return events_read_.load(); }

  // The router's figures in Prometheus text format (core/metrics_http.h):
  // refx_router_handled_seq, _log_head_seq and _cursor_lag (gauges: the
  // cursor, the log head the broker last reported, and how far behind it
  // the cursor is), refx_router_cases_routed_total (case_routed events
  // this process appended) and refx_router_subjects_indexed_total
  // (subject_indexed events it appended) and refx_router_events_read_total
  // (events received, see events_read). Any thread.
  std::string RenderMetrics() const;
  // For /healthz: true once the replay is done and the router follows the
  // log (false while replaying or waiting for the broker); appends
  // "handled_seq" and "following" to *fields. Any thread.
  bool Healthy(std::string* fields) const;

 private:
  explicit RouterService(RouterOptions options);

  // One replay-and-follow pass with fresh connections and state.
  Status RunOnce(const std::function<bool()>& should_stop);
  // Updates state_ from one event (replay and live).
  void Apply(const v1::Event& event);
  // Acts on one event after the cursor. *acted: it appended something.
  Status Handle(const v1::Event& event, bool* acted);
  Status RouteSubmitted(const v1::Event& event, bool* acted);
  Status RouteOutcome(const v1::Event& event, bool* acted);
  // Queues the subject_indexed event of the referral submitted at `seq`,
  // unless it has no subject key or has one already.
  void QueueSubject(uint64_t seq, bool* acted);
  // Queues and appends the subject_indexed events missing up to `up_to_seq`.
  Status BackfillSubjects(uint64_t up_to_seq);
  // Routes or subjects queued, or being appended (not yet acknowledged).
  bool HasQueued() const {
    return !queued_.empty() || !queued_subjects_.empty() || (pipeline_ && pipeline_->pending() > 0);
  }
  // Queues one case_routed (and counts the case as open from now on).
  void AppendRouted(const std::string& referral_id, const RoutingDecision& decision, const CivilDate& on,
                    bool* acted);
  // Starts appending every queued route and subject (a job of
  // pipeline_), first taking in the jobs that are done (TakeFlushed). The
  // read goes on while the job is in flight; with kFlushDepth jobs in
  // flight it waits for one. Returns the first refusal of a job taken in.
  Status FlushQueued();
  // Takes in the flush jobs that are done (all of them, waiting, when
  // `wait`), oldest first: a route the broker says is done
  // (ILLEGAL_TRANSITION) counts as appended; once every job up to one is
  // acknowledged, the handled seq moves to the last event read before it
  // (to read_seq_ when nothing is left in flight). Any other refusal is
  // returned, and the handled seq stays before it.
  Status TakeFlushed(bool wait);
  struct FlushJob;
  Status TakeFlushJob(const FlushJob& job);
  Status StoreCursor();
  // Forgets what is older than the history window, then durably snapshots
  // RouterState as of read_seq_ (no route may be queued).
  Status TakeSnapshot();

  struct QueuedRoute {
    std::string referral_id;
    RoutingDecision decision;
  };

  RouterOptions options_;
  std::unique_ptr<RoutingEngine> engine_;
  StateDirLock lock_;
  CursorFile cursor_;
  RouterState state_;
  std::unique_ptr<AppendPipeline> pipeline_;  // this pass's appends (made in RunOnce)
  Status flush_failure_;                      // the first refusal a flush job had
  std::atomic<uint64_t> handled_seq_{0};
  std::atomic<uint64_t> head_seq_{0};   // the log head last reported by the broker
  std::atomic<uint64_t> routed_{0};     // case_routed appended by this process
  std::atomic<bool> following_{false};  // replay done, following the log
  uint64_t stored_seq_ = 0;
  std::vector<QueuedRoute> queued_;
  struct QueuedSubject {
    std::string referral_id;
    std::string subject_key;
  };
  std::vector<QueuedSubject> queued_subjects_;
  std::atomic<uint64_t> subjects_indexed_{0};  // subject_indexed appended by this process
  std::atomic<uint64_t> events_read_{0};        // events received (replays and follow)
  uint64_t read_seq_ = 0;  // the last event handled (its routes may still be queued)
  SnapshotFile snapshot_file_;
  SnapshotSchedule schedule_;
  std::string read_hash_;       // the chain hash of the event at read_seq_
  uint64_t state_seq_ = 0;      // the last event applied to state_
  int64_t newest_day_ = 0;      // the date of the newest event applied (days since 1970)
  int history_months_ = 12;     // the longest repeat window of the rules
  // A subject was forgotten (its history key destroyed) since the last
  // snapshot: the next chance takes one, so the snapshot forgets it too.
  bool forgot_subjects_ = false;
};

}  // namespace refx
