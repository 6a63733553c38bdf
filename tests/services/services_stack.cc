#include "services_stack.h"
#include "child_process.h"
#include "testsupport/free_port.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/curve_keys.h"
#include "core/event_util.h"
#include "core/subject_key.h"

namespace refx::testing {

namespace fs = std::filesystem;

ServicesStack::ServicesStack(const std::function<void(v1::PartnershipConfig*)>& edit) {
  std::ifstream in(std::string(REFX_SOURCE_DIR) + "/deploy/config/sevenoaks.textproto");
  std::stringstream text;
  text << in.rdbuf();
  v1::PartnershipConfig raw;
  if (!google::protobuf::TextFormat::ParseFromString(text.str(), &raw)) {
    ADD_FAILURE() << "the sample configuration does not parse";
    std::abort();
  }
  if (edit) edit(&raw);
  std::vector<AgencySpec> agencies;
  for (const v1::Agency& a : raw.agencies()) {
    AgencySpec spec;
    spec.id = a.id();
    spec.roles.clear();
    for (int r : a.roles()) spec.roles.push_back(v1::Role_Name(static_cast<v1::Role>(r)));
    for (int c : a.may_submit()) spec.may_submit.push_back(v1::Category_Name(static_cast<v1::Category>(c)));
    agencies.push_back(std::move(spec));
  }
  stack_ = std::make_unique<TestStack>(std::move(agencies));
  // The TestStack wrote name, broker settings and the agencies (with their
  // fresh keys); the rest of the partnership follows them.
  raw.clear_name();
  raw.clear_broker();
  raw.clear_agencies();
  raw.set_subject_key_file("subject.hmac");
  std::string rest;
  google::protobuf::TextFormat::PrintToString(raw, &rest);
  std::ofstream(stack_->config_path(), std::ios::app) << rest;
  const std::string key_file = (fs::path(stack_->config_path()).parent_path() / "subject.hmac").string();
  Status s = GenerateSubjectKeyFile(key_file);
  if (s.ok()) s = LoadSubjectKeyFile(key_file, &subject_secret_);
  if (s.ok()) s = PartnershipConfig::Load(stack_->config_path(), &config_);
  if (!s.ok()) {
    ADD_FAILURE() << "cannot set up the test partnership: " << s.ToString();
    std::abort();
  }
}

std::string ServicesStack::StateDir(const std::string& name) const {
  const fs::path dir = fs::path(stack_->config_path()).parent_path() / "state" / name;
  fs::create_directories(dir);
  return dir.string();
}

std::vector<v1::Event> ServicesStack::ReadLog() {
  if (!reader_) reader_ = stack_->ClientFor("refx-outcomes");
  std::vector<v1::Event> events;
  v1::ReadRequest request;
  request.set_follow(false);
  request.set_purpose("test assertions");
  Status s = reader_->Read(request, [&](const v1::Event& e, const std::string&, const std::string&) {
    events.push_back(e);
    return true;
  });
  if (!s.ok()) ADD_FAILURE() << "cannot read the log: " << s.ToString();
  return events;
}

std::vector<v1::Event> ServicesStack::WaitFor(const std::string& what,
                                              const std::function<bool(const std::vector<v1::Event>&)>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::vector<v1::Event> events;
  while (true) {
    events = ReadLog();
    if (done(events)) return events;
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "timed out waiting for " << what << " (" << events.size() << " events in the log)";
      return events;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string ServicesStack::Submit(const v1::Referral& referral) {
  auto client = stack_->ClientFor(referral.referrer().agency_id());
  v1::Ack ack;
  Status s = client->Submit(referral, &ack);
  if (!s.ok()) ADD_FAILURE() << "submit " << referral.referrer_reference() << ": " << s.ToString();
  return ack.referral_id();
}

void HostedService::Start(std::function<Status(const std::function<bool()>&)> run) {
  stop_ = false;
  finished_ = false;
  thread_ = std::thread([this, run = std::move(run)] {
    result_ = run([this] { return stop_.load(); });
    finished_ = true;
  });
}

Status HostedService::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  return result_;
}

v1::Referral DaReferralWithScore(const std::string& agency, const std::string& reference, int yes,
                                 const std::string& given_name) {
  v1::Referral r = SampleReferral(agency, reference);
  r.mutable_person()->set_given_name(given_name);
  auto* a = r.mutable_assessment();
  a->clear_dash_answers();
  int given = 0;
  for (int q = 1; q <= 24; ++q) {
    const bool answer = q != 8 && given < yes;  // question 8 (stalking) stays "no"
    if (answer) ++given;
    a->add_dash_answers(answer);
  }
  a->set_score(static_cast<uint32_t>(yes));
  a->set_risk_level(yes >= 14 ? v1::HIGH : yes >= 10 ? v1::MEDIUM : v1::STANDARD);
  return r;
}

v1::Referral DaHighRiskReferral(const std::string& agency, const std::string& reference,
                                const std::string& given_name) {
  return DaReferralWithScore(agency, reference, 15, given_name);
}

v1::Referral CategoryReferral(const std::string& agency, const std::string& reference, v1::Category category,
                              const std::string& given_name) {
  v1::Referral r = SampleReferral(agency, reference);
  r.set_category(category);
  r.clear_assessment();
  r.mutable_person()->set_given_name(given_name);
  return r;
}

std::vector<const v1::Event*> EventsOf(const std::vector<v1::Event>& events, v1::Event::BodyCase kind,
                                       const std::string& referral_id, const std::string& destination) {
  std::vector<const v1::Event*> out;
  for (const v1::Event& e : events) {
    if (e.body_case() != kind || ReferralIdOf(e) != referral_id) continue;
    if (!destination.empty() && DestinationOf(e) != destination) continue;
    out.push_back(&e);
  }
  return out;
}

std::vector<std::string> RoutedDestinations(const std::vector<v1::Event>& events, const std::string& referral_id) {
  std::vector<std::string> out;
  for (const v1::Event* e : EventsOf(events, v1::Event::kCaseRouted, referral_id)) {
    out.push_back(e->case_routed().destination());
  }
  return out;
}

bool HasEvent(const std::vector<v1::Event>& events, v1::Event::BodyCase kind, const std::string& referral_id,
              const std::string& destination) {
  return !EventsOf(events, kind, referral_id, destination).empty();
}

ServiceProcess::~ServiceProcess() {
  if (pid_ > 0) Stop(SIGKILL);
}

void ServiceProcess::Start() {
  const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  ChildOptions child;
  child.stdout_fd = child.stderr_fd = log_fd;
  pid_ = StartChild(args_, child);
  if (log_fd >= 0) ::close(log_fd);
}

int ServiceProcess::Stop(int signal) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

bool ServiceProcess::WaitExit(std::chrono::milliseconds timeout, int* status) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid_, status, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string ServiceProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int FreeLoopbackPort() {
  const int port = testsupport::FreeLoopbackPort();
  if (port == 0) ADD_FAILURE() << "no free loopback port";
  return port;
}

std::vector<std::string> ServicesStack::ServiceArgs(const std::string& binary, const std::string& name) {
  const std::string key_dir = (fs::path(stack_->config_path()).parent_path() / (name + "-keys")).string();
  if (!SaveCurveKeyPair(key_dir, name, stack_->agency_keys(name)).ok()) ADD_FAILURE() << "cannot save keys of " << name;
  std::ofstream(key_dir + "/broker.pub") << stack_->broker_keys().public_key << "\n";
  const int port = FreeLoopbackPort();
  metrics_ports_[name] = port;
  return {binary,       "--config",    stack_->config_path(), "--broker", stack_->endpoint(), "--server-key",
          key_dir + "/broker.pub", "--key-dir", key_dir, "--key-name", name, "--state-dir", StateDir(name),
          "--log-level", "debug", "--metrics", "127.0.0.1:" + std::to_string(port)};
}

std::string ServicesStack::LogPath(const std::string& name) const {
  return (fs::path(stack_->config_path()).parent_path() / (name + ".log")).string();
}

bool ServicesStack::WaitServing(const std::string& name) const {
  const int port = metrics_port(name);
  if (port == 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const bool connected = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (fd >= 0) ::close(fd);
    if (connected) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool ServicesStack::WaitHealthy(const std::string& name, std::string* last) const {
  if (!WaitServing(name)) return false;
  httplib::Client http("127.0.0.1", metrics_port(name));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (true) {
    auto res = http.Get("/healthz");
    if (res && res->status == 200) return true;
    if (last != nullptr) *last = res ? std::to_string(res->status) + " " + res->body : "no answer";
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace refx::testing
