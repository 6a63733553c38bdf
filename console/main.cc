// refx-console: the web console (see console/console.h and README.md).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "console/console.h"
#include "services/common/service_main.h"

int main(int argc, char** argv) {
  CLI::App app{"refx-console: the web console for safeguarding leads, auditors and console admins"};
  refx::ServiceFlags flags;
  flags.key_name = "refx-console";
  flags.metrics_address = "off";
  refx::console::ConsoleOptions options;
  std::string listen = "127.0.0.1:7443";
  app.add_option("--config", flags.config_path, "The partnership configuration (people, destinations)")->required();
  app.add_option("--broker", flags.endpoint, "Broker endpoint (default: broker.frontend_endpoint of the configuration)");
  app.add_option("--server-key", flags.server_key, "File with the broker's Z85 public key (default KEY_DIR/broker.pub)");
  app.add_option("--key-dir", flags.key_dir, "Folder with the console's CURVE key pair")->required();
  app.add_option("--key-name", flags.key_name, "The console's identity (an agency with role CONSOLE)")
      ->capture_default_str();
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error")->capture_default_str();
  app.add_option("--state-dir", options.state_dir, "The console's folder; accounts/ in it holds the credentials")
      ->required();
  app.add_option("--cert", options.cert_file, "PEM certificate of the HTTPS server")->required();
  app.add_option("--cert-key", options.key_file, "PEM private key of the certificate")->required();
  app.add_option("--listen", listen, "host:port to serve on")->capture_default_str();
  app.add_option("--workers", options.workers, "HTTPS worker threads (one per open connection)")->capture_default_str();
  app.add_option("--max-streams-per-person", options.max_streams_per_person, "Live-update streams one person may keep open")
      ->capture_default_str();
  app.add_option("--max-streams", options.max_streams, "Live-update streams in all (must leave workers for pages)")
      ->capture_default_str();
  app.add_option("--signing-pub", options.signing_pubs,
                 "The broker's checkpoint signing public key(s) the integrity page checks signatures with "
                 "(default KEY_DIR/broker.sign.pub when present)");
  app.add_option("--idle-timeout", options.idle_timeout_s, "Seconds a session may be idle")->capture_default_str();
  app.add_option("--absolute-timeout", options.absolute_timeout_s, "Seconds a session may last")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "refx-console: --listen %s is not host:port\n", listen.c_str());
    return 2;
  }
  options.host = listen.substr(0, colon);
  options.port = std::atoi(listen.c_str() + colon + 1);
  if (options.max_streams >= options.workers) {
    std::fprintf(stderr, "refx-console: --max-streams %d must be below --workers %d, or streams could take every "
                 "worker\n", options.max_streams, options.workers);
    return 2;
  }
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  refx::HandleStopSignals([&] {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
    cv.notify_all();
  });
  std::unique_ptr<refx::PartnershipConfig> config;
  if (!refx::LoadServiceSetup("refx-console", flags, &config, &options.broker)) return 2;
  options.config_path = flags.config_path;
  if (options.signing_pubs.empty() && ::access((flags.key_dir + "/broker.sign.pub").c_str(), R_OK) == 0) {
    options.signing_pubs.push_back(flags.key_dir + "/broker.sign.pub");
  }
  refx::console::Console console(options);
  refx::Status s = console.Start();
  if (!s.ok()) {
    std::fprintf(stderr, "refx-console: %s\n", s.ToString().c_str());
    return 2;
  }
  spdlog::info("refx-console: serving https://{}:{}/ as {}", options.host, console.port(), flags.key_name);
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return stop.load(); });
  console.Stop();
  spdlog::info("refx-console: stopped");
  return 0;
}
