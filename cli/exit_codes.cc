#include "cli/exit_codes.h"

#include <cstdio>

namespace refx::cli {

namespace {

const char* ExitWord(int exit_code) {
  switch (exit_code) {
    case kExitSetupError: return "setup";
    case kExitUnreachable: return "unreachable";
    case kExitTampered: return "tampered";
    default: return "refused";
  }
}

}  // namespace

int ExitCodeFor(const Status& status) {
  if (status.code() == Status::Code::kUnavailable || status.code() == Status::Code::kTimeout) {
    return kExitUnreachable;
  }
  return kExitRefused;
}

int ExitCodeForConnect(const Status& status) {
  return ExitCodeFor(status) == kExitUnreachable ? kExitUnreachable : kExitSetupError;
}

const char kExitCodesHelp[] =
    "Exit codes (every command):\n"
    "  0  done (audit verify: the log is intact; --help)\n"
    "  1  setup: no configuration, keys or folder to work with (run deploy/refx.sh up, or pass --home)\n"
    "  2  refused: bad arguments or input (including any command-line error: unknown option, missing or\n"
    "     extra argument, bad value), or the broker refused the request; the reason is printed\n"
    "  3  unreachable: no broker listening, or no answer after the retries\n"
    "  4  tampered: audit verify found a problem in the log\n"
    "Times are shown in Europe/London (GMT or BST); --json output keeps UTC.";

int Fail(const std::string& command, const Status& status, int exit_code) {
  std::fprintf(stderr, "refx %s: %s: %s\n", command.c_str(), ExitWord(exit_code), status.ToString().c_str());
  return exit_code;
}

}  // namespace refx::cli
