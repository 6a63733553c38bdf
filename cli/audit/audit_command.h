// `refx audit`: checks and reads of the event log for auditors.
//
//   refx audit verify --db DIR [--signing-pub FILE]... [--checkpoint FILE]...
//                     [--json] [--threads N]
//     Verifies a log directory or a restored backup, opened read-only
//     (eventlog/verifier.h): the hash chain over the stored bytes, the seqs,
//     the recorded head, the indexes and the signed checkpoints. Prints
//     "intact: ..." or "first bad seq N: PROBLEM: detail" (or one
//     refx.v1.VerifyResult JSON line with --json); a progress bar on stderr
//     when it is a terminal. Run by refx-audit-offline (cli/offline/),
//     which refx hands the command line to.
//   refx audit verify --purpose TEXT [--as AUDITOR] [--signing-pub FILE]...
//                     [--checkpoint FILE]... [--json]
//     Without --db: the same check through the running broker (chain, seqs,
//     checkpoints; not the indexes, which need --db). See
//     cli/audit/subcommands.h, which also lists timeline, replay, as-of and
//     export.
//   refx audit checkpoint --db DIR [--all]
//     Prints the latest (or every) stored signed checkpoint as a
//     refx.v1.Checkpoint JSON line, to keep OFF the broker's host and pass
//     back with `verify --checkpoint FILE` (a file of such lines). Run by
//     refx-audit-offline too.
//   refx keys gen-signing-key NAME --dir DIR
//     Creates the broker's checkpoint signing key pair DIR/NAME.sign.key
//     (0600) and DIR/NAME.sign.pub (eventlog/checkpoint_signing.h); existing keys
//     are kept. (Registered on `refx keys` when that command exists,
//     otherwise as `refx audit keygen`.)
#pragma once

#include <CLI/CLI.hpp>

#include "cli/exit_codes.h"
#include "cli/local_stack.h"

namespace refx::cli {

// Exit codes (cli/exit_codes.h) of `refx audit` (documented in the README):
//   0 kExitOk: the log is intact (or the command succeeded)
//   1 kExitSetupError: the folder, a key or a checkpoint file cannot be used
//   2 kExitRefused: bad arguments, or the broker refused (its error is printed)
//   3 kExitUnreachable: no answer from the broker after retries
//   4 kExitTampered: verification found a problem

// Adds `audit` (and `keys gen-signing-key`) to `app`; running them sets
// *exit_code. Call it after AddKeysCommand. `flags` (the connection flags
// of the online subcommands) and `exit_code` must outlive parsing.
void AddAuditCommand(CLI::App& app, ConnectionFlags* flags, int* exit_code);

}  // namespace refx::cli
