#include "bench/bench_support.h"

#include "testsupport/free_port.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <google/protobuf/util/time_util.h>
#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "client/curve_keygen.h"
#include "core/event_util.h"
#include "core/subject_key.h"

namespace refx::bench {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// Files and processes

TempDir::TempDir(const std::string& base, const std::string& prefix, bool keep) : keep_(keep) {
  const fs::path dir = base.empty() ? fs::temp_directory_path() : fs::path(base);
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::string tmpl = (dir / (prefix + "XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) throw BenchError("mkdtemp failed for " + tmpl);
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (keep_) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string ExecutableDir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw BenchError("cannot read /proc/self/exe: " + ec.message());
  return exe.parent_path().string();
}

MachineInfo DescribeMachine(const std::string& dir) {
  MachineInfo m;
  m.cpus = std::thread::hardware_concurrency();
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      m.cpu_model = line.substr(line.find(':') + 2);
      break;
    }
  }
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  double kib = 0;
  if (meminfo >> key >> kib) m.memory_gib = kib / (1024.0 * 1024.0);
  std::ifstream version("/proc/sys/kernel/osrelease");
  std::getline(version, m.kernel);
  // The mount with the longest mount point that is a prefix of `dir`.
  std::error_code ec;
  const std::string target = fs::weakly_canonical(dir, ec).string();
  std::ifstream mounts("/proc/mounts");
  size_t best = 0;
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream in(line);
    std::string device, point, type;
    in >> device >> point >> type;
    const bool prefix = target.compare(0, point.size(), point) == 0 &&
                        (point == "/" || target.size() == point.size() || target[point.size()] == '/');
    if (prefix && point.size() >= best) {
      best = point.size();
      m.device = device;
      m.fs_type = type;
    }
  }
  if (m.device.rfind("/dev/", 0) == 0) {
    std::string name = m.device.substr(5);
    // A partition (vda1, nvme0n1p2) reports through its parent disk.
    std::string parent = fs::path(fs::canonical("/sys/class/block/" + name, ec)).parent_path().filename().string();
    for (const std::string& candidate : {name, parent}) {
      std::ifstream rot("/sys/block/" + candidate + "/queue/rotational");
      if (std::getline(rot, m.rotational)) break;
    }
  }
  return m;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw BenchError("cannot write " + path);
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log_path) : log_path_(log_path) {
  if (argv.empty()) throw BenchError("ChildProcess: empty argv");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw BenchError("cannot open " + log_path);
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(log_fd);
    throw BenchError("fork failed");
  }
  if (pid_ == 0) {
    // Child: only async-signal-safe calls until exec.
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::execv(args[0], args.data());
    const char msg[] = "exec failed\n";
    (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(log_fd);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) Stop();
}

bool ChildProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = status;
    pid_ = -1;
    return false;
  }
  return true;
}

int ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return status_;
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + grace;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = status;
      pid_ = -1;
      return status_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  status_ = status;
  pid_ = -1;
  return status_;
}

