// `refx inbox list|watch|show|ack|accept|decline|outcome --as WHO`: the
// lead's inbox. WHO is an agency id or a destination code; it is resolved
// through the local stack's configuration (HOME/config.textproto) to the
// agency that owns it, whose key pair HOME/keys/AGENCY.key is used. A
// destination code limits the command to that destination; an agency id
// covers every destination the agency owns.
//
//   list      the cases at the caller's destinations, by deadline
//   watch     new deliveries (with the need-to-know summary) and other
//             lifecycle events of the caller's cases, as they are appended
//   show      one case: its record, the latest delivered view, its history
//   ack, accept, decline, outcome
//             append case_acknowledged / case_accepted / case_declined /
//             outcome_recorded for one case. Idempotent: the same step
//             again (ack twice, accept twice, the same outcome and note)
//             writes nothing and exits 0 saying "already ... as seq N". A
//             step the case's state does not allow (accept before ack,
//             decline after accept, an outcome before accept) is refused
//             by the broker with ILLEGAL_TRANSITION, exit 2.
//
// --json prints protobuf JSON lines (refx.v1.CaseRecord, refx.v1.Event,
// refx.v1.InboxCase, refx.v1.Ack); errors always go to stderr as text.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/exit_codes.h"
#include "cli/local_stack.h"

namespace refx::cli {

// Exit codes (cli/exit_codes.h) of `refx inbox` (the same scheme as `refx submit`):
//   0 kExitOk: done (for watch: stopped by a signal or --count)
//   1 kExitSetupError: no configuration or keys, or WHO is unknown
//   2 kExitRefused: the broker refused (code, field, message printed; e.g.
//     ILLEGAL_TRANSITION, an unknown outcome code as INVALID_ARGUMENT), or bad arguments
//   3 kExitUnreachable: no answer from the broker after retries

// Adds the `inbox` subcommand (and its subcommands) to `app`; running one
// sets *exit_code. `flags` and `exit_code` must outlive `app`'s parsing.
void AddInboxCommand(CLI::App& app, ConnectionFlags* flags, int* exit_code);

}  // namespace refx::cli
