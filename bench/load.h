// Load generators against a running broker.
//
// Closed loop (RunClosedLoop): N client threads, each a refx::BrokerClient
// with its own agency identity, all sharing one zmq::context_t. Each client
// either keeps a window of submissions in flight (SubmitWindowed), keeps a
// window of batch frames in flight (SubmitBatches: per_frame referrals in
// each SubmitBatchRequest), or submits strictly one at a time (Submit). Throughput counts only the OK acks that
// complete inside the measurement interval [start + warmup, start + warmup +
// duration]; clients keep submitting until that interval has ended, so the
// broker is under full load for all of it.
//
// Open loop (RunOpenLoop): one raw DEALER client sends on a fixed schedule
// (rate per second) that does not wait for replies, and measures each ack's
// latency from the request's scheduled send time, so a stall in the broker
// shows up in full rather than slowing the sender (no coordinated omission).
//
// Any error reply, duplicate ack or timeout throws BenchError: every
// submission is a new referral and must be acknowledged as such.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_support.h"
#include "client/broker_client.h"

namespace zmq {
class context_t;
}

namespace refx::bench {

// Where and as whom to connect.
struct Target {
  std::string endpoint;
  std::string server_public_key;
};

enum class Mode { kWindowed, kBatched, kStrict };

struct ClosedLoopOptions {
  Mode mode = Mode::kWindowed;
  size_t window = 64;                          // requests in flight per client (windowed)
  size_t per_frame = 64;                       // referrals per frame (batched)
  size_t frame_window = 4;                     // frames in flight per client (batched)
  std::chrono::milliseconds warmup{500};       // load before measuring
  std::chrono::milliseconds duration{3000};    // measured interval
  std::string run_tag;                         // makes references unique per run, e.g. "w8r2"
};

struct ClosedLoopResult {
  uint64_t acks = 0;     // OK acks completed inside the interval
  double seconds = 0;    // length of the interval
  double per_s() const { return seconds > 0 ? static_cast<double>(acks) / seconds : 0; }
};

// One bench client: an agency identity and its connection to the broker.
struct BenchClient {
  const BenchAgency* agency = nullptr;
  std::unique_ptr<BrokerClient> client;
};

// Makes one BrokerClient per agency, all in `context` (which must outlive
// them). Clients are made once per broker and reused by every run, so that
// a run measures requests, not CURVE handshakes.
std::vector<BenchClient> MakeClients(const Target& target, const std::vector<BenchAgency>& agencies,
                                     zmq::context_t* context);

// Runs one measurement with every client in `clients` on its own thread,
// each submitting `referral_template` under its own agency id with fresh
// references. `on_interval(begin)` is called on the calling thread at the
// start (begin = true) and the end (false) of the measured interval, e.g. to
// scrape the broker's metrics.
ClosedLoopResult RunClosedLoop(std::vector<BenchClient>& clients, const v1::Referral& referral_template,
                               const ClosedLoopOptions& options, const std::function<void(bool begin)>& on_interval);

struct OpenLoopResult {
  uint64_t sent = 0;
  double p50_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0, mean_ms = 0;
  double max_send_lag_ms = 0;  // how far behind schedule the sender ever got
};

// Submits `rate` referrals per second for `duration` as `agency` (after a
// short unmeasured warm-up) and returns the ack latency distribution.
OpenLoopResult RunOpenLoop(const Target& target, const BenchAgency& agency, const v1::Referral& referral_template,
                           double rate, std::chrono::milliseconds duration, const std::string& run_tag);

}  // namespace refx::bench
