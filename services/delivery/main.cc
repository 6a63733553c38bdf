// refx-delivery: releases cases to their destinations. Reads the event log
// through the broker as the SERVICE identity refx-delivery, appends
// case_delivered for each routed case, redelivers unacknowledged cases and
// escalates undeliverable ones (see delivery_service.h), until SIGTERM or
// SIGINT.
//
// Metrics (refx_delivery_*: log position and lag, open and undeliverable
// cases, redeliveries) and a health check at http://127.0.0.1:7492/metrics
// and /healthz (--metrics).
//
// Exit codes: 0 after SIGTERM/SIGINT; 1 when the broker refused the
// service; 2 for a bad configuration, missing keys, a state folder in use
// or a --metrics address that cannot be served.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>

#include "services/common/service_main.h"
#include "services/delivery/delivery_service.h"

namespace {
std::atomic<bool> g_stop{false};
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"refx-delivery: releases each routed case to its destination, redelivers and escalates"};
  refx::ServiceFlags flags;
  flags.key_name = "refx-delivery";
  flags.metrics_address = "127.0.0.1:7492";
  std::string state_dir;
  refx::AddServiceFlags(app, &flags);
  app.add_option("--state-dir", state_dir, "Folder for the service's lock and snapshot; created if missing")->required();
  CLI11_PARSE(app, argc, argv);
  refx::HandleStopSignals([] { g_stop = true; });

  std::unique_ptr<refx::PartnershipConfig> config;
  refx::DeliveryOptions options;
  if (!refx::LoadServiceSetup("refx-delivery", flags, &config, &options.client)) return 2;
  options.config = config.get();
  options.state_dir = state_dir;
  options.snapshot = flags.snapshot;
  const std::string broker_endpoint = options.client.endpoint;

  std::unique_ptr<refx::DeliveryService> delivery;
  refx::Status s = refx::DeliveryService::Create(std::move(options), &delivery);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-delivery: %s\n", s.ToString().c_str());
    return 2;
  }
  return refx::ServeAndRun("refx-delivery", "delivery", flags, broker_endpoint, *delivery, g_stop,
                           [&delivery] { return delivery->last_seq(); });
}
