#include "test_stack.h"

#include "child_process.h"
#include "client/curve_keygen.h"
#include "core/subject_key.h"
#include "eventlog/checkpoint_signing.h"
#include "eventlog/checkpoints.h"
#include "eventlog/event_log.h"
#include "eventlog/verifier.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace refx::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "refx-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string BrokerBinary() { return REFX_BROKER_BIN; }

std::vector<AgencySpec> TestStack::DefaultAgencies() {
  return {{"agency-a", {"SUBMITTER"}, {}},
          {"agency-b", {"SUBMITTER"}, {}},
          {"schools-only", {"SUBMITTER"}, {"CHILD_AT_RISK"}},
          {"lead-only", {"LEAD"}, {}}};
}

TestStack::TestStack(std::vector<AgencySpec> agencies, std::string broker_settings, std::string extra_config) {
  config_path_ = dir_.path() + "/config.textproto";
  data_dir_ = dir_.path() + "/data";
  key_dir_ = dir_.path() + "/keys";
  log_path_ = dir_.path() + "/broker.log";
  ready_path_ = dir_.path() + "/ready";
  if (!GenerateCurveKeyPair(&broker_keys_).ok() || !SaveCurveKeyPair(key_dir_, "broker", broker_keys_).ok()) {
    std::abort();
  }
  // The broker signs checkpoints with keys/broker.sign.key, as deployed.
  if (!eventlog::GenerateSigningKeyPair(key_dir_, "broker").ok()) std::abort();
  // Personal fields are sealed under keys/broker.master.key, as deployed.
  if (!GenerateSecretKeyFile(master_key_path(), "master key").ok()) std::abort();
  std::ostringstream cfg;
  cfg << "name: \"Test partnership\"\nbroker { max_batch: 1024 heartbeat_ivl_ms: 500 "
      << "master_key_file: \"keys/broker.master.key\" " << broker_settings << " }\n";
  for (const auto& a : agencies) {
    CurveKeyPair pair;
    if (!GenerateCurveKeyPair(&pair).ok()) std::abort();
    agency_keys_[a.id] = pair;
    cfg << "agencies { id: \"" << a.id << "\" name: \"" << a.id << "\" public_key: \"" << pair.public_key << "\"";
    for (const auto& r : a.roles) cfg << " roles: " << r;
    for (const auto& c : a.may_submit) cfg << " may_submit: " << c;
    cfg << " }\n";
  }
  cfg << extra_config << "\n";
  std::ofstream(config_path_) << cfg.str();
}

TestStack::~TestStack() {
  if (pid_ > 0) StopBroker(SIGKILL);
}

bool TestStack::StartBroker() {
  if (!endpoint_.empty()) return LaunchBroker(endpoint_) == Launch::kReady;
  // Ports 20000-32767: below the ephemeral range (32768-60999 by default),
  // chosen at random so that parallel tests seldom try the same one.
  std::random_device random;
  std::uniform_int_distribution<int> port(20000, 32767);
  for (int attempt = 0; attempt < 20; ++attempt) {
    switch (LaunchBroker("tcp://127.0.0.1:" + std::to_string(port(random)))) {
      case Launch::kReady: return true;
      case Launch::kPortTaken: continue;
      case Launch::kFailed: return false;
    }
  }
  ADD_FAILURE() << "refx-broker found no free port in 20 tries";
  return false;
}

TestStack::Launch TestStack::LaunchBroker(const std::string& endpoint) {
  fs::remove(ready_path_);
  const auto log_start = fs::exists(log_path_) ? fs::file_size(log_path_) : 0;
  std::vector<std::string> args = {BrokerBinary(), "--config", config_path_, "--data", data_dir_, "--key-dir",
                                   key_dir_,       "--endpoint", endpoint,   "--metrics", "127.0.0.1:0",
                                   "--ready-file", ready_path_, "--log-level", "info"};
  const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  ChildOptions child;
  child.stdout_fd = child.stderr_fd = log_fd;
  child.file_size_limit = broker_file_size_limit_;
  pid_ = StartChild(args, child);
  if (log_fd >= 0) ::close(log_fd);
  if (pid_ < 0) {
    ADD_FAILURE() << "cannot fork refx-broker: " << std::strerror(errno);
    return Launch::kFailed;
  }
  // A hang guard, not a timing check: a sanitizer build under parallel
  // tests can take seconds to open the log.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream ready(ready_path_);
    if (ready >> endpoint_ >> metrics_port_) return Launch::kReady;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      std::ifstream log(log_path_);
      log.seekg(static_cast<std::streamoff>(log_start));
      std::stringstream this_start;
      this_start << log.rdbuf();
      if (endpoint_.empty() && this_start.str().find("cannot bind the broker frontend") != std::string::npos) {
        return Launch::kPortTaken;
      }
      ADD_FAILURE() << "refx-broker exited at start; log:\n" << this_start.str();
      return Launch::kFailed;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "refx-broker did not become ready in 30 s";
  return Launch::kFailed;
}

