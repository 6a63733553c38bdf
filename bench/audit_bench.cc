// refx-bench-audit: what an audit of a large log costs (issue 4), on a real
// synthetic log of N events (testsupport/audit_log_builder.h: submissions,
// routings, acknowledgements, outcomes and access records, with dedupe keys,
// destinations and a signed checkpoint every 1,000 events):
//
//   verify    offline VerifyLog of the whole log with the signing key (chain,
//             seqs, head, every index, every checkpoint), wall and CPU time
//   restart   the real refx-broker started on that log, from exec until a
//             Submit is acknowledged, 5 times (SIGTERM in between)
//   replay    a full non-follow Read of the log through the broker, as a
//             SERVICE identity and as an AUDITOR (with a purpose): with
//             BrokerClient::Read (what the services and the CLI use) and
//             with a raw DEALER that grants the broker's maximum credit
//   timeline  1,000 reads of one random referral's events (Read with
//             referral_id), as a SERVICE (a pure read) and as an AUDITOR
//             (each read first durably recorded: one synced write)
//   ceilings  the disk's flush latency and a plain RocksDB synced Put, the
//             floor under the auditor's timeline latency, measured just
//             before and just after the auditor's timeline reads
//   check     VerifyLog of the broker's copy of the log after all that (not
//             timed; a problem is reported, not fatal)
//
// With --cli PATH the replay part also times `refx audit replay --json` (the
// real CLI at PATH, as the AUDITOR, stdout to /dev/null): wall time, the
// CLI's CPU and the broker's. With --sealed the log is built with a master
// key (personal fields sealed, as a broker with master_key_file writes
// them) and the broker opens them for every read, as in production.
//
// With --services it measures only the services instead (issue 14): the
// broker on the log with deploy/config/sevenoaks.textproto (fresh keys),
// then refx-router, refx-outcomes, refx-delivery and refx-notifier each
// started from exec until caught up with the log - replaying it whole
// (--snapshot-events 0), and from the snapshot a previous run left at stop
// - with the resident memory (VmRSS) when caught up and its peak (VmHWM),
// median of --restarts runs each. No alert addresses: the notifier mails
// nothing.
//
// A benchmark, not a test: nothing asserts on timing. It exits 1 on a setup
// failure, a refused request, or a read that delivers a different number of
// events than the log holds (a benchmark that silently reads nothing is
// worse than none).
//
// With --dir DIR the log is kept: DIR/log (the event log as built),
// DIR/keys (its checkpoint signing key and the broker's CURVE pair) and
// DIR/synthetic_events (N); a rerun with the same --events skips building.
// The broker always runs on a RocksDB checkpoint (hard-link copy) of the log
// in a per-run folder, so the kept log never changes.
//
// Output: Markdown on stdout (the audit and restart rows of docs/BENCHMARKS.md);
// progress on stderr when it is a terminal.
#include <CLI/CLI.hpp>
#include <rocksdb/utilities/checkpoint.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>
#include <zmq.hpp>

#include "bench/bench_support.h"
#include "bench/ceilings.h"
#include "client/broker_client.h"
#include "client/curve_keygen.h"
#include <google/protobuf/text_format.h>

#include <map>

#include "core/civil_date.h"
#include "core/curve_keys.h"
#include "eventlog/sealing.h"
#include "core/subject_key.h"
#include "refx/v1/config.pb.h"
#include "core/event_util.h"
#include "core/frame_codec.h"
#include "core/referral_validation.h"
#include "eventlog/checkpoints.h"
#include "eventlog/event_log.h"
#include "eventlog/verifier.h"
#include "testsupport/audit_log_builder.h"

namespace refx::bench {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// The broker's largest credit (broker/broker_read.cc kMaxCredit): what the
// raw reader grants, so the broker never waits for the client.
constexpr uint32_t kRawCredit = 1'000'000;
constexpr char kPurpose[] = "refx-bench-audit: benchmark of audit reads";

struct Settings {
  bool quick = false;
  uint64_t events = 1'000'000;
  std::string dir;              // keep / reuse the log here ("" = temporary)
  std::string tmp;              // base of the temporary directory
  std::string broker;           // refx-broker binary ("" = next to this one)
  int restarts = 5;
  int timeline_reads = 1000;
  int verify_repeats = 3;
  unsigned verify_threads = 0;  // VerifyOptions::threads (0 = one per core, at most 8)
  uint64_t checkpoint_every = 1000;
  uint32_t seed = 42;
  int ceiling_ms = 2000;
  bool keep = false;
  bool services = false;        // measure the services' restarts instead
  std::string cli;              // refx binary: also time `refx audit replay --json` ("" = not)
  bool sealed = false;          // build the log with a master key (sealed personal fields)
  // The log's shape (audit_log_builder.h): 0 = one event a second; N = the
  // events of N referrals a day (five events each).
  uint64_t referrals_per_day = 0;
  bool close_cases = false;     // every case ends closed (case_closed), as real ones do
  audit_testing::SyntheticShape Shape() const {
    audit_testing::SyntheticShape shape;
    if (referrals_per_day > 0) shape.seconds_per_event = std::max<uint64_t>(1, 86400 / (5 * referrals_per_day));
    shape.close_cases = close_cases;
    return shape;
  }
  // The shape as one line, kept beside the log (a reused log must match).
  std::string ShapeLine() const {
    const audit_testing::SyntheticShape shape = Shape();
    return std::to_string(shape.seconds_per_event) + " s per event, cases " + (close_cases ? "closed" : "left open");
  }
};

// ---------------------------------------------------------------------------
// Small helpers

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

double SelfCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Cores kept busy on average by other processes between two
// MachineBusySeconds samples `wall` seconds apart, given the CPU seconds
// this benchmark and its broker used meanwhile (`own_seconds`).
double OtherCores(double machine_before, double machine_after, double own_seconds, double wall) {
  return wall > 0 ? std::max(0.0, machine_after - machine_before - own_seconds) / wall : 0;
}

void Check(const Status& s, const std::string& what) {
  if (!s.ok()) throw BenchError(what + ": " + s.ToString());
}

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Flushes every column family (as a backup does), so that a read-only open
// does not replay the WAL into memtables; then makes a RocksDB checkpoint
// of the log at `copy` (hard links to the same SST files), for the broker to
// append to while the original stays as built.
void FlushAndCopy(const std::string& path, const std::string& copy) {
  audit_testing::RawDb raw(path);
  if (!raw.status().ok()) throw BenchError("opening " + path + " to flush it: " + raw.status().ToString());
  rocksdb::FlushOptions fo;
  fo.wait = true;
  for (const auto& name : eventlog::ColumnFamilyNames()) {
    rocksdb::Status s = raw.db()->Flush(fo, raw.cf(name));
    if (!s.ok()) throw BenchError("flushing " + name + ": " + s.ToString());
  }
  rocksdb::Checkpoint* raw_checkpoint = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(raw.db(), &raw_checkpoint);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw_checkpoint);
  if (s.ok()) s = checkpoint->CreateCheckpoint(copy);
  if (!s.ok()) throw BenchError("copying the log to " + copy + ": " + s.ToString());
}

// Latency distribution of a set of samples, in milliseconds.
struct Latency {
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
  static Latency Of(std::vector<double> ms) {
    Latency l;
    if (ms.empty()) return l;
    std::sort(ms.begin(), ms.end());
    l.p50 = PercentileSorted(ms, 50);
    l.p90 = PercentileSorted(ms, 90);
    l.p99 = PercentileSorted(ms, 99);
    l.max = ms.back();
    double sum = 0;
    for (double v : ms) sum += v;
    l.mean = sum / static_cast<double>(ms.size());
    return l;
  }
};

