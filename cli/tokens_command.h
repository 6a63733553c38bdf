// `refx tokens issue NAME --file F`: makes a 256-bit bearer token for the
// calling system NAME, stores only its BLAKE2b hash in F (an adapter's
// http.token_file) and prints the token once on stdout.
// `refx tokens list --file F`: names and creation times (never tokens).
// `refx tokens revoke NAME --file F`: removes NAME's token; a running
// adapter refuses it within a second.
#pragma once

#include <CLI/CLI.hpp>

namespace refx::cli {

void AddTokensCommand(CLI::App& app, int* exit_code);

}  // namespace refx::cli
