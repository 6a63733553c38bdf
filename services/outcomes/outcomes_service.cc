#include "services/outcomes/outcomes_service.h"
#include "core/log_escape.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <thread>

namespace refx::outcomes {

namespace {

constexpr const char* kPurpose = "deadline watch (refx-outcomes)";
// Events between two sweeps of old closed cases out of the fold.
constexpr uint64_t kPruneEvery = 20000;
// Referrals per chunk of the snapshot (services/common/state_snapshot.h).
constexpr size_t kSnapshotChunk = 1024;

std::string EscalationDestination(const PartnershipConfig& config) {
  if (!config.proto().delivery().escalate_to().empty()) return config.proto().delivery().escalate_to();
  return config.proto().fallback_destination();
}

Micros ToMicros(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

}  // namespace

OutcomesService::OutcomesService(const PartnershipConfig* config, OutcomesOptions options)
    : options_(std::move(options)),
      escalate_to_(EscalationDestination(*config)),
      watch_(options_.identity, escalate_to_),
      schedule_(options_.snapshot) {
  if (!options_.clock) options_.clock = [] { return std::chrono::system_clock::now(); };
}

OutcomesService::~OutcomesService() = default;

bool OutcomesService::OnEvent(const v1::Event& event, const std::string& hash) {
  if (const CaseView* c = fold_.Apply(event)) watch_.Update(*c);
  last_hash_ = hash;
  newest_time_ = std::max(newest_time_, EventMicros(event));
  if (event.seq() - pruned_at_ >= std::max<uint64_t>(kPruneEvery, fold_.size())) {
    // Also while catching up, so that a long log never holds every case at
    // once. A sweep walks every case: at most one per as many events as
    // there are cases, or a replay costs cases x events / kPruneEvery.
    pruned_at_ = event.seq();
    forgotten_cases_.fetch_add(fold_.ForgetClosedBefore(newest_time_ - ClosedHorizonMicros()));
  }
  if (event.has_referral_withdrawn()) {
    // Every case of the referral changed at once.
    for (const CaseView* c : fold_.CasesOf(event.referral_withdrawn().referral_id())) watch_.Update(*c);
  }
  applied_seq_.store(event.seq());
  head_seq_.store(reader_->head_seq_seen());
  return !stop_.load();
}

Micros OutcomesService::ClosedHorizonMicros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(options_.closed_horizon).count();
}

Status OutcomesService::LoadSnapshot() {
  if (options_.state_dir.empty()) return Status::OK();
  REFX_RETURN_IF_ERROR(lock_.Acquire(options_.state_dir, "refx-outcomes"));
  if (!schedule_.enabled()) return Status::OK();  // snapshots off: the whole log is replayed
  snapshot_file_ = std::make_unique<SnapshotFile>(options_.state_dir, "outcomes");
  v1::CaseFoldSnapshot chunk;
  uint64_t from = 0;
  while (!stop_.load()) {
    Status s = LoadSnapshotOrReplay(
        "outcomes", *snapshot_file_, reader_.get(), &chunk,
        [this](const google::protobuf::MessageLite& c) {
          fold_.AddSnapshotChunk(static_cast<const v1::CaseFoldSnapshot&>(c));
        },
        [this] { fold_ = CaseFold(); }, &from, &last_hash_);
    if (s.ok()) break;
    if (s.code() == Status::Code::kPermissionDenied) return s;
    spdlog::warn("outcomes: cannot check the snapshot (will retry): {}", LogEscape(s.ToString()));
    SleepUnlessStopped(options_.retry_interval);
  }
  if (from == 0) return Status::OK();
  fold_.ForEach([this](const CaseView& c) {
    watch_.Update(c);
    newest_time_ = std::max({newest_time_, c.routed_at, c.closed_at});
  });
  pruned_at_ = from;
  applied_seq_.store(from);
  schedule_.Taken(from);
  return Status::OK();
}

void OutcomesService::MaybeSnapshot(bool force) {
  if (!snapshot_file_ || !schedule_.enabled()) return;
  const uint64_t seq = fold_.last_seq();
  if (!(force ? schedule_.Behind(seq) : schedule_.Due(seq))) return;
  forgotten_cases_.fetch_add(fold_.ForgetClosedBefore(newest_time_ - ClosedHorizonMicros()));
  pruned_at_ = seq;
  const Status s = snapshot_file_->Store(seq, last_hash_, [this](const SnapshotFile::ChunkSink& add) {
    fold_.ToSnapshotChunks(kSnapshotChunk, [&add](const v1::CaseFoldSnapshot& chunk) { add(chunk); });
  });
  if (!s.ok()) {
    spdlog::warn("outcomes: {} (a start replays more of the log until a snapshot is written)", LogEscape(s.ToString()));
    return;
  }
  schedule_.Taken(seq);
  spdlog::debug("outcomes: snapshot at seq {} ({} cases)", seq, fold_.size());
}

void OutcomesService::SleepUnlessStopped(std::chrono::milliseconds d) const {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stop_.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void OutcomesService::WriteReadyFile() const {
  if (options_.ready_file.empty()) return;
  const std::string tmp = options_.ready_file + ".tmp";
  if (FILE* f = std::fopen(tmp.c_str(), "w")) {
    std::fprintf(f, "caught up to seq %llu\n", static_cast<unsigned long long>(fold_.last_seq()));
    std::fclose(f);
    std::rename(tmp.c_str(), options_.ready_file.c_str());
  }
}

bool OutcomesService::StillAwaiting(const DeadlineAction& action, bool* breached) {
  *breached = false;
  v1::QueryRequest query;
  query.set_referral_id(action.referral_id);
  v1::QueryResult result;
  Status s = writer_->Query(query, &result);
  if (!s.ok()) return true;  // cannot tell: the append's own checks decide
  for (const v1::CaseRecord& c : result.cases()) {
    if (c.destination() != action.destination) continue;
    *breached = c.deadline_breached();
    return AwaitsAcknowledgement(c.state());
  }
  return false;
}

Status OutcomesService::CheckDeadlines() {
  const Micros now = ToMicros(options_.clock());
  std::string failed_case;  // a case whose breach failed: no escalation for it this turn
  for (const DeadlineAction& action : watch_.Due(now)) {
    if (stop_.load()) break;
    const std::string case_id = action.referral_id + "/" + action.destination;
    if (case_id == failed_case) continue;
    if (action.kind == DeadlineAction::Kind::kBreach) {
      bool breached = false;
      if (!StillAwaiting(action, &breached)) {
        spdlog::debug("outcomes: {} is no longer awaiting acknowledgement; the log will say so", case_id);
        failed_case = case_id;
        continue;
      }
      if (breached) {
        // Recorded under another key (e.g. by an earlier version): do not add a second.
        spdlog::debug("outcomes: {} already has a breach recorded", case_id);
        watch_.Done(action);
        continue;
      }
    }
    v1::Ack ack;
    Status s = writer_->Append(action.event, action.idempotency_key, &ack);
    const char* what = action.kind == DeadlineAction::Kind::kBreach ? "deadline_breached" : "case_escalated";
    if (s.ok()) {
      watch_.Done(action);
      if (ack.duplicate()) {
        spdlog::debug("outcomes: {} {} was already in the log (seq {})", what, case_id, ack.seq());
      } else if (action.kind == DeadlineAction::Kind::kBreach) {
        breaches_.fetch_add(1);
        spdlog::info("outcomes: {} not acknowledged by its deadline {}: deadline_breached seq {}", case_id,
                     FormatMicros(action.deadline), ack.seq());
      } else {
        escalations_.fetch_add(1);
        spdlog::info("outcomes: {} escalated to {}: case_escalated seq {}", case_id, escalate_to_, ack.seq());
      }
      continue;
    }
    failed_case = case_id;
    switch (s.code()) {
      case Status::Code::kUnavailable:
      case Status::Code::kTimeout:
      case Status::Code::kInternal:
        spdlog::warn("outcomes: {} for {} not written yet (will retry): {}", what, case_id, LogEscape(s.ToString()));
        break;
      case Status::Code::kPermissionDenied:
        spdlog::error("outcomes: the broker refuses {} from {}: {}", what, options_.identity,
                      LogEscape(s.ToString()));
        return s;
      default:
        // The case moved on (acknowledged, withdrawn, closed…) or the
        // configuration refuses it: retrying would not help.
        spdlog::warn("outcomes: {} for {} refused: {}", what, case_id, LogEscape(s.ToString()));
        watch_.Done(action);
        break;
    }
  }
  CountCases(now);
  checks_.fetch_add(1);
  return Status::OK();
}

void OutcomesService::CountCases(Micros now) {
  uint64_t open = 0, overdue = 0, undeliverable = 0;
  fold_.ForEach([&](const CaseView& c) {
    if (IsOpenState(c.state)) ++open;
    if (AwaitsAcknowledgement(c.state) && c.deadline != 0 && c.deadline < now) ++overdue;
    if (c.state == v1::UNDELIVERABLE) ++undeliverable;
  });
  open_cases_.store(open);
  overdue_cases_.store(overdue);
  undeliverable_cases_.store(undeliverable);
}

std::string OutcomesService::RenderMetrics() const {
  std::string out;
  AppendReaderPosition(&out, "refx_outcomes", "applied_seq",
                       "The last seq the outcomes service has taken into account.", applied_seq_.load(),
                       head_seq_.load());
  AppendGauge(&out, "refx_outcomes_open_cases",
              "Cases not closed, declined, undeliverable or withdrawn, as of the last deadline check.",
              open_cases_.load());
  AppendGauge(&out, "refx_outcomes_overdue_cases",
              "Cases awaiting acknowledgement past their deadline, as of the last deadline check.",
              overdue_cases_.load());
  AppendGauge(&out, "refx_outcomes_undeliverable_cases",
              "Cases marked undeliverable, as of the last deadline check (closed cases leave memory after the "
              "closed horizon, 30 days by default).",
              undeliverable_cases_.load());
  AppendCounter(&out, "refx_outcomes_forgotten_cases_total",
                "Closed cases this process dropped from memory (older than the closed horizon).",
                forgotten_cases_.load());
  AppendCounter(&out, "refx_outcomes_breaches_total", "deadline_breached events this process appended.",
                breaches_.load());
  AppendCounter(&out, "refx_outcomes_escalations_total", "case_escalated events this process appended.",
                escalations_.load());
  return out;
}

bool OutcomesService::Healthy(std::string* fields) const {
  *fields = "\"applied_seq\":" + std::to_string(applied_seq_.load()) +
            ",\"caught_up\":" + (caught_up_.load() ? "true" : "false");
  return caught_up_.load();
}

Status OutcomesService::Run() {
  reader_ = std::make_unique<BrokerClient>(options_.client);
  writer_ = std::make_unique<BrokerClient>(options_.client);
  if (escalate_to_.empty()) {
    spdlog::warn("outcomes: the configuration has no delivery.escalate_to or fallback_destination: "
                 "breaches are recorded but not escalated");
  }
  v1::ReadRequest request;
  request.set_purpose(kPurpose);

  // 1. Rebuild the view: the snapshot, then read to the head before judging
  // any deadline.
  REFX_RETURN_IF_ERROR(LoadSnapshot());
  while (!stop_.load()) {
    request.set_after_seq(fold_.last_seq());
    request.set_follow(false);
    Status s = reader_->Read(request, [this](const v1::Event& e, const std::string&, const std::string& hash) {
      return OnEvent(e, hash);
    }, [this] { return stop_.load(); });
    if (s.ok()) break;
    if (s.code() == Status::Code::kPermissionDenied) return s;
    spdlog::warn("outcomes: reading the log failed at seq {} (will retry): {}", fold_.last_seq(),
                 LogEscape(s.ToString()));
    SleepUnlessStopped(options_.retry_interval);
  }
  if (stop_.load()) return Status::OK();
  caught_up_.store(true);
  spdlog::info("outcomes: caught up to seq {}: {} cases, {} awaiting acknowledgement with a deadline",
               fold_.last_seq(), fold_.size(), watch_.watching());
  MaybeSnapshot(false);
  WriteReadyFile();
  REFX_RETURN_IF_ERROR(CheckDeadlines());

  // 2. Follow the log; check deadlines between events.
  auto last_check = std::chrono::steady_clock::now();
  Status fatal;
  auto should_stop = [&] {
    if (stop_.load()) return true;
    head_seq_.store(reader_->head_seq_seen());
    if (std::chrono::steady_clock::now() - last_check >= options_.check_interval) {
      fatal = CheckDeadlines();
      last_check = std::chrono::steady_clock::now();
      if (!fatal.ok()) return true;
      MaybeSnapshot(false);
    }
    return stop_.load();
  };
  while (!stop_.load()) {
    request.set_after_seq(fold_.last_seq());
    request.set_follow(true);
    Status s = reader_->Read(request, [this](const v1::Event& e, const std::string&, const std::string& hash) {
      return OnEvent(e, hash);
    }, should_stop);
    if (!fatal.ok()) return fatal;
    if (stop_.load()) break;
    if (s.code() == Status::Code::kPermissionDenied) return s;
    if (!s.ok()) {
      spdlog::warn("outcomes: following the log failed at seq {} (will retry): {}", fold_.last_seq(),
                   LogEscape(s.ToString()));
      SleepUnlessStopped(options_.retry_interval);
      (void)should_stop();  // deadlines still pass while the broker is away
      if (!fatal.ok()) return fatal;
    }
  }
  MaybeSnapshot(true);
  return Status::OK();
}

}  // namespace refx::outcomes
