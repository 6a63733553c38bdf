#include "broker/metrics.h"

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
  auto counter = [&out](const char* name, const char* help, uint64_t v) { AppendCounter(&out, name, help, v); };
  counter("refx_submissions_total", "Referrals made durable and acknowledged.", submissions.load());
  agency_submissions.Render("refx_agency_submissions_total",
                            "Referrals made durable and acknowledged, by submitting agency.", "agency", &out);
  counter("refx_duplicates_total", "Repeated submissions answered with the original seq.", duplicates.load());
  counter("refx_appends_total", "Lifecycle events appended.", appends.load());
  counter("refx_events_read_total", "Events sent to readers.", events_read.load());
  AppendGauge(&out, "refx_read_sessions", "Reads of the log open now.", read_sessions.load());
  counter("refx_errors_total", "Requests, and referrals of batch frames, refused with an error.", errors.load());
  agency_refusals.Render("refx_agency_refusals_total",
                         "Requests, and referrals of batch frames, refused with an error, by the agency of the "
                         "connection (unknown: not yet authenticated).",
                         "agency", &out);
  counter("refx_oversize_frames_total", "Frames refused for exceeding max_frame_bytes.", oversize.load());
  counter("refx_unroutable_replies_total", "Replies not delivered because the client had gone.",
          unroutable_replies.load());
  counter("refx_write_failures_total", "Group commits that failed (nothing acknowledged).", write_failures.load());
  counter("refx_audit_reads_total", "Audit reads recorded as record_accessed events.", audit_reads.load());
  counter("refx_checkpoints_total", "Signed checkpoints of the log head stored.", checkpoints.load());
  AppendGauge(&out, "refx_log_head_seq", "Highest seq in the event log.", head_seq.load());
  batch_size.Render("refx_batch_size", "Events written per group commit (one fsync each).", &out);
  fsync_seconds.Render("refx_fsync_seconds",
                      "Duration of each group commit: sealing, hashing and the synced write.", &out);
  return out;
}

MetricsServer::MetricsServer(const BrokerMetrics* metrics, std::function<bool()> healthy)
    : http_([metrics] { return metrics->RenderPrometheus(); },
            [metrics, healthy = std::move(healthy)](std::string* fields) {
              *fields = "\"head_seq\":" + std::to_string(metrics->head_seq.load());
              return healthy();
            }) {}

}  // namespace refx::broker