std::string ChildProcess::LogTail(size_t max_bytes) const {
  std::ifstream in(log_path_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

// ---------------------------------------------------------------------------
// The synthetic workload

std::vector<BenchAgency> MakeAgencies(size_t n) {
  std::vector<BenchAgency> out(n);
  for (size_t i = 0; i < n; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "bench-agency-%02zu", i);
    out[i].id = id;
    Status s = GenerateCurveKeyPair(&out[i].keys);
    if (!s.ok()) throw BenchError("GenerateCurveKeyPair: " + s.ToString());
  }
  return out;
}

std::string ConfigText(const std::vector<BenchAgency>& agencies, uint32_t max_batch,
                       const std::string& master_key_file) {
  std::ostringstream c;
  c << "# Generated by refx-bench-ingest. Throw-away keys and agencies.\n"
    << "name: \"refx ingest benchmark\"\n"
    << "broker {\n"
    << "  frontend_endpoint: \"tcp://127.0.0.1:*\"\n"
    << "  max_frame_bytes: 262144\n"
    << "  metrics_address: \"127.0.0.1:0\"\n"
    << "  max_batch: " << max_batch << "\n"
    << "  heartbeat_ivl_ms: 2000\n";
  if (!master_key_file.empty()) c << "  master_key_file: \"" << master_key_file << "\"\n";
  c << "}\n";
  for (const BenchAgency& a : agencies) {
    c << "agencies {\n"
      << "  id: \"" << a.id << "\"\n"
      << "  name: \"Benchmark agency " << a.id << "\"\n"
      << "  roles: [SUBMITTER]\n"
      << "  public_key: \"" << a.keys.public_key << "\"\n"
      << "}\n";
  }
  return c.str();
}

v1::Referral MakeReferral(const std::string& agency_id, size_t target_bytes) {
  v1::Referral r;
  r.set_referrer_reference(Reference("template", 0));
  r.set_category(v1::DOMESTIC_ABUSE);
  r.set_urgency(v1::URGENT);
  r.add_criteria_met("VHR14");
  v1::Referrer* ref = r.mutable_referrer();
  ref->set_name("DC Alex Marlow");
  ref->set_role("Detective Constable, Safeguarding Team");
  ref->set_agency_id(agency_id);
  ref->set_email("alex.marlow@bench-police.example");
  ref->set_phone("01632 960999");
  r.mutable_consent()->set_position(v1::CONSENT_GIVEN);
  r.mutable_consent()->set_subject_aware(true);
  r.set_lawful_basis(v1::LAW_ENFORCEMENT);
  v1::Person* p = r.mutable_person();
  p->set_given_name("Jordan");
  p->set_family_name("Examplewood");
  p->set_date_of_birth("1990-03-14");
  p->set_gender(v1::FEMALE);
  p->set_address("27 Sample Lane, Exampleton");
  p->set_postcode("ZZ1 1ZZ");
  p->set_phone("07700 900456");
  p->set_safe_to_call(true);
  p->set_safe_call_times("Weekdays 10:00-14:00 only");
  p->set_language("English");
  p->set_children_in_household(true);
  v1::Assessment* a = r.mutable_assessment();
  a->set_tool(v1::DASH);
  // 24 answers in checklist order; the score must equal the "yes" count.
  const bool answers[24] = {true, true, true, false, true, true, false, true, false, true, true, false,
                            true, true, false, false, true, false, false, true, true, false, true, true};
  uint32_t yes = 0;
  for (bool b : answers) {
    a->add_dash_answers(b);
    yes += b ? 1 : 0;
  }
  a->set_score(yes);
  a->set_risk_level(v1::HIGH);
  a->set_police_incidents_12m(2);
  a->set_victim_fears("That he will find out where she is staying and hurt her.");
  v1::Perpetrator* perp = r.mutable_perpetrator();
  perp->set_name("Casey Notreal");
  perp->set_date_of_birth("1986-07-30");
  perp->set_relationship("Ex-partner");
  perp->set_notes("Previous call-outs to the address. On police bail with no-contact conditions.");
  r.add_crime_references("46/900999/25");
  r.set_incident_date("2025-10-03");

  // Pad the narrative to the target size. The narrative's length prefix
  // grows by a byte at 128 characters, so settle in two steps.
  static const std::string kStory =
      "Police attended after a 999 call from a neighbour. The victim had visible injuries and disclosed "
      "repeated threats since the separation, including messages sent from new accounts. ";
  auto fill = [&](size_t chars) {
    std::string text;
    while (text.size() < chars) text += kStory;
    text.resize(chars);
    r.set_narrative(text);
  };
  r.clear_narrative();
  const size_t base = r.ByteSizeLong();
  if (base + 3 < target_bytes) {
    fill(target_bytes - base - 3);
    const size_t now = r.ByteSizeLong();
    if (now != target_bytes) fill(r.narrative().size() + target_bytes - now);
  }
  return r;
}

std::string Reference(const std::string& tag, uint64_t n) {
  std::string digits = std::to_string(n);
  std::string ref = "B" + tag + "-";
  if (ref.size() + digits.size() > kReferenceLength) throw BenchError("reference tag too long: " + tag);
  ref.append(kReferenceLength - ref.size() - digits.size(), '0');
  ref += digits;
  return ref;
}

v1::Event MakeSubmittedEvent(uint64_t seq, const std::string& actor, const v1::Referral& referral) {
  v1::Event e;
  e.set_seq(seq);
  *e.mutable_time() = google::protobuf::util::TimeUtil::GetCurrentTime();
  e.set_actor(actor);
  auto* submitted = e.mutable_referral_submitted();
  submitted->set_referral_id(ReferralIdForSeq(seq));
  *submitted->mutable_referral() = referral;
  return e;
}

// ---------------------------------------------------------------------------
// The broker under test

BrokerMetricsSnapshot Delta(const BrokerMetricsSnapshot& a, const BrokerMetricsSnapshot& b) {
  BrokerMetricsSnapshot d;
  d.batch_sum = b.batch_sum - a.batch_sum;
  d.batch_count = b.batch_count - a.batch_count;
  d.fsync_sum = b.fsync_sum - a.fsync_sum;
  d.fsync_count = b.fsync_count - a.fsync_count;
  d.fsync_le_1ms = b.fsync_le_1ms - a.fsync_le_1ms;
  d.fsync_le_2ms = b.fsync_le_2ms - a.fsync_le_2ms;
  d.submissions = b.submissions - a.submissions;
  d.errors = b.errors - a.errors;
  d.duplicates = b.duplicates - a.duplicates;
  return d;
}

BrokerProcess::BrokerProcess(const std::string& broker_binary, const std::string& dir,
                             const std::vector<BenchAgency>& agencies, uint32_t max_batch, bool seal) {
  if (!fs::exists(broker_binary)) throw BenchError("broker binary not found: " + broker_binary);
  Status s = GenerateCurveKeyPair(&keys_);
  if (!s.ok()) throw BenchError("GenerateCurveKeyPair: " + s.ToString());
  const std::string key_dir = dir + "/keys";
  s = SaveCurveKeyPair(key_dir, "broker", keys_);
  if (!s.ok()) throw BenchError("SaveCurveKeyPair: " + s.ToString());
  const std::string config = dir + "/config.textproto";
  std::string master_key;
  if (seal) {
    master_key = key_dir + "/broker.master.key";
    s = GenerateSecretKeyFile(master_key, "master key");
    if (!s.ok()) throw BenchError("GenerateSecretKeyFile: " + s.ToString());
  }
  WriteFile(config, ConfigText(agencies, max_batch, master_key));
  const std::string ready = dir + "/ready";
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{broker_binary, "--config", config, "--data", dir + "/data", "--key-dir", key_dir,
                               "--endpoint", "tcp://127.0.0.1:*", "--metrics", "127.0.0.1:0", "--ready-file", ready,
                               "--log-level", "warn"},
      dir + "/broker.log");
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (true) {
    std::ifstream in(ready);
    if (in >> endpoint_ >> metrics_port_) break;
    if (!process_->Running()) throw BenchError("refx-broker exited during start:\n" + process_->LogTail());
    if (Clock::now() > deadline) throw BenchError("refx-broker not ready after 20 s:\n" + process_->LogTail());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (metrics_port_ <= 0) throw BenchError("refx-broker reported no metrics port");
}

BrokerProcess::~BrokerProcess() {
  if (process_) process_->Stop();
}

void BrokerProcess::CheckAlive() {
  if (!process_->Running()) throw BenchError("refx-broker died:\n" + process_->LogTail());
}

void BrokerProcess::Stop() {
  const int status = process_->Stop();
  if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    throw BenchError("refx-broker did not exit cleanly (wait status " + std::to_string(status) + "):\n" +
                     process_->LogTail());
  }
}

