// The adapter's HTTP intake (cpp-httplib; docs/openapi.yaml):
//   POST /v1/referrals           a referral in protobuf's JSON mapping;
//                                202 once it is durable in the spool, with
//                                its status URL; with ?wait=durable, 201
//                                once the broker's log holds it (id, seq)
//   GET  /v1/referrals/{ref}     spooled / accepted / routed (destinations,
//                                case states, outcomes) / refused
// Callers authenticate with a bearer token (adapters/tokens) or, when the
// configuration names a client CA, a TLS client certificate. Errors are RFC
// 9457 problem+json: 400 (every bad field), 401, 403, 404, 409, 413, 415,
// 429 (per caller), 503. TLS is required on any address but loopback (the
// configuration checks it). The worker pool has http.worker_threads
// threads; a keep-alive connection holds one while open.
//
// Thread-safety: Start and Stop are for one controlling thread; requests
// are served on the pool's threads.
#ifndef REFX_ADAPTERS_HTTP_INTAKE_H_
#define REFX_ADAPTERS_HTTP_INTAKE_H_

#include <functional>
#include <memory>
#include <string>

#include "adapters/adapter_config.h"
#include "adapters/forward/outcome_index.h"
#include "adapters/spool/spool.h"
#include "core/http_listen_thread.h"
#include "core/metrics_http.h"
#include "core/status.h"
#include "refx/v1/wire.pb.h"

namespace httplib {
class Server;
}

namespace refx::adapters {

class TokenVerifier;
class RateLimiter;

struct IntakeDeps {
  const AdapterConfig* config = nullptr;  // not owned; http must be set
  Spool* spool = nullptr;                 // not owned
  OutcomeIndex* outcomes = nullptr;       // not owned
  std::function<void()> spooled;          // called after each append (wakes the forwarder)
  // Asks the broker, as the agency, for the case records of a referral.
  std::function<Status(const std::string& referral_id, v1::QueryResult* result)> query;
  // Asks the broker, as the agency, for the referral it submitted under a
  // reference (QueryRequest.referrer_reference): NotFound when none is in
  // the log. For references the outcome index no longer holds, or holds
  // only a refusal of.
  std::function<Status(const std::string& reference, v1::QueryResult* result)> lookup;
  // ForwardSettings.outcomes_keep_days (named in 404 answers).
  uint32_t outcomes_keep_days = 14;
  // How long ?wait=durable waits for the broker before answering 202.
  std::chrono::milliseconds durable_wait{30000};
};

class HttpIntake {
 public:
  explicit HttpIntake(IntakeDeps deps);
  ~HttpIntake();
  HttpIntake(const HttpIntake&) = delete;
  HttpIntake& operator=(const HttpIntake&) = delete;

  // Binds http.listen (port 0 picks a free one, see port()) and serves on a
  // thread of its own. InvalidArgument when TLS files do not load;
  // Unavailable when the address cannot be bound.
  Status Start();
  void Stop();  // safe to call twice

  // Instead of Start: registers the intake's routes on `server` (not owned;
  // it must outlive this object's use of it) without binding a socket, so
  // that requests can be driven through it in memory (fuzz/
  // fuzz_http_intake.cc). Call at most once; Stop does not touch `server`.
  void RouteOn(httplib::Server* server);
  int port() const { return port_; }

  // Appends the intake's Prometheus metrics (requests by status code).
  void AppendMetrics(std::string* out) const;

 private:
  void Routes(httplib::Server& server);

  IntakeDeps deps_;
  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<TokenVerifier> tokens_;
  std::unique_ptr<RateLimiter> limiter_;
  LabelledCounter responses_;
  HttpListenThread listener_;
  int port_ = 0;
};

}  // namespace refx::adapters

#endif  // REFX_ADAPTERS_HTTP_INTAKE_H_
