#include "child_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace refx::testing {

pid_t StartChild(const std::vector<std::string>& argv, const ChildOptions& options) {
  // Everything the child needs is built before fork: after fork in a
  // threaded process the child may only make async-signal-safe calls.
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the test died before prctl
  if (options.stdout_fd >= 0) dup2(options.stdout_fd, 1);
  if (options.stderr_fd >= 0) dup2(options.stderr_fd, 2);
  if (options.file_size_limit != 0) {
    signal(SIGXFSZ, SIG_IGN);  // kept across exec: writes past the limit fail with EFBIG
    const rlimit limit{options.file_size_limit, options.file_size_limit};
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  execv(args[0], args.data());
  _exit(127);
}

}  // namespace refx::testing