BrokerMetricsSnapshot BrokerProcess::ScrapeMetrics() const {
  httplib::Client client("127.0.0.1", metrics_port_);
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) {
    throw BenchError("GET /metrics on port " + std::to_string(metrics_port_) + " failed" +
                     (res ? " with HTTP " + std::to_string(res->status) : std::string()));
  }
  BrokerMetricsSnapshot m;
  std::istringstream lines(res->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    const std::string name = line.substr(0, space);
    const double value = std::strtod(line.c_str() + space + 1, nullptr);
    if (name == "refx_batch_size_sum") m.batch_sum = value;
    else if (name == "refx_batch_size_count") m.batch_count = value;
    else if (name == "refx_fsync_seconds_sum") m.fsync_sum = value;
    else if (name == "refx_fsync_seconds_count") m.fsync_count = value;
    else if (name == "refx_fsync_seconds_bucket{le=\"0.001\"}") m.fsync_le_1ms = value;
    else if (name == "refx_fsync_seconds_bucket{le=\"0.002\"}") m.fsync_le_2ms = value;
    else if (name == "refx_submissions_total") m.submissions = value;
    else if (name == "refx_errors_total") m.errors = value;
    else if (name == "refx_duplicates_total") m.duplicates = value;
  }
  return m;
}

// ---------------------------------------------------------------------------
// CPU accounting

