// refx: the command-line tool for people — submit referrals, manage keys,
// the lead's inbox, reports, audit (verify, timeline, replay, as-of, export)
// and admin (backup, restore).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "cli/admin_command.h"
#include "cli/audit_command.h"
#include "cli/inbox_command.h"
#include "cli/keys_command.h"
#include "cli/local_stack.h"
#include "cli/report_command.h"
#include "cli/submit_command.h"

int main(int argc, char** argv) {
  CLI::App app{"refx: Referral Exchange command-line tool"};
  app.require_subcommand(1);
  refx::cli::ConnectionFlags flags;
  app.add_option("--home", flags.home, "Local stack folder (default: $REFX_HOME, else var/ of this checkout)");
  app.add_option("--broker", flags.endpoint, "Broker endpoint, e.g. tcp://127.0.0.1:7400");
  app.add_option("--server-key", flags.server_key_file, "File with the broker's Z85 public key");
  app.add_option("--key-dir", flags.key_dir, "Folder with AGENCY.pub / AGENCY.key");
  app.add_option("--timeout-ms", flags.timeout_ms, "Reply timeout per attempt")->capture_default_str();
  app.add_option("--attempts", flags.attempts, "Attempts before giving up")->capture_default_str();
  int exit_code = 0;
  refx::cli::AddSubmitCommand(app, &flags, &exit_code);
  refx::cli::AddKeysCommand(app, &exit_code);
  refx::cli::AddAuditCommand(app, &flags, &exit_code);  // after keys: adds keys gen-signing-key
  refx::cli::AddInboxCommand(app, &flags, &exit_code);
  refx::cli::AddReportCommand(app, &flags, &exit_code);
  refx::cli::AddAdminCommand(app, &flags, &exit_code);
  spdlog::set_level(spdlog::level::warn);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
