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
#include "cli/tokens_command.h"

int main(int argc, char** argv) {
  CLI::App app{"refx: Referral Exchange command-line tool"};
  app.require_subcommand(1);
  refx::cli::ConnectionFlags flags;
  app.footer(refx::cli::kExitCodesHelp);
  app.add_option("--home", flags.home,
                 "Local stack folder (default: $REFX_HOME, else the var/ of the checkout this refx binary was built "
                 "in; run from outside that checkout, refx names it on stderr)");
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
  refx::cli::AddTokensCommand(app, &exit_code);
  spdlog::set_level(spdlog::level::warn);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the error (or the help) and gives its own code for each
    // kind of parse error (105, 106, 109, ...): every one is "bad
    // arguments", exit 2, as `refx --help` and the README say.
    const int code = app.exit(e);
    return code == 0 ? refx::cli::kExitOk : refx::cli::kExitRefused;
  }
  return exit_code;
}
