#include "services/router/router_service.h"
#include "core/log_escape.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/event_util.h"
#include "client/run_with_restarts.h"

namespace refx {

namespace {

using google::protobuf::util::TimeUtil;

// Routes queued before they are appended even within one read batch, and
// AppendBatchRequest frames in flight at once.
constexpr size_t kMaxQueued = 1024;
constexpr size_t kFramesInFlight = 4;
// Flush jobs in flight at once (AppendPipeline): two, so that the next
// burst's routes reach the broker while the last burst's are committed.
constexpr size_t kFlushDepth = 2;
// How often the cursor file follows the handled seq. Storing it is two
// fsyncs on the routing thread; every 200 ms they showed in the routing
// stage's tail at 100 referrals/s. A crash replays at most this much more
// of the log, which routes nothing twice (idempotency keys).
constexpr std::chrono::milliseconds kCursorInterval{1000};
// Entries per chunk of the snapshot (services/common/state_snapshot.h).
constexpr size_t kSnapshotChunk = 4096;

// The kinds of event the router reads (Apply and Handle use no others):
// the broker skips the rest (case_delivered with its sealed view, and
// every later step of a case) without opening or sending them.
void AskForRoutingEvents(v1::ReadRequest* read) {
  for (int body : {v1::Event::kReferralSubmittedFieldNumber, v1::Event::kCaseRoutedFieldNumber,
                   v1::Event::kOutcomeRecordedFieldNumber, v1::Event::kReferralWithdrawnFieldNumber,
                   v1::Event::kSubjectIndexedFieldNumber, v1::Event::kSubjectErasedFieldNumber}) {
    read->add_bodies(body);
  }
  // Each event once, opened: the router does not recompute the chain.
  read->set_form(v1::READ_FORM_OPENED);
}

// The UTC calendar date of a broker timestamp.
CivilDate DateOf(const google::protobuf::Timestamp& time) {
  int64_t seconds = time.seconds();
  int64_t days = seconds / 86400;
  if (seconds % 86400 < 0) --days;
  return CivilDate::FromDays(days);
}

// The decision's deadline instant: the end of its deadline day in London
// (EndOfLondonDay) or, for a clock-hour destination, the exact hour.
google::protobuf::Timestamp DeadlineTimestamp(const RoutingDecision& decision) {
  return TimeUtil::SecondsToTimestamp(decision.deadline_unix);
}

// The longest within_months of any RepeatReferral in the configuration
// (found by reflection, wherever conditions nest), 0 when none.
int LongestRepeatWindow(const google::protobuf::Message& m) {
  int longest = 0;
  if (const auto* rr = dynamic_cast<const v1::RepeatReferral*>(&m)) longest = static_cast<int>(rr->within_months());
  const google::protobuf::Reflection* r = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const auto* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        longest = std::max(longest, LongestRepeatWindow(r->GetRepeatedMessage(m, f, i)));
      }
    } else {
      longest = std::max(longest, LongestRepeatWindow(r->GetMessage(m, f)));
    }
  }
  return longest;
}

}  // namespace

RouterService::RouterService(RouterOptions options)
    : options_(std::move(options)),
      cursor_(options_.state_dir + "/router.cursor"),
      snapshot_file_(options_.state_dir, "router"),
      schedule_(options_.snapshot),
      history_months_(LongestRepeatWindow(options_.config->proto())) {
  // Subject keys in the state depend on the secret: a snapshot taken with
  // another one (or none) is not used.
  snapshot_file_.set_key_check(SnapshotKeyCheck(options_.subject_secret, "router subject keys"));
}

Status RouterService::Create(RouterOptions options, std::unique_ptr<RouterService>* out) {
  if (options.config == nullptr) return Status::InvalidArgument("the router needs a partnership configuration");
  if (options.state_dir.empty()) return Status::InvalidArgument("the router needs a state folder");
  std::unique_ptr<RouterService> service(new RouterService(std::move(options)));
  REFX_RETURN_IF_ERROR(
      RoutingEngine::Create(service->options_.config, service->options_.subject_secret, &service->engine_));
  REFX_RETURN_IF_ERROR(service->lock_.Acquire(service->options_.state_dir, "refx-router"));
  *out = std::move(service);
  return Status::OK();
}

Status RouterService::Run(const std::function<bool()>& should_stop) {
  return RunWithRestarts("router", options_.retry_delay_ms, should_stop,
                         [this](const std::function<bool()>& stop) { return RunOnce(stop); });
}