namespace {

// utime + stime in seconds from a /proc/.../stat line; sets *comm to the
// name between the parentheses. False if the line is malformed.
bool ParseStat(const std::string& line, std::string* comm, double* seconds) {
  const auto open = line.find('(');
  const auto close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  if (comm) *comm = line.substr(open + 1, close - open - 1);
  // After ")": state(3) ppid(4) ... utime(14) stime(15), 1-based field numbers.
  std::istringstream in(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  *seconds = static_cast<double>(utime + stime) / ticks;
  return true;
}

std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

std::map<pid_t, ThreadCpu> ThreadCpuSeconds(pid_t pid) {
  std::map<pid_t, ThreadCpu> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    ThreadCpu t;
    if (ParseStat(FirstLine(entry.path().string() + "/stat"), &t.name, &t.seconds)) {
      out[static_cast<pid_t>(std::stol(entry.path().filename().string()))] = t;
    }
  }
  return out;
}

double ProcessCpuSeconds(pid_t pid) {
  double seconds = 0;
  ParseStat(FirstLine("/proc/" + std::to_string(pid) + "/stat"), nullptr, &seconds);
  return seconds;
}

std::string LoadAverage() {
  std::istringstream in(FirstLine("/proc/loadavg"));
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

double MachineBusySeconds() {
  std::istringstream in(FirstLine("/proc/stat"));
  std::string cpu;
  in >> cpu;
  unsigned long long v, total = 0, idle = 0;
  for (int i = 0; in >> v; ++i) {
    // user nice system idle iowait irq softirq steal guest guest_nice;
    // guest time is already counted in user, so stop before it.
    if (i >= 8) break;
    total += v;
    if (i == 3 || i == 4) idle += v;
  }
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return static_cast<double>(total - idle) / ticks;
}

// ---------------------------------------------------------------------------
// Statistics and output

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double PercentileSorted(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

std::string Thousands(double value) {
  const long long v = std::llround(value);
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return v < 0 ? "-" + out : out;
}

bool Progress::Enabled() {
  static const bool tty = ::isatty(STDERR_FILENO) == 1;
  return tty;
}

void Progress::Status(const std::string& line) {
  if (!Enabled()) return;
  std::cerr << "\r\033[K" << line << std::flush;
}

void Progress::Clear() {
  if (!Enabled()) return;
  std::cerr << "\r\033[K" << std::flush;
}

void AddLoadFlags(CLI::App& app, LoadSettings* s, const std::string& request) {
  app.add_flag("--quick", s->quick, "Short runs, one repeat: a smoke run, not figures to quote");
  app.add_option("--repeats", s->repeats, "Runs per figure (the median is reported)")->capture_default_str();
  app.add_option("--duration-ms", s->duration_ms, "Measured interval per closed-loop run")->capture_default_str();
  app.add_option("--warmup-ms", s->warmup_ms, "Load before each measured interval")->capture_default_str();
  app.add_option("--window", s->window, "Requests (" + request + ") in flight per client")->capture_default_str();
  app.add_option("--rate", s->rate, "Offered load of the latency run, " + request + "/s")->capture_default_str();
  app.add_option("--latency-ms", s->latency_ms, "Duration of the latency run")->capture_default_str();
  app.add_option("--referral-bytes", s->referral_bytes, "Serialized size of each referral (the payload)")
      ->capture_default_str();
  app.add_option("--tmp", s->tmp, "Base directory for temporary data (on the disk to measure); default: system temp");
  app.add_flag("--keep-temp", s->keep, "Keep the temporary directory (keys, configs, logs, data)");
}

bool FinishLoadFlags(const CLI::App& app, const char* program, LoadSettings* s) {
  if (s->quick) {
    // Explicit flags still win over the quick defaults.
    if (app.count("--repeats") == 0) s->repeats = 1;
    if (app.count("--duration-ms") == 0) s->duration_ms = 300;
    if (app.count("--warmup-ms") == 0) s->warmup_ms = 100;
    if (app.count("--latency-ms") == 0) s->latency_ms = 1000;
  }
  if (s->repeats < 1 || s->duration_ms < 1 || s->warmup_ms < 0 || s->window < 1 || s->rate <= 0 ||
      s->latency_ms < 1) {
    std::fprintf(stderr, "%s: --repeats, --duration-ms, --latency-ms, --window and --rate must be positive\n", program);
    return false;
  }
  return true;
}

int RunReportingFailure(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    Progress::Clear();
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
}

int FreeLoopbackPort() {
  const int port = testsupport::FreeLoopbackPort();
  if (port == 0) throw BenchError("no free loopback port");
  return port;
}

}  // namespace refx::bench