// ---------------------------------------------------------------------------
// Results

struct BuildResult {
  bool built = false;  // false: an existing log in --dir was reused
  double seconds = 0;
  double cpu_seconds = 0;
};

struct VerifyRun {
  double wall = 0, cpu = 0;
  double other_cores = 0;  // other processes, cores busy on average
  uint64_t events = 0, index_entries = 0, checkpoints = 0;
  bool hash_accelerated = false, authenticated = false;
  double per_s() const { return wall > 0 ? static_cast<double>(events) / wall : 0; }
  double per_cpu_s() const { return cpu > 0 ? static_cast<double>(events) / cpu : 0; }
};

struct VerifyResult {
  double open_seconds = 0;
  std::vector<VerifyRun> with_indexes, without_indexes;
};

struct RestartRun {
  double to_ready = 0;  // exec -> ready file (log opened, socket bound)
  double to_ack = 0;    // exec -> first Submit acknowledged
  double stop = 0;      // SIGTERM -> reaped (final checkpoint, RocksDB close)
};

struct ReplayResult {
  std::string identity, path;
  uint64_t events = 0;
  double seconds = 0, broker_cpu = 0, bench_cpu = 0;
  double other_cores = 0;
  double per_s() const { return seconds > 0 ? static_cast<double>(events) / seconds : 0; }
  double per_broker_cpu_s() const { return broker_cpu > 0 ? static_cast<double>(events) / broker_cpu : 0; }
};

// The raw synced-write floor at one moment of the run.
struct SyncCeiling {
  std::string when;
  FlushLatency flush;   // 300 B append + fdatasync, back to back
  WriteCeiling rocksdb; // plain RocksDB Put of 300 B, sync=true, batch 1
};

struct TimelineResult {
  std::string identity;
  int reads = 0;
  uint64_t events = 0;          // of the referrals read (4 per read)
  uint64_t access_records = 0;  // record_accessed events delivered with them
  Latency latency;
  double seconds = 0, broker_cpu = 0, bench_cpu = 0;
  double other_cores = 0;
};

// ---------------------------------------------------------------------------
// The broker on the benchmark log

// The three identities of the benchmark partnership.
struct Identities {
  BenchAgency submitter{"bench-submitter", {}};
  BenchAgency service{"bench-service", {}};
  BenchAgency auditor{"bench-auditor", {}};
};

std::string AuditConfigText(const Identities& ids, const std::string& master_key_file = "") {
  std::ostringstream c;
  c << "# Generated by refx-bench-audit. Throw-away keys and agencies.\n"
    << "name: \"refx audit benchmark\"\n"
    << "broker {\n";
  if (!master_key_file.empty()) c << "  master_key_file: \"" << master_key_file << "\"\n";
  c
    << "  frontend_endpoint: \"tcp://127.0.0.1:*\"\n"
    << "  max_frame_bytes: 262144\n"
    << "  max_batch: 1024\n"
    << "  heartbeat_ivl_ms: 2000\n"
    << "}\n";
  for (const auto& [agency, role] : {std::pair{&ids.submitter, "SUBMITTER"}, std::pair{&ids.service, "SERVICE"},
                                     std::pair{&ids.auditor, "AUDITOR"}}) {
    c << "agencies {\n"
      << "  id: \"" << agency->id << "\"\n"
      << "  name: \"Benchmark " << role << "\"\n"
      << "  roles: [" << role << "]\n"
      << "  public_key: \"" << agency->keys.public_key << "\"\n"
      << "}\n";
  }
  return c.str();
}

// One run of refx-broker over the benchmark log.
struct RunningBroker {
  std::unique_ptr<ChildProcess> process;
  std::string endpoint;
  Clock::time_point exec, ready;
};

class AuditBench {
 public:
  explicit AuditBench(Settings s) : s_(std::move(s)) {
    if (s_.dir.empty()) {
      temp_root_ = std::make_unique<TempDir>(s_.tmp, "refx-bench-audit-", s_.keep);
      root_ = temp_root_->path();
    } else {
      root_ = fs::absolute(s_.dir).string();
      fs::create_directories(root_);
    }
    log_path_ = root_ + "/log";
    key_dir_ = root_ + "/keys";
    run_dir_ = std::make_unique<TempDir>(root_, "run-", s_.keep);
    broker_log_path_ = run_dir_->path() + "/log";
    if (s_.keep) std::fprintf(stderr, "refx-bench-audit: keeping %s\n", run_dir_->path().c_str());
    broker_binary_ = s_.broker.empty() ? ExecutableDir() + "/refx-broker" : s_.broker;
    if (!fs::exists(broker_binary_)) throw BenchError("broker binary not found: " + broker_binary_);
  }

  void Run() {
    const auto started = Clock::now();
    load_before_ = LoadAverage();
    BuildOrReuse();
    Progress::Status("flushing memtables, copying the log for the broker ...");
    FlushAndCopy(log_path_, broker_log_path_);
    if (s_.services) {
      Services();
      load_after_ = LoadAverage();
      Progress::Clear();
      ServicesReport(std::cout);
      return;
    }
    log_bytes_ = DirectoryBytes(log_path_);
    Verify();
    SetUpBroker();
    Restarts();  // leaves the last broker running
    Replays();
    Timelines();
    Progress::Status("stopping the broker ...");
    StopBroker();
    Ceilings("right after the AUDITOR timeline reads");
    VerifyAfterBroker();
    elapsed_s_ = Seconds(started, Clock::now());
    load_after_ = LoadAverage();
    Progress::Clear();
    Report(std::cout);
  }

 private:
  // -- 0. The log -----------------------------------------------------------

  void BuildOrReuse() {
    const std::string marker = root_ + "/synthetic_events";
    if (fs::exists(log_path_)) {
      const std::string recorded = ReadFirstLine(marker);
      if (recorded.empty()) {
        throw BenchError(log_path_ + " exists but " + marker +
                         " does not: an earlier build did not finish. Remove " + root_ + " or use another --dir");
      }
      if (std::stoull(recorded) != s_.events) {
        throw BenchError(root_ + " holds a log of " + recorded + " synthetic events; run with --events " + recorded +
                         " or another --dir");
      }
      const std::string shape = ReadFirstLine(root_ + "/synthetic_shape");
      if (shape != s_.ShapeLine() && !(shape.empty() && s_.ShapeLine() == Settings().ShapeLine())) {
        throw BenchError(root_ + " holds a log of another shape (" + (shape.empty() ? Settings().ShapeLine() : shape) +
                         "); use another --dir");
      }
      Check(eventlog::LoadSigningPublicKey(eventlog::SigningPublicKeyPath(key_dir_, "broker"), &signing_public_),
            "loading the signing key of the reused log");
      return;
    }
    Check(eventlog::GenerateSigningKeyPair(key_dir_, "broker"), "GenerateSigningKeyPair");
    Check(eventlog::LoadSigningPublicKey(eventlog::SigningPublicKeyPath(key_dir_, "broker"), &signing_public_),
          "LoadSigningPublicKey");
    std::unique_ptr<eventlog::CheckpointSigner> signer;
    Check(eventlog::CheckpointSigner::Load(eventlog::SigningSecretKeyPath(key_dir_, "broker"), &signer),
          "CheckpointSigner::Load");
    std::unique_ptr<eventlog::EventLog> log;
    eventlog::OpenOptions o;
    o.path = log_path_;
    if (s_.sealed) {
      Check(GenerateSecretKeyFile(MasterKeyPath(), "master key"), "GenerateSecretKeyFile");
      Check(eventlog::LoadMasterKeyFile(MasterKeyPath(), &o.master_key), "LoadMasterKeyFile");
    }
    Check(eventlog::EventLog::Open(o, &log), "opening a new log at " + log_path_);
    const auto start = Clock::now();
    const double cpu_start = SelfCpuSeconds();
    // In slices, to show progress; AppendSynthetic continues from the head.
    const uint64_t slice = 50'000;
    for (uint64_t done = 0; done < s_.events;) {
      const uint64_t n = std::min(slice, s_.events - done);
      Progress::Status("building the log: " + Thousands(static_cast<double>(done)) + " / " +
                       Thousands(static_cast<double>(s_.events)) + " events ...");
      Check(audit_testing::AppendSynthetic(log.get(), n, signer.get(), s_.checkpoint_every, 2000, s_.Shape()),
            "AppendSynthetic");
      done += n;
    }
    build_.built = true;
    build_.seconds = Seconds(start, Clock::now());
    build_.cpu_seconds = SelfCpuSeconds() - cpu_start;
    log.reset();
    WriteFile(root_ + "/synthetic_shape", s_.ShapeLine() + "\n");
    WriteFile(marker, std::to_string(s_.events) + "\n");
  }

