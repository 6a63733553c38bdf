#include "adapters/forward/forwarder.h"
#include "core/log_escape.h"

#include <spdlog/spdlog.h>

#include <algorithm>
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

void Forwarder::Run() {
  auto backoff = std::chrono::milliseconds(options_.backoff_initial_ms);
  const auto backoff_max = std::chrono::milliseconds(options_.backoff_max_ms);
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    // The oldest unit, and after it more while they are small, so that one
    // round forwards many HTTP units together.
    std::vector<SpoolUnit> units(1);
    Status s = spool_->Oldest(&units[0]);
    if (s.code() == Status::Code::kNotFound) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_ || woken_; });
      woken_ = false;
      continue;
    }
    if (s.ok()) {
      const size_t chunk_max = static_cast<size_t>(std::max<uint32_t>(1, options_.batch_max)) *
                               std::max<uint32_t>(1, options_.window);
      size_t total = units[0].referrals.size() - units[0].acknowledged;
      SpoolUnit next;
      while (total < chunk_max && spool_->Next(units.back().name, &next).ok()) {
        total += next.referrals.size() - next.acknowledged;
        units.push_back(std::move(next));
      }
    }
    if (s.ok() && ForwardUnits(&units)) {
      backoff = std::chrono::milliseconds(options_.backoff_initial_ms);
      continue;
    }
    if (!s.ok()) {
      ++failures_;
      spdlog::error("forwarder: cannot read the spool: {}", LogEscape(s.ToString()));
    }
    Sleep(backoff);
    backoff = std::min(backoff * 2, backoff_max);
  }
}

bool Forwarder::ForwardUnits(std::vector<SpoolUnit>* units) {
  const size_t per_frame = std::max<uint32_t>(1, options_.batch_max);
  const size_t chunk_max = per_frame * std::max<uint32_t>(1, options_.window);
  size_t u = 0;  // the unit the next chunk starts in
  while (u < units->size()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return false;
    }
    // The next chunk: up to chunk_max unanswered referrals, in spool order,
    // from one or more units; where[i] = (unit, position) of chunk[i].
    std::vector<v1::Referral> chunk;
    std::vector<std::pair<size_t, size_t>> where;
    for (size_t k = u; k < units->size() && chunk.size() < chunk_max; ++k) {
      SpoolUnit& unit = (*units)[k];
      for (size_t p = unit.acknowledged; p < unit.referrals.size() && chunk.size() < chunk_max; ++p) {
        chunk.push_back(std::move(unit.referrals[p]));
        where.emplace_back(k, p);
      }
    }
    std::vector<std::optional<ForwardOutcome>> results(chunk.size());
    Status call = client_->SubmitBatches(chunk, per_frame, options_.window,
                                         [&](size_t i, const Status& status, const v1::Ack& ack) {
                                           if (!IsFinal(status)) return;
                                           ForwardOutcome o;
                                           o.referrer_reference = chunk[i].referrer_reference();
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
    std::map<size_t, size_t> answered_to;  // unit -> end of its answered prefix
    std::set<size_t> blocked;              // units with an unanswered referral
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
    Status s = outcomes_->Record(finals);
    for (auto it = answered_to.begin(); s.ok() && it != answered_to.end(); ++it) {
      s = spool_->MarkAcknowledged((*units)[it->first].name, it->second);
      (*units)[it->first].acknowledged = it->second;
    }
    if (!s.ok()) {
      ++failures_;
      spdlog::error("forwarder: cannot record the broker's answers: {}", LogEscape(s.ToString()));
      return false;
    }
    forwarded_ += accepted;
    refused_ += refused;
    if (!blocked.empty()) {
      ++failures_;
      reachable_ = false;
      spdlog::warn("forwarder: {} of {} referrals unanswered ({}); retrying after a back-off",
                   chunk.size() - finals.size(), chunk.size(), call.ok() ? "transient refusal" : call.ToString());
      // The unanswered ones are re-read from the spool on the next round.
      return false;
    }
    reachable_ = true;
    while (u < units->size() && (*units)[u].acknowledged >= (*units)[u].referrals.size()) ++u;
  }
  return true;
}

}  // namespace refx::adapters
