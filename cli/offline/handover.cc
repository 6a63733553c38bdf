#include "cli/offline/handover.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "cli/exit_codes.h"
#include "cli/local_stack.h"
#include "cli/offline/arguments.h"

namespace refx::cli::offline {

namespace {

// This process's arguments, as the kernel keeps them (NUL-terminated).
std::vector<std::string> OwnArguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t start = 0; start < all.size();) {
    const size_t end = all.find('\0', start);
    args.push_back(all.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return args;
}

}  // namespace

int RunOfflineTool(const std::string& command) {
  const std::string folder = BinaryFolder();
  const std::string tool = (folder.empty() ? std::string(".") : folder) + "/" + kToolName;
  if (::access(tool.c_str(), X_OK) != 0) {
    const int error = errno;
    return Fail(command,
                Status::NotFound("this subcommand opens a log folder and runs in " + tool + ", which is " +
                                 (error == ENOENT ? "missing" : "not executable (" + std::string(std::strerror(error)) + ")") +
                                 ": install refx-audit-offline next to refx (from a checkout: cmake --build build "
                                 "--target refx-audit-offline)"),
                kExitSetupError);
  }
  std::vector<std::string> args = OwnArguments();
  if (args.empty()) {
    return Fail(command, Status::IoError("cannot read this process's arguments (/proc/self/cmdline)"),
                kExitSetupError);
  }
  args[0] = tool;
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(nullptr);
  ::execv(tool.c_str(), argv.data());
  return Fail(command, Status::IoError("cannot run " + tool + ": " + std::strerror(errno)), kExitSetupError);
}

}  // namespace refx::cli::offline
