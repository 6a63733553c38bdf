// DeliveryService: the refx-delivery process as a library. It reads the
// event log through the broker as a SERVICE identity and releases each case
// to its destination: on case_routed it appends case_delivered (attempt 1);
// while the destination has not acknowledged it appends case_delivered
// again every delivery.redelivery_interval_seconds (attempt 2, 3...); once
// delivery.undeliverable_after_seconds have passed since the first delivery
// without acknowledgement it appends case_undeliverable, case_escalated
// {escalated_to: delivery.escalate_to} and a case_routed opening the case at
// escalate_to with rule_id "ESCALATED_UNDELIVERABLE" (see DeliveryTracker).
// An agency adapter's case_transfer_failed for the latest attempt brings the
// redelivery forward; its case_received_by_system is not an acknowledgement.
//
// What "delivered" means: case_delivered is the disclosure record, and the
// broker fills it - recipient agency, need-to-know field groups, purpose,
// rule, reason, deadline and the minimised view of the referral - from the
// configuration and the stored referral; this service sends only referral,
// destination and attempt, so it cannot disclose more than the destination
// needs to know. The lead's live "push" is the broker streaming those
// case_delivered events to the destination's agency when its read follows
// the log (the inbox `watch`): this service holds no lead connections.
//
// Exactly once and restarts: every append has an idempotency key -
// "deliver:<ref>:<dest>:<attempt>", "undeliverable:<ref>:<dest>",
// "escalate:<ref>:<dest>", "route:<ref>:<escalate_to>" - so a step repeated
// after a crash is answered with the original seq. A step the broker
// refuses as ILLEGAL_TRANSITION (the case moved on: acknowledged, withdrawn,
// the escalation case already open) counts as done. Timers are rebuilt from
// the log on every start (the events carry the broker's timestamps): from
// the snapshot of the open cases in the state folder (delivery.snapshot,
// services/common/state_snapshot.h) and the log after it, or from the whole
// log. A snapshot is taken only between read bursts, once every append in
// flight is acknowledged, so it holds nothing unsent.
//
// Appends in flight: the steps of a burst are appended by an AppendPipeline
// (client/append_pipeline.h) while the service reads on, two jobs at most in
// flight. A case with a step in flight gets no other step until the
// broker's answer is taken in (Took), so each case moves one step at a
// time, as it would with the service waiting.
//
// Time: the clock is injectable (DeliveryOptions::clock) so tests can move
// it; timers are checked about every 200 ms.
//
// Broker trouble: when the broker stops answering the service waits and
// starts again with a fresh replay; any other refusal stops Run with that
// Status.
//
// Thread-safety: Run blocks the calling thread; the const accessors may be
// called from any thread while it runs.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <utility>
#include <string>

#include "client/append_pipeline.h"
#include "client/broker_client.h"
#include "core/metrics_http.h"
#include "services/common/state_dir_lock.h"
#include "services/common/state_snapshot.h"
#include "core/partnership_config.h"
#include "core/status.h"
#include "core/working_calendar.h"
#include "services/delivery/delivery_tracker.h"

namespace refx {

struct DeliveryOptions {
  // The partnership configuration (delivery settings, destinations,
  // calendar). Not owned; must outlive the service.
  const PartnershipConfig* config = nullptr;
  // How to reach the broker as the delivery identity (a SERVICE agency).
  ClientOptions client;
  // Folder for the instance lock and the snapshot; created when missing.
  std::string state_dir;
  // When to snapshot the open cases (every_events 0: never, and a start
  // replays the whole log).
  SnapshotPolicy snapshot;
  // The current time; null means the system clock. Called from Run's thread.
  std::function<TimePoint()> clock;
  // Wait before starting again after the broker stopped answering.
  int retry_delay_ms = 1000;
};

class DeliveryService {
 public:
  // Checks the delivery settings (escalate_to must name a destination),
  // builds the working calendar and takes the state folder's lock. On
  // success *out is ready to Run. InvalidArgument for a bad configuration;
  // IoError or Unavailable (held by another process) from the state folder.
  static Status Create(DeliveryOptions options, std::unique_ptr<DeliveryService>* out);
  ~DeliveryService();