  // -- 1. Offline verification ---------------------------------------------

  // Opens a log as a verifier does: read-only, head not checked.
  static std::unique_ptr<eventlog::EventLog> OpenForVerify(const std::string& path) {
    eventlog::OpenOptions o;
    o.path = path;
    o.read_only = true;
    o.create_if_missing = false;
    o.skip_head_check = true;
    std::unique_ptr<eventlog::EventLog> log;
    Check(eventlog::EventLog::Open(o, &log), "read-only open of " + path);
    return log;
  }

  void Verify() {
    Progress::Status("verify: opening read-only ...");
    const auto open_start = Clock::now();
    std::unique_ptr<eventlog::EventLog> log = OpenForVerify(log_path_);
    verify_.open_seconds = Seconds(open_start, Clock::now());
    head_at_verify_ = log->head_seq();
    for (int rep = 1; rep <= s_.verify_repeats; ++rep) {
      for (bool indexes : {true, false}) {
        Progress::Status(std::string("verify") + (indexes ? "" : " (no index check)") + " run " +
                         std::to_string(rep) + "/" + std::to_string(s_.verify_repeats) + " ...");
        eventlog::VerifyOptions options;
        options.signing_public_keys = {signing_public_};
        options.threads = s_.verify_threads;
        options.check_indexes = indexes;
        const auto start = Clock::now();
        const double cpu_start = SelfCpuSeconds();
        const double machine_start = MachineBusySeconds();
        const eventlog::LogVerifyReport r = eventlog::VerifyLog(*log, options);
        VerifyRun run;
        run.wall = Seconds(start, Clock::now());
        run.cpu = SelfCpuSeconds() - cpu_start;
        run.other_cores = OtherCores(machine_start, MachineBusySeconds(), run.cpu, run.wall);
        if (!r.ok()) {
          throw BenchError(std::string("the benchmark log does not verify: ") + eventlog::LogProblemName(r.problem) +
                           " at seq " + std::to_string(r.first_bad_seq) + ": " + r.detail);
        }
        if (r.events_checked != head_at_verify_) {
          throw BenchError("VerifyLog checked " + std::to_string(r.events_checked) + " events; the log holds " +
                           std::to_string(head_at_verify_));
        }
        run.events = r.events_checked;
        run.index_entries = r.index_entries_checked;
        run.checkpoints = r.checkpoints_checked;
        run.hash_accelerated = r.hash_accelerated;
        run.authenticated = r.checkpoints_authenticated;
        (indexes ? verify_.with_indexes : verify_.without_indexes).push_back(run);
      }
    }
  }

  // A correctness check, not timed: the broker's copy, after its restarts,
  // submissions and recorded audit reads, must still verify. A problem is
  // reported (and said on stderr) but is not a setup failure.
  void VerifyAfterBroker() {
    Progress::Status("verifying the broker's copy of the log ...");
    std::unique_ptr<eventlog::EventLog> log = OpenForVerify(broker_log_path_);
    eventlog::VerifyOptions options;
    options.signing_public_keys = {signing_public_};
    options.threads = s_.verify_threads;
    const eventlog::LogVerifyReport r = eventlog::VerifyLog(*log, options);
    after_broker_head_ = log->head_seq();
    if (r.ok()) {
      after_broker_ = "intact (" + Thousands(static_cast<double>(r.events_checked)) + " events, " +
                      std::to_string(r.checkpoints_checked) + " checkpoints)";
    } else {
      after_broker_ = std::string(eventlog::LogProblemName(r.problem)) + " at seq " +
                      std::to_string(r.first_bad_seq) + ": " + r.detail;
      Progress::Clear();
      std::fprintf(stderr, "refx-bench-audit: the broker's copy of the log does not verify: %s\n",
                   after_broker_.c_str());
    }
  }

  // -- S. The services' restarts (--services) -------------------------------

  struct ServiceStart {
    double seconds = 0;
    double cpu = 0;  // the service's CPU seconds (user + system) until caught up
    uint64_t rss_kb = 0, peak_kb = 0;
  };
  static inline const std::vector<std::string> kServices = {"refx-router", "refx-outcomes", "refx-delivery",
                                                            "refx-notifier"};

  struct ServiceFigures {
    std::string service, mode;
    std::vector<ServiceStart> runs;
  };