Status RouterService::RunOnce(const std::function<bool()>& should_stop) {
  state_ = RouterState();
  newest_day_ = 0;
  forgot_subjects_ = false;
  queued_subjects_.clear();  // the replay says again which are missing
  uint64_t cursor = 0;
  REFX_RETURN_IF_ERROR(cursor_.Load(&cursor));
  stored_seq_ = cursor;
  handled_seq_ = cursor;
  BrokerClient reader(options_.client);
  pipeline_.reset();  // the last pass's jobs finish first (their results are not needed: the cursor is before them)
  pipeline_ = std::make_unique<AppendPipeline>(options_.client, AppendsPerFrame(*options_.config), kFramesInFlight,
                                               kFlushDepth);
  flush_failure_ = Status::OK();

  following_ = false;

  // 1. Rebuild what the router knows: its snapshot and the log after it, or
  // the whole log.
  uint64_t from = 0;
  if (schedule_.enabled()) {
    v1::RouterSnapshot chunk;
    REFX_RETURN_IF_ERROR(LoadSnapshotOrReplay(
        "router", snapshot_file_, &reader, &chunk,
        [this](const google::protobuf::MessageLite& c) {
          state_.AddSnapshotChunk(static_cast<const v1::RouterSnapshot&>(c));
        },
        [this] { state_ = RouterState(); }, &from, &read_hash_));
  }
  schedule_.Taken(from);
  // The replay stops at the cursor when it can: the events after it are
  // applied as the follow below reads them, so each is read once. (A
  // snapshot past the cursor is replayed to the head; the follow then
  // reads the events between the two again, without applying them.)
  uint64_t replayed_to = from;
  Status s;
  if (from > 0 || cursor > 0) {
    v1::ReadRequest replay;
    replay.set_after_seq(from);
    replay.set_to_seq(from <= cursor ? cursor : 0);
    replay.set_purpose("refx-router: rebuild routing history");
    AskForRoutingEvents(&replay);
    s = ReplayLog(
        &reader, std::move(replay),
        [this](const v1::Event& event, const std::string& hash) {
          ++events_read_;
          Apply(event);
          read_hash_ = hash;
        },
        should_stop, &replayed_to);
    REFX_RETURN_IF_ERROR(s);
  }
  state_seq_ = replayed_to;
  head_seq_ = reader.head_seq_seen();
  if (StopRequested(should_stop)) return Status::OK();
  if (cursor > head_seq_.load()) {
    return Status::Corruption(cursor_.path() + " says seq " + std::to_string(cursor) +
                              " was handled but the log ends at seq " + std::to_string(head_seq_.load()) +
                              ": is this the same log? Remove the file to route the whole log again");
  }
  spdlog::info("router: replayed the log from seq {} to seq {} ({} cases); routing events after seq {}", from + 1,
               replayed_to, state_.case_count(), cursor);
  if (schedule_.Due(replayed_to) || (forgot_subjects_ && schedule_.Behind(replayed_to))) {
    // Nothing is queued yet: the state is exactly the log up to replayed_to.
    read_seq_ = replayed_to;
    REFX_RETURN_IF_ERROR(TakeSnapshot());
  }
  // Referrals before the cursor that have no subject_indexed event (a log
  // from before it existed) get one now.
  read_seq_ = cursor;
  s = BackfillSubjects(cursor);
  if (!s.ok()) return s;
  following_ = true;

  // 2. Follow the log from the cursor, acting on each event.
  Status failure;
  auto last_store = std::chrono::steady_clock::now();
  v1::ReadRequest follow;
  follow.set_after_seq(cursor);
  follow.set_follow(true);
  follow.set_purpose("refx-router: route referrals and outcomes");
  AskForRoutingEvents(&follow);
  s = reader.Read(
      follow,
      [&](const v1::Event& event, const std::string&, const std::string& hash) {
        ++events_read_;
        if (event.seq() > replayed_to) {
          Apply(event);
          state_seq_ = event.seq();
        }
        read_hash_ = hash;
        head_seq_ = reader.head_seq_seen();
        bool acted = false;
        failure = Handle(event, &acted);
        if (!failure.ok()) return false;
        read_seq_ = event.seq();
        if (!HasQueued()) handled_seq_ = event.seq();
        if (queued_.size() + queued_subjects_.size() >= kMaxQueued) {
          failure = FlushQueued();
          if (!failure.ok()) return false;
        }
        return true;
      },
      [&]() {
        // Called after each burst of the read: start appending what it
        // queued, and take in the earlier appends that are done.
        head_seq_ = reader.head_seq_seen();
        failure = HasQueued() ? FlushQueued() : TakeFlushed(/*wait=*/false);
        if (!failure.ok()) return true;
        // Events of other kinds the broker passed over are handled too.
        if (!HasQueued() && reader.scanned_to_seq() > handled_seq_.load()) handled_seq_ = reader.scanned_to_seq();
        if (StopRequested(should_stop)) return true;
        if (read_seq_ == state_seq_ &&
            (schedule_.Due(read_seq_) || (forgot_subjects_ && schedule_.Behind(read_seq_)))) {
          // A snapshot holds only acknowledged routes: wait for those in flight.
          failure = TakeFlushed(/*wait=*/true);
          if (!failure.ok()) return true;
          failure = TakeSnapshot();
          if (!failure.ok()) return true;
        }
        // The cursor is only where a restart resumes (the idempotency keys
        // and the replayed history make routing an event again harmless), so
        // it is stored at most every kCursorInterval, not once per burst: its
        // two fsyncs would otherwise cost more than the burst's routing.
        const auto now = std::chrono::steady_clock::now();
        if (handled_seq_.load() != stored_seq_ && now - last_store > kCursorInterval) {
          failure = StoreCursor();
          last_store = now;
          if (!failure.ok()) return true;
        }
        return false;
      });
  if (failure.ok()) failure = FlushQueued();
  if (failure.ok()) failure = TakeFlushed(/*wait=*/true);
  const Status stored = StoreCursor();
  if (failure.ok() && !HasQueued() && read_seq_ == state_seq_ && schedule_.Behind(read_seq_)) {
    // Stopping: a snapshot as of the last event makes the next start read little.
    const Status snap = TakeSnapshot();
    if (!snap.ok()) spdlog::warn("router: {}", LogEscape(snap.ToString()));
  }
  if (!failure.ok()) return failure;
  REFX_RETURN_IF_ERROR(s);
  REFX_RETURN_IF_ERROR(stored);
  if (StopRequested(should_stop)) return Status::OK();
  return Status::Unavailable("the broker ended the router's read");
}

