// Prometheus metrics over HTTP, as the broker and each service export them:
// helpers that write the text exposition format, a counter kept per label
// value (e.g. per agency), and MetricsHttpServer, the loopback endpoint
// serving /metrics and /healthz (cpp-httplib).
//
// Metrics say how busy each agency is, so the endpoint listens on loopback
// only (127.x.x.x, localhost or ::1); a scraper on another host goes through
// an SSH tunnel or a local agent.
//
// Thread-safety: the Append* helpers are pure. LabelledCounter is
// thread-safe (a mutex). MetricsHttpServer owns one thread and calls its
// callbacks on it; Start and Stop are for one controlling thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/http_listen_thread.h"
#include "core/status.h"

namespace httplib {
class Server;
}

namespace refx {

// Appends "# HELP", "# TYPE" and one sample of a metric without labels.
void AppendCounter(std::string* out, const std::string& name, const std::string& help, uint64_t value);
void AppendGauge(std::string* out, const std::string& name, const std::string& help, uint64_t value);

// The three gauges of a service reading the log: PREFIX_POSITION (`position`,
// the last seq it has taken in; described by position_help),
// PREFIX_log_head_seq (the log head the broker last reported) and
// PREFIX_cursor_lag (how far the position is behind that head).
void AppendReaderPosition(std::string* out, const std::string& prefix, const std::string& position_name,
                          const std::string& position_help, uint64_t position, uint64_t head);

// `value` escaped for a label value (backslash, double quote, newline).
std::string PrometheusLabelValue(const std::string& value);

// A counter per value of one label, e.g.
//   refx_agency_submissions_total{agency="kent-police"} 12
// A value is listed once it has been added to (a label value that was
// never counted has no series, as Prometheus expects).
class LabelledCounter {
 public:
  // Adds n to the series of `value`; "" is counted as "unknown".
  void Add(const std::string& value, uint64_t n = 1);
  // The count of `value` (0 when never added).
  uint64_t Get(const std::string& value) const;
  // Appends HELP, TYPE counter and one line per value, sorted by value.
  void Render(const std::string& name, const std::string& help, const std::string& label, std::string* out) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> counts_;
};

class MetricsHttpServer {
 public:
  // /metrics answers render() as text/plain (Prometheus text format 0.0.4).
  // /healthz answers {"status":"ok"|"unavailable", ...}: healthy() is asked
  // on each request and appends its own JSON members (e.g. "\"head_seq\":5")
  // to *fields; status 200 when it returns true, 503 otherwise.
  MetricsHttpServer(std::function<std::string()> render, std::function<bool(std::string* fields)> healthy);
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Listens on `address`, host:port on loopback ("127.0.0.1:7491"; port 0
  // picks a free one, see port()). InvalidArgument for a malformed or
  // non-loopback address, Unavailable if the port cannot be bound.
  Status Start(const std::string& address);
  // Stops listening and joins the thread; safe to call twice.
  void Stop();
  // The port listened on (after Start succeeded).
  int port() const { return port_; }

 private:
  std::function<std::string()> render_;
  std::function<bool(std::string*)> healthy_;
  std::unique_ptr<httplib::Server> server_;
  HttpListenThread listener_;
  int port_ = 0;
};

}  // namespace refx
