// Test support: the real refx-adapter binary as a child process, for one
// agency of a TestStack, with its own folder (keys, token file, spool,
// configuration) and a bearer token issued for the test's caller.
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>

#include "test_stack.h"

namespace refx::testing {

class AdapterProcess {
 public:
  // `http_extra` goes inside http { }, `extra` at the top level.
  AdapterProcess(const TestStack& stack, const std::string& agency, std::string http_extra = "",
                 std::string extra = "");
  ~AdapterProcess();  // kills a running adapter

  // Starts the adapter and waits (up to 30 s) for its ready file. The first
  // start picks free ports; restarts reuse them. False (with a gtest
  // failure) when it did not start. `file_size_limit` as ChildOptions.
  bool Start(uint64_t file_size_limit = 0);
  // Sends `signal` and waits; returns the wait status.
  int Stop(int signal);
  bool running() const { return pid_ > 0; }

  // Fields added inside forward { } of the configuration (takes effect at
  // the next Start).
  void set_forward_extra(std::string fields) {
    forward_extra_ = std::move(fields);
    WriteConfig();
  }

  // Another token, for a second calling system.
  std::string IssueToken(const std::string& name);

  int http_port() const { return http_port_; }
  int metrics_port() const { return metrics_port_; }
  const std::string& token() const { return token_; }
  const std::string& dir() const { return dir_.path(); }
  const std::string& log_path() const { return log_path_; }
  // A keep-alive client of the intake with the token set.
  std::unique_ptr<httplib::Client> Client(const std::string& token) const;
  std::unique_ptr<httplib::Client> Client() const { return Client(token_); }
  // The value of a metric without labels from /metrics; -1 if absent.
  double Metric(const std::string& name) const;
  // Waits (up to `seconds`) until the spool is empty; false if it is not.
  bool WaitForEmptySpool(int seconds) const;

 private:
  void WriteConfig();

  TempDir dir_;
  std::string agency_, http_extra_, extra_, forward_extra_, endpoint_;
  std::string config_path_, ready_path_, log_path_, token_;
  int http_port_ = 0;
  int metrics_port_ = 0;
  pid_t pid_ = -1;
};

// Path of the built refx-adapter binary.
std::string AdapterBinary();

}  // namespace refx::testing