void RouterService::Apply(const v1::Event& event) {
  newest_day_ = std::max(newest_day_, DateOf(event.time()).ToDays());
  if (event.has_referral_submitted()) {
    state_.AddReferral(event.seq(), engine_->SubjectKeyOf(event.referral_submitted().referral()), DateOf(event.time()));
  } else if (event.has_case_routed()) {
    state_.AddCase(event.case_routed().referral_id(), event.case_routed().destination(), DateOf(event.time()));
  } else if (event.has_referral_withdrawn()) {
    state_.MarkWithdrawn(event.referral_withdrawn().referral_id());
  } else if (event.has_subject_indexed()) {
    uint64_t seq = 0;
    if (SeqForReferralId(event.subject_indexed().referral_id(), &seq)) {
      state_.MarkSubjectIndexed(seq);
      // An erased referral's submission comes back without the identity;
      // while its history key lives, its subject key (opened by the broker)
      // still counts for the repeat check.
      const std::string& key = event.subject_indexed().subject_key();
      if (!key.empty() && state_.SubjectKeyOf(seq).empty()) {
        std::vector<std::string> destinations;
        for (const v1::Destination& d : options_.config->proto().destinations()) destinations.push_back(d.code());
        state_.RestoreSubject(seq, key, DateOf(event.time()), destinations);
      }
    }
  } else if (event.has_subject_erased() && event.subject_erased().history_key()) {
    // The ROUTING_HISTORY retention of the referral ended: no longer a
    // repeat, and gone from the next snapshot, which is taken soon.
    uint64_t seq = 0;
    if (SeqForReferralId(event.subject_erased().referral_id(), &seq) && state_.ForgetSubject(seq)) {
      forgot_subjects_ = true;
      spdlog::debug("router: forgot the subject of {} (its routing history retention ended)",
                    event.subject_erased().referral_id());
    }
  }
}

Status RouterService::Handle(const v1::Event& event, bool* acted) {
  if (event.has_referral_submitted()) return RouteSubmitted(event, acted);
  if (event.has_outcome_recorded()) return RouteOutcome(event, acted);
  return Status::OK();
}

