#include "adapters/forward/forwarder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

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
    SpoolUnit unit;
    Status s = spool_->Oldest(&unit);
    if (s.code() == Status::Code::kNotFound) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_ || woken_; });
      woken_ = false;
      continue;
    }
    if (s.ok() && ForwardUnit(&unit)) {
      backoff = std::chrono::milliseconds(options_.backoff_initial_ms);
      continue;
    }
    if (!s.ok()) {
      ++failures_;
      spdlog::error("forwarder: cannot read the spool: {}", s.ToString());
    }
    Sleep(backoff);
    backoff = std::min(backoff * 2, backoff_max);
  }
}

bool Forwarder::ForwardUnit(SpoolUnit* unit) {
  const size_t n = unit->referrals.size();
  const size_t per_frame = std::max<uint32_t>(1, options_.batch_max);
  const size_t chunk_max = per_frame * std::max<uint32_t>(1, options_.window);
  size_t pos = unit->acknowledged;
  while (pos < n) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return false;
    }
    const size_t end = std::min(n, pos + chunk_max);
    std::vector<v1::Referral> chunk(std::make_move_iterator(unit->referrals.begin() + static_cast<std::ptrdiff_t>(pos)),
                                    std::make_move_iterator(unit->referrals.begin() + static_cast<std::ptrdiff_t>(end)));
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
    // the cursor moves; the cursor moves over the answered prefix only.
    std::vector<ForwardOutcome> finals;
    size_t prefix = 0;
    bool in_prefix = true;
    uint64_t accepted = 0, refused = 0;
    for (size_t i = 0; i < results.size(); ++i) {
      if (!results[i]) {
        in_prefix = false;
        continue;
      }
      if (in_prefix) ++prefix;
      (results[i]->accepted ? accepted : refused)++;
      if (!results[i]->accepted) {
        spdlog::warn("forwarder: the broker refused a referral of unit {}: {}", unit->name,
                     results[i]->refusal.ToString());
      }
      finals.push_back(std::move(*results[i]));
    }
    Status s = outcomes_->Record(finals);
    if (s.ok() && prefix > 0) s = spool_->MarkAcknowledged(unit->name, pos + prefix);
    if (!s.ok()) {
      ++failures_;
      spdlog::error("forwarder: cannot record the broker's answers for unit {}: {}", unit->name, s.ToString());
      return false;
    }
    forwarded_ += accepted;
    refused_ += refused;
    pos += prefix;
    if (prefix < chunk.size()) {
      ++failures_;
      reachable_ = false;
      spdlog::warn("forwarder: unit {}: {} of {} referrals unanswered ({}); retrying after a back-off", unit->name,
                   chunk.size() - prefix, chunk.size(), call.ok() ? "transient refusal" : call.ToString());
      // The unanswered ones are re-read from the spool on the next round.
      return false;
    }
    reachable_ = true;
  }
  return true;
}

}  // namespace refx::adapters
