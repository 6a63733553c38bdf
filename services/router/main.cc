// refx-router: opens cases. Reads the event log through the broker as the
// SERVICE identity refx-router, applies the partnership's routing rules to
// every new referral and the route_to of recorded outcomes, and appends
// case_routed events (see router_service.h), until SIGTERM or SIGINT.
//
// Metrics (refx_router_*: cursor, log head, lag, cases routed) and a health
// check at http://127.0.0.1:7491/metrics and /healthz (--metrics).
//
// Exit codes: 0 after SIGTERM/SIGINT; 1 when the broker refused the router
// or the state folder could not be written; 2 for a bad configuration,
// missing keys or subject key file, a state folder in use, or a --metrics
// address that cannot be served.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <filesystem>

#include "core/subject_key.h"
#include "services/common/service_main.h"
#include "services/router/router_service.h"

namespace {
std::atomic<bool> g_stop{false};
}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  CLI::App app{"refx-router: applies the routing rules to new referrals and opens their cases"};
  refx::ServiceFlags flags;
  flags.key_name = "refx-router";
  flags.metrics_address = "127.0.0.1:7491";
  std::string state_dir;
  refx::AddServiceFlags(app, &flags);
  app.add_option("--state-dir", state_dir, "Folder for the router's cursor and lock; created if missing")
      ->required();
  CLI11_PARSE(app, argc, argv);
  refx::HandleStopSignals([] { g_stop = true; });

  std::unique_ptr<refx::PartnershipConfig> config;
  refx::RouterOptions options;
  if (!refx::LoadServiceSetup("refx-router", flags, &config, &options.client)) return 2;
  const std::string& config_path = flags.config_path;

  // The subject key: without it repeat referrals cannot be recognised, so
  // the router refuses to start rather than route without it.
  const std::string& key_file = config->proto().subject_key_file();
  if (key_file.empty()) {
    std::fprintf(stderr, "refx-router: %s names no subject_key_file; the router needs one to recognise repeat "
                 "referrals\n", config_path.c_str());
    return 2;
  }
  const fs::path key_path =
      fs::path(key_file).is_absolute() ? fs::path(key_file) : fs::path(config_path).parent_path() / key_file;
  if (!fs::exists(key_path)) {
    std::fprintf(stderr,
                 "refx-router: the subject key file %s (subject_key_file in %s) does not exist. Create it once "
                 "(deploy/refx.sh up does, with GenerateSubjectKeyFile) and keep it: a new key forgets the "
                 "routing history of repeat referrals\n",
                 key_path.string().c_str(), config_path.c_str());
    return 2;
  }
  refx::Status s = refx::LoadSubjectKeyFile(key_path.string(), &options.subject_secret);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-router: cannot load the subject key: %s\n", s.ToString().c_str());
    return 2;
  }
  options.config = config.get();
  options.state_dir = state_dir;
  options.snapshot = flags.snapshot;
  const std::string broker_endpoint = options.client.endpoint;

  std::unique_ptr<refx::RouterService> router;
  s = refx::RouterService::Create(std::move(options), &router);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-router: %s\n", s.ToString().c_str());
    return 2;
  }
  return refx::ServeAndRun("refx-router", "router", flags, broker_endpoint, *router, g_stop,
                           [&router] { return router->handled_seq(); });
}
