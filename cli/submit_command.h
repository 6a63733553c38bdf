// `refx submit FILE.json...`: sends referrals written in protobuf's JSON
// mapping of refx.v1.Referral, as the agency named in each referral (or
// --as), and reports each one once it is durable.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/exit_codes.h"
#include "cli/local_stack.h"

namespace refx::cli {

// Exit codes (cli/exit_codes.h) of `refx submit` (documented in the README):
//   0 kExitOk: every referral durable (new or duplicate)
//   1 kExitSetupError: no keys / configuration for the local stack
//   2 kExitRefused: bad file, or the broker refused a referral
//   3 kExitUnreachable: no answer from the broker after retries

// Adds the subcommand to `app`; running it sets *exit_code.
void AddSubmitCommand(CLI::App& app, ConnectionFlags* flags, int* exit_code);

}  // namespace refx::cli
