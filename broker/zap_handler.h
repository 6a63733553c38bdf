// ZapHandler: the ZeroMQ Authentication Protocol (ZAP, RFC 27) handler that
// decides which CURVE clients may connect to the broker.
//
// libzmq asks it, over inproc://zeromq.zap.01, about every new connection.
// A client whose public key belongs to an agency in the configuration is
// accepted with that agency's id as the ZAP User-Id and the key's
// fingerprint (core/curve_keys.h) as the metadata property kKeyProperty,
// both of which libzmq then attaches to every message the client sends, so
// the broker can check each request's key against the configuration of the
// moment (revoked, or a previous key past its overlap: refused). A revoked
// key, a previous key whose overlap has ended, an unknown key, any other
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
class message_t;
}  // namespace zmq

namespace refx::broker {

inline constexpr char kZapDomain[] = "refx";
// The message property (zmq_msg_gets) holding the connection's key fingerprint.
inline constexpr char kKeyProperty[] = "X-Refx-Key";

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

// The key fingerprint `message`'s connection was accepted with (its
// kKeyProperty); "" when it carries none.
std::string KeyFingerprintOf(const zmq::message_t& message);

// As below, for a fingerprint kept from the connection's message (a read
// in progress). Thread-safe.
Status CheckConnectionKey(const char* fingerprint, const v1::Agency& agency, const PartnershipConfig& config,
                          int64_t now_unix);

// Whether the key that `message`'s connection was accepted with (its
// kKeyProperty) is still accepted for `agency` (its ZAP User-Id) by
// `config` at `now_unix`. OK, or PermissionDenied naming the agency and the
// fingerprint: the key is revoked, is a previous key whose overlap has
// ended, is no longer this agency's key, or the connection carries none.
// Thread-safe.
Status CheckConnectionKey(const zmq::message_t& message, const v1::Agency& agency, const PartnershipConfig& config,
                          int64_t now_unix);

}  // namespace refx::broker
