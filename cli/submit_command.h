// `refx submit FILE.json...`: sends referrals written in protobuf's JSON
// mapping of refx.v1.Referral, as the agency named in each referral (or
// --as), and reports each one once it is durable.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/local_stack.h"

namespace refx::cli {

// Exit codes of `refx submit` (documented in the README).
enum SubmitExit {
  kSubmitOk = 0,           // every referral durable (new or duplicate)
  kSubmitSetupError = 1,   // no keys / configuration for the local stack
  kSubmitRefused = 2,      // bad file, or the broker refused a referral
  kSubmitUnreachable = 3,  // no answer from the broker after retries
};

// Adds the subcommand to `app`; running it sets *exit_code.
void AddSubmitCommand(CLI::App& app, ConnectionFlags* flags, int* exit_code);

}  // namespace refx::cli
