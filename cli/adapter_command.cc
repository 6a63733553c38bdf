#include "cli/adapter_command.h"

#include <cstdio>
#include <memory>
#include <string>

#include "adapters/filedrop/file_drop.h"
#include "cli/exit_codes.h"

namespace refx::cli {

void AddAdapterCommand(CLI::App& app, int* exit_code) {
  CLI::App* adapter = app.add_subcommand("adapter", "Agency adapters (refx-adapter): the file drop");
  adapter->require_subcommand(1);
  auto file = std::make_shared<std::string>();
  CLI::App* retry = adapter->add_subcommand(
      "retry", "Re-submit a corrected file the file drop rejected: moves DROP/rejected/NAME back to DROP/NAME");
  retry->add_option("file", *file, "The rejected file, e.g. var/inbox/kent-police/rejected/export.csv")->required();
  retry->callback([file, exit_code] {
    std::string moved_to;
    Status s = adapters::RetryRejectedFile(*file, &moved_to);
    if (!s.ok()) {
      *exit_code = Fail("adapter retry", s, s.code() == Status::Code::kIoError ? kExitSetupError : kExitRefused);
      return;
    }
    std::printf("moved %s back to %s: the adapter takes it again\n", file->c_str(), moved_to.c_str());
  });
}

}  // namespace refx::cli