  static uint64_t StatusKb(pid_t pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1));
    }
    return 0;
  }

  // The broker with the partnership's real configuration (rules, the
  // services' identities) and fresh keys for the broker and the services.
  void SetUpServicesBroker() {
    SetUpBroker();
    // Parsed as text (not PartnershipConfig::Load): its key files are the
    // deployment's; every agency gets a fresh public key inline here.
    v1::PartnershipConfig config;
    {
      std::ifstream in(std::string(REFX_SOURCE_DIR) + "/deploy/config/sevenoaks.textproto");
      std::string text((std::istreambuf_iterator<char>(in)), {});
      if (!google::protobuf::TextFormat::ParseFromString(text, &config)) {
        throw BenchError("cannot parse deploy/config/sevenoaks.textproto");
      }
    }
    svc_key_dir_ = run_dir_->path() + "/service-keys";
    fs::create_directories(svc_key_dir_);
    for (auto& agency : *config.mutable_agencies()) {
      CurveKeyPair keys;
      Check(GenerateCurveKeyPair(&keys), "GenerateCurveKeyPair");
      agency.clear_public_key_file();
      agency.set_public_key(keys.public_key);
      if (std::find(kServices.begin(), kServices.end(), agency.id()) != kServices.end()) {
        Check(SaveCurveKeyPair(svc_key_dir_, agency.id(), keys), "SaveCurveKeyPair");
      }
    }
    WriteFile(svc_key_dir_ + "/broker.pub", broker_keys_.public_key + "\n");
    // The sample's master key file is the deployment's (absent here): the
    // log's own when it was built --sealed, else a fresh one (the services'
    // own appends are sealed, as deployed).
    if (!fs::exists(MasterKeyPath())) {
      Check(GenerateSecretKeyFile(MasterKeyPath(), "master key"), "GenerateSecretKeyFile");
    }
    config.mutable_broker()->set_master_key_file(MasterKeyPath());
    config.set_subject_key_file(run_dir_->path() + "/subject.hmac");
    Check(GenerateSubjectKeyFile(config.subject_key_file()), "GenerateSubjectKeyFile");
    for (v1::Destination& d : *config.mutable_destinations()) d.clear_alert_emails();
    std::string text;
    google::protobuf::TextFormat::PrintToString(config, &text);
    WriteFile(config_path_, text);
  }

  // Starts `service` until it says it caught up; returns when and how big.
  ServiceStart StartService(const std::string& service, const std::string& state_dir, bool replay) {
    const std::string binary = ExecutableDir() + "/" + service;
    const std::string log = state_dir + "/" + service + ".log";
    std::error_code ec;
    fs::remove(log, ec);
    fs::remove(state_dir + "/refx-outcomes.ready", ec);
    std::vector<std::string> argv = {binary, "--config", config_path_, "--broker", broker_.endpoint, "--key-dir",
                                     svc_key_dir_, "--key-name", service, "--state-dir", state_dir, "--metrics",
                                     "off", "--log-level", "info"};
    if (replay) argv.insert(argv.end(), {"--snapshot-events", "0"});
    ServiceStart start;
    const auto exec = Clock::now();
    ChildProcess child(argv, log);
    const auto deadline = exec + std::chrono::seconds(600);
    auto caught_up = [&] {
      if (service == "refx-outcomes") return fs::exists(state_dir + "/refx-outcomes.ready");
      std::ifstream in(log);
      std::string text((std::istreambuf_iterator<char>(in)), {});
      // The router's, delivery's and the notifier's line at the end of their replay.
      return text.find(service == "refx-router" ? "routing events after seq" : "replayed the log") !=
             std::string::npos;
    };
    while (!caught_up()) {
      if (!child.Running()) throw BenchError(service + " exited during start:\n" + child.LogTail());
      if (Clock::now() > deadline) throw BenchError(service + " not caught up after 600 s:\n" + child.LogTail());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    start.seconds = Seconds(exec, Clock::now());
    start.cpu = ProcessCpuSeconds(child.pid());
    start.rss_kb = StatusKb(child.pid(), "VmRSS");
    start.peak_kb = StatusKb(child.pid(), "VmHWM");
    const int status = child.Stop(std::chrono::seconds(120));  // SIGTERM: a snapshot as of the head
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      throw BenchError(service + " did not stop cleanly:\n" + child.LogTail());
    }
    return start;
  }

  void Services() {
    SetUpServicesBroker();
    broker_ = StartBroker();
    const uint64_t head = s_.events;  // the log holds exactly the synthetic events
    for (const std::string& service : kServices) {
      const std::string state_dir = run_dir_->path() + "/" + service;
      fs::create_directories(state_dir);
      // The router acts only after its cursor: at the head, it routes nothing again.
      if (service == "refx-router") WriteFile(state_dir + "/router.cursor", std::to_string(head) + "\n");
      ServiceFigures replay{service, "replay", {}}, snapshot{service, "snapshot", {}};
      for (int i = 1; i <= s_.restarts; ++i) {
        Progress::Status(service + ": full replay " + std::to_string(i) + "/" + std::to_string(s_.restarts) + " ...");
        replay.runs.push_back(StartService(service, state_dir, /*replay=*/true));
      }
      // A first start with snapshots on leaves one at stop; the next starts load it.
      Progress::Status(service + ": writing a snapshot ...");
      StartService(service, state_dir, /*replay=*/false);
      for (int i = 1; i <= s_.restarts; ++i) {
        Progress::Status(service + ": start from the snapshot " + std::to_string(i) + "/" +
                         std::to_string(s_.restarts) + " ...");
        snapshot.runs.push_back(StartService(service, state_dir, /*replay=*/false));
      }
      std::error_code ec;
      snapshot_bytes_[service] = fs::file_size(state_dir + "/" + service.substr(5) + ".snapshot", ec);
      service_figures_.push_back(replay);
      service_figures_.push_back(snapshot);
    }
    StopBroker();
  }

  void ServicesReport(std::ostream& out) const {
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v.empty() ? 0.0 : v[v.size() / 2];
    };
    out << "## Service restarts on " << Thousands(static_cast<double>(s_.events)) << " events (median of "
        << s_.restarts << ")\n\n"
        << "Load average before / after: " << load_before_ << " / " << load_after_ << "\n\n"
        << "Log: " << s_.ShapeLine() << " (the newest event "
        << Fixed(static_cast<double>(s_.events * s_.Shape().seconds_per_event) / 86400 / 365.25, 1)
        << " years after the first)\n\n"
        << "| service | start | caught up (s) | CPU (s) | RSS caught up (MB) | peak RSS (MB) | snapshot (MB) |\n"
        << "|---|---|---:|---:|---:|---:|---:|\n";
    for (const ServiceFigures& f : service_figures_) {
      std::vector<double> secs, cpu, rss, peak;
      for (const ServiceStart& r : f.runs) {
        secs.push_back(r.seconds);
        cpu.push_back(r.cpu);
        rss.push_back(static_cast<double>(r.rss_kb) / 1024);
        peak.push_back(static_cast<double>(r.peak_kb) / 1024);
      }
      auto it = snapshot_bytes_.find(f.service);
      const double snap_mb = it == snapshot_bytes_.end() ? 0 : static_cast<double>(it->second) / 1e6;
      out << "| " << f.service << " | " << (f.mode == "replay" ? "full replay" : "snapshot + tail") << " | "
          << Fixed(median(secs), 3) << " | " << Fixed(median(cpu), 2) << " | " << Fixed(median(rss), 0) << " | " << Fixed(median(peak), 0) << " | "
          << (f.mode == "replay" ? "-" : Fixed(snap_mb, 1)) << " |\n";
    }
  }

  // -- 2. Broker restarts --------------------------------------------------

  void SetUpBroker() {
    for (BenchAgency* a : {&ids_.submitter, &ids_.service, &ids_.auditor}) {
      Check(GenerateCurveKeyPair(&a->keys), "GenerateCurveKeyPair");
    }
    // The broker's CURVE pair lives next to its signing key (a reused --dir
    // keeps it), so the broker signs checkpoints with the log's key.
    if (fs::exists(key_dir_ + "/broker.key")) {
      Check(LoadCurveKeyPair(key_dir_, "broker", &broker_keys_), "LoadCurveKeyPair");
    } else {
      Check(GenerateCurveKeyPair(&broker_keys_), "GenerateCurveKeyPair");
      Check(SaveCurveKeyPair(key_dir_, "broker", broker_keys_), "SaveCurveKeyPair");
    }
    config_path_ = run_dir_->path() + "/config.textproto";
    // A log built --sealed has its master key beside its signing key.
    WriteFile(config_path_, AuditConfigText(ids_, fs::exists(MasterKeyPath()) ? MasterKeyPath() : ""));
    referral_ = MakeReferral(ids_.submitter.id);
    Check(ValidateReferral(referral_, TodayUtc()), "the synthetic referral does not validate");
    reference_tag_ = "a" + std::to_string(::time(nullptr));
  }

  RunningBroker StartBroker() {
    const std::string ready = run_dir_->path() + "/ready";
    std::error_code ec;
    fs::remove(ready, ec);
    RunningBroker b;
    b.exec = Clock::now();
    b.process = std::make_unique<ChildProcess>(
        std::vector<std::string>{broker_binary_, "--config", config_path_, "--data", broker_log_path_, "--key-dir", key_dir_,
                                 "--endpoint", "tcp://127.0.0.1:*", "--metrics", "off", "--ready-file", ready,
                                 "--log-level", "warn"},
        run_dir_->path() + "/broker.log");
    const auto deadline = b.exec + std::chrono::seconds(60);
    while (true) {
      std::ifstream in(ready);
      if (in >> b.endpoint) break;
      if (!b.process->Running()) throw BenchError("refx-broker exited during start:\n" + b.process->LogTail());
      if (Clock::now() > deadline) throw BenchError("refx-broker not ready after 60 s:\n" + b.process->LogTail());
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    b.ready = Clock::now();
    return b;
  }

  void StopBroker() {
    if (!broker_.process) return;
    const int status = broker_.process->Stop();
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      throw BenchError("refx-broker did not exit cleanly (wait status " + std::to_string(status) + "):\n" +
                       broker_.process->LogTail());
    }
    broker_.process.reset();
  }

  std::unique_ptr<BrokerClient> Client(const BenchAgency& agency) const {
    ClientOptions o;
    o.endpoint = broker_.endpoint;
    o.server_public_key = broker_keys_.public_key;
    o.client_keys = agency.keys;
    o.request_timeout_ms = 10000;
    o.max_attempts = 3;
    return std::make_unique<BrokerClient>(o);
  }

  void Restarts() {
    for (int i = 1; i <= s_.restarts; ++i) {
      Progress::Status("restart " + std::to_string(i) + "/" + std::to_string(s_.restarts) + " ...");
      RestartRun run;
      broker_ = StartBroker();
      {
        auto client = Client(ids_.submitter);
        v1::Referral r = referral_;
        r.set_referrer_reference(Reference(reference_tag_, static_cast<uint64_t>(i)));
        v1::Ack ack;
        Check(client->Submit(r, &ack), "submit after restart " + std::to_string(i));
        const auto acked = Clock::now();
        if (ack.duplicate()) throw BenchError("submit after restart " + std::to_string(i) + " was a duplicate");
        run.to_ready = Seconds(broker_.exec, broker_.ready);
        run.to_ack = Seconds(broker_.exec, acked);
      }
      if (i < s_.restarts) {
        const auto stop_start = Clock::now();
        StopBroker();
        run.stop = Seconds(stop_start, Clock::now());
      }
      restarts_.push_back(run);
    }
  }

  // -- 3. Replays ------------------------------------------------------------

  uint64_t Head(BrokerClient& client) {
    v1::Frame request, reply;
    request.mutable_heartbeat();
    Check(client.Call(request, &reply), "heartbeat");
    if (!reply.has_heartbeat()) throw BenchError("the broker did not answer a heartbeat with a heartbeat");
    return reply.heartbeat().head_seq();
  }

  // Checks one replayed event: seqs must arrive 1, 2, 3, ... without a gap.
  static void CheckNext(const v1::Event& e, uint64_t* last) {
    if (e.seq() != *last + 1) {
      throw BenchError("replay delivered seq " + std::to_string(e.seq()) + " after " + std::to_string(*last));
    }
    *last = e.seq();
  }

  // Times one replay and checks it delivered exactly 1..head.
  template <typename ReadFn>
  ReplayResult TimeReplay(const std::string& identity, const std::string& path, uint64_t head, ReadFn read) {
    Progress::Status("replay " + Thousands(static_cast<double>(head)) + " events as " + identity + " (" + path +
                     ") ...");
    ReplayResult r{identity, path, 0, 0, 0, 0};
    const double broker_cpu = ProcessCpuSeconds(broker_.process->pid());
    const double bench_cpu = SelfCpuSeconds();
    const double machine = MachineBusySeconds();
    const auto start = Clock::now();
    r.events = read();
    r.seconds = Seconds(start, Clock::now());
    r.broker_cpu = ProcessCpuSeconds(broker_.process->pid()) - broker_cpu;
    r.bench_cpu = SelfCpuSeconds() - bench_cpu;
    r.other_cores = OtherCores(machine, MachineBusySeconds(), r.broker_cpu + r.bench_cpu, r.seconds);
    if (r.events != head) {
      throw BenchError("replay as " + identity + " (" + path + ") delivered " + std::to_string(r.events) +
                       " events; the log holds " + std::to_string(head));
    }
    return r;
  }

  uint64_t ClientReplay(BrokerClient& client, uint64_t head, bool audited) {
    v1::ReadRequest request;
    request.set_after_seq(0);
    request.set_to_seq(head);
    request.set_follow(false);
    request.set_initial_credit(kRawCredit);  // BrokerClient::Read replaces it with its own window
    if (audited) request.set_purpose(kPurpose);
    uint64_t last = 0, count = 0;
    Check(client.Read(
              request,
              [&](const v1::Event& e, const std::string&, const std::string&) {
                CheckNext(e, &last);
                ++count;
                return true;
              }),
          "BrokerClient::Read");
    return count;
  }

  // A read on a raw DEALER that grants the broker's maximum credit up front
  // (and tops it up at half), so the broker never waits for the client.
  uint64_t RawReplay(const BenchAgency& agency, uint64_t head, bool audited) {
    zmq::context_t context(1);
    zmq::socket_t socket(context, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::curve_serverkey, broker_keys_.public_key);
    socket.set(zmq::sockopt::curve_publickey, agency.keys.public_key);
    socket.set(zmq::sockopt::curve_secretkey, agency.keys.secret_key);
    socket.connect(broker_.endpoint);
    v1::Frame frame;
    frame.set_correlation_id(1);
    v1::ReadRequest* request = frame.mutable_read();
    request->set_after_seq(0);
    request->set_to_seq(head);
    request->set_follow(false);
    request->set_initial_credit(kRawCredit);
    if (audited) request->set_purpose(kPurpose);
    socket.send(zmq::buffer(EncodeFrame(frame)), zmq::send_flags::none);
    uint64_t credit = kRawCredit, last = 0, count = 0;
    v1::Frame reply;
    v1::Event event;
    while (true) {
      zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(30000)) <= 0) {
        throw BenchError("raw replay: no batch for 30 s after " + std::to_string(count) + " events");
      }
      zmq::message_t message;
      (void)socket.recv(message, zmq::recv_flags::none);
      Check(DecodeFrame(message.data(), message.size(), 64u << 20, &reply), "raw replay: decoding a reply");
      if (reply.has_error()) Check(StatusFromError(reply.error()), "raw replay refused");
      if (!reply.has_events()) continue;
      const v1::EventBatch& batch = reply.events();
      for (const std::string& bytes : batch.events()) {
        if (!event.ParseFromString(bytes)) throw BenchError("raw replay: an unparseable event");
        CheckNext(event, &last);
        ++count;
      }
      if (batch.end_of_log()) break;
      credit -= std::min<uint64_t>(credit, static_cast<uint64_t>(batch.events_size()));
      if (credit < kRawCredit / 2) {
        v1::Frame top_up;
        top_up.set_correlation_id(1);
        top_up.mutable_credit()->set_events(static_cast<uint32_t>(kRawCredit - credit));
        credit = kRawCredit;
        socket.send(zmq::buffer(EncodeFrame(top_up)), zmq::send_flags::none);
      }
    }
    socket.close();
    context.close();
    return count;
  }

  void Replays() {
    service_client_ = Client(ids_.service);
    auditor_client_ = Client(ids_.auditor);
    for (const auto& [agency, client, audited] :
         {std::tuple{&ids_.service, service_client_.get(), false}, std::tuple{&ids_.auditor, auditor_client_.get(), true}}) {
      const std::string who = audited ? "AUDITOR" : "SERVICE";
      uint64_t head = Head(*client);
      replays_.push_back(TimeReplay(who, "BrokerClient::Read", head,
                                    [&, c = client, a = audited] { return ClientReplay(*c, head, a); }));
      if (!broker_.process->Running()) throw BenchError("refx-broker died:\n" + broker_.process->LogTail());
      head = Head(*client);
      replays_.push_back(TimeReplay(who, "raw DEALER, credit 1,000,000", head,
                                    [&, ag = agency, a = audited] { return RawReplay(*ag, head, a); }));
    }
    if (!s_.cli.empty()) {
      const uint64_t head = Head(*auditor_client_);
      double cli_cpu = 0;
      ReplayResult r = TimeReplay("AUDITOR", "refx audit replay --json (stdout /dev/null)", head,
                                  [&] { return CliReplay(head, &cli_cpu); });
      r.bench_cpu = cli_cpu;  // the CLI's CPU, not this program's (which only waits)
      replays_.push_back(r);
    }
  }

  std::string MasterKeyPath() const { return key_dir_ + "/broker.master.key"; }

  // Runs `refx audit replay --json --to-seq head` as the AUDITOR with stdout
  // to /dev/null; returns the events it reported on stderr and the CLI's CPU
  // seconds (user + system) in *cpu.
  uint64_t CliReplay(uint64_t head, double* cpu) {
    const std::string keys = run_dir_->path() + "/cli-keys";
    fs::create_directories(keys);
    Check(SaveCurveKeyPair(keys, ids_.auditor.id, ids_.auditor.keys), "SaveCurveKeyPair");
    fs::copy_file(key_dir_ + "/broker.pub", keys + "/broker.pub", fs::copy_options::overwrite_existing);
    const std::string err = run_dir_->path() + "/cli-replay.stderr";
    std::vector<std::string> argv{s_.cli, "--home", run_dir_->path(), "--broker", broker_.endpoint, "--key-dir",
                                  keys, "--timeout-ms", "30000", "audit", "replay", "--json", "--to-seq",
                                  std::to_string(head), "--as", ids_.auditor.id, "--purpose", kPurpose};
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) throw BenchError("fork failed");
    if (pid == 0) {
      const int null = ::open("/dev/null", O_WRONLY);
      const int log = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (null < 0 || log < 0 || ::dup2(null, STDOUT_FILENO) < 0 || ::dup2(log, STDERR_FILENO) < 0) ::_exit(127);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    int status = 0;
    rusage usage{};
    if (::wait4(pid, &status, 0, &usage) != pid) throw BenchError("wait4 on refx audit replay failed");
    *cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    const std::string summary = ReadFirstLine(err);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      throw BenchError("refx audit replay failed (wait status " + std::to_string(status) + "): " + summary);
    }
    // "refx audit replay: N events (seq A..B), ..."; the read may also meet
    // its own record_accessed past `head`, which --to-seq leaves out.
    unsigned long long events = 0;
    if (std::sscanf(summary.c_str(), "refx audit replay: %llu events", &events) != 1) {
      throw BenchError("refx audit replay printed no summary: " + summary);
    }
    return events;
  }

  // -- 4. Timeline queries ---------------------------------------------------

  TimelineResult Timeline(BrokerClient& client, const std::string& identity, bool audited) {
    TimelineResult t;
    t.identity = identity;
    const uint64_t n = s_.events;
    const uint64_t cycles = n >= 4 ? (n - 4) / 5 + 1 : 0;  // referrals whose 4 events are all in the log
    if (cycles == 0) throw BenchError("--events must be at least 4 for timeline reads");
    std::mt19937_64 rng(s_.seed);
    std::uniform_int_distribution<uint64_t> pick(0, cycles - 1);
    auto one = [&](bool measured, std::vector<double>* ms) {
      const uint64_t first = 5 * pick(rng) + 1;
      const std::string referral = audit_testing::SyntheticReferralOf(first);
      v1::ReadRequest request;
      request.set_referral_id(referral);
      request.set_follow(false);
      if (audited) request.set_purpose(kPurpose);
      uint64_t own = 0, access = 0;
      std::vector<uint64_t> seqs;
      const auto start = Clock::now();
      Check(client.Read(request,
                        [&](const v1::Event& e, const std::string&, const std::string&) {
                          if (e.seq() <= n) {
                            if (ReferralIdOf(e) != referral) {
                              throw BenchError("timeline of " + referral + " delivered seq " +
                                               std::to_string(e.seq()) + " of another referral");
                            }
                            seqs.push_back(e.seq());
                            ++own;
                          } else if (e.has_record_accessed()) {
                            ++access;  // an audit read of this referral, indexed under it
                          } else {
                            throw BenchError("timeline of " + referral + " delivered seq " + std::to_string(e.seq()) +
                                             ", which is not one of its events");
                          }
                          return true;
                        }),
            "timeline read of " + referral);
      const double elapsed = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      const std::vector<uint64_t> expected = {first, first + 1, first + 2, first + 3};
      if (seqs != expected) {
        throw BenchError("timeline of " + referral + " delivered " + std::to_string(seqs.size()) +
                         " of its events; expected seqs " + std::to_string(first) + ".." + std::to_string(first + 3));
      }
      if (measured) {
        ms->push_back(elapsed);
        t.events += own;
        t.access_records += access;
      }
    };
    std::vector<double> ms;
    Progress::Status("timeline as " + identity + ": warm-up ...");
    for (int i = 0; i < 20; ++i) one(false, nullptr);
    const double broker_cpu = ProcessCpuSeconds(broker_.process->pid());
    const double bench_cpu = SelfCpuSeconds();
    const double machine = MachineBusySeconds();
    const auto start = Clock::now();
    for (int i = 0; i < s_.timeline_reads; ++i) {
      if (i % 100 == 0) {
        Progress::Status("timeline as " + identity + ": " + std::to_string(i) + "/" +
                         std::to_string(s_.timeline_reads) + " ...");
      }
      one(true, &ms);
    }
    t.seconds = Seconds(start, Clock::now());
    t.broker_cpu = ProcessCpuSeconds(broker_.process->pid()) - broker_cpu;
    t.bench_cpu = SelfCpuSeconds() - bench_cpu;
    t.other_cores = OtherCores(machine, MachineBusySeconds(), t.broker_cpu + t.bench_cpu, t.seconds);
    t.reads = s_.timeline_reads;
    t.latency = Latency::Of(ms);
    return t;
  }

  void Timelines() {
    timelines_.push_back(Timeline(*service_client_, "SERVICE", false));
    // The disk's flush latency drifts from minute to minute: measured on
    // both sides of the reads whose latency includes a flush.
    Ceilings("right before the AUDITOR timeline reads (broker idle)");
    timelines_.push_back(Timeline(*auditor_client_, "AUDITOR", true));
    service_client_.reset();
    auditor_client_.reset();
  }

  // -- 5. Raw sync-write ceilings -------------------------------------------

  void Ceilings(const std::string& when) {
    TempDir dir(root_, "ceilings-", s_.keep);
    const int count = s_.quick ? 200 : 1000;
    SyncCeiling c;
    c.when = when;
    Progress::Status("disk flush probe " + when + " ...");
    c.flush = DiskFlushProbe(dir.path(), 300, std::chrono::microseconds(0), count);
    Progress::Status("raw RocksDB synced Put " + when + " ...");
    c.rocksdb = RocksDbCeiling(dir.path() + "/rocksdb", std::string(300, 'a'), 1, milliseconds(s_.ceiling_ms));
    ceilings_.push_back(c);
  }

  // -- Report ----------------------------------------------------------------

  static std::string Met(bool met) { return met ? "met" : "**not met**"; }

  static double MedianOf(const std::vector<VerifyRun>& runs, double (VerifyRun::*f)() const) {
    std::vector<double> v;
    for (const VerifyRun& r : runs) v.push_back((r.*f)());
    return Median(v);
  }

  void Report(std::ostream& out) const {
    const MachineInfo m = DescribeMachine(root_);
    out << "# refx-bench-audit\n\n"
        << "- Machine: " << m.cpus << " CPUs (" << m.cpu_model << "), " << Fixed(m.memory_gib, 1) << " GiB, Linux "
        << m.kernel << "; data on " << m.device << " (" << m.fs_type << ", rotational=" << m.rotational << ")\n"
        << "- Load average before / after the run: " << load_before_ << " / " << load_after_
        << " (anything well above 0 is other work competing for the CPUs and disk)\n"
        << "- Log: " << Thousands(static_cast<double>(s_.events)) << " synthetic events (a cycle of submitted, "
        << "routed, acknowledged, outcome, record_accessed; a signed checkpoint every " << s_.checkpoint_every
        << "), head " << Thousands(static_cast<double>(head_at_verify_)) << " when verified, "
        << Fixed(static_cast<double>(log_bytes_) / (1 << 20), 1) << " MiB on disk after the flush";
    if (build_.built) {
      out << "; built in " << Fixed(build_.seconds, 1) << " s ("
          << Thousands(static_cast<double>(s_.events) / build_.seconds) << " events/s, " << Fixed(build_.cpu_seconds, 1)
          << " s CPU) with EventLog::AppendBatch, batches of 2,000\n";
    } else {
      out << "; reused from " << root_ << " (built by an earlier run)\n";
    }
    out << "- The broker runs on a RocksDB checkpoint (hard-link copy) of the log, so the log itself stays as built "
           "and every run starts from the same events\n";
    out << "- Total " << Fixed(elapsed_s_, 0) << " s" << (s_.quick ? " (--quick: a smoke run, not figures to quote)" : "")
        << "\n\n";

    // 1. Verify
    out << "## 1. Offline full verify (VerifyLog with the signing key; read-only open after a flush)\n\n"
        << "Read-only open: " << Fixed(verify_.open_seconds, 3) << " s. Median of " << s_.verify_repeats
        << " run(s); CPU is this process's (all verifier threads), so CPU > wall means parallel work; \"other\" is "
           "the cores other processes kept busy meanwhile (of " << m.cpus << ").\n\n"
        << "| check | events | index entries | checkpoints | wall s | events/s (wall) | CPU s | events per CPU s "
           "| other processes, cores | SHA extensions |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
    for (const auto& [name, runs] : {std::pair{"chain + checkpoints + indexes", &verify_.with_indexes},
                                     std::pair{"chain + checkpoints (no index check)", &verify_.without_indexes}}) {
      if (runs->empty()) continue;
      std::vector<double> wall, cpu, other;
      for (const VerifyRun& r : *runs) {
        wall.push_back(r.wall);
        cpu.push_back(r.cpu);
        other.push_back(r.other_cores);
      }
      const VerifyRun& r = runs->front();
      out << "| " << name << " | " << Thousands(static_cast<double>(r.events)) << " | "
          << Thousands(static_cast<double>(r.index_entries)) << " | " << r.checkpoints
          << (r.authenticated ? " (signatures checked)" : "") << " | " << Fixed(Median(wall), 3) << " | "
          << Thousands(MedianOf(*runs, &VerifyRun::per_s)) << " | " << Fixed(Median(cpu), 3) << " | "
          << Thousands(MedianOf(*runs, &VerifyRun::per_cpu_s)) << " | " << Fixed(Median(other), 2) << " | "
          << (r.hash_accelerated ? "yes" : "no")
          << " |\n";
    }
    out << "\n";

    // 2. Restart
    std::vector<double> to_ready, to_ack;
    out << "## 2. Broker restart (exec of refx-broker on the log until a Submit is acknowledged)\n\n"
        << "| run | exec -> ready (log open, socket bound) ms | exec -> first ack ms | stop (SIGTERM -> exit) ms |\n"
        << "|---:|---:|---:|---:|\n";
    for (size_t i = 0; i < restarts_.size(); ++i) {
      const RestartRun& r = restarts_[i];
      to_ready.push_back(r.to_ready);
      to_ack.push_back(r.to_ack);
      out << "| " << i + 1 << " | " << Fixed(1e3 * r.to_ready, 1) << " | " << Fixed(1e3 * r.to_ack, 1) << " | "
          << (i + 1 < restarts_.size() ? Fixed(1e3 * r.stop, 0) : std::string("(kept running)")) << " |\n";
    }
    out << "| median | " << Fixed(1e3 * Median(to_ready), 1) << " | " << Fixed(1e3 * Median(to_ack), 1) << " | |\n\n";

    // 3. Replay
    out << "## 3. Full replay through the broker (Read to_seq = head, no follow; every event parsed and its seq "
           "checked)\n\n"
        << "BrokerClient::Read grants its own credit (a window of 2,000 events, topped up at half), whatever "
           "initial_credit the request carries; the raw DEALER grants 1,000,000 (the broker's maximum) up front.\n\n"
        << "| identity | reader | events | seconds | events/s | broker CPU s | events per broker CPU s | bench CPU s "
           "| other processes, cores |\n"
        << "|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const ReplayResult& r : replays_) {
      out << "| " << r.identity << " | " << r.path << " | " << Thousands(static_cast<double>(r.events)) << " | "
          << Fixed(r.seconds, 2) << " | " << Thousands(r.per_s()) << " | " << Fixed(r.broker_cpu, 2) << " | "
          << Thousands(r.per_broker_cpu_s()) << " | " << Fixed(r.bench_cpu, 2) << " | " << Fixed(r.other_cores, 2)
          << " |\n";
    }
    out << "\n";

    // 4. Timeline
    out << "## 4. Timeline query (Read with referral_id, no follow; a random referral each time; 4 events each)\n\n"
        << "Latency of one BrokerClient::Read call, on a connection already open. The AUDITOR's read is first "
           "recorded as a record_accessed event (one synced AppendBatch) before anything is sent.\n\n"
        << "| identity | reads | p50 ms | p90 ms | p99 ms | max ms | mean ms | access records delivered "
           "| broker CPU us/read | bench CPU us/read | other processes, cores |\n"
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const TimelineResult& t : timelines_) {
      out << "| " << t.identity << " | " << t.reads << " | " << Fixed(t.latency.p50, 3) << " | "
          << Fixed(t.latency.p90, 3) << " | " << Fixed(t.latency.p99, 3) << " | " << Fixed(t.latency.max, 3) << " | "
          << Fixed(t.latency.mean, 3) << " | " << t.access_records << " | " << Fixed(1e6 * t.broker_cpu / t.reads, 0)
          << " | " << Fixed(1e6 * t.bench_cpu / t.reads, 0) << " | " << Fixed(t.other_cores, 2) << " |\n";
    }
    out << "\n";

    // 5. Ceilings
    out << "## 5. Raw synced-write ceilings on the same disk, one write at a time, back to back\n\n"
        << "| measured | fdatasync of a 300 B append p50 ms | p99 ms | RocksDB Put 300 B sync=true p50 ms | p99 ms "
           "|\n|---|---:|---:|---:|---:|\n";
    for (const SyncCeiling& c : ceilings_) {
      out << "| " << c.when << " | " << Fixed(c.flush.p50_ms, 3) << " | " << Fixed(c.flush.p99_ms, 3) << " | "
          << Fixed(c.rocksdb.batch_p50_ms, 3) << " | " << Fixed(c.rocksdb.batch_p99_ms, 3) << " |\n";
    }
    out << "\n";

    out << "## 6. Check: VerifyLog of the broker's copy after the run (head "
        << Thousands(static_cast<double>(after_broker_head_)) << ": the restarts' submissions, the replays' and "
        << "timelines' record_accessed events, the broker's own checkpoints)\n\n"
        << (after_broker_.rfind("intact", 0) == 0 ? after_broker_ : "**Does not verify:** " + after_broker_)
        << "\n\n";

    // Summary
    const double verify_rate = MedianOf(verify_.with_indexes, &VerifyRun::per_s);
    const double restart = Median(to_ack);
    out << "## Against the targets\n\n| figure | value | target | |\n|---|---:|---:|---|\n"
        << "| offline full verify (indexes included), wall | " << Thousands(verify_rate) << " events/s | >= 1,000,000 "
        << "events/s | " << Met(verify_rate >= 1e6) << " |\n"
        << "| broker restart, exec -> first ack (median of " << restarts_.size() << ") | " << Fixed(1e3 * restart, 0)
        << " ms | <= 1,000 ms | " << Met(restart <= 1.0) << " |\n";
    for (const ReplayResult& r : replays_) {
      out << "| replay as " << r.identity << ", " << r.path << " | " << Thousands(r.per_s())
          << " events/s | >= 300,000 events/s | " << Met(r.per_s() >= 300000) << " |\n";
    }
    for (const TimelineResult& t : timelines_) {
      out << "| timeline p99 as " << t.identity << (t.identity == "AUDITOR" ? " (includes one synced write)" : "")
          << " | " << Fixed(t.latency.p99, 3) << " ms | <= 1 ms | " << Met(t.latency.p99 <= 1.0) << " |\n";
    }
    std::string floor;
    for (const SyncCeiling& c : ceilings_) {
      floor += (floor.empty() ? "" : " and ") + Fixed(c.rocksdb.batch_p99_ms, 3);
    }
    out << "| (the disk's floor) raw RocksDB synced Put p99, before and after the AUDITOR reads | " << floor
        << " ms | | |\n";
  }

  Settings s_;
  std::unique_ptr<TempDir> temp_root_;
  // log_path_ is the log as built (kept with --dir); the broker runs on a
  // copy, broker_log_path_, so every run starts from the same N events.
  std::string root_, log_path_, key_dir_, broker_log_path_;
  std::unique_ptr<TempDir> run_dir_;
  std::string broker_binary_, config_path_, signing_public_, reference_tag_;
  std::string svc_key_dir_;
  std::vector<ServiceFigures> service_figures_;
  std::map<std::string, uintmax_t> snapshot_bytes_;
  Identities ids_;
  CurveKeyPair broker_keys_;
  v1::Referral referral_;
  RunningBroker broker_;
  std::unique_ptr<BrokerClient> service_client_, auditor_client_;

  BuildResult build_;
  uint64_t log_bytes_ = 0, head_at_verify_ = 0, after_broker_head_ = 0;
  std::string after_broker_;  // VerifyAfterBroker's verdict
  VerifyResult verify_;
  std::vector<RestartRun> restarts_;
  std::vector<ReplayResult> replays_;
  std::vector<TimelineResult> timelines_;
  std::vector<SyncCeiling> ceilings_;
  double elapsed_s_ = 0;
  std::string load_before_, load_after_;
};

}  // namespace
}  // namespace refx::bench

