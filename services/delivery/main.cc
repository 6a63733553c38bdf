// refx-delivery: releases cases to their destinations. Reads the event log
// through the broker as the SERVICE identity refx-delivery, appends
// case_delivered for each routed case, redelivers unacknowledged cases and
// escalates undeliverable ones (see delivery_service.h), until SIGTERM or
// SIGINT.
//
// Exit codes: 0 after SIGTERM/SIGINT; 1 when the broker refused the
// service; 2 for a bad configuration, missing keys or a state folder in use.
#include <CLI/CLI.hpp>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include "core/curve_keys.h"
#include "services/delivery/delivery_service.h"

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
  CLI::App app{"refx-delivery: releases each routed case to its destination, redelivers and escalates"};
  std::string config_path, endpoint, server_key, key_dir, key_name = "refx-delivery", state_dir, log_level = "info";
  app.add_option("--config", config_path, "Partnership configuration (protobuf text format)")->required();
  app.add_option("--broker", endpoint, "Broker endpoint (default: broker.frontend_endpoint of the configuration)");
  app.add_option("--server-key", server_key, "File with the broker's Z85 public key (default: KEY_DIR/broker.pub)");
  app.add_option("--key-dir", key_dir, "Folder holding the service's key pair NAME.pub / NAME.key")->required();
  app.add_option("--key-name", key_name, "Name of the service's key pair and identity")->capture_default_str();
  app.add_option("--state-dir", state_dir, "Folder for the service's lock; created if missing")->required();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  HandleStopSignals();
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  std::unique_ptr<refx::PartnershipConfig> config;
  refx::Status s = refx::PartnershipConfig::Load(config_path, &config);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-delivery: bad configuration: %s\n", s.message().c_str());
    return 2;
  }
  refx::DeliveryOptions options;
  options.config = config.get();
  options.state_dir = state_dir;
  options.client.endpoint = endpoint.empty() ? config->broker().frontend_endpoint() : endpoint;
  s = refx::ReadCurveKeyFile(server_key.empty() ? key_dir + "/broker.pub" : server_key,
                             &options.client.server_public_key);
  if (s.ok()) s = refx::LoadCurveKeyPair(key_dir, key_name, &options.client.client_keys);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-delivery: cannot load keys: %s\n", s.ToString().c_str());
    return 2;
  }
  const std::string broker_endpoint = options.client.endpoint;

  std::unique_ptr<refx::DeliveryService> delivery;
  s = refx::DeliveryService::Create(std::move(options), &delivery);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-delivery: %s\n", s.ToString().c_str());
    return 2;
  }
  spdlog::info("delivery: started as {} against {}", key_name, broker_endpoint);
  s = delivery->Run([] { return g_stop.load(); });
  if (!s.ok()) {
    std::fprintf(stderr, "refx-delivery: stopped: %s\n", s.ToString().c_str());
    return 1;
  }
  spdlog::info("delivery: stopped at seq {}", delivery->last_seq());
  return 0;
}
