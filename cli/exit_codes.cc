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

int Fail(const std::string& command, const Status& status, int exit_code) {
  std::fprintf(stderr, "refx %s: %s: %s\n", command.c_str(), ExitWord(exit_code), status.ToString().c_str());
  return exit_code;
}

}  // namespace refx::cli
