// The refx command-line tool as a child process, for the tests that drive
// it the way a person or a script does (inbox, audit), and the home folder
// it expects. Test code; one thread per Child.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "test_stack.h"

namespace refx::testing {

// What a finished child process left.
struct CliRun {
  int exit_code = -1;  // 128 + signal if it was killed
  std::string out, err;
};

// The refx binary (REFX_CLI_BIN) started with `args`, its stdout and stderr
// on pipes. Killed with SIGKILL on destruction if still running.
class Child {
 public:
  explicit Child(std::vector<std::string> args);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Reads stderr until a line containing `text` has arrived. False if the
  // child closed its output first, or after 30 s (a hang guard, not a
  // timing check).
  bool WaitForStderr(const std::string& text);
  // Reads both pipes to the end and reaps the child (killed after
  // `guard_seconds`, a hang guard).
  CliRun Finish(int guard_seconds = 120);
  pid_t pid() const { return pid_; }

 private:
  // Waits up to 200 ms for output and appends what arrived. False once both
  // pipes are closed.
  bool Pump();

  pid_t pid_ = -1;
  int out_ = -1, err_ = -1;
  std::string out_buf_, err_buf_;
};

// Runs refx with `args` to completion.
inline CliRun RunRefx(std::vector<std::string> args) { return Child(std::move(args)).Finish(); }

// The non-empty lines of `text` (a trailing CR dropped).
std::vector<std::string> Lines(const std::string& text);

// Writes `home` as `deploy/refx.sh up` leaves it for the CLI: the stack's
// configuration as config.textproto and the broker's and every agency's
// key pair under keys/. Fails the test on error.
void WriteCliHome(const TestStack& stack, const std::vector<AgencySpec>& agencies, const std::string& home);

}  // namespace refx::testing
