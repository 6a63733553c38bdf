// Exit codes shared by every `refx` command, and the one way a command
// reports a failure on stderr. Each command's header says what each code
// means for it; the README lists them. Stateless functions: thread-safe.

#pragma once

#include <string>

#include "core/status.h"

namespace refx::cli {

enum ExitCode {
  kExitOk = 0,           // the command did what was asked
  kExitSetupError = 1,   // no configuration, keys or data folder to work with
  kExitRefused = 2,      // bad arguments or input (also every command-line parse error), or the broker refused
  kExitUnreachable = 3,  // no answer from the broker after retries
  kExitTampered = 4,     // `refx audit verify` found a problem in the log
};

// The exit code for a failed broker call: kExitUnreachable when the broker
// did not answer (Unavailable, Timeout), else kExitRefused.
int ExitCodeFor(const Status& status);

// The exit code for a failure to connect (ConnectedClientOptions, ConnectAs):
// kExitUnreachable when no broker listens, else kExitSetupError.
int ExitCodeForConnect(const Status& status);

// What `refx --help` and the README say about exit codes.
extern const char kExitCodesHelp[];

// Prints "refx COMMAND: WHAT: STATUS" to stderr, where WHAT names the
// exit code ("setup", "refused", "unreachable", "tampered"), and returns
// `exit_code`. COMMAND is the full subcommand, e.g. "inbox ack".
int Fail(const std::string& command, const Status& status, int exit_code);

}  // namespace refx::cli
