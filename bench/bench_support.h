// Shared plumbing for the refx benchmarks: temporary directories, a
// synthetic ~1 KB referral, a partnership configuration with bench agencies,
// the real refx-broker run as a child process, metrics scraping, statistics
// and progress output.
//
// None of this is library code: it exists so that bench/ingest_bench.cc can
// read as a list of scenarios. Functions that can fail throw BenchError
// (a benchmark has nothing sensible to do after a failed setup but stop and
// say why).
#pragma once

#include <sys/types.h>

#include <CLI/CLI.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/curve_keys.h"
#include "refx/v1/event.pb.h"
#include "refx/v1/referral.pb.h"

namespace refx::bench {

using Clock = std::chrono::steady_clock;

// Every setup or run failure. main() prints what() and exits 1.
class BenchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------
// Files and processes

// A fresh directory <base>/<prefix>XXXXXX (mkdtemp), removed recursively on
// destruction unless `keep` (for looking at logs and data afterwards).
// `base` empty means the system temporary directory. It must be on the disk
// being measured: the benchmarks write their data directories here.
class TempDir {
 public:
  explicit TempDir(const std::string& base, const std::string& prefix = "refx-bench-", bool keep = false);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool keep_ = false;
};

// Folder of the running executable (/proc/self/exe), e.g. ".../build/bin".
std::string ExecutableDir();

// A loopback TCP port free at the time of the call (the kernel's choice), so
// that a benchmark's stack does not collide with another one on the machine.
// Throws BenchError when none can be had.
int FreeLoopbackPort();

// What the report says about the machine: "2 x AMD EPYC", memory, and the
// block device, file system and rotational flag under `dir`.
struct MachineInfo {
  unsigned cpus = 0;
  std::string cpu_model;
  double memory_gib = 0;
  std::string kernel;
  std::string device, fs_type, rotational;  // for `dir`
};
MachineInfo DescribeMachine(const std::string& dir);

// Writes `text` to `path`, replacing it. Throws on failure.
void WriteFile(const std::string& path, const std::string& text);

// A child process started with fork/exec, its stdout and stderr appended to
// `log_path`. The destructor sends SIGTERM and reaps it if still running.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // True while the child has not exited (reaps it if it has).
  bool Running();
  // SIGTERM, then waits up to `grace`; SIGKILL after that. Returns the
  // wait status (as from waitpid), also when the child had already exited.
  int Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(10000));
  // The last `max_bytes` of the child's log, for error messages.
  std::string LogTail(size_t max_bytes = 2000) const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_path_;
};

// ---------------------------------------------------------------------------
// The synthetic workload

// One bench agency: its id in the configuration and its CURVE key pair.
struct BenchAgency {
  std::string id;  // "bench-agency-NN"
  CurveKeyPair keys;
};

// Generates `n` agencies with fresh key pairs.
std::vector<BenchAgency> MakeAgencies(size_t n);

// The configuration text (protobuf text format): every agency a SUBMITTER
// of any category with its public key inline, max_batch as given, and
// master_key_file (sealing on) when not empty.
std::string ConfigText(const std::vector<BenchAgency>& agencies, uint32_t max_batch,
                       const std::string& master_key_file = "");

// Builds a realistic domestic-abuse referral (made-up people, 24 DASH
// answers with a matching score, a perpetrator, crime reference) from
// `agency_id` that passes the broker's validation. Its narrative is padded
// so that ByteSizeLong() == target_bytes; it stays so when the reference is
// replaced by another of kReferenceLength characters (see Reference()) and
// the agency id by one of the same length.
v1::Referral MakeReferral(const std::string& agency_id, size_t target_bytes = 1000);

// Every reference the benchmark generates has this length, so that changing
// it never changes the serialised size.
constexpr size_t kReferenceLength = 24;

// "B<tag>-<n>" zero-padded to kReferenceLength characters: unique per
// (tag, n). `tag` should name the run and the client, e.g. "w8r2c05".
std::string Reference(const std::string& tag, uint64_t n);

// A ReferralSubmitted event as the broker builds it (seq, time, actor,
// referral id, referral), for the raw EventLog ceiling.
v1::Event MakeSubmittedEvent(uint64_t seq, const std::string& actor, const v1::Referral& referral);

// ---------------------------------------------------------------------------
// The broker under test

// The broker's /metrics figures that the report uses (cumulative).
struct BrokerMetricsSnapshot {
  double batch_sum = 0, batch_count = 0;  // refx_batch_size
  double fsync_sum = 0, fsync_count = 0;  // refx_fsync_seconds
  double fsync_le_1ms = 0, fsync_le_2ms = 0;  // its buckets le=0.001 and le=0.002
  double submissions = 0;                 // refx_submissions_total
  double errors = 0;                      // refx_errors_total
  double duplicates = 0;                  // refx_duplicates_total
};

// Difference b - a of two snapshots: the figures of the interval between.
BrokerMetricsSnapshot Delta(const BrokerMetricsSnapshot& a, const BrokerMetricsSnapshot& b);

