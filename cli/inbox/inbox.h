// Internals of `refx inbox` (see inbox_command.h): what the subcommands
// take and the functions that run them. Who the caller is lives in
// cli/caller.h, the connection in cli/connect.h, and how cases and events
// are written on the lead's terminal in case_lines.h.
//
// Thread-safety: the Run* functions write to stdout / stderr, so call them
// from one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/local_stack.h"

namespace refx::cli::inbox {

// Everything the inbox subcommands take (each uses a part of it).
struct Args {
  std::string who;
  bool json = false;
  std::string destination;          // --destination
  std::vector<std::string> states;  // list --state (CaseState names)
  uint64_t from_seq = 0;            // watch --from-seq
  bool from_seq_given = false;
  uint64_t count = 0;               // watch --count (0 = until stopped)
  std::string referral;             // REFERRAL (normalised to R-NNNNNNNNNN)
  std::string code;                 // outcome CODE
  std::string note;                 // accept / outcome --note
  std::string reason;               // decline --reason
};

// The subcommands; each returns its exit code.
int RunList(const ConnectionFlags& flags, const Args& args);
int RunWatch(const ConnectionFlags& flags, const Args& args);
int RunShow(const ConnectionFlags& flags, const Args& args);
// `action` is "ack", "accept", "decline" or "outcome".
int RunAction(const ConnectionFlags& flags, const std::string& action, const Args& args);

}  // namespace refx::cli::inbox
