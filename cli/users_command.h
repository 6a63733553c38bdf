// `refx users add|passwd|reset|disable|enable|unlock|list`: the web
// console's sign-in accounts, in the console's own store (a folder,
// default HOME/console/accounts; see console/account_store.h), never in the
// partnership configuration. Works on the folder directly, so it needs no
// running console or broker; run it as the user the console runs as.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/local_stack.h"

namespace refx::cli {

void AddUsersCommand(CLI::App& app, const ConnectionFlags* flags, int* exit_code);

}  // namespace refx::cli
