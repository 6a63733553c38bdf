// ZapHandler: the ZeroMQ Authentication Protocol (ZAP, RFC 27) handler that
// decides which CURVE clients may connect to the broker.
//
// libzmq asks it, over inproc://zeromq.zap.01, about every new connection.
// A client whose public key belongs to an agency in the configuration is
// accepted with that agency's id as the ZAP User-Id, which libzmq then
// attaches to every message the client sends; any other key, any other
// mechanism (NULL, PLAIN) and any other ZAP domain is refused with 400.
// Without a bound handler libzmq 4.3 would accept any client that knows the
// server key, so Start() must succeed before the broker binds its frontend.
//
// Thread-safety: Start and Stop are called from the owning thread; the
// handler answers on its own thread. The configuration must outlive it;
// SetConfig swaps it from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "core/log_escape.h"
#include "core/partnership_config.h"
#include "core/status.h"

namespace zmq {
class context_t;
}

namespace refx::broker {

inline constexpr char kZapDomain[] = "refx";

class ZapHandler {
 public:
  ZapHandler(zmq::context_t* context, const PartnershipConfig* config);
  ~ZapHandler();  // stops the handler
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  // Binds inproc://zeromq.zap.01 and starts answering. Internal error if the
  // endpoint cannot be bound (e.g. another handler holds it).
  Status Start();
  // Stops answering and closes the socket; idempotent.
  void Stop();

  // New connections are checked against `config` from now on (a reload);
  // it must outlive the handler. Safe from any thread.
  void SetConfig(const PartnershipConfig* config) { config_.store(config); }

  uint64_t accepted() const { return accepted_.load(); }
  uint64_t refused() const { return refused_.load(); }

 private:
  void Run(void* socket);

  zmq::context_t* context_;
  std::atomic<const PartnershipConfig*> config_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> refused_{0};
  // Refused handshakes name no agency (the key is unknown): at most this
  // many lines per peer address per second; refused() counts them all.
  LogRateLimiter refusal_log_{20};
};

}  // namespace refx::broker
