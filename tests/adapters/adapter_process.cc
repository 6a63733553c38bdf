#include "adapter_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "adapters/tokens/token_store.h"
#include "child_process.h"
#include "core/curve_keys.h"

namespace refx::testing {

std::string AdapterBinary() { return REFX_ADAPTER_BIN; }

AdapterProcess::AdapterProcess(const TestStack& stack, const std::string& agency, std::string http_extra,
                               std::string extra)
    : agency_(agency), http_extra_(std::move(http_extra)), extra_(std::move(extra)), endpoint_(stack.endpoint()) {
  const std::string keys = dir_.path() + "/keys";
  ::mkdir(keys.c_str(), 0700);
  if (!SaveCurveKeyPair(keys, agency, stack.agency_keys(agency)).ok()) std::abort();
  std::ofstream(keys + "/broker.pub") << stack.broker_keys().public_key << "\n";
  config_path_ = dir_.path() + "/adapter.textproto";
  ready_path_ = dir_.path() + "/ready";
  log_path_ = dir_.path() + "/adapter.log";
  token_ = IssueToken("test-client");
  WriteConfig();
}

AdapterProcess::~AdapterProcess() {
  if (pid_ > 0) Stop(SIGKILL);
}

std::string AdapterProcess::IssueToken(const std::string& name) {
  std::string token;
  Status s = adapters::TokenFile::Issue(dir_.path() + "/keys/tokens", name, &token);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return token;
}

void AdapterProcess::WriteConfig() {
  std::ofstream cfg(config_path_);
  cfg << "agency_id: \"" << agency_ << "\"\n"
      << "broker { endpoint: \"" << endpoint_ << "\" broker_public_key_file: \"keys/broker.pub\" key_dir: \"keys\" }\n"
      << "spool_dir: \"spool\"\n"
      << "forward { backoff_initial_ms: 100 backoff_max_ms: 1000 " << forward_extra_ << " }\n"
      << "http { listen: \"127.0.0.1:" << http_port_ << "\" token_file: \"keys/tokens\" " << http_extra_ << " }\n"
      << "metrics_address: \"127.0.0.1:" << metrics_port_ << "\"\n"
      << extra_;
}

bool AdapterProcess::Start(uint64_t file_size_limit) {
  ::unlink(ready_path_.c_str());
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  ChildOptions options;
  options.stdout_fd = log_fd;
  options.stderr_fd = log_fd;
  options.file_size_limit = file_size_limit;
  pid_ = StartChild({AdapterBinary(), "--config", config_path_, "--ready-file", ready_path_}, options);
  ::close(log_fd);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream ready(ready_path_);
    std::string http, metrics;
    if (ready >> http >> metrics && http.rfind("http=", 0) == 0) {
      http_port_ = std::stoi(http.substr(5));
      metrics_port_ = std::stoi(metrics.substr(8));
      WriteConfig();  // restarts keep the ports
      return true;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      std::ifstream log(log_path_);
      std::stringstream ss;
      ss << log.rdbuf();
      ADD_FAILURE() << "refx-adapter exited at start: " << ss.str();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "refx-adapter did not become ready in 30 s";
  return false;
}

int AdapterProcess::Stop(int signal) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::unique_ptr<httplib::Client> AdapterProcess::Client(const std::string& token) const {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", http_port_);
  c->set_keep_alive(true);
  c->set_read_timeout(60, 0);
  if (!token.empty()) c->set_bearer_token_auth(token.c_str());
  return c;
}

double AdapterProcess::Metric(const std::string& name) const {
  httplib::Client c("127.0.0.1", metrics_port_);
  auto res = c.Get("/metrics");
  if (!res || res->status != 200) return -1;
  std::istringstream in(res->body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

bool AdapterProcess::WaitForEmptySpool(int seconds) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Metric("refx_adapter_spool_depth") == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace refx::testing
