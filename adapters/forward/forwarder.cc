#include "adapters/forward/forwarder.h"
#include "core/log_escape.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <map>
#include <optional>
#include <set>

namespace refx::adapters {

Forwarder::Forwarder(ForwarderOptions options, ClientOptions client, Spool* spool, OutcomeIndex* outcomes)
    : options_(options), client_options_(std::move(client)), spool_(spool), outcomes_(outcomes) {}

Forwarder::~Forwarder() { Stop(); }

bool Forwarder::IsFinal(const Status& status) {
  switch (status.code()) {
    case Status::Code::kUnavailable:
    case Status::Code::kInternal:
    case Status::Code::kTimeout:
    case Status::Code::kIoError:
    case Status::Code::kCorruption:
    case Status::Code::kMalformedFrame:
    case Status::Code::kUnsupportedFrame:
    case Status::Code::kFrameTooLarge:
      return false;
    default:
      return true;
  }
}

void Forwarder::Start() {
  client_ = std::make_unique<BrokerClient>(client_options_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void Forwarder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Forwarder::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  wake_.notify_all();
}

ForwarderFigures Forwarder::Figures() const {
  ForwarderFigures f;
  f.forwarded = forwarded_.load();
  f.refused = refused_.load();
  f.failures = failures_.load();
  f.broker_reachable = reachable_.load();
  return f;
}

void Forwarder::Sleep(std::chrono::milliseconds how_long) {
  std::unique_lock<std::mutex> lock(mu_);
  wake_.wait_for(lock, how_long, [this] { return stop_; });
}

size_t Forwarder::RoundMax() const {
  // Four windows a round: a file drop's unit (chunk_rows 4096) goes whole,
  // so its cursor is removed with it rather than rewritten per window.
  return static_cast<size_t>(std::max<uint32_t>(1, options_.batch_max)) * std::max<uint32_t>(1, options_.window) * 4;
}

Status Forwarder::FinishRecording() {
  if (!recording_.valid()) return Status::OK();
  Status s = recording_.get();
  if (s.ok()) {
    for (const auto& [name, end] : recording_cursors_) {
      auto it = answered_.find(name);
      if (it != answered_.end() && it->second <= end) answered_.erase(it);
    }
  } else {
    // The spool's cursors are the truth again: what was not recorded is sent
    // again (the broker answers it as a duplicate).
    answered_.clear();
    ++failures_;
    spdlog::error("forwarder: cannot record the broker's answers: {}", LogEscape(s.ToString()));
  }
  recording_cursors_.clear();
  return s;
}

Status Forwarder::ReadRound(std::vector<SpoolUnit>* units) {
  units->clear();
  const size_t round_max = RoundMax();
  size_t total = 0;
  SpoolUnit unit;
  Status s = spool_->Oldest(&unit);
  while (s.ok()) {
    // Referrals answered whose record is still being written are not sent again.
    auto it = answered_.find(unit.name);
    if (it != answered_.end()) unit.acknowledged = std::max(unit.acknowledged, it->second);
    const std::string name = unit.name;
    if (unit.acknowledged < unit.size()) {
      total += unit.size() - unit.acknowledged;
      units->push_back(std::move(unit));
      unit = SpoolUnit();
    }
    if (total >= round_max) break;
    s = spool_->Next(name, &unit);
  }
  if (s.code() == Status::Code::kNotFound) s = Status::OK();
  if (!s.ok()) units->clear();
  return s;
}

void Forwarder::Run() {
  auto backoff = std::chrono::milliseconds(options_.backoff_initial_ms);
  const auto backoff_max = std::chrono::milliseconds(options_.backoff_max_ms);
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) {
        (void)FinishRecording();
        return;
      }
    }
    if (recording_.valid() && recording_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      (void)FinishRecording();
    }
    // The oldest units, up to a round's worth, so that one round forwards
    // many HTTP units together.
    std::vector<SpoolUnit> units;
    Status s = ReadRound(&units);
    if (s.ok() && units.empty()) {
      if (recording_.valid()) {
        // Everything waiting is answered; its record is being written.
        (void)FinishRecording();
        continue;
      }
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_ || woken_; });
      woken_ = false;
      continue;
    }
    if (s.ok() && ForwardUnits(&units)) {
      backoff = std::chrono::milliseconds(options_.backoff_initial_ms);
      continue;
    }
    if (!s.ok()) {
      ++failures_;
      spdlog::error("forwarder: cannot read the spool: {}", LogEscape(s.ToString()));
    }
    (void)FinishRecording();
    Sleep(backoff);
    backoff = std::min(backoff * 2, backoff_max);
  }
}

