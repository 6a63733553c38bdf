// `refx audit`: offline checks of an event log for auditors.
//
//   refx audit verify --db DIR [--signing-pub FILE]... [--checkpoint FILE]...
//                     [--json] [--threads N]
//     Verifies a log directory or a restored backup, opened read-only
//     (eventlog/verifier.h): the hash chain over the stored bytes, the seqs,
//     the recorded head, the indexes and the signed checkpoints. Prints
//     "intact: ..." or "first bad seq N: PROBLEM: detail" (or one
//     refx.v1.VerifyResult JSON line with --json); a progress bar on stderr
//     when it is a terminal. Online verification through the running broker
//     is to come; until then verify a stopped broker's folder or a copy.
//   refx audit checkpoint --db DIR [--all]
//     Prints the latest (or every) stored signed checkpoint as a
//     refx.v1.Checkpoint JSON line, to keep OFF the broker's host and pass
//     back with `verify --checkpoint FILE` (a file of such lines).
//   refx keys gen-signing-key NAME --dir DIR
//     Creates the broker's checkpoint signing key pair DIR/NAME.sign.key
//     (0600) and DIR/NAME.sign.pub (eventlog/checkpoints.h); existing keys
//     are kept. (Registered on `refx keys` when that command exists,
//     otherwise as `refx audit keygen`.)
#pragma once

#include <CLI/CLI.hpp>

namespace refx::cli {

// Exit codes of `refx audit` (documented in the README).
enum AuditExit {
  kAuditOk = 0,           // the log is intact (or the command succeeded)
  kAuditSetupError = 1,   // the folder, a key or a checkpoint file cannot be used
  kAuditTampered = 4,     // verification found a problem
};

// Adds `audit` (and `keys gen-signing-key`) to `app`; running them sets
// *exit_code. Call it after AddKeysCommand.
void AddAuditCommand(CLI::App& app, int* exit_code);

}  // namespace refx::cli
