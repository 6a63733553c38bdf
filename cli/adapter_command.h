// `refx adapter retry FILE`: re-submits a corrected file an agency
// adapter's file drop rejected. FILE is DROP/rejected/NAME; it moves back
// to DROP/NAME (the adapter takes a file renamed into its folder at once)
// and its old report DROP/rejected/NAME.report.txt is removed. Rows of the
// file that went through the first time land once (the reference is the
// idempotency key). Exit 0 moved; 1 the move failed (file system); 2 FILE
// does not exist or is not a rejected drop file, or DROP already holds a
// file of that name (nothing is overwritten). Needs no broker and no
// configuration.
#pragma once

#include <CLI/CLI.hpp>

namespace refx::cli {

void AddAdapterCommand(CLI::App& app, int* exit_code);

}  // namespace refx::cli