int TestStack::WaitForBrokerExit(std::chrono::seconds limit) {
  if (pid_ <= 0) return -1;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

int TestStack::StopBroker(int signal) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

ClientOptions TestStack::ClientOptionsFor(const std::string& agency, int timeout_ms, int attempts) const {
  ClientOptions o;
  o.endpoint = endpoint_;
  o.server_public_key = broker_keys_.public_key;
  o.client_keys = agency_keys_.at(agency);
  o.request_timeout_ms = timeout_ms;
  o.max_attempts = attempts;
  o.initial_backoff_ms = 50;
  o.max_backoff_ms = 500;
  return o;
}

std::unique_ptr<BrokerClient> TestStack::ClientFor(const std::string& agency, int timeout_ms, int attempts) const {
  return std::make_unique<BrokerClient>(ClientOptionsFor(agency, timeout_ms, attempts));
}

v1::Referral SampleReferral(const std::string& agency, const std::string& reference) {
  v1::Referral r;
  r.set_referrer_reference(reference);
  r.set_category(v1::DOMESTIC_ABUSE);
  r.set_urgency(v1::URGENT);
  r.set_lawful_basis(v1::PUBLIC_TASK);
  r.mutable_referrer()->set_agency_id(agency);
  r.mutable_referrer()->set_name("Sam Tester");
  r.mutable_consent()->set_position(v1::CONSENT_GIVEN);
  auto* p = r.mutable_person();
  p->set_given_name("Alex");
  p->set_family_name("Example");
  p->set_date_of_birth("1990-04-01");
  p->set_address("1 Example Road, Testtown");
  auto* a = r.mutable_assessment();
  a->set_tool(v1::DASH);
  for (int i = 0; i < 24; ++i) a->add_dash_answers(i < 15);
  a->set_score(15);
  a->set_risk_level(v1::HIGH);
  r.set_narrative("Synthetic test narrative.");
  return r;
}

std::string FilesHolding(const std::string& dir, const std::string& needle) {
  std::string found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().find(needle) != std::string::npos) found += entry.path().filename().string() + " ";
  }
  return found;
}

std::string StoredWrappedKey(const std::string& data_dir, const std::string& name) {
  eventlog::OpenOptions open;
  open.path = data_dir;
  open.read_only = true;
  open.create_if_missing = false;
  std::unique_ptr<eventlog::EventLog> log;
  Status s = eventlog::EventLog::Open(open, &log);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::string wrapped;
  if (!log) return wrapped;
  s = log->ScanFamily("data_keys", name, "", false, [&](std::string_view key, std::string_view value) {
    if (key == name) wrapped.assign(value);
    return false;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return wrapped;
}

void ExpectLogAndCheckpointsVerify(const TestStack& stack) {
  eventlog::OpenOptions open;
  open.path = stack.data_dir();
  open.read_only = true;
  open.create_if_missing = false;
  open.skip_head_check = true;
  std::unique_ptr<eventlog::EventLog> log;
  ASSERT_TRUE(eventlog::EventLog::Open(open, &log).ok());
  eventlog::VerifyOptions verify;
  std::string public_key;
  ASSERT_TRUE(eventlog::LoadSigningPublicKey(stack.signing_public_key_path(), &public_key).ok());
  verify.signing_public_keys.push_back(public_key);
  const eventlog::LogVerifyReport report = eventlog::VerifyLog(*log, verify);
  EXPECT_TRUE(report.ok()) << report.detail;
  EXPECT_TRUE(report.checkpoints_authenticated);
  EXPECT_GE(report.last_checkpoint_seq, 1u);
}

}  // namespace refx::testing