bool Forwarder::ForwardUnits(std::vector<SpoolUnit>* units) {
  const size_t per_frame = std::max<uint32_t>(1, options_.batch_max);
  const size_t chunk_max = RoundMax();
  size_t u = 0;  // the unit the next chunk starts in
  while (u < units->size()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return false;
    }
    // The next chunk: up to chunk_max unanswered referrals, in spool order,
    // from one or more units; where[i] = (unit, position) of chunk[i].
    std::vector<std::string_view> chunk;
    std::vector<std::pair<size_t, size_t>> where;
    for (size_t k = u; k < units->size() && chunk.size() < chunk_max; ++k) {
      SpoolUnit& unit = (*units)[k];
      for (size_t p = unit.acknowledged; p < unit.size() && chunk.size() < chunk_max; ++p) {
        chunk.emplace_back(unit.encoded[p]);
        where.emplace_back(k, p);
      }
    }
    std::vector<std::optional<ForwardOutcome>> results(chunk.size());
    Status call = client_->SubmitBatchesEncoded(
        chunk, per_frame, options_.window, [&](size_t i, const Status& status, const v1::Ack& ack) {
          if (!IsFinal(status)) return;
          ForwardOutcome o;
          if (!ReferenceOfEncoded((*units)[where[i].first].encoded[where[i].second], &o.referrer_reference)) return;
          o.accepted = status.ok();
          if (status.ok()) {
            o.referral_id = ack.referral_id();
            o.seq = ack.seq();
          } else {
            o.refusal = status;
          }
          results[i] = std::move(o);
        });
    // Everything the broker answered finally is recorded (durably) before
    // any cursor moves; each unit's cursor moves over its answered prefix.
    std::vector<ForwardOutcome> finals;
    std::vector<std::pair<std::string, size_t>> cursors;  // unit name -> end of its answered prefix
    std::map<size_t, size_t> answered_to;
    std::set<size_t> blocked;  // units with an unanswered referral
    uint64_t accepted = 0, refused = 0;
    for (size_t i = 0; i < results.size(); ++i) {
      const auto [k, p] = where[i];
      if (!results[i]) {
        blocked.insert(k);
        continue;
      }
      if (!blocked.count(k)) answered_to[k] = p + 1;
      (results[i]->accepted ? accepted : refused)++;
      if (!results[i]->accepted) {
        spdlog::warn("forwarder: the broker refused a referral of unit {}: {}", (*units)[k].name,
                     LogEscape(results[i]->refusal.ToString()));
      }
      finals.push_back(std::move(*results[i]));
    }
    for (const auto& [k, end] : answered_to) {
      cursors.emplace_back((*units)[k].name, end);
      (*units)[k].acknowledged = end;
      answered_[(*units)[k].name] = end;
    }
    if (!FinishRecording().ok()) return false;
    recording_cursors_ = cursors;
    recording_ = std::async(std::launch::async, [this, finals = std::move(finals), cursors = std::move(cursors)] {
      // The broker's answers are durable in its log: whoever waits for one
      // (?wait=durable) may have it now, before the adapter's own record.
      // Published here, off the forwarder's thread, which meanwhile sends
      // the next round (a round's answers take a hash-map insert each).
      outcomes_->Publish(finals);
      REFX_RETURN_IF_ERROR(outcomes_->WriteDurably(finals));
      for (const auto& [name, end] : cursors) REFX_RETURN_IF_ERROR(spool_->MarkAcknowledged(name, end));
      return Status::OK();
    });
    forwarded_ += accepted;
    refused_ += refused;
    if (!blocked.empty()) {
      ++failures_;
      reachable_ = false;
      spdlog::warn("forwarder: {} of {} referrals unanswered ({}); retrying after a back-off",
                   chunk.size() - (accepted + refused), chunk.size(),
                   call.ok() ? "transient refusal" : call.ToString());
      // The unanswered ones are re-read from the spool on the next round.
      return false;
    }
    reachable_ = true;
    while (u < units->size() && (*units)[u].acknowledged >= (*units)[u].size()) ++u;
  }
  return true;
}

}  // namespace refx::adapters
