#include "core/metrics_http.h"

#include <httplib.h>

namespace refx {

namespace {

void AppendOne(std::string* out, const std::string& name, const std::string& help, const char* type,
               uint64_t value) {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
          std::to_string(value) + "\n";
}

}  // namespace

void AppendCounter(std::string* out, const std::string& name, const std::string& help, uint64_t value) {
  AppendOne(out, name, help, "counter", value);
}

void AppendGauge(std::string* out, const std::string& name, const std::string& help, uint64_t value) {
  AppendOne(out, name, help, "gauge", value);
}

void AppendReaderPosition(std::string* out, const std::string& prefix, const std::string& position_name,
                          const std::string& position_help, uint64_t position, uint64_t head) {
  AppendGauge(out, prefix + "_" + position_name, position_help, position);
  AppendGauge(out, prefix + "_log_head_seq", "The highest log head the broker has reported to this service.", head);
  AppendGauge(out, prefix + "_cursor_lag", "Events in the log this service has not yet taken in.",
              head > position ? head - position : 0);
}

std::string PrometheusLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void LabelledCounter::Add(const std::string& value, uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  counts_[value.empty() ? "unknown" : value] += n;
}

uint64_t LabelledCounter::Get(const std::string& value) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counts_.find(value);
  return it == counts_.end() ? 0 : it->second;
}

void LabelledCounter::Render(const std::string& name, const std::string& help, const std::string& label,
                             std::string* out) const {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " counter\n";
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [value, count] : counts_) {
    *out += name + "{" + label + "=\"" + PrometheusLabelValue(value) + "\"} " + std::to_string(count) + "\n";
  }
}

MetricsHttpServer::MetricsHttpServer(std::function<std::string()> render,
                                     std::function<bool(std::string* fields)> healthy)
    : render_(std::move(render)), healthy_(std::move(healthy)) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

Status MetricsHttpServer::Start(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument("metrics address must be host:port, got " + address);
  const std::string host = address.substr(0, colon);
  if (host != "localhost" && host != "::1" && host != "[::1]" && host.rfind("127.", 0) != 0) {
    return Status::InvalidArgument("metrics address must be on loopback (127.x.x.x, localhost or ::1), got " + address);
  }
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(address.substr(colon + 1), &used);
    if (used != address.size() - colon - 1 || port < 0 || port > 65535) throw std::out_of_range("port");
  } catch (...) {
    return Status::InvalidArgument("metrics address must be host:port, got " + address);
  }
  server_ = std::make_unique<httplib::Server>();
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_(), "text/plain; version=0.0.4");
  });
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    std::string fields;
    const bool ok = healthy_(&fields);
    res.status = ok ? 200 : 503;
    res.set_content(std::string("{\"status\":\"") + (ok ? "ok" : "unavailable") + "\"" +
                        (fields.empty() ? "" : "," + fields) + "}\n",
                    "application/json");
  });
  port_ = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (port_ <= 0) {
    server_.reset();
    return Status::Unavailable("cannot listen for metrics on " + address);
  }
  listener_.Start(server_.get());
  return Status::OK();
}

void MetricsHttpServer::Stop() {
  listener_.Stop();
  server_.reset();
}

}  // namespace refx
