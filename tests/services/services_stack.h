// Test support for the service tests: the real refx-broker (TestStack, CURVE
// on) over a copy of the Sevenoaks sample partnership - its agencies with
// fresh keys, its destinations, rules, calendar, outcome codes and delivery
// settings - with a generated subject key; services hosted in-process on
// threads; and reading the whole log back for assertions.
//
// Thread-safety: a ServicesStack belongs to one test thread; HostedService
// runs one service on its own thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/partnership_config.h"
#include "core/status.h"
#include "refx/v1/config.pb.h"
#include "refx/v1/event.pb.h"
#include "test_stack.h"

namespace refx::testing {

class ServicesStack {
 public:
  // `edit` may change the sample configuration (e.g. delivery settings)
  // before it is written; the agencies come from it too.
  explicit ServicesStack(const std::function<void(v1::PartnershipConfig*)>& edit = nullptr);

  TestStack& stack() { return *stack_; }
  // The configuration as the broker loads it (call after construction).
  const PartnershipConfig& config() const { return *config_; }
  // The subject key secret (raw bytes) the router uses.
  const std::string& subject_secret() const { return subject_secret_; }
  // A folder for a service's state (created on first use).
  std::string StateDir(const std::string& name) const;

  // Every event in the log now, read as the refx-outcomes SERVICE identity
  // (which sees everything; no test runs that service).
  std::vector<v1::Event> ReadLog();

  // Reads the log until `done(events)` holds, up to 60 s. Returns the last
  // events read; fails the test (ADD_FAILURE naming `what`) on timeout.
  std::vector<v1::Event> WaitFor(const std::string& what,
                                 const std::function<bool(const std::vector<v1::Event>&)>& done);

  // Submits `referral` as its referrer agency; returns the referral id.
  std::string Submit(const v1::Referral& referral);

  // Command-line arguments for running service `binary` as the SERVICE
  // identity `name` against this stack's broker: saves that identity's key
  // pair and the broker's public key into a key folder of its own, and
  // gives it a state folder.
  // It serves its metrics on a free loopback port (metrics_port(name)).
  std::vector<std::string> ServiceArgs(const std::string& binary, const std::string& name);
  // The metrics port ServiceArgs gave the child `name` (0 if none).
  int metrics_port(const std::string& name) const {
    auto it = metrics_ports_.find(name);
    return it == metrics_ports_.end() ? 0 : it->second;
  }
  // A log file path for a child process called `name`.
  std::string LogPath(const std::string& name) const;
  // Waits up to 30 s until the child `name` accepts connections on its
  // metrics port (a service binds it once it has started, which may be
  // after the events a test waits for are logged). False on timeout or
  // when ServiceArgs gave `name` no port.
  bool WaitServing(const std::string& name) const;
  // Waits up to 30 s until the child `name` answers 200 on /healthz: a
  // service answers 503 until it has replayed the log and follows it, which
  // on a loaded machine can be after the events a test waits for. False on
  // timeout (the last answer's status and body in *last, if given).
  bool WaitHealthy(const std::string& name, std::string* last = nullptr) const;

 private:
  std::unique_ptr<TestStack> stack_;
  std::unique_ptr<PartnershipConfig> config_;
  std::string subject_secret_;
  std::unique_ptr<BrokerClient> reader_;
  std::map<std::string, int> metrics_ports_;
};

// A service binary (refx-router, refx-delivery, ...) run as a child process
// with its stdout and stderr appended to a file. Killed with SIGKILL on
// destruction if still running. One test thread.
class ServiceProcess {
 public:
  ServiceProcess(std::vector<std::string> args, std::string log_path)
      : args_(std::move(args)), log_path_(std::move(log_path)) {}
  ~ServiceProcess();
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  void Start();
  // Sends `signal`, waits, and returns the wait status (-1 if not running).
  int Stop(int signal);
  // Waits up to `timeout` for the process to exit by itself; true with
  // *status set when it did.
  bool WaitExit(std::chrono::milliseconds timeout, int* status);
  // Everything it printed so far.
  std::string Log() const;

 private:
  std::vector<std::string> args_;
  std::string log_path_;
  pid_t pid_ = -1;
};

// Runs a service's Run(should_stop) on a thread until Stop().
class HostedService {
 public:
  HostedService() = default;
  ~HostedService() { (void)Stop(); }  // a test that checks the result calls Stop() itself
  // Starts `run` (e.g. [&](auto stop) { return service->Run(stop); }).
  void Start(std::function<Status(const std::function<bool()>&)> run);
  // Asks it to stop, waits, and returns what Run returned.
  Status Stop();
  bool finished() const { return finished_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::thread thread_;
  Status result_;
};

// A DOMESTIC_ABUSE referral with DASH score 15 that does not say stalking
// (question 8 "no"), about a made-up person; `given_name` varies the
// subject. Routed by rule R1 to DA_MARAC and IDVA.
v1::Referral DaHighRiskReferral(const std::string& agency, const std::string& reference,
                                const std::string& given_name = "Alex");
// As above with `yes` of the 24 DASH answers "yes" (question 8 stays "no").
v1::Referral DaReferralWithScore(const std::string& agency, const std::string& reference, int yes,
                                 const std::string& given_name);
// A referral of `category` with no assessment (routes by category only).
v1::Referral CategoryReferral(const std::string& agency, const std::string& reference, v1::Category category,
                              const std::string& given_name = "Jordan");

// A loopback TCP port free at the time of the call (the kernel's choice).
int FreeLoopbackPort();

// Helpers over a list of events.
std::vector<const v1::Event*> EventsOf(const std::vector<v1::Event>& events, v1::Event::BodyCase kind,
                                       const std::string& referral_id, const std::string& destination = "");
std::vector<std::string> RoutedDestinations(const std::vector<v1::Event>& events, const std::string& referral_id);
bool HasEvent(const std::vector<v1::Event>& events, v1::Event::BodyCase kind, const std::string& referral_id,
              const std::string& destination);

}  // namespace refx::testing
