// Broker metrics, and the loopback HTTP endpoint that serves them in
// Prometheus text format (/metrics) with a health check (/healthz).
//
// Thread-safety: BrokerMetrics counters are atomics, updated by the broker
// thread and read by the HTTP thread. MetricsServer owns its own thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/status.h"

namespace httplib {
class Server;
}

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
  Histogram batch_size{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096}};
  Histogram fsync_seconds{{0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 1}};

  std::string RenderPrometheus() const;
};

class MetricsServer {
 public:
  // `healthy` is asked on each /healthz request.
  MetricsServer(const BrokerMetrics* metrics, std::function<bool()> healthy);
  ~MetricsServer();

  // Listens on host:port ("127.0.0.1:7490"). InvalidArgument for a bad
  // address, Unavailable if the port cannot be bound.
  Status Start(const std::string& address);
  void Stop();
  int port() const { return port_; }

 private:
  const BrokerMetrics* metrics_;
  std::function<bool()> healthy_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace refx::broker