int main(int argc, char** argv) {
  using refx::bench::Settings;
  Settings s;
  CLI::App app{"refx-bench-audit: offline verify, broker restart, replay and timeline reads on a large log"};
  auto* events = app.add_option("--events", s.events, "Synthetic events in the log")->capture_default_str();
  app.add_flag("--quick", s.quick, "100,000 events and one verify run: a smoke run, not figures to quote");
  app.add_option("--dir", s.dir,
                 "Keep the log (and its keys) here and reuse it on the next run with the same --events; "
                 "default: a temporary directory, removed at the end");
  app.add_option("--tmp", s.tmp, "Base of the temporary directory when there is no --dir (on the disk to measure)");
  app.add_option("--broker", s.broker, "refx-broker binary; default: next to this program");
  app.add_option("--restarts", s.restarts, "Broker starts to time (the median is reported)")->capture_default_str();
  app.add_option("--timeline-reads", s.timeline_reads, "Measured timeline reads per identity")->capture_default_str();
  auto* repeats =
      app.add_option("--verify-repeats", s.verify_repeats, "VerifyLog runs (the median is reported)")->capture_default_str();
  app.add_option("--verify-threads", s.verify_threads, "VerifyOptions::threads (0: one per core, at most 8)")
      ->capture_default_str();
  app.add_option("--checkpoint-every", s.checkpoint_every, "Signed checkpoint every N events when building the log")
      ->capture_default_str();
  app.add_option("--seed", s.seed, "Seed of the random choice of referrals")->capture_default_str();
  app.add_option("--ceiling-ms", s.ceiling_ms, "Duration of the raw RocksDB synced-write measurement")
      ->capture_default_str();
  app.add_flag("--services", s.services,
               "Measure the services' restarts (full replay vs snapshot) and RSS instead");
  app.add_option("--cli", s.cli, "refx binary: also time `refx audit replay --json` through it (stdout /dev/null)");
  app.add_flag("--sealed", s.sealed,
               "Build the log with a master key (personal fields sealed; the broker opens them for every read)");
  app.add_option("--referrals-per-day", s.referrals_per_day,
                 "Space the log's events as N referrals a day (five events each; 0: one event a second)")
      ->capture_default_str();
  app.add_flag("--close-cases", s.close_cases,
               "Every case ends closed (case_closed instead of record_accessed), as real cases do; with "
               "--referrals-per-day, a log of realistic history for --services");
  app.add_flag("--keep-temp", s.keep, "Keep the run's directory (configuration, broker log) and temporary data");
  CLI11_PARSE(app, argc, argv);
  if (s.quick) {
    if (events->count() == 0) s.events = 100'000;
    if (repeats->count() == 0) s.verify_repeats = 1;
  }
  if (s.events < 4 || s.restarts < 1 || s.timeline_reads < 1 || s.verify_repeats < 1 || s.ceiling_ms < 1 ||
      s.checkpoint_every < 1) {
    std::fprintf(stderr, "refx-bench-audit: --events must be >= 4; counts and durations must be positive\n");
    return 2;
  }
  return refx::bench::RunReportingFailure("refx-bench-audit", [&] {
    refx::bench::AuditBench bench(s);
    bench.Run();
    return 0;
  });
}
