// The arguments of the subcommands that open an event log folder or a
// backup directly (RocksDB): `refx audit verify --db DIR`, `refx audit
// checkpoint` and `refx admin restore`. They run in refx-audit-offline
// (this folder), so that refx — submit, inbox, reports, the online audit —
// does not link RocksDB. Both executables register the same arguments with
// these functions: refx so that its --help and its argument checks stay
// whole before it hands the command line over (handover.h), the offline
// tool to run them. The callbacks are the caller's.
//
// Thread-safety: registration on main's thread; the argument structs must
// outlive parsing.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace refx::cli::offline {

// The offline tool's file name, looked for in the folder of refx.
inline constexpr char kToolName[] = "refx-audit-offline";

// `audit verify`: a log folder with --db (offline), the broker's log
// without it (online, in refx).
struct VerifyArgs {
  std::string db;
  std::string as;       // online only: the reading identity
  std::string purpose;  // online only
  std::vector<std::string> signing_pubs;
  std::vector<std::string> checkpoint_files;
  bool json = false;
  unsigned threads = 0;  // offline only
  bool full = false;         // online only: from seq 1, not from the last verified checkpoint
  std::string verified_file; // online only: where the last verified signed checkpoint is kept
};

// `audit checkpoint --db DIR [--all]`.
struct CheckpointArgs {
  std::string db;
  bool all = false;
};

// `admin restore BACKUP_DIR --to DATA_DIR`.
struct RestoreArgs {
  std::string backup_dir;
  std::string data_dir;
};

// Each adds its subcommand to `parent` (`audit`, or `admin` for restore)
// with every option, parsed into *args; returns it for the caller's
// callback. `args->as` is the default --as shown in the help.
CLI::App* AddVerifyCommand(CLI::App* audit, VerifyArgs* args);
CLI::App* AddCheckpointCommand(CLI::App* audit, CheckpointArgs* args);
CLI::App* AddRestoreCommand(CLI::App* admin, RestoreArgs* args);

}  // namespace refx::cli::offline
