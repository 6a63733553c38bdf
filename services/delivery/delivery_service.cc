#include "services/delivery/delivery_service.h"
#include "core/log_escape.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "core/event_util.h"
#include "core/london_time.h"
#include "client/run_with_restarts.h"

namespace refx {

namespace {

using google::protobuf::util::TimeUtil;

// AppendBatchRequest frames in flight at once when many cases move together.
constexpr size_t kFramesInFlight = 4;
// Jobs of steps in flight at once (AppendPipeline): the next burst's steps
// reach the broker while the last burst's are committed.
constexpr size_t kStepDepth = 2;
// Open cases per chunk of the snapshot (services/common/state_snapshot.h).
constexpr size_t kSnapshotChunk = 1024;

google::protobuf::Timestamp ToTimestamp(TimePoint t) {
  return TimeUtil::MicrosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

// The UTC calendar date of `t`.
CivilDate DateOf(TimePoint t) {
  const int64_t seconds = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  int64_t days = seconds / 86400;
  if (seconds % 86400 < 0) --days;
  return CivilDate::FromDays(days);
}

const char* StepName(DeliveryStep::Kind kind) {
  switch (kind) {
    case DeliveryStep::Kind::kDeliver: return "deliver";
    case DeliveryStep::Kind::kUndeliverable: return "undeliverable";
    case DeliveryStep::Kind::kEscalate: return "escalate";
    case DeliveryStep::Kind::kRouteEscalation: return "route escalation";
  }
  return "?";
}

// The kinds of event delivery acts on (DeliveryTracker::Apply): every
// step of a case, and withdrawals. Sent as stored (READ_FORM_STORED):
// the tracker uses clear fields only, so nothing is opened for it.
void AskForCaseEvents(v1::ReadRequest* read) {
  for (int body : {v1::Event::kCaseRoutedFieldNumber, v1::Event::kCaseDeliveredFieldNumber,
                   v1::Event::kCaseAcknowledgedFieldNumber, v1::Event::kCaseAcceptedFieldNumber,
                   v1::Event::kCaseDeclinedFieldNumber, v1::Event::kOutcomeRecordedFieldNumber,
                   v1::Event::kCaseClosedFieldNumber, v1::Event::kReferralWithdrawnFieldNumber,
                   v1::Event::kCaseUndeliverableFieldNumber, v1::Event::kDeadlineBreachedFieldNumber,
                   v1::Event::kCaseEscalatedFieldNumber, v1::Event::kCaseReceivedBySystemFieldNumber,
                   v1::Event::kCaseTransferFailedFieldNumber, v1::Event::kCaseAssignedFieldNumber}) {
    read->add_bodies(body);
  }
  read->set_form(v1::READ_FORM_STORED);
}

}  // namespace

DeliveryService::DeliveryService(DeliveryOptions options)
    : options_(std::move(options)),
      snapshot_file_(options_.state_dir, "delivery"),
      schedule_(options_.snapshot),
      tracker_(options_.config->proto().delivery()) {}

DeliveryService::~DeliveryService() = default;

Status DeliveryService::Create(DeliveryOptions options, std::unique_ptr<DeliveryService>* out) {
  if (options.config == nullptr) return Status::InvalidArgument("delivery needs a partnership configuration");
  if (options.state_dir.empty()) return Status::InvalidArgument("delivery needs a state folder");
  const v1::DeliverySettings& settings = options.config->proto().delivery();
  if (!settings.escalate_to().empty() && options.config->DestinationByCode(settings.escalate_to()) == nullptr) {
    return Status::InvalidArgument("delivery.escalate_to \"" + settings.escalate_to() + "\" is not a destination",
                                   "delivery.escalate_to");
  }
  std::unique_ptr<DeliveryService> service(new DeliveryService(std::move(options)));
  REFX_RETURN_IF_ERROR(WorkingCalendar::FromProto(service->options_.config->proto().calendar(), &service->calendar_));
  REFX_RETURN_IF_ERROR(service->lock_.Acquire(service->options_.state_dir, "refx-delivery"));
  *out = std::move(service);
  return Status::OK();
}

TimePoint DeliveryService::Now() const {
  return options_.clock ? options_.clock() : std::chrono::system_clock::now();
}

Status DeliveryService::Run(const std::function<bool()>& should_stop) {
  return RunWithRestarts("delivery", options_.retry_delay_ms, should_stop,
                         [this](const std::function<bool()>& stop) { return RunOnce(stop); });
}

Status DeliveryService::RunOnce(const std::function<bool()>& should_stop) {
  tracker_ = DeliveryTracker(options_.config->proto().delivery());
  BrokerClient reader(options_.client);
  pipeline_.reset();  // the last pass's jobs finish first (a restart takes their steps again)
  pipeline_ = std::make_unique<AppendPipeline>(options_.client, AppendsPerFrame(*options_.config), kFramesInFlight,
                                               kStepDepth);
  in_flight_.clear();

  following_ = false;
  redeliveries_ = 0;
  undeliverable_ = 0;

  // 1. Rebuild the open cases and their timers: the snapshot and the log
  // after it, or the whole log.
  uint64_t from = 0;
  REFX_RETURN_IF_ERROR(LoadSnapshot(&reader, &from));
  uint64_t replayed_to = 0;
  v1::ReadRequest replay;
  replay.set_after_seq(from);
  replay.set_purpose("refx-delivery: rebuild open cases");
  AskForCaseEvents(&replay);
  Status s = ReplayLog(
      &reader, std::move(replay),
      [this](const v1::Event& event, const std::string& hash) {
        Observe(event);
        read_hash_ = hash;
        hash_seq_ = event.seq();
      },
      should_stop, &replayed_to);
  REFX_RETURN_IF_ERROR(s);
  // Past the last case event: the broker looked at every event up to here.
  replayed_to = std::max(replayed_to, reader.scanned_to_seq());
  last_seq_ = replayed_to;
  head_seq_ = reader.head_seq_seen();
  open_cases_ = tracker_.open_count();
  if (StopRequested(should_stop)) return Status::OK();
  spdlog::info("delivery: replayed the log from seq {} to seq {}; {} open cases", from + 1, replayed_to,
               tracker_.open_count());
  REFX_RETURN_IF_ERROR(AdvanceAll());
  REFX_RETURN_IF_ERROR(TakeSteps(/*wait=*/true));
  following_ = true;

  // 2. Follow the log: act on each case as its events arrive, and on the
  // timers between them.
  Status failure;
  v1::ReadRequest follow;
  follow.set_after_seq(replayed_to);
  follow.set_follow(true);
  follow.set_purpose("refx-delivery: deliver cases");
  AskForCaseEvents(&follow);
  std::set<CaseKey> touched;  // cases with events in the batch being read
  // A timer pass runs at most every kTimerPassInterval, not after every
  // burst of the read: timers are seconds long. It looks only at the cases
  // due (DeliveryTracker::DueSteps reads an index of due times); when it
  // walked every open case it was the service's largest cost per burst.
  constexpr std::chrono::milliseconds kTimerPassInterval{100};
  auto last_timer_pass = std::chrono::steady_clock::now();
  s = reader.Read(
      follow,
      [&](const v1::Event& event, const std::string&, const std::string& hash) {
        Observe(event);
        read_hash_ = hash;
        hash_seq_ = event.seq();
        const std::string& destination = DestinationOf(event);
        if (!destination.empty()) touched.emplace(ReferralIdOf(event), destination);
        return true;
      },
      [&]() {
        // After each batch of the read: act on the cases it touched, then on timers.
        head_seq_ = reader.head_seq_seen();
        if (reader.scanned_to_seq() > last_seq_.load()) last_seq_ = reader.scanned_to_seq();
        failure = Advance(touched);
        touched.clear();
        if (!failure.ok()) return true;
        if (schedule_.Due(hash_seq_)) {
          // Once every append in flight is acknowledged the tracker holds nothing unsent.
          failure = TakeSteps(/*wait=*/true);
          if (!failure.ok()) return true;
          TakeSnapshot();
        }
        if (StopRequested(should_stop)) return true;
        const auto now = std::chrono::steady_clock::now();
        if (now - last_timer_pass < kTimerPassInterval) return false;
        last_timer_pass = now;
        failure = AdvanceAll();
        return !failure.ok();
      });
  if (failure.ok()) failure = TakeSteps(/*wait=*/true);
  if (!failure.ok()) return failure;
  // Stopping: a snapshot as of the last event makes the next start read little.
  if (touched.empty() && schedule_.Behind(hash_seq_)) TakeSnapshot();
  REFX_RETURN_IF_ERROR(s);
  if (StopRequested(should_stop)) return Status::OK();
  return Status::Unavailable("the broker ended the delivery service's read");
}

Status DeliveryService::LoadSnapshot(BrokerClient* reader, uint64_t* from) {
  *from = 0;
  read_hash_.clear();
  if (schedule_.enabled()) {
    v1::DeliverySnapshot chunk;
    REFX_RETURN_IF_ERROR(LoadSnapshotOrReplay(
        "delivery", snapshot_file_, reader, &chunk,
        [this](const google::protobuf::MessageLite& c) {
          tracker_.AddSnapshotChunk(static_cast<const v1::DeliverySnapshot&>(c));
        },
        [this] { tracker_ = DeliveryTracker(options_.config->proto().delivery()); }, from, &read_hash_));
  }
  last_seq_ = *from;
  hash_seq_ = *from;
  snapshot_seq_ = *from;
  schedule_.Taken(*from);
  return Status::OK();
}

void DeliveryService::TakeSnapshot() {
  // As of the last event read (its chain hash is what a load checks), not
  // last_seq_: the broker may have passed over later events of other kinds.
  const uint64_t seq = hash_seq_;
  const Status s = snapshot_file_.Store(seq, read_hash_, [this](const SnapshotFile::ChunkSink& add) {
    tracker_.ToSnapshotChunks(kSnapshotChunk, [&add](const v1::DeliverySnapshot& chunk) { add(chunk); });
  });
  if (!s.ok()) {
    spdlog::warn("delivery: {} (a start replays more of the log until a snapshot is written)",
                 LogEscape(s.ToString()));
    return;
  }
  schedule_.Taken(seq);
  spdlog::debug("delivery: snapshot at seq {} ({} open cases)", seq, tracker_.open_count());
}

Status DeliveryService::AdvanceAll() {
  std::set<CaseKey> due;
  for (const DeliveryStep& step : tracker_.DueSteps(Now())) due.emplace(step.referral_id, step.destination);
  REFX_RETURN_IF_ERROR(Advance(due));
  open_cases_ = tracker_.open_count();
  ++timer_passes_;
  return Status::OK();
}

// One StartSteps' appends, and what Took needs of them.
struct DeliveryService::StepJob : AppendPipeline::Job {
  TimePoint now;
  std::vector<DeliveryStep> steps;
  std::vector<v1::Event> events;
};

Status DeliveryService::Advance(const std::set<CaseKey>& cases) {
  REFX_RETURN_IF_ERROR(TakeSteps(/*wait=*/false));
  StartSteps(cases);
  return Status::OK();
}

void DeliveryService::StartSteps(const std::set<CaseKey>& cases) {
  auto job = std::make_unique<StepJob>();
  job->now = Now();
  for (const auto& [referral_id, destination] : cases) {
    if (in_flight_.count({referral_id, destination})) continue;  // its answer comes first
    std::optional<DeliveryStep> step = tracker_.NextStep(referral_id, destination, job->now);
    if (step) job->steps.push_back(std::move(*step));
  }
  if (job->steps.empty()) return;
  job->events.resize(job->steps.size());
  job->appends.resize(job->steps.size());
  for (size_t i = 0; i < job->steps.size(); ++i) {
    std::string key;
    BuildStep(job->steps[i], job->now, &job->events[i], &key);
    *job->appends[i].mutable_event() = job->events[i];
    job->appends[i].set_idempotency_key(std::move(key));
    in_flight_.emplace(job->steps[i].referral_id, job->steps[i].destination);
  }
  pipeline_->Start(std::move(job));  // waits while kStepDepth jobs are in flight
}

Status DeliveryService::TakeSteps(bool wait) {
  // With `wait`, a case moves at most this many steps more (the longest
  // chain is deliver -> undeliverable -> escalate -> route the escalation);
  // what is still due after that is taken by the next timer pass.
  constexpr int kRounds = 4;
  for (int round = 1;; ++round) {
    std::vector<std::unique_ptr<AppendPipeline::Job>> done = wait ? pipeline_->WaitAll() : pipeline_->TakeFinished();
    if (done.empty()) return Status::OK();
    std::set<CaseKey> moving;
    for (auto& base : done) {
      StepJob& job = static_cast<StepJob&>(*base);
      for (size_t i = 0; i < job.steps.size(); ++i) {
        const DeliveryStep& step = job.steps[i];
        in_flight_.erase({step.referral_id, step.destination});
        bool progressed = false;
        REFX_RETURN_IF_ERROR(Took(step, job.now, std::move(job.events[i]), job.results[i], job.acks[i], &progressed));
        if (progressed) moving.emplace(step.referral_id, step.destination);
      }
    }
    // Waiting, the last round starts nothing: nothing is left in flight.
    if (wait && round == kRounds) return Status::OK();
    StartSteps(moving);
    if (!wait) return Status::OK();
  }
}

void DeliveryService::BuildStep(const DeliveryStep& step, TimePoint now, v1::Event* event, std::string* key) const {
  const v1::DeliverySettings& settings = options_.config->proto().delivery();
  const std::string& ref = step.referral_id;
  const std::string& dest = step.destination;
  std::string late = "not acknowledged within " + std::to_string(settings.undeliverable_after_seconds()) +
                     " s of the first delivery (" + std::to_string(step.deliveries) + " deliveries";
  if (step.transfer_failures > 0) {
    late += ", " + std::to_string(step.transfer_failures) + " not taken by the agency's case system, last: " +
            step.last_transfer_failure;
  }
  late += ")";
  switch (step.kind) {
    case DeliveryStep::Kind::kDeliver: {
      // Referral, destination and attempt only: the broker fills the view,
      // recipient and disclosure fields.
      v1::CaseDelivered* d = event->mutable_case_delivered();
      d->set_referral_id(ref);
      d->set_destination(dest);
      d->set_attempt(step.attempt);
      *key = "deliver:" + ref + ":" + dest + ":" + std::to_string(step.attempt);
      break;
    }
    case DeliveryStep::Kind::kUndeliverable: {
      v1::CaseUndeliverable* u = event->mutable_case_undeliverable();
      u->set_referral_id(ref);
      u->set_destination(dest);
      u->set_reason(late);
      *key = "undeliverable:" + ref + ":" + dest;
      break;
    }
    case DeliveryStep::Kind::kEscalate: {
      v1::CaseEscalated* e = event->mutable_case_escalated();
      e->set_referral_id(ref);
      e->set_destination(dest);
      e->set_escalated_to(settings.escalate_to());
      e->set_reason("undeliverable: " + late);
      *key = "escalate:" + ref + ":" + dest;
      break;
    }
    case DeliveryStep::Kind::kRouteEscalation: {
      const v1::Destination& to = *options_.config->DestinationByCode(settings.escalate_to());
      v1::CaseRouted* r = event->mutable_case_routed();
      r->set_referral_id(ref);
      r->set_destination(to.code());
      r->set_rule_id("ESCALATED_UNDELIVERABLE");
      r->set_reason("the case at " + dest + " is undeliverable: " + late);
      *r->mutable_deadline() = TimeUtil::SecondsToTimestamp(EndOfLondonDay(calendar_.Deadline(to, DateOf(now))));
      *key = "route:" + ref + ":" + to.code();
      break;
    }
  }
}

Status DeliveryService::Took(const DeliveryStep& step, TimePoint now, v1::Event event, const Status& status,
                             const v1::Ack& ack, bool* progressed) {
  const std::string& ref = step.referral_id;
  const std::string& dest = step.destination;
  if (status.code() == Status::Code::kIllegalTransition) {
    spdlog::info("delivery: {} {}/{} not needed: {}", StepName(step.kind), ref, dest, LogEscape(status.message()));
    if (step.kind == DeliveryStep::Kind::kRouteEscalation) {
      tracker_.MarkEscalationRouted(ref, dest);
    } else {
      tracker_.Hold(ref, dest);
    }
    *progressed = true;
    return Status::OK();
  }
  if (!status.ok()) {
    spdlog::error("delivery: cannot {} {}/{}: {}", StepName(step.kind), ref, dest, LogEscape(status.ToString()));
    return status;
  }
  if (step.kind == DeliveryStep::Kind::kDeliver) {
    spdlog::info("delivery: {} -> {} attempt {} seq {}{}", ref, dest, step.attempt, ack.seq(),
                 ack.duplicate() ? " (appended before)" : "");
  } else {
    spdlog::warn("delivery: {} {}/{} seq {}{}", StepName(step.kind), ref, dest, ack.seq(),
                 ack.duplicate() ? " (appended before)" : "");
  }
  // Until the log shows it, the event counts with this service's clock.
  *event.mutable_time() = ToTimestamp(now);
  event.set_seq(ack.seq());
  tracker_.Apply(event);
  if (step.kind == DeliveryStep::Kind::kRouteEscalation) tracker_.MarkEscalationRouted(ref, dest);
  *progressed = true;
  return Status::OK();
}

void DeliveryService::Observe(const v1::Event& event) {
  tracker_.Apply(event);
  last_seq_ = event.seq();
  if (event.has_case_delivered() && event.case_delivered().attempt() > 1) ++redeliveries_;
  if (event.has_case_undeliverable()) ++undeliverable_;
}

std::string DeliveryService::RenderMetrics() const {
  std::string out;
  AppendReaderPosition(&out, "refx_delivery", "last_seq", "The last seq the delivery service has taken into account.",
                       last_seq_.load(), head_seq_.load());
  AppendGauge(&out, "refx_delivery_open_cases",
              "Cases the service still tracks (routed, awaiting delivery or acknowledgement, or escalation).",
              open_cases_.load());
  AppendCounter(&out, "refx_delivery_redeliveries_total",
                "case_delivered events in the log with attempt 2 or more (redeliveries of unacknowledged cases).",
                redeliveries_.load());
  AppendGauge(&out, "refx_delivery_undeliverable_cases", "case_undeliverable events in the log.",
              undeliverable_.load());
  return out;
}

bool DeliveryService::Healthy(std::string* fields) const {
  *fields = "\"last_seq\":" + std::to_string(last_seq_.load()) +
            ",\"following\":" + (following_.load() ? "true" : "false");
  return following_.load();
}

}  // namespace refx
