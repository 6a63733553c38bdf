// refx-outcomes: watches case deadlines and records breaches and
// escalations (see outcomes_service.h) until SIGTERM or SIGINT.
#include <CLI/CLI.hpp>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "services/outcomes/outcomes_service.h"

namespace {
std::atomic<bool> g_stop{false};
std::atomic<refx::outcomes::OutcomesService*> g_service{nullptr};

// SIGTERM and SIGINT are blocked in every thread (ZeroMQ's included) and
// taken by one thread with sigwait, so that no blocking call is interrupted
// (EINTR) and Run notices the stop at its next poll. Call first in main,
// before any thread exists.
void HandleStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    int received = 0;
    sigwait(&set, &received);
    g_stop = true;
    if (auto* service = g_service.load()) service->RequestStop();
  }).detach();
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"refx-outcomes: records deadline breaches and escalates cases nobody acknowledged"};
  std::string config_path, endpoint, server_key, key_dir, key_name = "refx-outcomes", state_dir, log_level = "info";
  int check_ms = 1000;
  app.add_option("--config", config_path, "Partnership configuration (protobuf text format)")->required();
  app.add_option("--broker", endpoint, "Broker endpoint (default: broker.frontend_endpoint of the configuration)");
  app.add_option("--server-key", server_key, "File with the broker's Z85 public key (default: KEY_DIR/broker.pub)");
  app.add_option("--key-dir", key_dir, "Folder holding this service's key pair NAME.pub / NAME.key")->required();
  app.add_option("--key-name", key_name, "Name of this service's key pair")->capture_default_str();
  app.add_option("--state-dir", state_dir,
                 "Folder for the service's own files (refx-outcomes.ready once caught up); optional");
  app.add_option("--check-interval-ms", check_ms, "How often deadlines are checked")
      ->capture_default_str()
      ->check(CLI::Range(10, 3600000));
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  HandleStopSignals();
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  std::unique_ptr<refx::PartnershipConfig> config;
  refx::Status s = refx::PartnershipConfig::Load(config_path, &config);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-outcomes: bad configuration: %s\n", s.message().c_str());
    return 2;
  }
  refx::outcomes::OutcomesOptions options;
  options.client.endpoint = endpoint.empty() ? config->broker().frontend_endpoint() : endpoint;
  s = refx::ReadCurveKeyFile(server_key.empty() ? key_dir + "/broker.pub" : server_key,
                             &options.client.server_public_key);
  if (s.ok()) s = refx::LoadCurveKeyPair(key_dir, key_name, &options.client.client_keys);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-outcomes: cannot load keys: %s\n", s.ToString().c_str());
    return 2;
  }
  // The identity is whatever agency the configuration gives this key.
  const refx::v1::Agency* self = config->AgencyByPublicKey(options.client.client_keys.public_key);
  if (self == nullptr || !refx::PartnershipConfig::HasRole(*self, refx::v1::SERVICE)) {
    std::fprintf(stderr, "refx-outcomes: the key %s/%s.pub is not a SERVICE agency in %s\n", key_dir.c_str(),
                 key_name.c_str(), config_path.c_str());
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
    std::filesystem::remove(options.ready_file, ec);
  }

  refx::outcomes::OutcomesService service(config.get(), std::move(options));
  spdlog::info("refx-outcomes: {} watching deadlines via {}; escalations go to {}", self->id(),
               endpoint.empty() ? config->broker().frontend_endpoint() : endpoint,
               service.escalate_to().empty() ? "(none)" : service.escalate_to());
  g_service = &service;
  if (g_stop) service.RequestStop();  // a signal that came before g_service was set
  s = service.Run();
  g_service = nullptr;
  if (!s.ok()) {
    std::fprintf(stderr, "refx-outcomes: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
