// Adapter: one refx-adapter process's parts, wired together — the spool,
// the forwarder (the only writer to the broker), the outcome index, the
// HTTP intake and the /metrics + /healthz endpoint — plus the components
// other inputs and outputs add (the file drop, webhooks): each is an
// AdapterComponent started after the spool and forwarder and stopped
// before them.
//
// Thread-safety: Open, AddComponent, Start and Stop are for the main
// thread; spool(), Spooled() and client_options() may be used from any.
#ifndef REFX_ADAPTERS_ADAPTER_H_
#define REFX_ADAPTERS_ADAPTER_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/adapter_config.h"
#include "adapters/forward/forwarder.h"
#include "adapters/forward/outcome_index.h"
#include "adapters/http/intake.h"
#include "adapters/spool/spool.h"
#include "client/broker_client.h"
#include "core/metrics_http.h"

namespace refx::adapters {

// An input or output run inside the adapter process.
class AdapterComponent {
 public:
  virtual ~AdapterComponent() = default;
  // Starts the component's threads. An error stops the adapter's start.
  virtual Status Start() = 0;
  // Stops and joins them; safe to call twice.
  virtual void Stop() = 0;
  // Appends the component's Prometheus metrics.
  virtual void AppendMetrics(std::string* /*out*/) const {}
};

class Adapter {
 public:
  // Opens the spool (config.spool_dir) and the outcome index in it. IoError
  // or Corruption from the spool as they come.
  static Status Open(std::unique_ptr<AdapterConfig> config, std::unique_ptr<Adapter>* out);
  ~Adapter();

  const AdapterConfig& config() const { return *config_; }
  // Where inputs put referrals. After a successful Append call Spooled().
  Spool* spool() { return spool_.get(); }
  // Tells the forwarder something was spooled.
  void Spooled();
  // Options for a BrokerClient acting as this adapter's agency (e.g. a
  // webhook sender reading the agency's deliveries).
  ClientOptions client_options() const;

  // Adds a component; call before Start. The adapter owns it.
  void AddComponent(std::unique_ptr<AdapterComponent> component);

  // Starts the forwarder, the HTTP intake (when configured), the metrics
  // endpoint (when configured) and the components. On error what started is
  // stopped again.
  Status Start();
  void Stop();  // in reverse order; safe to call twice

  int http_port() const { return intake_ ? intake_->port() : 0; }
  int metrics_port() const { return metrics_ ? metrics_->port() : 0; }
  std::string RenderMetrics() const;
  // /healthz: unhealthy while referrals wait and the broker is unreachable.
  bool Healthy(std::string* fields) const;

 private:
  Adapter() = default;
  // Asks the broker as the agency, on a pooled connection. The broker's
  // answer, or its error (Unavailable when it cannot be reached).
  Status Query(const v1::QueryRequest& q, v1::QueryResult* result);

  std::unique_ptr<AdapterConfig> config_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<OutcomeIndex> outcomes_;
  std::unique_ptr<Forwarder> forwarder_;
  std::unique_ptr<HttpIntake> intake_;
  std::unique_ptr<MetricsHttpServer> metrics_;
  std::vector<std::unique_ptr<AdapterComponent>> components_;
  size_t started_components_ = 0;

  // BrokerClients for GET status queries (one per request at a time).
  std::mutex query_mu_;
  std::vector<std::unique_ptr<BrokerClient>> query_clients_;
};

}  // namespace refx::adapters

#endif  // REFX_ADAPTERS_ADAPTER_H_
