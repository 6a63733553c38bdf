// `refx report --from DATE --to DATE [--format md|csv|html|json] [--as AGENCY]
// [--out FILE] [--config FILE]`: replays the event log through the broker
// as an identity that may see all of it (AUDITOR; default ig-auditor) and
// prints the partnership's monitoring figures for referrals submitted in
// [from, to] (domain/monitoring/monitoring_report.h). Progress goes to
// stderr when it is a terminal.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/exit_codes.h"
#include "cli/local_stack.h"

namespace refx::cli {

// Exit codes (cli/exit_codes.h) of `refx report` (documented in the README):
//   0 kExitOk
//   1 kExitSetupError: no configuration or keys for the local stack
//   2 kExitRefused: bad dates or agency, the broker refused the read, or --out not writable
//   3 kExitUnreachable: no answer from the broker after retries

// Adds the subcommand to `app`; running it sets *exit_code.
void AddReportCommand(CLI::App& app, ConnectionFlags* flags, int* exit_code);

}  // namespace refx::cli
