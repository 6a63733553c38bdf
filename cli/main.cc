// refx: the command-line tool for people — submit referrals, manage keys,
// the lead's inbox, reports, audit (verify, timeline, replay, as-of, export)
// and admin (backup, reload, restore). The subcommands that open a log folder
// (audit verify --db, audit checkpoint, admin restore) run in
// refx-audit-offline next to this binary (cli/offline/), so refx itself
// does not link RocksDB.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "cli/adapter_command.h"
#include "cli/admin_command.h"
#include "cli/audit/audit_command.h"
#include "cli/command_line.h"
#include "cli/inbox/inbox_command.h"
#include "cli/keys_command.h"
#include "cli/local_stack.h"
#include "cli/report_command.h"
#include "cli/submit_command.h"
#include "cli/tokens_command.h"
#include "cli/users_command.h"

int main(int argc, char** argv) {
  CLI::App app{"refx: Referral Exchange command-line tool"};
  app.require_subcommand(1);
  refx::cli::ConnectionFlags flags;
  refx::cli::AddConnectionFlags(app, &flags);
  int exit_code = 0;
  refx::cli::AddSubmitCommand(app, &flags, &exit_code);
  refx::cli::AddKeysCommand(app, &exit_code);
  refx::cli::AddAuditCommand(app, &flags, &exit_code);  // after keys: adds keys gen-signing-key
  refx::cli::AddInboxCommand(app, &flags, &exit_code);
  refx::cli::AddReportCommand(app, &flags, &exit_code);
  refx::cli::AddAdminCommand(app, &flags, &exit_code);
  refx::cli::AddTokensCommand(app, &exit_code);
  refx::cli::AddAdapterCommand(app, &exit_code);
  refx::cli::AddUsersCommand(app, &flags, &exit_code);
  spdlog::set_level(spdlog::level::warn);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return refx::cli::ExitForParseError(app, e);
  }
  return exit_code;
}
