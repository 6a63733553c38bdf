#include "services/common/service_main.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "core/curve_keys.h"

namespace refx {

namespace {
void IgnoreSignal(int) {}
}  // namespace

void AddServiceFlags(CLI::App& app, ServiceFlags* flags) {
  app.add_option("--config", flags->config_path, "Partnership configuration (protobuf text format)")->required();
  app.add_option("--broker", flags->endpoint, "Broker endpoint (default: broker.frontend_endpoint of the configuration)");
  app.add_option("--server-key", flags->server_key,
                 "File with the broker's Z85 public key (default: KEY_DIR/broker.pub)");
  app.add_option("--key-dir", flags->key_dir, "Folder holding the service's key pair NAME.pub / NAME.key")->required();
  app.add_option("--key-name", flags->key_name, "Name of the service's key pair and identity")->capture_default_str();
  app.add_option("--log-level", flags->log_level, "trace, debug, info, warn, error")->capture_default_str();
  app.add_option("--snapshot-events", flags->snapshot.every_events,
                 "Snapshot the service's state after this many events (0: never; a start then replays the whole log)")
      ->capture_default_str();
  app.add_option("--snapshot-seconds", flags->snapshot.every_seconds,
                 "...or this many seconds after the last snapshot when events came since")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option_function<std::string>(
         "--metrics",
         [flags](const std::string& address) {
           flags->metrics_address = address;
           flags->metrics_given = true;
         },
         "host:port on loopback for /metrics and /healthz, or 'off' (default " + flags->metrics_address + ")");
}

bool StartServiceMetrics(const char* program, const ServiceFlags& flags, std::function<std::string()> render,
                         std::function<bool(std::string* fields)> healthy, std::unique_ptr<MetricsHttpServer>* server) {
  server->reset();
  if (flags.metrics_address.empty() || flags.metrics_address == "off") return true;
  auto http = std::make_unique<MetricsHttpServer>(std::move(render), std::move(healthy));
  Status s = http->Start(flags.metrics_address);
  if (!s.ok()) {
    if (flags.metrics_given || s.code() != Status::Code::kUnavailable) {
      std::fprintf(stderr, "%s: --metrics: %s\n", program, s.message().c_str());
      return false;
    }
    spdlog::warn("{}: no metrics: {} (pass --metrics HOST:PORT or --metrics off)", program, s.message());
    return true;
  }
  spdlog::info("{}: metrics at http://{}/metrics", program, flags.metrics_address);
  *server = std::move(http);
  return true;
}

bool LoadServiceSetup(const char* program, const ServiceFlags& flags, std::unique_ptr<PartnershipConfig>* config,
                      ClientOptions* client) {
  spdlog::set_level(spdlog::level::from_str(flags.log_level));
  // UTC with its zone written out, so a line means one instant wherever it is read.
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  Status s = PartnershipConfig::Load(flags.config_path, config);
  if (!s.ok()) {
    std::fprintf(stderr, "%s: bad configuration: %s\n", program, s.message().c_str());
    return false;
  }
  client->endpoint = flags.endpoint.empty() ? (*config)->broker().frontend_endpoint() : flags.endpoint;
  s = ReadCurveKeyFile(flags.server_key.empty() ? flags.key_dir + "/broker.pub" : flags.server_key,
                       &client->server_public_key);
  if (s.ok()) s = LoadCurveKeyPair(flags.key_dir, flags.key_name, &client->client_keys);
  if (!s.ok()) {
    std::fprintf(stderr, "%s: cannot load keys: %s\n", program, s.ToString().c_str());
    return false;
  }
  return true;
}

void HandleStopSignals(std::function<void()> on_stop) {
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
  std::thread([set, on_stop = std::move(on_stop)] {
    int received = 0;
    sigwait(&set, &received);
    on_stop();
  }).detach();
}

}  // namespace refx
