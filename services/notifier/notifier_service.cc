#include "services/notifier/notifier_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <vector>

#include "core/event_util.h"
#include "core/log_escape.h"
#include "core/metrics_http.h"
#include "client/run_with_restarts.h"

namespace refx::notifier {

namespace {
constexpr std::chrono::milliseconds kMaxBackoff{5 * 60 * 1000};
constexpr std::chrono::hours kFirstRunLookBack{1};
// Closed cases older than this (before the newest event) leave the fold.
constexpr outcomes::Micros kClosedHorizon = int64_t{30} * 24 * 3600 * 1000000;
// Events between two sweeps of old closed cases out of the fold.
constexpr uint64_t kPruneEvery = 20000;
// Referrals per chunk of the snapshot.
constexpr size_t kSnapshotChunk = 1024;
// The journal is compacted only past this many keys.
constexpr size_t kJournalCompactFloor = 4096;
// New-case e-mails to one destination within kNewCaseWindow, one case
// each (alerts.new_case_emails_per_minute); more new cases than that go out
// together in one digest, which takes the rest of the window.
constexpr size_t kDefaultNewCaseMailsPerWindow = 5;
constexpr std::chrono::seconds kNewCaseWindow{60};
}  // namespace

NotifierService::NotifierService(NotifierOptions options)
    : options_(std::move(options)),
      new_case_mails_per_window_(options_.config->proto().alerts().new_case_emails_per_minute() == 0
                                     ? kDefaultNewCaseMailsPerWindow
                                     : options_.config->proto().alerts().new_case_emails_per_minute()),
      mailer_(options_.config->proto().alerts(), options_.smtp_timeout_ms),
      snapshot_file_(options_.state_dir, "notifier"),
      schedule_(options_.snapshot) {}

NotifierService::~NotifierService() = default;

Status NotifierService::Create(NotifierOptions options, std::unique_ptr<NotifierService>* out) {
  if (options.config == nullptr) return Status::InvalidArgument("the notifier needs a partnership configuration");
  if (options.state_dir.empty()) return Status::InvalidArgument("the notifier needs a state folder");
  const v1::AlertSettings& alerts = options.config->proto().alerts();
  if (alerts.smtp_url().empty()) {
    return Status::InvalidArgument("alerts.smtp_url is empty: there is no relay to send alerts through",
                                   "alerts.smtp_url");
  }
  if (alerts.from_address().empty()) {
    return Status::InvalidArgument("alerts.from_address is empty", "alerts.from_address");
  }
  std::unique_ptr<NotifierService> service(new NotifierService(std::move(options)));
  REFX_RETURN_IF_ERROR(service->lock_.Acquire(service->options_.state_dir, "refx-notifier"));
  REFX_RETURN_IF_ERROR(service->journal_.Open(service->options_.state_dir + "/alerts.journal"));
  *out = std::move(service);
  return Status::OK();
}

TimePoint NotifierService::Now() const { return options_.clock ? options_.clock() : std::chrono::system_clock::now(); }

Status NotifierService::Run(const std::function<bool()>& should_stop) {
  return RunWithRestarts("notifier", options_.retry_delay_ms, should_stop,
                         [this](const std::function<bool()>& stop) { return RunOnce(stop); });
}

void NotifierService::Queue(Alert alert) {
  const std::string key = alert.Key();
  if (journal_.Contains(key) || queued_.count(key)) return;
  queued_.insert(key);
  queue_.push_back(std::move(alert));
  waiting_ = queue_.size();
}

void NotifierService::Observe(const v1::Event& event) {
  last_seq_ = event.seq();
  newest_time_ = std::max(newest_time_, outcomes::EventMicros(event));
  // A sweep walks every case: at most one per as many events as there are
  // cases (a sweep every kPruneEvery events made a 10M-event replay quadratic).
  if (event.seq() - pruned_at_ >= std::max<uint64_t>(kPruneEvery, fold_.size())) {
    pruned_at_ = event.seq();
    fold_.ForgetClosedBefore(newest_time_ - kClosedHorizon);
  }
  const outcomes::CaseView* c = fold_.Apply(event);
  if (c == nullptr) return;
  const auto key = std::make_pair(c->referral_id, c->destination);
  if (outcomes::AwaitsAcknowledgement(c->state) && c->deadline > 0) {
    watched_.insert(key);
  } else {
    watched_.erase(key);
  }
  // Events before the notifier first ran raise no alerts of their own.
  if (event.seq() <= journal_.from_seq()) return;
  Alert alert;
  alert.referral_id = c->referral_id;
  alert.destination = c->destination;
  alert.deadline = c->deadline / 1'000'000;
  alert.seq = event.seq();
  if (event.has_case_delivered() && event.case_delivered().attempt() <= 1) {
    alert.kind = Alert::Kind::kNewCase;
    Queue(std::move(alert));
  } else if (event.has_case_escalated()) {
    alert.kind = Alert::Kind::kEscalated;
    alert.escalated_to = event.case_escalated().escalated_to();
    Queue(std::move(alert));
  }
}

void NotifierService::CheckDeadlines(TimePoint now) {
  const uint32_t hours = options_.config->proto().alerts().deadline_warning_hours();
  const auto warning = std::chrono::hours(hours == 0 ? 24 : hours);
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const int64_t warning_s = std::chrono::duration_cast<std::chrono::seconds>(warning).count();
  for (const auto& [ref, dest] : watched_) {
    const outcomes::CaseView* c = fold_.Find(ref, dest);
    if (c == nullptr) continue;
    const int64_t deadline = c->deadline / 1'000'000;
    if (now_s < deadline - warning_s || now_s >= deadline) continue;
    Alert alert;
    alert.kind = Alert::Kind::kDeadlineNear;
    alert.referral_id = ref;
    alert.destination = dest;
    alert.deadline = deadline;
    Queue(std::move(alert));
  }
}

Status NotifierService::SendQueued(TimePoint now) {
  if (now < next_send_) return Status::OK();
  // New-case alerts queued per destination: more than a destination's
  // e-mails left in this window go out as one digest.
  std::map<std::string, size_t> new_cases_waiting;
  for (const Alert& a : queue_) {
    if (a.kind == Alert::Kind::kNewCase) ++new_cases_waiting[a.destination];
  }
  // New-case alerts of destinations that have had their e-mails for this
  // window: put back at the front, in order, when the pass ends.
  std::deque<Alert> held;
  Status result;
  while (!queue_.empty()) {
    const Alert& alert = queue_.front();
    const std::string key = alert.Key();
    const bool new_case = alert.kind == Alert::Kind::kNewCase;
    if (fold_.Find(alert.referral_id, alert.destination) == nullptr) {
      // Its case closed more than 30 days before the newest event (it left
      // the fold): nothing is left to do, and its key may have been
      // compacted out of the journal, so a replay must not send it.
      spdlog::info("notifier: alert {} not sent: its case closed over 30 days ago", key);
      if (new_case) --new_cases_waiting[alert.destination];
      queued_.erase(key);
      queue_.pop_front();
      continue;
    }
    std::deque<TimePoint>* recent = nullptr;
    if (new_case) {
      recent = &new_case_mails_[alert.destination];
      while (!recent->empty() && now - recent->front() >= kNewCaseWindow) recent->pop_front();
      if (recent->size() >= new_case_mails_per_window_) {
        held.push_back(std::move(queue_.front()));
        queue_.pop_front();
        continue;
      }
      if (new_cases_waiting[alert.destination] > new_case_mails_per_window_ - recent->size()) {
        const std::string destination = alert.destination;
        bool sent = false;
        result = SendDigest(destination, now, &sent);
        if (!result.ok() || !sent) break;
        new_cases_waiting[destination] = 0;
        continue;
      }
    }
    const MailMessage message = ComposeAlert(alert, *options_.config, options_.config->proto().alerts());
    if (!message.to.empty()) {
      Status s = mailer_.Send(message);
      if (!s.ok()) {
        RelayRefused(now, key, s);
        break;
      }
      result = journal_.Add(key);
      if (!result.ok()) break;
      ++sent_;
      if (recent != nullptr) recent->push_back(now);
      spdlog::info("notifier: alert {} sent to {} address(es)", key, message.to.size());
    }
    if (new_case) --new_cases_waiting[alert.destination];
    backoff_ = std::chrono::milliseconds(1000);
    queued_.erase(key);
    queue_.pop_front();
  }
  for (auto it = held.rbegin(); it != held.rend(); ++it) queue_.push_front(std::move(*it));
  waiting_ = queue_.size();
  return result;
}

Status NotifierService::SendDigest(const std::string& destination, TimePoint now, bool* sent) {
  *sent = false;
  std::vector<const Alert*> alerts;
  size_t gone = 0;
  for (const Alert& a : queue_) {
    if (a.kind != Alert::Kind::kNewCase || a.destination != destination) continue;
    if (fold_.Find(a.referral_id, a.destination) != nullptr) {
      alerts.push_back(&a);
    } else {
      ++gone;
    }
  }
  if (gone > 0) {
    spdlog::info("notifier: {} new-case alerts for {} not sent: their cases closed over 30 days ago", gone,
                 destination);
  }
  std::vector<std::string> keys;
  keys.reserve(alerts.size());
  for (const Alert* a : alerts) keys.push_back(a->Key());
  if (!alerts.empty()) {
    const MailMessage message =
        ComposeNewCaseDigest(destination, alerts, *options_.config, options_.config->proto().alerts());
    if (!message.to.empty()) {
      Status s = mailer_.Send(message);
      if (!s.ok()) {
        RelayRefused(now, "of " + std::to_string(alerts.size()) + " new cases for " + destination, s);
        return Status::OK();
      }
      REFX_RETURN_IF_ERROR(journal_.AddAll(keys));
      sent_ += alerts.size();
      ++digests_;
      // A digest takes what is left of the destination's window: while new
      // cases keep coming, they go together once a window, not as five
      // digests at the start of each.
      std::deque<TimePoint>& recent = new_case_mails_[destination];
      do {
        recent.push_back(now);
      } while (recent.size() < new_case_mails_per_window_);
      spdlog::info("notifier: {} new-case alerts for {} sent as one e-mail to {} address(es), from {} to {}",
                   alerts.size(), destination, message.to.size(), keys.front(), keys.back());
    }
  }
  // Every new-case alert of the destination leaves the queue: sent, or its
  // case has left the fold (as in SendQueued), or nobody is configured.
  std::deque<Alert> rest;
  for (Alert& a : queue_) {
    if (a.kind == Alert::Kind::kNewCase && a.destination == destination) {
      queued_.erase(a.Key());
    } else {
      rest.push_back(std::move(a));
    }
  }
  queue_ = std::move(rest);
  backoff_ = std::chrono::milliseconds(1000);
  *sent = true;
  return Status::OK();
}

void NotifierService::RelayRefused(TimePoint now, const std::string& what, const Status& why) {
  ++failures_;
  spdlog::warn("notifier: alert {} waits for the relay ({} queued); again in {} ms: {}", what, queue_.size(),
               backoff_.count(), why.message());
  next_send_ = now + backoff_;
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
}

Status NotifierService::LoadSnapshot(BrokerClient* reader, uint64_t* from) {
  *from = 0;
  if (!schedule_.enabled()) return Status::OK();
  outcomes::CaseFold& fold = fold_;
  v1::CaseFoldSnapshot chunk;
  REFX_RETURN_IF_ERROR(LoadSnapshotOrReplay(
      "notifier", snapshot_file_, reader, &chunk,
      [&fold](const google::protobuf::MessageLite& c) {
        fold.AddSnapshotChunk(static_cast<const v1::CaseFoldSnapshot&>(c));
      },
      [&fold] { fold = outcomes::CaseFold(); }, from, &read_hash_));
  fold_.ForEach([this](const outcomes::CaseView& c) {
    if (outcomes::AwaitsAcknowledgement(c.state) && c.deadline > 0) watched_.emplace(c.referral_id, c.destination);
    newest_time_ = std::max({newest_time_, c.routed_at, c.closed_at});
  });
  last_seq_ = *from;
  snapshot_seq_ = *from;
  pruned_at_ = *from;
  schedule_.Taken(*from);
  return Status::OK();
}

void NotifierService::MaybeSnapshot(bool force) {
  const uint64_t seq = last_seq_.load();
  if (!queue_.empty() || !(force ? schedule_.Behind(seq) : schedule_.Due(seq))) return;
  fold_.ForgetClosedBefore(newest_time_ - kClosedHorizon);
  pruned_at_ = seq;
  const Status s = snapshot_file_.Store(seq, read_hash_, [this](const SnapshotFile::ChunkSink& add) {
    fold_.ToSnapshotChunks(kSnapshotChunk, [&add](const v1::CaseFoldSnapshot& chunk) { add(chunk); });
  });
  if (!s.ok()) {
    spdlog::warn("notifier: {} (a start replays more of the log until a snapshot is written)",
                 LogEscape(s.ToString()));
    return;
  }
  schedule_.Taken(seq);
  MaybeCompactJournal();
}

void NotifierService::MaybeCompactJournal() {
  if (journal_.size() <= std::max(kJournalCompactFloor, 2 * journal_kept_)) return;
  // The snapshot just stored has no case this drops a key of, so a start
  // from it raises none of those alerts again; a start from the whole log
  // forgets those cases again before sending (RunOnce, SendQueued).
  const Status s = journal_.Compact([this](const std::string& key) {
    std::string referral_id, destination;
    if (!Alert::ParseKey(key, &referral_id, &destination)) return true;
    return fold_.Find(referral_id, destination) != nullptr;
  });
  if (!s.ok()) {
    spdlog::warn("notifier: the alert journal was not compacted: {}", LogEscape(s.ToString()));
    return;
  }
  journal_kept_ = journal_.size();
}

Status NotifierService::RunOnce(const std::function<bool()>& should_stop) {
  fold_ = outcomes::CaseFold();
  watched_.clear();
  queue_.clear();
  queued_.clear();
  newest_time_ = 0;
  pruned_at_ = 0;
  read_hash_.clear();
  following_ = false;
  BrokerClient reader(options_.client);
  uint64_t replayed_to = 0;
  // On the very first run nothing is known yet about which alerts were
  // sent: the replay only builds the view, and the journal starts at its end.
  const bool first_run = !journal_.exists();
  // After the first run, the fold can start from its snapshot.
  uint64_t from = 0;
  snapshot_seq_ = 0;
  if (!first_run) REFX_RETURN_IF_ERROR(LoadSnapshot(&reader, &from));
  // On the first run, events older than kFirstRunLookBack raise no alerts:
  // a notifier added to a running partnership does not mail about old
  // cases, while the cases of a stack started together with it are told.
  const int64_t old_before = std::chrono::duration_cast<std::chrono::microseconds>(
                                 (Now() - kFirstRunLookBack).time_since_epoch()).count();
  uint64_t last_old_seq = 0;
  REFX_RETURN_IF_ERROR(ReplayLog(
      &reader, "refx-notifier: rebuild the cases", from,
      [&](const v1::Event& e, const std::string& hash) {
        if (outcomes::EventMicros(e) < old_before) last_old_seq = e.seq();
        Observe(e);
        read_hash_ = hash;
      },
      should_stop, &replayed_to));
  if (StopRequested(should_stop)) return Status::OK();
  // The cases closed over 30 days before the newest event leave before
  // anything is sent: their alerts (if queued by the replay) are not sent,
  // and their keys may be gone from a compacted journal.
  fold_.ForgetClosedBefore(newest_time_ - kClosedHorizon);
  if (first_run) {
    REFX_RETURN_IF_ERROR(journal_.Create(last_old_seq));
    std::deque<Alert> kept;
    for (Alert& a : queue_) {
      if (a.seq > last_old_seq) {
        kept.push_back(std::move(a));
      } else {
        queued_.erase(a.Key());
      }
    }
    queue_ = std::move(kept);
    waiting_ = queue_.size();
  }
  head_seq_ = reader.head_seq_seen();
  spdlog::info("notifier: replayed the log from seq {} to seq {}; {} cases awaiting acknowledgement; {} alerts to "
               "send",
               from + 1, replayed_to, watched_.size(), queue_.size());
  // Healthy from here: the view is rebuilt; what is queued goes out while
  // following (a slow relay does not make the notifier look down).
  following_ = true;
  CheckDeadlines(Now());
  REFX_RETURN_IF_ERROR(SendQueued(Now()));
  ++passes_;

  Status failure;
  auto last_check = std::chrono::steady_clock::now();
  v1::ReadRequest follow;
  follow.set_after_seq(replayed_to);
  follow.set_follow(true);
  follow.set_purpose("refx-notifier: alerts");
  Status s = reader.Read(
      follow,
      [&](const v1::Event& e, const std::string&, const std::string& hash) {
        Observe(e);
        read_hash_ = hash;
        return true;
      },
      [&]() {
        head_seq_ = reader.head_seq_seen();
        const auto tick = std::chrono::steady_clock::now();
        if (tick - last_check >= options_.check_interval) {
          last_check = tick;
          CheckDeadlines(Now());
        }
        failure = SendQueued(Now());
        if (failure.ok()) MaybeSnapshot(false);
        ++passes_;
        return !failure.ok() || StopRequested(should_stop);
      });
  REFX_RETURN_IF_ERROR(failure);
  MaybeSnapshot(true);
  REFX_RETURN_IF_ERROR(s);
  if (StopRequested(should_stop)) return Status::OK();
  return Status::Unavailable("the broker ended the notifier's read");
}

std::string NotifierService::RenderMetrics() const {
  std::string out;
  AppendReaderPosition(&out, "refx_notifier", "last_seq", "The last seq the notifier has taken into account.",
                       last_seq_.load(), head_seq_.load());
  AppendCounter(&out, "refx_notifier_alerts_sent_total", "Alerts the SMTP relay accepted since start.", sent_.load());
  AppendGauge(&out, "refx_notifier_alerts_waiting", "Alerts waiting for the SMTP relay.", waiting_.load());
  AppendCounter(&out, "refx_notifier_digests_sent_total",
                "E-mails that told a destination of several new cases at once (each alert is in alerts_sent_total).",
                digests_.load());
  AppendCounter(&out, "refx_notifier_send_failures_total", "Attempts to send an alert that the relay did not take.",
                failures_.load());
  return out;
}

bool NotifierService::Healthy(std::string* fields) const {
  *fields = "\"last_seq\":" + std::to_string(last_seq_.load()) +
            ",\"following\":" + (following_.load() ? "true" : "false") +
            ",\"waiting\":" + std::to_string(waiting_.load());
  return following_.load();
}

}  // namespace refx::notifier
