// `refx admin`: operating the broker and its log.
//
//   refx admin backup DIR [--as refx-admin] [--wait-s N] [--json]
//     Asks the running broker for a consistent backup of its live log into
//     DIR on the BROKER's host (RocksDB BackupEngine; the broker keeps
//     serving) and for its verification; prints the backup id, head seq,
//     size, files, verified and seconds. Needs an identity with role ADMIN.
//     A relative DIR is made absolute here (right for a local stack).
//   refx admin reload [--as refx-admin] [--json]
//     Asks the running broker to reload its configuration file (as SIGHUP
//     does); prints the counts and what changed, or the broker's refusal
//     (FILE:LINE:COLUMN of the first error; the running configuration
//     stays). Needs an identity with role ADMIN.
//   refx admin restore BACKUP_DIR --to DATA_DIR
//     Local: restores the latest backup in BACKUP_DIR into DATA_DIR (new or
//     empty; eventlog/backup.h), then tells you to check it with
//     `refx audit verify --db DATA_DIR`. Run by refx-audit-offline
//     (cli/offline/), which refx hands the command line to.
//
// Thread-safety: called from main's thread only.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/exit_codes.h"
#include "cli/local_stack.h"

namespace refx::cli {

// Exit codes (cli/exit_codes.h) of `refx admin`:
//   0 kExitOk
//   1 kExitSetupError: no keys or configuration; a restore failed
//   2 kExitRefused: the broker refused (its error is printed), or bad arguments
//   3 kExitUnreachable: no answer from the broker

// Adds `admin backup`, `admin reload` and `admin restore` to `app`; running one sets
// *exit_code. `flags` and `exit_code` must outlive parsing.
void AddAdminCommand(CLI::App& app, ConnectionFlags* flags, int* exit_code);

}  // namespace refx::cli
