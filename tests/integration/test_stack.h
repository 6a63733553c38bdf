// Test support for integration tests: a temporary partnership (CURVE keys,
// configuration file) and the real refx-broker binary run as a child process
// on a free loopback port, with CURVE on. Nothing here is mocked.
//
// Thread-safety: a TestStack belongs to one test; BrokerClients made from it
// are each used by one thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/broker_client.h"
#include "core/curve_keys.h"
#include "refx/v1/referral.pb.h"

namespace refx::testing {

// A directory under the system temp folder, removed with its contents when
// the object is destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct AgencySpec {
  std::string id;
  std::vector<std::string> roles = {"SUBMITTER"};
  std::vector<std::string> may_submit;  // category names; empty = all
};

class TestStack {
 public:
  // Creates keys and a configuration for `agencies` (default: two submitting
  // agencies "agency-a" and "agency-b", and "schools-only" which may submit
  // only CHILD_AT_RISK). `broker_settings` is appended inside broker { };
  // `extra_config` is appended at the top level (destinations, rules, …).
  explicit TestStack(std::vector<AgencySpec> agencies = DefaultAgencies(), std::string broker_settings = "",
                     std::string extra_config = "");
  ~TestStack();  // kills a running broker

  static std::vector<AgencySpec> DefaultAgencies();

  // Starts the broker binary and waits (up to 30 s) until it serves.
  // Returns false (with a gtest failure) if it did not start. The first
  // start picks a free port below the kernel's ephemeral range, so that
  // while the broker is down between a stop and a restart no other test's
  // broker (bound to port 0) or outgoing connection can be given its port.
  bool StartBroker();
  // Brokers started from now on may write no file beyond `bytes`
  // (RLIMIT_FSIZE; SIGXFSZ ignored, so a write past it fails with EFBIG as
  // on a full disk). 0: no limit.
  void set_broker_file_size_limit(uint64_t bytes) { broker_file_size_limit_ = bytes; }
  // Sends `signal` and waits for the process; returns its wait status.
  int StopBroker(int signal);
  // Waits up to `limit` for the broker to exit by itself; returns its wait
  // status, or -1 (and leaves it running) if it did not.
  int WaitForBrokerExit(std::chrono::seconds limit);
  bool broker_running() const { return pid_ > 0; }
  pid_t broker_pid() const { return pid_; }

  // The endpoint of the running broker (stable across restarts: the first
  // start picks a free port and later starts reuse it).
  const std::string& endpoint() const { return endpoint_; }
  int metrics_port() const { return metrics_port_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& config_path() const { return config_path_; }
  const std::string& broker_log() const { return log_path_; }
  const std::string& key_dir() const { return key_dir_; }
  // The public half of the broker's checkpoint signing key (keys/broker.sign.pub).
  std::string signing_public_key_path() const { return key_dir_ + "/broker.sign.pub"; }
  // The broker's master key (keys/broker.master.key, named in broker { }).
  std::string master_key_path() const { return key_dir_ + "/broker.master.key"; }
  const CurveKeyPair& broker_keys() const { return broker_keys_; }
  const CurveKeyPair& agency_keys(const std::string& id) const { return agency_keys_.at(id); }

  // Options for a client acting as `agency`. The default timeout only
  // guards against a hang: a reply that is merely slow (an fsync stalled by
  // parallel tests, a sanitizer build) must not make the client resend, as
  // a resent keyless append or audit read would change what the test counts.
  // Tests of retries and of a dead broker pass short timeouts.
  ClientOptions ClientOptionsFor(const std::string& agency, int timeout_ms = 10000, int attempts = 5) const;
  std::unique_ptr<BrokerClient> ClientFor(const std::string& agency, int timeout_ms = 10000, int attempts = 5) const;

 private:
  TempDir dir_;
  std::string config_path_, data_dir_, key_dir_, log_path_, ready_path_;
  CurveKeyPair broker_keys_;
  std::map<std::string, CurveKeyPair> agency_keys_;
  std::string endpoint_;
  int metrics_port_ = 0;
  pid_t pid_ = -1;
  uint64_t broker_file_size_limit_ = 0;

  enum class Launch { kReady, kPortTaken, kFailed };
  // Runs the broker on `endpoint` and waits until it is ready.
  Launch LaunchBroker(const std::string& endpoint);
};

// A complete, valid synthetic referral (made-up person) from `agency` with
// the given reference.
v1::Referral SampleReferral(const std::string& agency, const std::string& reference);

// Path of the built refx-broker binary.
std::string BrokerBinary();

// The names of the regular files under `dir` (at any depth) whose bytes
// contain `needle`, space-separated ("" when none): the raw-file searches of
// the erasure tests.
std::string FilesHolding(const std::string& dir, const std::string& needle);

// The value stored under `name` in the data_keys family of the log at
// `data_dir` (a wrapped
// data or history key), read through a read-only open beside the broker;
// "" when there is none.
std::string StoredWrappedKey(const std::string& data_dir, const std::string& name);

// Opens the stopped broker's log read-only and checks that the chain and
// the signed checkpoints (under the stack's signing key) verify over what
// is stored, with at least one checkpoint.
void ExpectLogAndCheckpointsVerify(const TestStack& stack);

}  // namespace refx::testing
