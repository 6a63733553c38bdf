// What the service executables (refx-router, refx-delivery, refx-outcomes)
// share around their library: the connection flags, loading the
// configuration and the keys, logging set-up, and stopping on SIGTERM/SIGINT.
// Process-level helpers for main(); not thread-safe except where stated.
#pragma once

#include <CLI/CLI.hpp>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "client/broker_client.h"
#include "core/metrics_http.h"
#include "core/partnership_config.h"
#include "services/common/state_snapshot.h"

namespace refx {

struct ServiceFlags {
  std::string config_path;
  std::string endpoint;    // empty: broker.frontend_endpoint of the configuration
  std::string server_key;  // empty: KEY_DIR/broker.pub
  std::string key_dir;
  std::string key_name;    // the service's identity; its default is set by the caller
  std::string log_level = "info";
  // --metrics: host:port on loopback for /metrics and /healthz, or "off".
  // Its default is set by the caller (refx-router 127.0.0.1:7491,
  // refx-delivery :7492, refx-outcomes :7493; the broker has :7490).
  std::string metrics_address;
  bool metrics_given = false;  // set by parsing when --metrics was passed
  // --snapshot-events / --snapshot-seconds: when the service snapshots its
  // state into its state folder (services/common/state_snapshot.h).
  SnapshotPolicy snapshot;
};

// Adds --config, --broker, --server-key, --key-dir, --key-name,
// --log-level, --metrics, --snapshot-events and --snapshot-seconds to `app`, storing into *flags (which must
// outlive parsing).
void AddServiceFlags(CLI::App& app, ServiceFlags* flags);

// Serves the service's metrics at flags.metrics_address ("off": none, and
// *server stays null). render and healthy as for MetricsHttpServer. On
// failure to listen: with --metrics given, prints "PROGRAM: ..." and returns
// false (the caller exits 2); on the default address (e.g. taken by another
// stack on this machine) logs a warning and runs without metrics.
bool StartServiceMetrics(const char* program, const ServiceFlags& flags, std::function<std::string()> render,
                         std::function<bool(std::string* fields)> healthy, std::unique_ptr<MetricsHttpServer>* server);

// Sets the log level and pattern, loads the configuration into *config and
// fills *client (endpoint, broker public key, this service's key pair). On
// failure prints "PROGRAM: what is wrong" on stderr and returns false (the
// caller exits 2).
bool LoadServiceSetup(const char* program, const ServiceFlags& flags, std::unique_ptr<PartnershipConfig>* config,
                      ClientOptions* client);

// The end of main() for a service with Run(should_stop), RenderMetrics()
// and Healthy(fields) (refx-router, refx-delivery): serves its metrics as
// StartServiceMetrics does, logs "NAME: started", runs it until `stop` is
// set, logs "NAME: stopped at seq N" (N from last_seq) and returns the exit
// code: 0 when stopped, 1 when Run failed (printed on stderr), 2 when the
// metrics address cannot be served.
template <typename Service>
int ServeAndRun(const char* program, const char* name, const ServiceFlags& flags, const std::string& broker_endpoint,
                Service& service, const std::atomic<bool>& stop, const std::function<uint64_t()>& last_seq) {
  std::unique_ptr<MetricsHttpServer> metrics;  // stopped before the service goes
  if (!StartServiceMetrics(
          program, flags, [&service] { return service.RenderMetrics(); },
          [&service](std::string* fields) { return service.Healthy(fields); }, &metrics)) {
    return 2;
  }
  spdlog::info("{}: started as {} against {}", name, flags.key_name, broker_endpoint);
  const Status s = service.Run([&stop] { return stop.load(); });
  if (!s.ok()) {
    std::fprintf(stderr, "%s: stopped: %s\n", program, s.ToString().c_str());
    return 1;
  }
  spdlog::info("{}: stopped at seq {}", name, last_seq());
  return 0;
}

// Blocks SIGTERM and SIGINT in every thread (call first in main, before any
// thread exists, so ZeroMQ's threads inherit the mask) and takes them on one
// thread with sigwait, which then calls on_stop once. No blocking call is
// interrupted (EINTR); the service notices the stop at its next poll. A
// handler is installed first because a signal ignored by inheritance (SIGINT
// of a background job) would otherwise be discarded rather than wait.
void HandleStopSignals(std::function<void()> on_stop);

}  // namespace refx
