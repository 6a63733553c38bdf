// What every `refx` command line has, shared by refx and refx-audit-offline
// (cli/offline/): the connection options before the subcommand, and how a
// command-line error exits.
//
// Thread-safety: registration and parsing happen on main's thread.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace refx::cli {

// Connection flags every command accepts; empty means "from the home folder"
// (cli/local_stack.h).
struct ConnectionFlags {
  std::string home;
  std::string endpoint;
  std::string server_key_file;  // broker public key (Z85 file)
  std::string key_dir;          // folder with AGENCY.pub / AGENCY.key
  int timeout_ms = 2500;
  int attempts = 5;
};

// Adds --home, --broker, --server-key, --key-dir, --timeout-ms and
// --attempts to `app`, parsed into *flags (which must outlive parsing), and
// the exit codes as its help footer.
void AddConnectionFlags(CLI::App& app, ConnectionFlags* flags);

// Prints a parse error (or the help `error` stands for) as CLI11 does and
// returns the exit code: kExitOk for --help, else kExitRefused. CLI11 has
// its own code for each kind of parse error (105, 106, 109, ...): every one
// is "bad arguments", exit 2, as `refx --help` and the README say.
int ExitForParseError(CLI::App& app, const CLI::ParseError& error);

}  // namespace refx::cli
