// refx-broker: runs the broker over a partnership configuration and an
// event-log directory until SIGTERM or SIGINT. SIGHUP reloads the
// configuration file (a bad one is logged and the running one stays).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <filesystem>

#include "broker/broker.h"
#include "eventlog/sealing.h"

namespace {
refx::broker::Broker* g_broker = nullptr;
void OnSignal(int) {
  if (g_broker) g_broker->RequestStop();
}
void OnHangUp(int) {
  if (g_broker) g_broker->RequestReload();
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"refx-broker: authenticates agencies, validates and durably logs referrals"};
  std::string config_path, data_dir, key_dir, key_name = "broker", endpoint, metrics, log_level = "info", ready_file;
  std::string signing_key;
  uint64_t checkpoint_every_events = 10000;
  unsigned checkpoint_every_seconds = 60;
  app.add_option("--config", config_path, "Partnership configuration (protobuf text format)")->required();
  app.add_option("--data", data_dir, "Event log directory (RocksDB); created if missing")->required();
  app.add_option("--key-dir", key_dir, "Folder holding the broker's key pair NAME.pub / NAME.key")->required();
  app.add_option("--key-name", key_name, "Name of the broker's key pair")->capture_default_str();
  app.add_option("--endpoint", endpoint, "Frontend endpoint, overriding the configuration");
  app.add_option("--metrics", metrics, "Metrics host:port, or 'off', overriding the configuration");
  app.add_option("--ready-file", ready_file,
                 "Once serving, write 'ENDPOINT METRICS_PORT' here (for scripts and tests)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  app.add_option("--signing-key", signing_key,
                 "Ed25519 key that signs checkpoints of the log head (refx keys gen-signing-key); "
                 "default KEY_DIR/KEY_NAME.sign.key when that file exists");
  app.add_option("--checkpoint-every-events", checkpoint_every_events, "Sign the head after this many new events (0: off)")
      ->capture_default_str();
  app.add_option("--checkpoint-every-seconds", checkpoint_every_seconds,
                 "Sign the head this often when it has moved (0: off)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));
  // UTC with its zone written out, so a line means one instant wherever it is read.
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);

  std::unique_ptr<refx::PartnershipConfig> config;
  refx::Status s = refx::PartnershipConfig::Load(config_path, &config);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-broker: bad configuration: %s\n", s.message().c_str());
    return 2;
  }
  refx::broker::BrokerOptions options;
  s = refx::LoadCurveKeyPair(key_dir, key_name, &options.server_keys);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-broker: cannot load the broker key pair: %s\n", s.ToString().c_str());
    return 2;
  }
  options.frontend_endpoint = endpoint;
  options.config_path = config_path;
  options.metrics_address = metrics;
  // A signing key named on the command line must load; the default one is
  // used when present (the broker warns when it runs without).
  const bool explicit_signing_key = !signing_key.empty();
  if (!explicit_signing_key) signing_key = refx::eventlog::SigningSecretKeyPath(key_dir, key_name);
  if (explicit_signing_key || std::filesystem::exists(signing_key)) {
    std::unique_ptr<refx::eventlog::CheckpointSigner> signer;
    s = refx::eventlog::CheckpointSigner::Load(signing_key, &signer);
    if (!s.ok()) {
      std::fprintf(stderr, "refx-broker: cannot load the checkpoint signing key: %s\n", s.ToString().c_str());
      return 2;
    }
    options.signer = std::move(signer);
  }
  options.checkpoint_every_events = checkpoint_every_events;
  options.checkpoint_every = std::chrono::seconds(checkpoint_every_seconds);

  std::unique_ptr<refx::eventlog::EventLog> log;
  refx::eventlog::OpenOptions open;
  open.path = data_dir;
  // The master key that wraps each referral's data key (encryption at rest).
  if (!config->proto().broker().master_key_file().empty()) {
    std::filesystem::path key_file = config->proto().broker().master_key_file();
    if (key_file.is_relative()) key_file = std::filesystem::path(config_path).parent_path() / key_file;
    s = refx::eventlog::LoadMasterKeyFile(key_file.string(), &open.master_key);
    if (!s.ok()) {
      std::fprintf(stderr, "refx-broker: cannot use the master key: %s\n", s.ToString().c_str());
      return 2;
    }
  } else {
    spdlog::warn("broker: no master_key_file in broker { }: personal fields are stored unencrypted and cannot be erased");
  }
  s = refx::eventlog::EventLog::Open(open, &log);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-broker: cannot open the event log: %s\n", s.ToString().c_str());
    return 1;
  }
  refx::broker::Broker broker(std::move(options), config.get(), std::move(log));
  s = broker.Start();
  if (!s.ok()) {
    std::fprintf(stderr, "refx-broker: %s\n", s.ToString().c_str());
    return 1;
  }
  if (!ready_file.empty()) {
    // Written to a temporary name and renamed, so readers never see half a line.
    const std::string tmp = ready_file + ".tmp";
    if (FILE* f = std::fopen(tmp.c_str(), "w")) {
      std::fprintf(f, "%s %d\n", broker.frontend_endpoint().c_str(), broker.metrics_port());
      std::fclose(f);
      std::rename(tmp.c_str(), ready_file.c_str());
    }
  }
  g_broker = &broker;
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGHUP, OnHangUp);
  s = broker.Run();
  g_broker = nullptr;
  if (!s.ok()) {
    std::fprintf(stderr, "refx-broker: stopped on a log failure: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
