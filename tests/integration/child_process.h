// Starting the project's binaries (broker, services, the refx tool) as
// child processes of a test.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace refx::testing {

struct ChildOptions {
  int stdout_fd = -1;                // the child's stdout; -1: the test's own
  int stderr_fd = -1;                // the child's stderr; -1: the test's own
  uint64_t file_size_limit = 0;      // RLIMIT_FSIZE with SIGXFSZ ignored (a full disk); 0: none
};

// Forks and execs argv[0] with `argv`. The child is killed (SIGKILL) when
// the thread that started it ends, so that no broker or service outlives a
// test that crashed (e.g. under a sanitizer): call it from the test's own
// thread, never from a short-lived helper thread. The fds in `options`
// stay owned by the caller. Returns the child's pid, or -1 if fork failed;
// a child whose exec fails exits 127.
pid_t StartChild(const std::vector<std::string>& argv, const ChildOptions& options = {});

}  // namespace refx::testing
