// refx-audit-offline: the refx subcommands that open an event log folder or
// a backup directly (RocksDB): `audit verify --db DIR`, `audit checkpoint
// --db DIR` and `admin restore`. refx hands these command lines over
// unchanged (handover.h), so this tool takes the same global options and
// prints and exits as refx does; it can be run by hand as well.
#include <CLI/CLI.hpp>

#include <memory>

#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "cli/offline/arguments.h"
#include "cli/offline/commands.h"

int main(int argc, char** argv) {
  namespace offline = refx::cli::offline;
  CLI::App app{"refx-audit-offline: the refx subcommands that open a log folder or a backup (refx runs it for "
               "`refx audit verify --db`, `refx audit checkpoint` and `refx admin restore`)"};
  app.require_subcommand(1);
  refx::cli::ConnectionFlags flags;  // accepted as refx accepts them; nothing here connects
  refx::cli::AddConnectionFlags(app, &flags);
  int exit_code = 0;

  CLI::App* audit = app.add_subcommand("audit", "Verify a log folder, print its signed checkpoints");
  audit->require_subcommand(1);
  offline::VerifyArgs verify;
  offline::AddVerifyCommand(audit, &verify)->callback([&] {
    exit_code = verify.db.empty()
                    ? refx::cli::Fail("audit verify",
                                      refx::Status::InvalidArgument(
                                          "refx-audit-offline verifies a log folder (--db DIR); to verify through "
                                          "the broker run `refx audit verify --purpose TEXT`"),
                                      refx::cli::kExitRefused)
                    : offline::RunVerify(verify);
  });
  offline::CheckpointArgs checkpoint;
  offline::AddCheckpointCommand(audit, &checkpoint)->callback([&] { exit_code = offline::RunCheckpoint(checkpoint); });

  CLI::App* admin = app.add_subcommand("admin", "Restore a backup of the broker's log");
  admin->require_subcommand(1);
  offline::RestoreArgs restore;
  offline::AddRestoreCommand(admin, &restore)->callback([&] { exit_code = offline::RunRestore(restore); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return refx::cli::ExitForParseError(app, e);
  }
  return exit_code;
}