Status RouterService::RouteSubmitted(const v1::Event& event, bool* acted) {
  const std::string& referral_id = event.referral_submitted().referral_id();
  // Withdrawn or not, the referral is about its subject (subject access).
  QueueSubject(event.seq(), acted);
  if (state_.IsWithdrawn(referral_id)) {
    spdlog::info("router: {} was withdrawn before it was routed", referral_id);
    return Status::OK();
  }
  const CivilDate on = DateOf(event.time());
  const RoutingHistoryBefore history(&state_, event.seq());
  const std::vector<RoutingDecision> decisions =
      engine_->Route(event.referral_submitted().referral(), on, history, event.time().seconds());
  for (const RoutingDecision& decision : decisions) {
    if (state_.HasCase(referral_id, decision.destination)) continue;  // routed before a restart
    AppendRouted(referral_id, decision, on, acted);
  }
  return Status::OK();
}

Status RouterService::RouteOutcome(const v1::Event& event, bool* acted) {
  const v1::OutcomeRecorded& outcome = event.outcome_recorded();
  const CivilDate on = DateOf(event.time());
  std::optional<RoutingDecision> next = engine_->RouteOnOutcome(outcome.destination(), outcome.code(), on);
  if (!next || state_.HasCase(outcome.referral_id(), next->destination)) return Status::OK();
  if (state_.IsWithdrawn(outcome.referral_id())) return Status::OK();
  AppendRouted(outcome.referral_id(), *next, on, acted);
  return Status::OK();
}

void RouterService::AppendRouted(const std::string& referral_id, const RoutingDecision& decision,
                                 const CivilDate& on, bool* acted) {
  *acted = true;
  state_.AddCase(referral_id, decision.destination, on);
  queued_.push_back({referral_id, decision});
}

void RouterService::QueueSubject(uint64_t seq, bool* acted) {
  if (state_.IsSubjectIndexed(seq)) return;
  std::string key = state_.SubjectKeyOf(seq);
  if (key.empty()) return;
  *acted = true;
  state_.MarkSubjectIndexed(seq);
  queued_subjects_.push_back({ReferralIdForSeq(seq), std::move(key)});
}

Status RouterService::BackfillSubjects(uint64_t up_to_seq) {
  const std::vector<uint64_t> missing = state_.UnindexedSubjects(up_to_seq);
  if (missing.empty()) return Status::OK();
  spdlog::info("router: indexing the subjects of {} referrals logged before subject_indexed existed", missing.size());
  bool acted = false;
  for (uint64_t seq : missing) {
    QueueSubject(seq, &acted);
    if (queued_subjects_.size() >= kMaxQueued) REFX_RETURN_IF_ERROR(FlushQueued());
  }
  REFX_RETURN_IF_ERROR(FlushQueued());
  REFX_RETURN_IF_ERROR(TakeFlushed(/*wait=*/true));
  return StoreCursor();
}

// One FlushQueued's appends: the routes first, then the subjects.
struct RouterService::FlushJob : AppendPipeline::Job {
  std::vector<QueuedRoute> routes;
  std::vector<QueuedSubject> subjects;
};

Status RouterService::FlushQueued() {
  if (queued_.empty() && queued_subjects_.empty()) return TakeFlushed(/*wait=*/false);
  auto job = std::make_unique<FlushJob>();
  job->routes = std::move(queued_);
  job->subjects = std::move(queued_subjects_);
  queued_.clear();
  queued_subjects_.clear();
  job->tag = read_seq_;
  job->appends.resize(job->routes.size() + job->subjects.size());
  for (size_t i = 0; i < job->routes.size(); ++i) {
    const QueuedRoute& q = job->routes[i];
    v1::AppendRequest& append = job->appends[i];
    v1::CaseRouted* routed = append.mutable_event()->mutable_case_routed();
    routed->set_referral_id(q.referral_id);
    routed->set_destination(q.decision.destination);
    routed->set_rule_id(q.decision.rule_id);
    routed->set_reason(q.decision.reason);
    *routed->mutable_deadline() = DeadlineTimestamp(q.decision);
    append.set_idempotency_key("route:" + q.referral_id + ":" + q.decision.destination);
  }
  for (size_t j = 0; j < job->subjects.size(); ++j) {
    v1::AppendRequest& append = job->appends[job->routes.size() + j];
    v1::SubjectIndexed* indexed = append.mutable_event()->mutable_subject_indexed();
    indexed->set_referral_id(job->subjects[j].referral_id);
    indexed->set_subject_key(job->subjects[j].subject_key);
    append.set_idempotency_key("subject:" + job->subjects[j].referral_id);
  }
  pipeline_->Start(std::move(job));  // waits while kFlushDepth jobs are in flight
  return TakeFlushed(/*wait=*/false);
}

