// Broker metrics, and the loopback HTTP endpoint that serves them in
// Prometheus text format (/metrics) with a health check (/healthz); the
// endpoint itself is core/metrics_http.h, shared with the services.
//
// Thread-safety: BrokerMetrics counters are atomics (the per-agency ones
// LabelledCounters), updated by the broker thread and read by the HTTP
// thread. MetricsServer owns its own thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/metrics_http.h"
#include "core/status.h"

namespace refx::broker {

// A cumulative histogram with fixed upper bounds, Prometheus style.
class Histogram {
 public:
  static constexpr size_t kBuckets = 12;
  explicit Histogram(std::array<double, kBuckets> bounds) : bounds_(bounds) {}
  void Observe(double value);
  // Appends the histogram's lines for metric `name` to `out`.
  void Render(const std::string& name, const std::string& help, std::string* out) const;

 private:
  std::array<double, kBuckets> bounds_;
  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};  // sum scaled by 1e6 to stay integral
};

struct BrokerMetrics {
  std::atomic<uint64_t> submissions{0};   // referrals made durable
  std::atomic<uint64_t> duplicates{0};    // repeats answered without writing
  std::atomic<uint64_t> appends{0};       // lifecycle events appended
  std::atomic<uint64_t> events_read{0};   // events sent to readers
  std::atomic<uint64_t> read_sessions{0}; // reads open now
  std::atomic<uint64_t> errors{0};        // requests (and batch items) refused
  std::atomic<uint64_t> oversize{0};      // of which FRAME_TOO_LARGE
  std::atomic<uint64_t> unroutable_replies{0};  // replies to peers that had gone
  std::atomic<uint64_t> write_failures{0};
  std::atomic<uint64_t> audit_reads{0};   // record_accessed events staged for audit reads
  std::atomic<uint64_t> checkpoints{0};   // signed checkpoints stored
  std::atomic<uint64_t> head_seq{0};
  // Per agency id (label agency): referrals made durable for that
  // submitter, and requests (or batch items) of its connection refused.
  LabelledCounter agency_submissions;
  LabelledCounter agency_refusals;
  Histogram batch_size{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096}};
  Histogram fsync_seconds{{0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 1}};

  std::string RenderPrometheus() const;
};

class MetricsServer {
 public:
  // `healthy` is asked on each /healthz request.
  MetricsServer(const BrokerMetrics* metrics, std::function<bool()> healthy);

  // Listens on host:port ("127.0.0.1:7490"). InvalidArgument for a bad
  // address, Unavailable if the port cannot be bound.
  Status Start(const std::string& address) { return http_.Start(address); }
  void Stop() { http_.Stop(); }
  int port() const { return http_.port(); }

 private:
  MetricsHttpServer http_;
};

}  // namespace refx::broker
