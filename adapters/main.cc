// refx-adapter: one agency's adapter process (adapters/README.md).
//   refx-adapter --config ADAPTER.textproto [--ready-file FILE]
// Runs until SIGTERM or SIGINT. --ready-file is written ("http=PORT
// metrics=PORT") once every input listens, for scripts and tests.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>

#include "adapters/adapter.h"
#include "adapters/adapter_config.h"

int main(int argc, char** argv) {
  CLI::App app{"refx-adapter: takes an agency's referrals over HTTP and file drops, spools them, forwards them"};
  std::string config_path, ready_file;
  app.add_option("--config", config_path, "The adapter's configuration (protobuf text format)")->required();
  app.add_option("--ready-file", ready_file, "Written once the adapter serves");
  CLI11_PARSE(app, argc, argv);

  // Signals are taken by sigwait below; every thread started from here on
  // inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<refx::adapters::AdapterConfig> config;
  refx::Status s = refx::adapters::AdapterConfig::Load(config_path, &config);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-adapter: %s\n", s.message().c_str());
    return 2;
  }
  const std::string agency = config->agency_id();
  std::unique_ptr<refx::adapters::Adapter> adapter;
  s = refx::adapters::Adapter::Open(std::move(config), &adapter);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-adapter: %s\n", s.ToString().c_str());
    return 1;
  }
  // Inputs and outputs beyond HTTP (file drop, webhooks) are added here:
  //   adapter->AddComponent(...);
  s = adapter->Start();
  if (!s.ok()) {
    std::fprintf(stderr, "refx-adapter: %s\n", s.ToString().c_str());
    return 1;
  }
  spdlog::info("refx-adapter for {}: http port {}, metrics port {}", agency, adapter->http_port(),
               adapter->metrics_port());
  if (!ready_file.empty()) {
    const std::string tmp = ready_file + ".tmp";
    std::ofstream(tmp) << "http=" << adapter->http_port() << " metrics=" << adapter->metrics_port() << "\n";
    std::rename(tmp.c_str(), ready_file.c_str());
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("refx-adapter: signal {}, stopping", sig);
  adapter->Stop();
  return 0;
}
