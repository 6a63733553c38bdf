// refx-router: opens cases. Reads the event log through the broker as the
// SERVICE identity refx-router, applies the partnership's routing rules to
// every new referral and the route_to of recorded outcomes, and appends
// case_routed events (see router_service.h), until SIGTERM or SIGINT.
//
// Exit codes: 0 after SIGTERM/SIGINT; 1 when the broker refused the router
// or the state folder could not be written; 2 for a bad configuration,
// missing keys or subject key file, or a state folder in use.
#include <CLI/CLI.hpp>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "core/curve_keys.h"
#include "core/subject_key.h"
#include "services/router/router_service.h"

namespace {
std::atomic<bool> g_stop{false};

void IgnoreSignal(int) {}

// SIGTERM and SIGINT are blocked in every thread (ZeroMQ's included) and
// taken by one thread with sigwait, so that no blocking call is interrupted
// (EINTR) and Run notices the stop at its next poll. A handler is installed
// first because a signal ignored by inheritance (SIGINT of a background job)
// would otherwise be discarded rather than wait for sigwait. Call first in
// main, before any thread exists.
void HandleStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  struct sigaction action {};
  action.sa_handler = IgnoreSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    int received = 0;
    sigwait(&set, &received);
    g_stop = true;
  }).detach();
}
}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  CLI::App app{"refx-router: applies the routing rules to new referrals and opens their cases"};
  std::string config_path, endpoint, server_key, key_dir, key_name = "refx-router", state_dir, log_level = "info";
  app.add_option("--config", config_path, "Partnership configuration (protobuf text format)")->required();
  app.add_option("--broker", endpoint, "Broker endpoint (default: broker.frontend_endpoint of the configuration)");
  app.add_option("--server-key", server_key, "File with the broker's Z85 public key (default: KEY_DIR/broker.pub)");
  app.add_option("--key-dir", key_dir, "Folder holding the router's key pair NAME.pub / NAME.key")->required();
  app.add_option("--key-name", key_name, "Name of the router's key pair and identity")->capture_default_str();
  app.add_option("--state-dir", state_dir, "Folder for the router's cursor and lock; created if missing")
      ->required();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  HandleStopSignals();
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  std::unique_ptr<refx::PartnershipConfig> config;
  refx::Status s = refx::PartnershipConfig::Load(config_path, &config);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-router: bad configuration: %s\n", s.message().c_str());
    return 2;
  }

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
  refx::RouterOptions options;
  s = refx::LoadSubjectKeyFile(key_path.string(), &options.subject_secret);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-router: cannot load the subject key: %s\n", s.ToString().c_str());
    return 2;
  }

  options.config = config.get();
  options.state_dir = state_dir;
  options.client.endpoint = endpoint.empty() ? config->broker().frontend_endpoint() : endpoint;
  s = refx::ReadCurveKeyFile(server_key.empty() ? key_dir + "/broker.pub" : server_key,
                             &options.client.server_public_key);
  if (s.ok()) s = refx::LoadCurveKeyPair(key_dir, key_name, &options.client.client_keys);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-router: cannot load keys: %s\n", s.ToString().c_str());
    return 2;
  }

  const std::string broker_endpoint = options.client.endpoint;

  std::unique_ptr<refx::RouterService> router;
  s = refx::RouterService::Create(std::move(options), &router);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-router: %s\n", s.ToString().c_str());
    return 2;
  }
  spdlog::info("router: started as {} against {}", key_name, broker_endpoint);
  s = router->Run([] { return g_stop.load(); });
  if (!s.ok()) {
    std::fprintf(stderr, "refx-router: stopped: %s\n", s.ToString().c_str());
    return 1;
  }
  spdlog::info("router: stopped at seq {}", router->handled_seq());
  return 0;
}
