// refx-outcomes: watches case deadlines and records breaches and
// escalations (see outcomes_service.h) until SIGTERM or SIGINT. Metrics
// (refx_outcomes_*: log position and lag, open / overdue / undeliverable
// cases, breaches, escalations) and a health check at
// http://127.0.0.1:7493/metrics and /healthz (--metrics).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <filesystem>

#include "services/common/service_main.h"
#include "services/outcomes/outcomes_service.h"

namespace {
std::atomic<bool> g_stop{false};
std::atomic<refx::outcomes::OutcomesService*> g_service{nullptr};
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"refx-outcomes: records deadline breaches and escalates cases nobody acknowledged"};
  refx::ServiceFlags flags;
  flags.key_name = "refx-outcomes";
  flags.metrics_address = "127.0.0.1:7493";
  std::string state_dir;
  int check_ms = 1000;
  refx::AddServiceFlags(app, &flags);
  app.add_option("--state-dir", state_dir,
                 "Folder for the service's own files (refx-outcomes.ready once caught up, its snapshot and lock); "
                 "optional: without it every start replays the whole log");
  app.add_option("--check-interval-ms", check_ms, "How often deadlines are checked")
      ->capture_default_str()
      ->check(CLI::Range(10, 3600000));
  CLI11_PARSE(app, argc, argv);
  refx::HandleStopSignals([] {
    g_stop = true;
    if (auto* service = g_service.load()) service->RequestStop();
  });

  std::unique_ptr<refx::PartnershipConfig> config;
  refx::outcomes::OutcomesOptions options;
  if (!refx::LoadServiceSetup("refx-outcomes", flags, &config, &options.client)) return 2;
  // The identity is whatever agency the configuration gives this key.
  const refx::v1::Agency* self = config->AgencyByPublicKey(options.client.client_keys.public_key);
  if (self == nullptr || !refx::PartnershipConfig::HasRole(*self, refx::v1::SERVICE)) {
    std::fprintf(stderr, "refx-outcomes: the key %s/%s.pub is not a SERVICE agency in %s\n", flags.key_dir.c_str(),
                 flags.key_name.c_str(), flags.config_path.c_str());
    return 2;
  }
  options.identity = self->id();
  options.check_interval = std::chrono::milliseconds(check_ms);
  if (!state_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(state_dir, ec);
    if (ec) {
      std::fprintf(stderr, "refx-outcomes: cannot create %s: %s\n", state_dir.c_str(), ec.message().c_str());
      return 2;
    }
    options.ready_file = state_dir + "/refx-outcomes.ready";
    options.state_dir = state_dir;
    options.snapshot = flags.snapshot;
    std::filesystem::remove(options.ready_file, ec);
  }

  const std::string broker_endpoint = options.client.endpoint;
  refx::outcomes::OutcomesService service(config.get(), std::move(options));
  spdlog::info("refx-outcomes: {} watching deadlines via {}; escalations go to {}", self->id(),
               broker_endpoint,
               service.escalate_to().empty() ? "(none)" : service.escalate_to());
  std::unique_ptr<refx::MetricsHttpServer> metrics;  // stopped before the service goes
  if (!refx::StartServiceMetrics(
          "refx-outcomes", flags, [&service] { return service.RenderMetrics(); },
          [&service](std::string* fields) { return service.Healthy(fields); }, &metrics)) {
    return 2;
  }
  g_service = &service;
  if (g_stop) service.RequestStop();  // a signal that came before g_service was set
  refx::Status s = service.Run();
  g_service = nullptr;
  if (!s.ok()) {
    std::fprintf(stderr, "refx-outcomes: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
