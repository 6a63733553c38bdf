// How refx runs an offline subcommand (arguments.h): it replaces itself
// with refx-audit-offline from its own folder, passing its whole command
// line unchanged, so the user sees one tool.
//
// Thread-safety: call from main's thread, during parsing (nothing else may
// run: the process is replaced).
#pragma once

#include <string>

namespace refx::cli::offline {

// Execs BINARY_FOLDER/refx-audit-offline (cli/local_stack.h's BinaryFolder)
// with this process's own arguments (/proc/self/cmdline), argv[0] being the
// tool's path. Returns only when that fails: after printing "refx COMMAND:
// setup: ..." naming the tool's path and how to build it (missing or not
// executable) or why exec failed, with kExitSetupError. `command` is the
// subcommand for the message, e.g. "audit verify".
int RunOfflineTool(const std::string& command);

}  // namespace refx::cli::offline
