#include "broker/metrics.h"

#include <httplib.h>

#include <cstdio>

namespace refx::broker {

void Histogram::Observe(double value) {
  for (size_t i = 0; i < kBuckets; ++i) {
    if (value <= bounds_[i]) counts_[i].fetch_add(1, std::memory_order_relaxed);
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(value * 1e6), std::memory_order_relaxed);
}

void Histogram::Render(const std::string& name, const std::string& help, std::string* out) const {
  char line[256];
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  for (size_t i = 0; i < kBuckets; ++i) {
    std::snprintf(line, sizeof line, "%s_bucket{le=\"%g\"} %llu\n", name.c_str(), bounds_[i],
                  static_cast<unsigned long long>(counts_[i].load()));
    *out += line;
  }
  const auto count = static_cast<unsigned long long>(count_.load());
  std::snprintf(line, sizeof line, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %g\n%s_count %llu\n", name.c_str(), count,
                name.c_str(), sum_micros_.load() / 1e6, name.c_str(), count);
  *out += line;
}

std::string BrokerMetrics::RenderPrometheus() const {
  std::string out;
  auto counter = [&out](const char* name, const char* help, uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name + " " +
           std::to_string(v) + "\n";
  };
  counter("refx_submissions_total", "Referrals made durable and acknowledged.", submissions.load());
  counter("refx_duplicates_total", "Repeated submissions answered with the original seq.", duplicates.load());
  counter("refx_appends_total", "Lifecycle events appended.", appends.load());
  counter("refx_events_read_total", "Events sent to readers.", events_read.load());
  out += "# HELP refx_read_sessions Reads of the log open now.\n# TYPE refx_read_sessions gauge\nrefx_read_sessions " +
         std::to_string(read_sessions.load()) + "\n";
  counter("refx_errors_total", "Requests, and referrals of batch frames, refused with an error.", errors.load());
  counter("refx_oversize_frames_total", "Frames refused for exceeding max_frame_bytes.", oversize.load());
  counter("refx_unroutable_replies_total", "Replies not delivered because the client had gone.",
          unroutable_replies.load());
  counter("refx_write_failures_total", "Group commits that failed (nothing acknowledged).", write_failures.load());
  counter("refx_audit_reads_total", "Audit reads recorded as record_accessed events.", audit_reads.load());
  counter("refx_checkpoints_total", "Signed checkpoints of the log head stored.", checkpoints.load());
  out += "# HELP refx_log_head_seq Highest seq in the event log.\n# TYPE refx_log_head_seq gauge\nrefx_log_head_seq " +
         std::to_string(head_seq.load()) + "\n";
  batch_size.Render("refx_batch_size", "Events written per group commit (one fsync each).", &out);
  fsync_seconds.Render("refx_fsync_seconds", "Duration of each synced group-commit write.", &out);
  return out;
}

MetricsServer::MetricsServer(const BrokerMetrics* metrics, std::function<bool()> healthy)
    : metrics_(metrics), healthy_(std::move(healthy)) {}

MetricsServer::~MetricsServer() { Stop(); }

Status MetricsServer::Start(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument("metrics address must be host:port, got " + address);
  const std::string host = address.substr(0, colon);
  // Metrics say how busy each agency is: they stay on this machine.
  if (host != "localhost" && host != "::1" && host != "[::1]" && host.rfind("127.", 0) != 0) {
    return Status::InvalidArgument("metrics address must be on loopback (127.x.x.x, localhost or ::1), got " + address);
  }
  int port = 0;
  try {
    port = std::stoi(address.substr(colon + 1));
  } catch (...) {
    return Status::InvalidArgument("metrics address must be host:port, got " + address);
  }
  server_ = std::make_unique<httplib::Server>();
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_->RenderPrometheus(), "text/plain; version=0.0.4");
  });
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const bool ok = healthy_();
    res.status = ok ? 200 : 503;
    res.set_content(std::string("{\"status\":\"") + (ok ? "ok" : "unavailable") + "\",\"head_seq\":" +
                        std::to_string(metrics_->head_seq.load()) + "}\n",
                    "application/json");
  });
  port_ = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (port_ <= 0) return Status::Unavailable("cannot listen for metrics on " + address);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::OK();
}

void MetricsServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace refx::broker
