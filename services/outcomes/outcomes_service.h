// OutcomesService: the refx-outcomes process as a library (main.cc is a thin
// wrapper, tests host it in-process). It reads the event log through the
// broker, keeps every case's state and acknowledgement deadline
// (case_routed.deadline, set by the router from working days or meeting
// dates), and when the clock passes the deadline of a case still ROUTED or
// DELIVERED it appends
//   deadline_breached {deadline_kind "acknowledge", deadline}
//       idempotency key "breach:<referral>:<destination>:acknowledge"
//   case_escalated {escalated_to: delivery.escalate_to, else the fallback
//                   destination; reason}
//       idempotency key "escalate-breach:<referral>:<destination>"
// On start it rebuilds its view - from its snapshot (state_dir) and the log
// after it, else from the whole log - before it checks any deadline, so a
// restart never breaches a case that was acknowledged; the
// idempotency keys make a repeat after a crash harmless. Before each breach
// it asks the broker for the case's current record, so an acknowledgement
// not yet read is not overtaken and a breach already recorded is not
// repeated.
//
// Snapshots (services/common/state_snapshot.h): with a state_dir, the case
// fold is snapshotted every `snapshot` events or seconds and at stop. The
// fold is derived from the log alone (the deadline watch is rebuilt from
// it), so any seq is a consistent point. Cases closed (or declined,
// undeliverable, withdrawn) more than closed_horizon before the newest
// event are forgotten, so memory follows the open cases, not the history.
//
// Logs referral ids, destination codes and seqs only.
//
// Thread-safety: Run on one thread; RequestStop and the counters may be
// used from any thread (and RequestStop from a signal handler).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "client/broker_client.h"
#include "core/metrics_http.h"
#include "core/partnership_config.h"
#include "core/status.h"
#include "domain/monitoring/case_fold.h"
#include "services/common/state_dir_lock.h"
#include "services/common/state_snapshot.h"
#include "services/outcomes/deadline_watch.h"

namespace refx::outcomes {

struct OutcomesOptions {
  // Broker endpoint and keys; client_keys must belong to `identity`.
  ClientOptions client;
  // This service's agency id in the configuration (role SERVICE).
  std::string identity = "refx-outcomes";
  // The time deadlines are compared with; default the system clock. Tests
  // pass a clock they move. Called from the Run thread only.
  std::function<std::chrono::system_clock::time_point()> clock;
  // How often deadlines are checked while following the log (real time).
  std::chrono::milliseconds check_interval{1000};
  // Pause before reading again after the broker stopped answering.
  std::chrono::milliseconds retry_interval{1000};
  // If set, written ("caught up to seq N") once the view is rebuilt from
  // the log, for scripts and tests.
  std::string ready_file;
  // Folder for the snapshot and the instance lock ("" = no snapshots: every
  // start replays the whole log).
  std::string state_dir;
  SnapshotPolicy snapshot;
  // Closed cases older than this (by event time) leave memory.
  std::chrono::hours closed_horizon{24 * 30};
};

class OutcomesService {
 public:
  // Reads the escalation destination from `config`; keeps no pointer to it.
  OutcomesService(const PartnershipConfig* config, OutcomesOptions options);
  ~OutcomesService();
  OutcomesService(const OutcomesService&) = delete;
  OutcomesService& operator=(const OutcomesService&) = delete;

  // Reads the log to its head, then follows it, checking deadlines every
  // check_interval, until RequestStop. A broker that stops answering is
  // waited for (reads resume after the last event seen). Returns OK after
  // RequestStop; PermissionDenied when the broker refuses this identity's
  // key or reads.
  Status Run();

  // Asks Run to return soon (within about check_interval, or the time one
  // append takes). Async-signal-safe.
  void RequestStop() { stop_.store(true); }

  // The escalation destination used ("" when the configuration has none).
  const std::string& escalate_to() const { return escalate_to_; }

  // Progress, for logs and tests.
  uint64_t applied_seq() const { return applied_seq_.load(); }
  bool caught_up() const { return caught_up_.load(); }
  // Deadline checks completed since Run started (after catching up).
  uint64_t checks() const { return checks_.load(); }
  // Events this instance wrote (duplicates answered by the broker not counted).
  uint64_t breaches_appended() const { return breaches_.load(); }
  uint64_t escalations_appended() const { return escalations_.load(); }

  // The service's figures in Prometheus text format (core/metrics_http.h):
  // refx_outcomes_applied_seq, _log_head_seq, _cursor_lag, and the open,
  // overdue (awaiting acknowledgement past the deadline) and undeliverable
  // cases as of the last deadline check (gauges); breaches and escalations
  // this process appended (counters). Any thread.
  std::string RenderMetrics() const;
  // For /healthz: true once caught up with the log; appends "applied_seq"
  // and "caught_up" to *fields. Any thread.
  bool Healthy(std::string* fields) const;

 private:
  bool OnEvent(const v1::Event& event, const std::string& hash);
  // Loads the snapshot (state_dir) into the fold and the watch, retrying
  // while the broker does not answer. OK also without one.
  Status LoadSnapshot();
  // Forgets old closed cases, and snapshots the fold when due (or `force`d
  // and anything new). Logs a failure: the next snapshot tries again.
  void MaybeSnapshot(bool force);
  // Appends what is due now. Returns PermissionDenied when the broker
  // refuses this identity (the caller stops); otherwise OK.
  Status CheckDeadlines();
  // Checks with the broker that the case still awaits acknowledgement; sets
  // *breached when the broker already records a breach.
  bool StillAwaiting(const DeadlineAction& action, bool* breached);
  void SleepUnlessStopped(std::chrono::milliseconds d) const;
  void WriteReadyFile() const;
  // Counts the open, overdue and undeliverable cases of the fold at `now`.
  void CountCases(Micros now);
  Micros ClosedHorizonMicros() const;

  OutcomesOptions options_;
  std::string escalate_to_;
  CaseFold fold_;
  DeadlineWatch watch_;
  std::unique_ptr<BrokerClient> reader_;
  std::unique_ptr<BrokerClient> writer_;
  StateDirLock lock_;
  std::unique_ptr<SnapshotFile> snapshot_file_;
  SnapshotSchedule schedule_;
  std::string last_hash_;    // the chain hash of the event at fold_.last_seq()
  Micros newest_time_ = 0;   // the time of the newest event applied
  uint64_t pruned_at_ = 0;   // the seq of the last ForgetClosedBefore
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> applied_seq_{0};
  std::atomic<bool> caught_up_{false};
  std::atomic<uint64_t> checks_{0};
  std::atomic<uint64_t> breaches_{0};
  std::atomic<uint64_t> escalations_{0};
  std::atomic<uint64_t> head_seq_{0};  // the log head last reported by the broker
  std::atomic<uint64_t> open_cases_{0};
  std::atomic<uint64_t> overdue_cases_{0};
  std::atomic<uint64_t> undeliverable_cases_{0};
  std::atomic<uint64_t> forgotten_cases_{0};
};

}  // namespace refx::outcomes