  // Replays, then follows the log and delivers until `should_stop` (polled
  // about every 200 ms; may be null) returns true: then OK. Returns the
  // Status of a refusal that is not "already done" (see above).
  Status Run(const std::function<bool()>& should_stop);

  // The seq of the last event taken into account.
  uint64_t last_seq() const { return last_seq_.load(); }
  // The seq the last start's snapshot covered (0: it replayed the whole
  // log). Any thread.
  uint64_t snapshot_seq() const { return snapshot_seq_.load(); }
  // Completed checks of every open case's timers (for tests: two more
  // passes after moving the clock mean the new time has been seen).
  uint64_t timer_passes() const { return timer_passes_.load(); }

  // The service's figures in Prometheus text format (core/metrics_http.h):
  // refx_delivery_last_seq, _log_head_seq, _cursor_lag, _open_cases and
  // _undeliverable_cases (gauges) and refx_delivery_redeliveries_total
  // (case_delivered with attempt >= 2 in the log). Any thread.
  std::string RenderMetrics() const;
  // For /healthz: true once the replay is done and the service follows the
  // log; appends "last_seq" and "following" to *fields. Any thread.
  bool Healthy(std::string* fields) const;

 private:
  explicit DeliveryService(DeliveryOptions options);

  Status RunOnce(const std::function<bool()>& should_stop);
  using CaseKey = std::pair<std::string, std::string>;  // referral id, destination
  // Takes in the steps whose appends are done (TakeSteps), then starts the
  // steps due for these cases (StartSteps). The first refusal taken in is
  // returned.
  Status Advance(const std::set<CaseKey>& cases);
  // Starts one job of pipeline_ with the step due for each of these cases
  // that has none in flight; their appends are sent together (they share
  // the broker's group commits). Waits while kStepDepth jobs are in flight.
  void StartSteps(const std::set<CaseKey>& cases);
  // Takes in the jobs that are done (with `wait`, all of them, and what the
  // cases that moved then start, up to deliver -> undeliverable -> escalate
  // -> route the escalation): Took for each step, then the cases that
  // moved are started again. The first refusal is returned.
  Status TakeSteps(bool wait);
  struct StepJob;
  // Takes every step due for every open case.
  Status AdvanceAll();
  // The event and idempotency key of one step.
  void BuildStep(const DeliveryStep& step, TimePoint now, v1::Event* event, std::string* key) const;
  // Records the broker's answer to one step's append; OK also when the
  // broker says it is done. *progressed: the case moved.
  Status Took(const DeliveryStep& step, TimePoint now, v1::Event event, const Status& status, const v1::Ack& ack,
              bool* progressed);
  TimePoint Now() const;
  // Takes one event of the log (replay or live) into the tracker and the
  // figures.
  void Observe(const v1::Event& event);
  // The tracker from the snapshot, or empty for a full replay: *from is the
  // seq it covers (0 for a full replay). A read's error otherwise.
  Status LoadSnapshot(BrokerClient* reader, uint64_t* from);
  // Stores a snapshot as of the last event read (read_hash_). Logs a
  // failure (a later start then reads more of the log).
  void TakeSnapshot();

  DeliveryOptions options_;
  WorkingCalendar calendar_;
  StateDirLock lock_;
  SnapshotFile snapshot_file_;
  SnapshotSchedule schedule_;
  std::string read_hash_;  // chain hash of event hash_seq_
  uint64_t hash_seq_ = 0;  // the last event read (last_seq_ may be past it: events of other kinds)
  DeliveryTracker tracker_;
  std::unique_ptr<AppendPipeline> pipeline_;  // this pass's appends (made in RunOnce)
  std::set<CaseKey> in_flight_;               // cases with a step whose answer is not taken in
  std::atomic<uint64_t> last_seq_{0};
  std::atomic<uint64_t> snapshot_seq_{0};
  std::atomic<uint64_t> timer_passes_{0};
  std::atomic<uint64_t> head_seq_{0};       // the log head last reported by the broker
  std::atomic<uint64_t> open_cases_{0};     // tracker_.open_count() as of the last pass
  std::atomic<uint64_t> redeliveries_{0};   // case_delivered attempt >= 2 seen in the log
  std::atomic<uint64_t> undeliverable_{0};  // case_undeliverable seen in the log
  std::atomic<bool> following_{false};
};

}  // namespace refx
