// refx-notifier: e-mails each destination's leads about a new case, a
// deadline about to pass and an escalation, through the partnership's SMTP
// relay (alerts in the configuration; see notifier_service.h). Reads the
// event log through the broker as the SERVICE identity refx-notifier,
// until SIGTERM or SIGINT. No personal data in any alert.
//
// Metrics (refx_notifier_*) and a health check at
// http://127.0.0.1:7494/metrics and /healthz (--metrics).
//
// Exit codes: 0 after SIGTERM/SIGINT; 1 when the broker refused the
// service or the journal cannot be written; 2 for a bad configuration
// (no alerts.smtp_url), missing keys, a state folder in use or a --metrics
// address that cannot be served.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>

#include "services/common/service_main.h"
#include "services/notifier/notifier_service.h"

namespace {
std::atomic<bool> g_stop{false};
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"refx-notifier: e-mail alerts to leads (new case, deadline near, escalation)"};
  refx::ServiceFlags flags;
  flags.key_name = "refx-notifier";
  flags.metrics_address = "127.0.0.1:7494";
  std::string state_dir;
  refx::AddServiceFlags(app, &flags);
  app.add_option("--state-dir", state_dir,
                 "Folder for the lock, the journal of sent alerts and the snapshot; created if missing")
      ->required();
  CLI11_PARSE(app, argc, argv);
  refx::HandleStopSignals([] { g_stop = true; });

  std::unique_ptr<refx::PartnershipConfig> config;
  refx::notifier::NotifierOptions options;
  if (!refx::LoadServiceSetup("refx-notifier", flags, &config, &options.client)) return 2;
  options.config = config.get();
  options.state_dir = state_dir;
  options.snapshot = flags.snapshot;
  const std::string broker_endpoint = options.client.endpoint;

  std::unique_ptr<refx::notifier::NotifierService> notifier;
  refx::Status s = refx::notifier::NotifierService::Create(std::move(options), &notifier);
  if (!s.ok()) {
    std::fprintf(stderr, "refx-notifier: %s\n", s.ToString().c_str());
    return 2;
  }
  return refx::ServeAndRun("refx-notifier", "notifier", flags, broker_endpoint, *notifier, g_stop,
                           [&notifier] { return notifier->last_seq(); });
}
