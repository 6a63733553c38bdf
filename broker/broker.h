// Broker: the only writer of the event log. It authenticates every peer
// (CURVE + ZAP), checks what the identity may do, validates the request,
// de-duplicates by idempotency key, appends in group-committed synced write
// batches and only then acknowledges.
//
// One thread (the one calling Run) owns the frontend ROUTER socket and the
// log's write side. Each turn of its loop drains every request that is ready
// (up to max_batch), writes all the resulting events in one WriteBatch with
// one fsync, then sends all the replies: group commit.
//
// Thread-safety: construct, Start and Run on one thread; RequestStop may be
// called from any thread or a signal handler.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/metrics.h"
#include "broker/zap_handler.h"
#include "core/civil_date.h"
#include "core/curve_keys.h"
#include "core/partnership_config.h"
#include "core/status.h"
#include "eventlog/event_log.h"
#include "refx/v1/wire.pb.h"

namespace zmq {
class context_t;
class socket_t;
class message_t;
}  // namespace zmq

namespace refx::broker {

struct BrokerOptions {
  // The broker's own CURVE key pair (clients are given its public key).
  CurveKeyPair server_keys;
  // Override the configuration's endpoints when not empty. A TCP port of
  // "*" picks a free port (see frontend_endpoint()); metrics "off" disables.
  std::string frontend_endpoint;
  std::string metrics_address;
  // The date used to reject future dates; injectable for tests.
  std::function<CivilDate()> today = TodayUtc;
};

class Broker {
 public:
  // `config` must outlive the broker; the broker owns `log`.
  Broker(BrokerOptions options, const PartnershipConfig* config, std::unique_ptr<eventlog::EventLog> log);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Starts the ZAP handler, then binds the frontend (CURVE server) and the
  // metrics endpoint. On failure nothing is left bound.
  Status Start();

  // Serves requests until RequestStop; the batch in flight is finished and
  // answered before it returns. Returns an error only if the log failed.
  Status Run();

  void RequestStop() { stop_.store(true); }

  // The bound frontend endpoint, e.g. "tcp://127.0.0.1:41234".
  const std::string& frontend_endpoint() const { return bound_endpoint_; }
  int metrics_port() const { return metrics_server_ ? metrics_server_->port() : 0; }
  const BrokerMetrics& metrics() const { return metrics_; }
  eventlog::EventLog* log() { return log_.get(); }

 private:
  // One client request waiting for its reply.
  struct Waiter {
    std::string routing_id;
    bool req_envelope = false;  // the client sent an empty delimiter (REQ socket)
    uint64_t correlation_id = 0;
    // Index into the pending batch whose durability the reply waits for.
    size_t pending_index = 0;
    bool duplicate = false;
  };

  void HandleMessage(std::vector<zmq::message_t>& parts);
  void HandleSubmit(const std::string& identity, const v1::Frame& frame, Waiter waiter);
  void Reply(const Waiter& waiter, const v1::Frame& frame);
  void ReplyError(const Waiter& waiter, const Status& status);
  // Writes the pending batch and answers everyone waiting on it.
  Status CommitPending();

  BrokerOptions options_;
  const PartnershipConfig* config_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<zmq::context_t> context_;
  std::unique_ptr<ZapHandler> zap_;
  std::unique_ptr<zmq::socket_t> frontend_;
  std::unique_ptr<MetricsServer> metrics_server_;
  std::string bound_endpoint_;
  std::atomic<bool> stop_{false};
  BrokerMetrics metrics_;

  // The group commit being assembled.
  std::vector<eventlog::PendingEvent> pending_;
  std::vector<Waiter> waiters_;
  // Dedupe keys in pending_, so a repeat inside one batch waits for the first.
  std::unordered_map<std::string, size_t> pending_keys_;
  CivilDate today_;
};

}  // namespace refx::broker
