// NotifierService: the refx-notifier process as a library. It reads the
// event log through the broker as a SERVICE identity and e-mails each
// destination's leads (the configuration's Destination.alert_emails)
// through the partnership's SMTP relay (alerts.smtp_url):
//   a new case        the case's first case_delivered
//   deadline near     a case still awaiting acknowledgement (ROUTED or
//                     DELIVERED) within alerts.deadline_warning_hours
//                     (default 24) of its deadline, and not past it
//   an escalation     case_escalated: to the destination's and the
//                     escalation destination's addresses
// Every destination gets them, whether its agency runs an adapter or not.
// New-case alerts go one case per e-mail, up to 5 e-mails in a minute to a
// destination (alerts.new_case_emails_per_minute). When more new cases wait
// for it than it has e-mails left in that minute (a bulk import, or a
// notifier starting on a backlog), they go together in one e-mail listing
// them (a digest), and the destination's next new cases wait until a minute
// after it: a migration of thousands of cases sends each destination one
// digest a minute, not thousands of e-mails. Deadline and escalation alerts always go one by one, at once.
// No personal data in any alert (alert_mail.h): referral id, destination,
// deadline and where to look.
//
// Each alert once: the alerts the relay accepted are recorded in
// STATE_DIR/alerts.journal (sent_alerts.h), and the view of the cases is
// rebuilt on each start from the snapshot of the fold
// (STATE_DIR/notifier.snapshot, services/common/state_snapshot.h) and the
// log after it, or from the whole log (the first start, or without a
// usable snapshot). A snapshot is taken only when no alert waits (for the
// relay, or for its destination's minute), so every alert its events
// raised is in the journal. Cases closed more than 30 days before the
// newest event leave the fold (no alert is about a closed case): an alert
// still queued for such a case is not sent, and after a snapshot the
// journal is compacted to the keys of the cases still in the fold (once it
// holds twice as many as after its last compaction, and over 4,096), so
// neither the journal nor memory grows with every alert ever sent. On its very first start, events more than
// an hour old raise no new-case or escalation alerts. A relay that refuses
// or is down is tried again after 1 s, doubling to 5 minutes; nothing is
// dropped.
//
// Logs referral ids, destination codes and seqs only.
//
// Thread-safety: Run blocks the calling thread; the const accessors may be
// called from any thread while it runs.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "client/broker_client.h"
#include "core/partnership_config.h"
#include "core/status.h"
#include "domain/monitoring/case_fold.h"
#include "services/common/state_dir_lock.h"
#include "services/common/state_snapshot.h"
#include "services/notifier/alert_mail.h"
#include "services/notifier/sent_alerts.h"

namespace refx::notifier {

using TimePoint = std::chrono::system_clock::time_point;

struct NotifierOptions {
  // Destinations, their alert_emails and the alert settings. Not owned.
  const PartnershipConfig* config = nullptr;
  // How to reach the broker as the notifier (a SERVICE agency).
  ClientOptions client;
  // Folder for the lock, the journal and the snapshot; created when missing.
  std::string state_dir;
  // When to snapshot the fold (every_events 0: never).
  SnapshotPolicy snapshot;
  // The time deadlines are compared with; null = the system clock.
  std::function<TimePoint()> clock;
  // How often deadlines are checked while following (real time).
  std::chrono::milliseconds check_interval{1000};
  // Wait before starting again after the broker stopped answering.
  int retry_delay_ms = 1000;
  int smtp_timeout_ms = 10000;
};

class NotifierService {
 public:
  // InvalidArgument when alerts.smtp_url or alerts.from_address is empty;
  // IoError/Unavailable from the state folder (lock, journal).
  static Status Create(NotifierOptions options, std::unique_ptr<NotifierService>* out);
  ~NotifierService();

  // Replays, then follows the log and sends alerts until should_stop
  // returns true: then OK. A broker that stops answering is waited for;
  // any other failure (the journal cannot be written) ends Run with it.
  Status Run(const std::function<bool()>& should_stop);

