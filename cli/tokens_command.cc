#include "cli/tokens_command.h"

#include <cstdio>
#include <memory>

#include "adapters/tokens/token_store.h"
#include "cli/exit_codes.h"

namespace refx::cli {

void AddTokensCommand(CLI::App& app, int* exit_code) {
  struct Args {
    std::string name;
    std::string file;
  };
  auto args = std::make_shared<Args>();
  CLI::App* tokens = app.add_subcommand("tokens", "Bearer tokens of an adapter's HTTP intake (refx-adapter)");
  tokens->require_subcommand(1);
  auto fail = [exit_code](const char* what, const Status& s) {
    std::fprintf(stderr, "refx tokens %s: %s\n", what, s.ToString().c_str());
    *exit_code = s.code() == Status::Code::kIoError || s.code() == Status::Code::kCorruption ? kExitSetupError
                                                                                               : kExitRefused;
  };

  CLI::App* issue = tokens->add_subcommand("issue", "Make a token for calling system NAME and print it (once)");
  issue->add_option("name", args->name, "The calling system, e.g. niche-rms")->required();
  issue->add_option("--file", args->file, "The adapter's token file (http.token_file)")->required();
  issue->callback([args, fail] {
    std::string token;
    Status s = adapters::TokenFile::Issue(args->file, args->name, &token);
    if (!s.ok()) return fail("issue", s);
    std::printf("%s\n", token.c_str());
    std::fprintf(stderr, "token for %s stored as a hash in %s; it is shown only now\n", args->name.c_str(),
                 args->file.c_str());
  });

  CLI::App* list = tokens->add_subcommand("list", "List the token names and when they were made");
  list->add_option("--file", args->file, "The adapter's token file (http.token_file)")->required();
  list->callback([args, fail] {
    std::vector<adapters::TokenEntry> entries;
    Status s = adapters::TokenFile::Read(args->file, &entries);
    if (!s.ok()) return fail("list", s);
    for (const auto& e : entries) std::printf("%-32s %s\n", e.name.c_str(), e.created.c_str());
  });

  CLI::App* revoke = tokens->add_subcommand("revoke", "Remove NAME's token");
  revoke->add_option("name", args->name, "The calling system")->required();
  revoke->add_option("--file", args->file, "The adapter's token file (http.token_file)")->required();
  revoke->callback([args, fail] {
    Status s = adapters::TokenFile::Revoke(args->file, args->name);
    if (!s.ok()) return fail("revoke", s);
    std::printf("revoked %s\n", args->name.c_str());
  });
}

}  // namespace refx::cli
