// What refx-audit-offline runs: the subcommands that open an event log
// folder or a backup directly (arguments.h), with RocksDB through
// refx_eventlog. Output, messages ("refx audit verify: ...") and exit
// codes are those of `refx`, which hands these command lines over.
//
//   RunVerify      audit verify --db DIR: the whole-log verifier
//                  (eventlog/verifier.h), chain, seqs, head, indexes and
//                  signed checkpoints, with a progress bar on a terminal
//   RunCheckpoint  audit checkpoint --db DIR [--all]: the stored signed
//                  checkpoints as refx.v1.Checkpoint JSON lines
//   RunRestore     admin restore BACKUP_DIR --to DATA_DIR (eventlog/backup.h)
//
// Thread-safety: call from main's thread; they print to stdout / stderr.
#pragma once

#include "cli/offline/arguments.h"

namespace refx::cli::offline {

// Each returns its exit code (cli/exit_codes.h; documented with `refx
// audit` and `refx admin`).
int RunVerify(const VerifyArgs& args);
int RunCheckpoint(const CheckpointArgs& args);
int RunRestore(const RestoreArgs& args);

}  // namespace refx::cli::offline