  uint64_t last_seq() const { return last_seq_.load(); }
  // The seq the last start's snapshot covered (0: it replayed the whole
  // log). Any thread.
  uint64_t snapshot_seq() const { return snapshot_seq_.load(); }
  // Alerts the relay accepted since start.
  uint64_t sent() const { return sent_.load(); }
  // Alerts waiting for the relay.
  uint64_t waiting() const { return waiting_.load(); }
  // Completed passes of checking deadlines and sending what is queued (for
  // tests: one more pass after a change means the change has been acted on).
  uint64_t passes() const { return passes_.load(); }

  // refx_notifier_last_seq, _log_head_seq, _cursor_lag (gauges),
  // refx_notifier_alerts_sent_total, refx_notifier_alerts_waiting,
  // refx_notifier_digests_sent_total, refx_notifier_send_failures_total.
  // Any thread.
  std::string RenderMetrics() const;
  // true once following the log; "last_seq", "following", "waiting".
  bool Healthy(std::string* fields) const;

 private:
  explicit NotifierService(NotifierOptions options);
  Status RunOnce(const std::function<bool()>& should_stop);
  // Takes one event into the view; queues the alerts it raises.
  void Observe(const v1::Event& event);
  // Queues the deadline alerts due at `now`.
  void CheckDeadlines(TimePoint now);
  void Queue(Alert alert);
  // Sends what is queued (unless the relay is backing off). Error only when
  // the journal cannot be written.
  Status SendQueued(TimePoint now);
  // Sends every queued new-case alert of `destination` as one e-mail and
  // takes them out of the queue: OK with *sent true. OK with *sent false
  // when the relay did not take it (it backs off; the queue is as it was).
  // Error only when the journal cannot be written.
  Status SendDigest(const std::string& destination, TimePoint now, bool* sent);
  // Counts a failed send of `what` and backs off.
  void RelayRefused(TimePoint now, const std::string& what, const Status& why);
  TimePoint Now() const;
  // The fold from the snapshot (and watched_ from the fold): *from is the
  // seq it covers, 0 for a full replay. A read's error otherwise.
  Status LoadSnapshot(BrokerClient* reader, uint64_t* from);
  // Stores a snapshot as of last_seq_ when nothing waits for the relay and
  // one is due (`force`: whenever events came since). Logs a failure.
  void MaybeSnapshot(bool force);
  // Drops from the journal the keys of cases no longer in the fold, when it
  // has grown enough since the last time. Logs a failure.
  void MaybeCompactJournal();

  NotifierOptions options_;
  // alerts.new_case_emails_per_minute, or its default.
  const size_t new_case_mails_per_window_;
  StateDirLock lock_;
  SentAlerts journal_;
  size_t journal_kept_ = 0;  // keys in the journal after its last compaction
  SmtpMailer mailer_;
  SnapshotFile snapshot_file_;
  SnapshotSchedule schedule_;
  std::string read_hash_;           // chain hash of event last_seq_
  outcomes::Micros newest_time_ = 0;  // of the events seen
  uint64_t pruned_at_ = 0;          // seq of the last sweep of closed cases
  outcomes::CaseFold fold_;
  std::set<std::pair<std::string, std::string>> watched_;  // cases awaiting acknowledgement with a deadline
  std::deque<Alert> queue_;
  std::set<std::string> queued_;  // keys in queue_
  // When the new-case e-mails of the last window went, by destination.
  std::map<std::string, std::deque<TimePoint>> new_case_mails_;
  TimePoint next_send_{};
  std::chrono::milliseconds backoff_{1000};
  std::atomic<uint64_t> last_seq_{0};
  std::atomic<uint64_t> snapshot_seq_{0};
  std::atomic<uint64_t> head_seq_{0};
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> waiting_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> digests_{0};
  std::atomic<uint64_t> passes_{0};
  std::atomic<bool> following_{false};
};

}  // namespace refx::notifier