// A real refx-broker over a fresh data directory, run as a child process
// with its own configuration and keys, all inside `dir`.
class BrokerProcess {
 public:
  // Writes keys and configuration under `dir`, starts `broker_binary` with
  // --endpoint tcp://127.0.0.1:* --metrics 127.0.0.1:0 --ready-file and
  // waits (up to 20 s) for the ready file. Throws if it exits or never
  // becomes ready. With `seal`, the broker gets a fresh master key and
  // seals personal fields (encryption at rest, as deployed).
  BrokerProcess(const std::string& broker_binary, const std::string& dir, const std::vector<BenchAgency>& agencies,
                uint32_t max_batch, bool seal = false);
  ~BrokerProcess();  // SIGTERM + waitpid

  const std::string& endpoint() const { return endpoint_; }
  const std::string& server_public_key() const { return keys_.public_key; }
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return process_->pid(); }

  // GET /metrics and parse it. Throws if the broker does not answer.
  BrokerMetricsSnapshot ScrapeMetrics() const;
  // Throws with the broker's log tail if it is no longer running.
  void CheckAlive();
  // SIGTERM and waitpid; throws if it did not exit cleanly (status 0).
  void Stop();

 private:
  CurveKeyPair keys_;
  std::string endpoint_;
  int metrics_port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// ---------------------------------------------------------------------------
// CPU accounting (from /proc), to say where the machine's time went.

// One thread's name ("refx-broker" for the broker's main thread and any
// std::thread it started; "ZMQbg/IO/0" for a ZeroMQ I/O thread) and the CPU
// seconds (user + system) it has used so far.
struct ThreadCpu {
  std::string name;
  double seconds = 0;
};

// Every live thread of process `pid`, by thread id. Threads that exit
// disappear, so compare two samples only per thread id.
std::map<pid_t, ThreadCpu> ThreadCpuSeconds(pid_t pid);

// CPU seconds used so far by process `pid` (all threads, including exited ones).
double ProcessCpuSeconds(pid_t pid);

// The first three fields of /proc/loadavg, e.g. "0.12 0.30 0.25": other work
// on the machine shows here and skews every figure.
std::string LoadAverage();

// Busy CPU seconds of the whole machine so far (all CPUs; /proc/stat total
// minus idle and iowait).
double MachineBusySeconds();

// ---------------------------------------------------------------------------
// Threads

// Start line for client threads: each calls ArriveAndWait once connected
// and warmed up; the coordinator calls WaitForAll, notes the start time and
// calls Open to release them all at once.
class StartGate {
 public:
  explicit StartGate(size_t parties) : waiting_(parties) {}
  void ArriveAndWait() {
    std::unique_lock<std::mutex> lock(mu_);
    if (--waiting_ == 0) all_arrived_.notify_all();
    open_cv_.wait(lock, [this] { return open_; });
  }
  void WaitForAll() {
    std::unique_lock<std::mutex> lock(mu_);
    all_arrived_.wait(lock, [this] { return waiting_ == 0; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    open_cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable all_arrived_, open_cv_;
  size_t waiting_;
  bool open_ = false;
};

// ---------------------------------------------------------------------------
// Statistics and output

double Median(std::vector<double> values);
// Nearest-rank percentile (p in [0, 100]) of `sorted` (ascending).
double PercentileSorted(const std::vector<double>& sorted, double p);

// "123,456" — thousands separators for rates and counts.
std::string Thousands(double value);

// Progress messages on stderr, shown only when stderr is a terminal, so a
// redirected run produces just the report on stdout.
class Progress {
 public:
  static bool Enabled();
  // A transient status line (overwritten by the next one).
  static void Status(const std::string& line);
  // Ends the transient line.
  static void Clear();
};

// ---------------------------------------------------------------------------
// Flags

// The settings refx-bench-ingest and refx-bench-redis share: closed-loop
// runs, the open-loop latency run, the payload, and where temporary data
// goes. Each program's Settings derives from it.
struct LoadSettings {
  bool quick = false;
  int repeats = 3;
  int duration_ms = 3000;  // measured interval of each closed-loop run
  int warmup_ms = 500;     // load before each measured interval
  size_t window = 64;      // requests in flight per client
  double rate = 1000;      // open-loop offered load, per second
  int latency_ms = 5000;   // open-loop duration
  size_t referral_bytes = 1000;
  std::string tmp;  // base of temporary directories ("" = system temp)
  bool keep = false;  // keep the temporary directory
};

// Adds --quick, --repeats, --duration-ms, --warmup-ms, --window, --rate,
// --latency-ms, --referral-bytes, --tmp and --keep-temp to `app`, storing
// into *s (which must outlive parsing). `request` names what --window and
// --rate count ("referrals", "XADDs").
void AddLoadFlags(CLI::App& app, LoadSettings* s, const std::string& request);

// After parsing: gives the flags not given their --quick values (one
// repeat, short runs) when --quick is set, then checks that counts,
// durations and the rate are positive. False, with "PROGRAM: ..." printed,
// if not (main then exits 2).
bool FinishLoadFlags(const CLI::App& app, const char* program, LoadSettings* s);

// Runs a benchmark's body: its exit code, or 1 with "PROGRAM: what" printed
// (after clearing the progress line) when it throws.
int RunReportingFailure(const char* program, const std::function<int()>& body);

}  // namespace refx::bench
