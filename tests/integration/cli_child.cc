#include "cli_child.h"
#include "child_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "core/curve_keys.h"

namespace refx::testing {

Child::Child(std::vector<std::string> args) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) std::abort();
  args.insert(args.begin(), REFX_CLI_BIN);
  ChildOptions child;
  child.stdout_fd = out[1];
  child.stderr_fd = err[1];
  pid_ = StartChild(args, child);
  close(out[1]);
  close(err[1]);
  out_ = out[0];
  err_ = err[0];
}

Child::~Child() {
  if (out_ >= 0) close(out_);
  if (err_ >= 0) close(err_);
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

bool Child::WaitForStderr(const std::string& text) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (err_buf_.find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline || !Pump()) return false;
  }
  return true;
}

CliRun Child::Finish(int guard_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(guard_seconds);
  while (Pump()) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "refx did not finish in " << guard_seconds << " s; stderr so far:\n" << err_buf_;
      kill(pid_, SIGKILL);
      break;
    }
  }
  CliRun run;
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = out_buf_;
  run.err = err_buf_;
  return run;
}

bool Child::Pump() {
  pollfd fds[2];
  int n = 0;
  if (out_ >= 0) fds[n++] = {out_, POLLIN, 0};
  if (err_ >= 0) fds[n++] = {err_, POLLIN, 0};
  if (n == 0) return false;
  if (poll(fds, n, 200) <= 0) return true;
  for (int i = 0; i < n; ++i) {
    if (fds[i].revents == 0) continue;
    char buf[8192];
    const ssize_t got = read(fds[i].fd, buf, sizeof buf);
    int& fd = fds[i].fd == out_ ? out_ : err_;
    std::string& into = fds[i].fd == out_ ? out_buf_ : err_buf_;
    if (got > 0) {
      into.append(buf, static_cast<size_t>(got));
    } else {
      close(fd);
      fd = -1;
    }
  }
  return true;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

void WriteCliHome(const TestStack& stack, const std::vector<AgencySpec>& agencies, const std::string& home) {
  std::ifstream config(stack.config_path());
  std::ostringstream text;
  text << config.rdbuf();
  std::ofstream(home + "/config.textproto") << text.str();
  const std::string keys = home + "/keys";
  ASSERT_TRUE(SaveCurveKeyPair(keys, "broker", stack.broker_keys()).ok());
  for (const auto& a : agencies) ASSERT_TRUE(SaveCurveKeyPair(keys, a.id, stack.agency_keys(a.id)).ok());
}

}  // namespace refx::testing
