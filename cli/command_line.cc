#include "cli/command_line.h"

#include "cli/exit_codes.h"

namespace refx::cli {

void AddConnectionFlags(CLI::App& app, ConnectionFlags* flags) {
  app.footer(kExitCodesHelp);
  app.add_option("--home", flags->home,
                 "Local stack folder (default: $REFX_HOME, else the var/ of the checkout this refx binary was built "
                 "in; run from outside that checkout, refx names it on stderr)");
  app.add_option("--broker", flags->endpoint, "Broker endpoint, e.g. tcp://127.0.0.1:7400");
  app.add_option("--server-key", flags->server_key_file, "File with the broker's Z85 public key");
  app.add_option("--key-dir", flags->key_dir, "Folder with AGENCY.pub / AGENCY.key");
  app.add_option("--timeout-ms", flags->timeout_ms, "Reply timeout per attempt")->capture_default_str();
  app.add_option("--attempts", flags->attempts, "Attempts before giving up")->capture_default_str();
}

int ExitForParseError(CLI::App& app, const CLI::ParseError& error) {
  const int code = app.exit(error);
  return code == 0 ? kExitOk : kExitRefused;
}

}  // namespace refx::cli