Status RouterService::TakeFlushed(bool wait) {
  std::vector<std::unique_ptr<AppendPipeline::Job>> done = wait ? pipeline_->WaitAll() : pipeline_->TakeFinished();
  for (const auto& job : done) {
    const Status s = TakeFlushJob(static_cast<const FlushJob&>(*job));
    if (!s.ok() && flush_failure_.ok()) flush_failure_ = s;
    // The cursor stays before the first job with a refusal: a restart
    // routes its events again (the idempotency keys make that harmless).
    if (flush_failure_.ok()) handled_seq_ = std::max(handled_seq_.load(), job->tag);
  }
  if (!flush_failure_.ok()) return flush_failure_;
  if (!HasQueued()) handled_seq_ = std::max(handled_seq_.load(), read_seq_);
  return Status::OK();
}

Status RouterService::TakeFlushJob(const FlushJob& job) {
  if (!job.status.ok()) return job.status;
  Status failure;
  for (size_t i = 0; i < job.appends.size(); ++i) {
    const Status& st = job.results[i];
    const v1::Ack& ack = job.acks[i];
    if (i >= job.routes.size()) {
      // The key itself is not logged: it is pseudonymous personal data.
      const std::string& referral_id = job.subjects[i - job.routes.size()].referral_id;
      if (!st.ok()) {
        spdlog::error("router: cannot index the subject of {}: {}", referral_id, LogEscape(st.ToString()));
        if (failure.ok()) failure = st;
      } else if (!ack.duplicate()) {
        ++subjects_indexed_;
        spdlog::debug("router: subject of {} indexed at seq {}", referral_id, ack.seq());
      }
      continue;
    }
    const QueuedRoute& q = job.routes[i];
    if (st.code() == Status::Code::kIllegalTransition) {
      spdlog::info("router: {} -> {} not needed: {}", q.referral_id, q.decision.destination, LogEscape(st.message()));
    } else if (!st.ok()) {
      spdlog::error("router: cannot route {} -> {}: {}", q.referral_id, q.decision.destination,
                    LogEscape(st.ToString()));
      if (failure.ok()) failure = st;
    } else {
      if (!ack.duplicate()) ++routed_;
      spdlog::info("router: {} -> {} (rule {}, deadline {}) seq {}{}", q.referral_id, q.decision.destination,
                   q.decision.rule_id, q.decision.deadline.ToString(), ack.seq(),
                   ack.duplicate() ? " (appended before)" : "");
    }
  }
  return failure;
}

Status RouterService::StoreCursor() {
  const uint64_t seq = handled_seq_.load();
  if (seq == stored_seq_) return Status::OK();
  REFX_RETURN_IF_ERROR(cursor_.Store(seq));
  stored_seq_ = seq;
  return Status::OK();
}

Status RouterService::TakeSnapshot() {
  if (newest_day_ > 0) {
    // The repeat window, and 12 months more for incident dates given late.
    const int64_t keep_days = (static_cast<int64_t>(history_months_) + 12) * 31;
    const size_t dropped = state_.ForgetBefore(CivilDate::FromDays(newest_day_ - keep_days));
    if (dropped > 0) spdlog::debug("router: forgot {} entries older than {} days", dropped, keep_days);
  }
  REFX_RETURN_IF_ERROR(snapshot_file_.Store(read_seq_, read_hash_, [this](const SnapshotFile::ChunkSink& add) {
    state_.ToSnapshotChunks(kSnapshotChunk, [&add](const v1::RouterSnapshot& chunk) { add(chunk); });
  }));
  schedule_.Taken(read_seq_);
  forgot_subjects_ = false;
  spdlog::debug("router: snapshot at seq {} ({} cases)", read_seq_, state_.case_count());
  return Status::OK();
}

std::string RouterService::RenderMetrics() const {
  std::string out;
  AppendReaderPosition(&out, "refx_router", "handled_seq", "The last seq the router has fully handled (its cursor).",
                       handled_seq_.load(), head_seq_.load());
  AppendCounter(&out, "refx_router_cases_routed_total",
                "case_routed events this process appended (repeats answered as duplicates not counted).",
                routed_.load());
  AppendCounter(&out, "refx_router_subjects_indexed_total",
                "subject_indexed events this process appended (the subject index for subject access requests).",
                subjects_indexed_.load());
  AppendCounter(&out, "refx_router_events_read_total",
                "Events the router has read from the broker (its replays and its follow; only the kinds it acts on).",
                events_read_.load());
  return out;
}

bool RouterService::Healthy(std::string* fields) const {
  *fields = "\"handled_seq\":" + std::to_string(handled_seq_.load()) +
            ",\"following\":" + (following_.load() ? "true" : "false");
  return following_.load();
}

}  // namespace refx
