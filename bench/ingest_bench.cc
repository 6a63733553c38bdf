// refx-bench-ingest: how many referrals per second the real broker
// acknowledges, how long an acknowledgement takes at a steady 1,000/s, and
// how those figures compare with the raw ceilings of the layers beneath it
// (EventLog, plain RocksDB, ZeroMQ with CURVE), all measured in one run on
// one machine.
//
// A benchmark, not a test: it asserts nothing about timing. It stops with a
// message on any failed submission, error reply or duplicate ack, since a
// figure built on failures would be meaningless.
//
// Output: Markdown tables on stdout (pasted into docs/BENCHMARKS.md);
// progress on stderr when it is a terminal. See docs/BENCHMARKS.md for what
// each scenario measures.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <zmq.hpp>

#include "bench/bench_support.h"
#include "bench/ceilings.h"
#include "bench/load.h"
#include "core/civil_date.h"
#include "core/frame_codec.h"
#include "core/referral_validation.h"

namespace refx::bench {
namespace {

using std::chrono::milliseconds;

struct Settings : LoadSettings {
  std::vector<std::string> scenarios = {"all"};
  int ceiling_ms = 2000;    // each raw write / echo measurement
  size_t per_frame = 64;    // referrals per SubmitBatchRequest (batched clients)
  size_t frame_window = 4;  // batch frames in flight per batched client
  int io_threads = 2;       // of the clients' shared zmq context
  uint32_t max_batch = 1024;
  std::string broker;       // refx-broker binary ("" = next to this one)
};

// One closed-loop broker scenario.
struct Scenario {
  std::string name;  // "w8"
  size_t clients;
  Mode mode;
};

struct CeilingResult {
  double events_per_s = 0;  // medians over repeats
  double batch_p50_ms = 0;
  double batch_p99_ms = 0;
  double cpu_us_per_event = 0;
};

// Where the CPU went during measured intervals, in CPU seconds.
struct CpuUse {
  double wall = 0;          // length of the intervals
  double broker_main = 0;   // the broker's main thread: its Run loop
  double broker_io = 0;     // the broker's ZeroMQ I/O thread(s): TCP and CURVE
  double broker_other = 0;  // the rest of the broker (RocksDB background, ZAP, metrics)
  double bench = 0;         // this process: the clients, their I/O threads, scraping
  double machine = 0;       // every busy CPU of the machine
  double cores(double seconds) const { return wall > 0 ? seconds / wall : 0; }
};

// A point-in-time sample for CpuUse.
struct CpuSample {
  Clock::time_point when;
  pid_t broker = 0;
  std::map<pid_t, ThreadCpu> broker_threads;
  double bench = 0, machine = 0;
};

CpuSample SampleCpu(pid_t broker) {
  return CpuSample{Clock::now(), broker, ThreadCpuSeconds(broker), ProcessCpuSeconds(::getpid()),
                   MachineBusySeconds()};
}

// Adds the interval between two samples to `use`.
void AddInterval(const CpuSample& a, const CpuSample& b, CpuUse* use) {
  use->wall += std::chrono::duration<double>(b.when - a.when).count();
  use->bench += b.bench - a.bench;
  use->machine += b.machine - a.machine;
  for (const auto& [tid, t] : b.broker_threads) {
    auto before = a.broker_threads.find(tid);
    const double used = t.seconds - (before == a.broker_threads.end() ? 0 : before->second.seconds);
    if (tid == b.broker) {
      use->broker_main += used;  // refx-broker's main() runs Broker::Run on its main thread
    } else if (t.name.rfind("ZMQbg/IO", 0) == 0) {
      use->broker_io += used;
    } else {
      use->broker_other += used;
    }
  }
}

struct ScenarioResult {
  Scenario scenario;
  std::vector<double> rates;           // acks/s, one per repeat
  BrokerMetricsSnapshot measured;      // broker metrics summed over the measured intervals
  CpuUse cpu;                          // summed over the measured intervals
  uint64_t acks = 0;                   // summed over the measured intervals
  // Raw ceilings at this scenario's observed mean batch size, measured
  // right after it (the disk's speed drifts over minutes on shared hosts).
  CeilingResult eventlog_at_batch, rocksdb_at_batch;
  double median_rate() const { return Median(rates); }
  double mean_batch() const { return measured.batch_count > 0 ? measured.batch_sum / measured.batch_count : 0; }
  double mean_append_ms() const {
    return measured.fsync_count > 0 ? 1e3 * measured.fsync_sum / measured.fsync_count : 0;
  }
  // Share of the measured time the broker's loop spent inside AppendBatch.
  double append_share() const { return cpu.wall > 0 ? measured.fsync_sum / cpu.wall : 0; }
};


struct EchoResult {
  bool curve;
  size_t clients;
  double msgs_per_s;
};

struct LatencyResult {
  OpenLoopResult open;
  BrokerMetricsSnapshot measured;
};

const std::vector<Scenario>& AllScenarios() {
  static const std::vector<Scenario> all = {
      {"w1", 1, Mode::kWindowed}, {"w8", 8, Mode::kWindowed}, {"w64", 64, Mode::kWindowed},
      {"b1", 1, Mode::kBatched},  {"b8", 8, Mode::kBatched},  {"b64", 64, Mode::kBatched},
      {"s1", 1, Mode::kStrict},   {"s8", 8, Mode::kStrict},   {"s64", 64, Mode::kStrict}};
  return all;
}

// Expands --scenarios (names and groups) into the set of parts to run.
std::set<std::string> Expand(const std::vector<std::string>& requested) {
  static const std::map<std::string, std::vector<std::string>> groups = {
      {"all",
       {"disk", "eventlog", "rocksdb", "echo", "cpu", "w1", "w8", "w64", "b1", "b8", "b64", "s1", "s8", "s64",
        "latency"}},
      {"ceilings", {"disk", "eventlog", "rocksdb", "echo", "cpu"}},
      {"windowed", {"w1", "w8", "w64"}},
      {"batched", {"b1", "b8", "b64"}},
      {"strict", {"s1", "s8", "s64"}},
  };
  static const std::set<std::string> parts = {"disk", "eventlog", "rocksdb", "echo", "cpu", "w1", "w8", "w64",
                                              "b1", "b8", "b64", "s1", "s8", "s64", "latency"};
  std::set<std::string> out;
  for (const std::string& r : requested) {
    if (auto g = groups.find(r); g != groups.end()) {
      out.insert(g->second.begin(), g->second.end());
    } else if (parts.count(r)) {
      out.insert(r);
    } else {
      throw BenchError("unknown scenario \"" + r +
                       "\"; use all, ceilings, windowed, batched, strict, disk, eventlog, rocksdb, echo, cpu, w1, "
                       "w8, w64, b1, b8, b64, s1, s8, s64, latency");
    }
  }
  return out;
}

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string Percent(double part, double whole) { return whole > 0 ? Fixed(100.0 * part / whole, 0) + "%" : "n/a"; }

std::string ModeName(Mode m) {
  return m == Mode::kWindowed ? "windowed" : m == Mode::kBatched ? "batch frames" : "strict";
}

class IngestBench {
 public:
  explicit IngestBench(Settings settings) : s_(std::move(settings)), root_(s_.tmp, "refx-bench-", s_.keep) {
    if (s_.keep) std::fprintf(stderr, "refx-bench-ingest: keeping %s\n", root_.path().c_str());
    broker_binary_ = s_.broker.empty() ? ExecutableDir() + "/refx-broker" : s_.broker;
    referral_ = MakeReferral("bench-agency-00", s_.referral_bytes);
    Status valid = ValidateReferral(referral_, TodayUtc());
    if (!valid.ok()) throw BenchError("the synthetic referral does not validate: " + valid.ToString());
  }

  void Run(const std::set<std::string>& parts) {
    const auto started = Clock::now();
    load_before_ = LoadAverage();
    if (parts.count("disk")) RunDiskProbe();
    if (parts.count("cpu")) cpu_ = MeasureCpuPath(referral_, s_.quick ? 2000 : 20000);
    for (size_t batch : {1, 64, 256, 1024}) {
      if (parts.count("eventlog")) eventlog_[batch] = MeasureEventLog(batch);
      if (parts.count("rocksdb")) rocksdb_[batch] = MeasureRocksDb(batch);
    }
    if (parts.count("echo")) RunEcho();
    // One agency (identity and key pair) per client of the largest scenario;
    // the latency run uses the first.
    size_t max_clients = 0;
    for (const Scenario& sc : AllScenarios()) {
      if (parts.count(sc.name)) max_clients = std::max(max_clients, sc.clients);
    }
    if (parts.count("latency")) max_clients = std::max<size_t>(max_clients, 1);
    agencies_ = MakeAgencies(max_clients);
    for (const Scenario& sc : AllScenarios()) {
      if (parts.count(sc.name)) scenarios_.push_back(RunScenario(sc));
    }
    if (parts.count("latency")) RunLatency();
    elapsed_s_ = std::chrono::duration<double>(Clock::now() - started).count();
    load_after_ = LoadAverage();
    Progress::Clear();
    Report(std::cout);
  }

 private:
  static size_t ObservedBatch(const ScenarioResult& r) {
    return std::max<size_t>(1, static_cast<size_t>(std::llround(r.mean_batch())));
  }

  CeilingResult MeasureEventLog(size_t batch) {
    return MeasureWrites("eventlog", batch, [&](const std::string& dir) {
      return EventLogCeiling(dir, referral_, batch, milliseconds(s_.ceiling_ms));
    });
  }

  CeilingResult MeasureRocksDb(size_t batch) {
    const std::string value = referral_.SerializeAsString();
    return MeasureWrites("rocksdb", batch, [&](const std::string& dir) {
      return RocksDbCeiling(dir, value, batch, milliseconds(s_.ceiling_ms));
    });
  }

  // Repeats one write ceiling in a fresh directory (shared by the repeats).
  template <typename Measure>
  CeilingResult MeasureWrites(const std::string& layer, size_t batch, Measure measure) {
    TempDir dir(root_.path(), layer + "-" + std::to_string(batch) + "-", s_.keep);
    std::vector<double> rates, p50, p99, cpu;
    for (int rep = 1; rep <= s_.repeats; ++rep) {
      Progress::Status("raw " + layer + " batch " + std::to_string(batch) + " run " + std::to_string(rep) + "/" +
                       std::to_string(s_.repeats));
      WriteCeiling w = measure(dir.path() + "/db");
      rates.push_back(w.events_per_s);
      p50.push_back(w.batch_p50_ms);
      p99.push_back(w.batch_p99_ms);
      cpu.push_back(w.cpu_us_per_event);
    }
    return CeilingResult{Median(rates), Median(p50), Median(p99), Median(cpu)};
  }

  void RunDiskProbe() {
    TempDir dir(root_.path(), "disk-", s_.keep);
    const int count = s_.quick ? 100 : 1000;
    for (int gap_us : {0, 1000}) {
      Progress::Status("disk flush probe, gap " + std::to_string(gap_us) + " us ...");
      flush_.emplace_back(gap_us, DiskFlushProbe(dir.path(), 1200, std::chrono::microseconds(gap_us), count));
    }
  }

  void RunEcho() {
    for (bool curve : {true, false}) {
      for (size_t clients : {1, 8}) {
        std::vector<double> rates;
        for (int rep = 1; rep <= s_.repeats; ++rep) {
          Progress::Status(std::string("zeromq echo ") + (curve ? "CURVE" : "plain") + " " + std::to_string(clients) +
                           " clients run " + std::to_string(rep) + "/" + std::to_string(s_.repeats));
          rates.push_back(ZmqEchoCeiling(curve, clients, s_.window, referral_.ByteSizeLong() + 8, s_.io_threads,
                                         milliseconds(s_.ceiling_ms))
                              .msgs_per_s);
        }
        echo_.push_back({curve, clients, Median(rates)});
      }
    }
  }

  ScenarioResult RunScenario(const Scenario& sc) {
    ScenarioResult result{sc, {}, {}, {}, 0, {}, {}};
    TempDir dir(root_.path(), "broker-" + sc.name + "-", s_.keep);
    BrokerProcess broker(broker_binary_, dir.path(), agencies_, s_.max_batch);
    const Target target{broker.endpoint(), broker.server_public_key()};
    zmq::context_t context(s_.io_threads);
    const std::vector<BenchAgency> agencies(agencies_.begin(), agencies_.begin() + static_cast<long>(sc.clients));
    std::vector<BenchClient> clients = MakeClients(target, agencies, &context);
    for (int rep = 1; rep <= s_.repeats; ++rep) {
      Progress::Status(sc.name + ": " + std::to_string(sc.clients) + " " + ModeName(sc.mode) + " clients, run " +
                       std::to_string(rep) + "/" + std::to_string(s_.repeats) + " ...");
      ClosedLoopOptions o;
      o.mode = sc.mode;
      o.window = s_.window;
      o.per_frame = s_.per_frame;
      o.frame_window = s_.frame_window;
      o.warmup = milliseconds(s_.warmup_ms);
      o.duration = milliseconds(s_.duration_ms);
      o.run_tag = sc.name + "r" + std::to_string(rep);
      BrokerMetricsSnapshot at_begin, at_end;
      CpuSample cpu_begin, cpu_end;
      ClosedLoopResult r = RunClosedLoop(clients, referral_, o, [&](bool begin) {
        if (begin) {
          at_begin = broker.ScrapeMetrics();
          cpu_begin = SampleCpu(broker.pid());
        } else {
          cpu_end = SampleCpu(broker.pid());
          at_end = broker.ScrapeMetrics();
        }
      });
      AddInterval(cpu_begin, cpu_end, &result.cpu);
      const BrokerMetricsSnapshot d = Delta(at_begin, at_end);
      result.rates.push_back(r.per_s());
      result.acks += r.acks;
      result.measured.batch_sum += d.batch_sum;
      result.measured.batch_count += d.batch_count;
      result.measured.fsync_sum += d.fsync_sum;
      result.measured.fsync_count += d.fsync_count;
      result.measured.submissions += d.submissions;
      broker.CheckAlive();
    }
    const BrokerMetricsSnapshot total = broker.ScrapeMetrics();
    if (total.errors != 0 || total.duplicates != 0) {
      throw BenchError(sc.name + ": the broker counted " + Fixed(total.errors, 0) + " errors and " +
                       Fixed(total.duplicates, 0) + " duplicates");
    }
    clients.clear();  // every socket closed before the context is
    context.close();
    broker.Stop();
    const size_t b = ObservedBatch(result);
    result.eventlog_at_batch = MeasureEventLog(b);
    result.rocksdb_at_batch = MeasureRocksDb(b);
    return result;
  }

  void RunLatency() {
    TempDir dir(root_.path(), "broker-latency-", s_.keep);
    BrokerProcess broker(broker_binary_, dir.path(), agencies_, s_.max_batch);
    Progress::Status("latency: " + Fixed(s_.rate, 0) + " referrals/s open loop for " +
                     Fixed(s_.latency_ms / 1000.0, 1) + " s ...");
    const BrokerMetricsSnapshot before = broker.ScrapeMetrics();
    LatencyResult r;
    r.open = RunOpenLoop({broker.endpoint(), broker.server_public_key()}, agencies_[0], referral_, s_.rate,
                         milliseconds(s_.latency_ms), "lat");
    r.measured = Delta(before, broker.ScrapeMetrics());  // includes the 50 warm-up submissions
    if (r.measured.errors != 0 || r.measured.duplicates != 0) throw BenchError("latency: the broker counted errors");
    broker.Stop();
    latency_ = r;
  }

  void Report(std::ostream& out) const {
    const MachineInfo m = DescribeMachine(root_.path());
    v1::Frame frame;
    frame.set_correlation_id(1);
    *frame.mutable_submit()->mutable_referral() = referral_;
    out << "# refx-bench-ingest\n\n"
        << "- Machine: " << m.cpus << " CPUs (" << m.cpu_model << "), " << Fixed(m.memory_gib, 1)
        << " GiB, Linux " << m.kernel << "; data on " << m.device << " (" << m.fs_type
        << ", rotational=" << m.rotational << ")\n"
        << "- Load average before / after the run: " << load_before_ << " / " << load_after_
        << " (anything well above 0 before the run is other work competing for the CPUs and disk)\n"
        << "- Workload: referral " << referral_.ByteSizeLong() << " B serialized, submit frame "
        << EncodeFrame(frame).size() << " B; window " << s_.window << " per windowed client; batched clients: " << s_.per_frame
        << " referrals per SubmitBatchRequest, " << s_.frame_window << " frames in flight each; clients share one "
        << "zmq context with " << s_.io_threads << " I/O threads; broker max_batch " << s_.max_batch << "\n"
        << "- Runs: median of " << s_.repeats << "; closed loop " << s_.warmup_ms << " ms warm-up + "
        << s_.duration_ms << " ms measured; raw ceilings " << s_.ceiling_ms << " ms each"
        << (s_.quick ? " (--quick: a smoke run, not figures to quote)" : "") << "; total " << Fixed(elapsed_s_, 0)
        << " s\n\n";

    if (!flush_.empty()) {
      out << "## Disk flush latency (1,200 B append + fdatasync on a preallocated file)\n\n"
          << "| pause between writes | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|\n";
      for (const auto& [gap, f] : flush_) {
        out << "| " << (gap == 0 ? std::string("none (back to back)") : std::to_string(gap / 1000) + " ms") << " | "
            << Fixed(f.p50_ms, 2) << " | " << Fixed(f.p99_ms, 2) << " | " << Fixed(f.max_ms, 2) << " |\n";
      }
      out << "\n";
    }
    if (!eventlog_.empty() || !rocksdb_.empty()) {
      out << "## Raw write ceilings (sync=true, one fsync per batch, one writer thread)\n\n"
          << "| layer | batch | events/s | batch write p50 ms | p99 ms | writer CPU us/event |\n"
          << "|---|---:|---:|---:|---:|---:|\n";
      for (const auto& [name, table] : {std::pair{"EventLog::AppendBatch", &eventlog_},
                                        std::pair{"plain RocksDB WriteBatch", &rocksdb_}}) {
        for (const auto& [batch, c] : *table) {
          out << "| " << name << " | " << batch << " | " << Thousands(c.events_per_s) << " | "
              << Fixed(c.batch_p50_ms, 2) << " | " << Fixed(c.batch_p99_ms, 2) << " | "
              << Fixed(c.cpu_us_per_event, 1) << " |\n";
        }
      }
      out << "\n";
    }
    if (!echo_.empty()) {
      out << "## ZeroMQ loopback echo ceiling (DEALER -> ROUTER -> DEALER, " << referral_.ByteSizeLong() + 8
          << " B messages, window " << s_.window << " per client)\n\n"
          << "| security | clients | round trips/s |\n|---|---:|---:|\n";
      for (const EchoResult& e : echo_) {
        out << "| " << (e.curve ? "CURVE" : "plain (no CURVE)") << " | " << e.clients << " | "
            << Thousands(e.msgs_per_s) << " |\n";
      }
      out << "\n";
    }
    if (cpu_) {
      const CpuPath& c = *cpu_;
      out << "## Broker CPU per referral outside the sockets and the write (mean us, one thread)\n\n"
          << "| decode frame | validate | build event | serialize event | SHA-256 chain | encode ack | total "
             "| one-core limit/s |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n"
          << "| " << Fixed(c.decode_frame_us, 2) << " | " << Fixed(c.validate_us, 2) << " | "
          << Fixed(c.build_event_us, 2) << " | " << Fixed(c.serialize_event_us, 2) << " | "
          << Fixed(c.chain_hash_us, 2) << " | " << Fixed(c.encode_ack_us, 2) << " | " << Fixed(c.Total(), 2) << " | "
          << Thousands(1e6 / c.Total()) << " |\n\n"
          << "Client side, per request: encoding the submit frame " << Fixed(c.encode_frame_us, 2) << " us.\n\n";
    }
    if (!scenarios_.empty()) {
      out << "## Broker throughput (acknowledged referrals/s; real refx-broker; fresh data dir per scenario)\n\n"
          << "| scenario | clients | mode | acks/s (median) | runs | broker mean batch | mean AppendBatch ms "
             "| time in AppendBatch | EventLog ceiling at that batch (measured right after) | % of it "
             "| RocksDB at that batch | % of it |\n"
          << "|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n";
      for (const ScenarioResult& r : scenarios_) {
        const size_t b = ObservedBatch(r);
        const double el = r.eventlog_at_batch.events_per_s, rk = r.rocksdb_at_batch.events_per_s;
        std::string runs;
        for (double v : r.rates) runs += (runs.empty() ? "" : " / ") + Thousands(v);
        out << "| " << r.scenario.name << " | " << r.scenario.clients << " | " << ModeName(r.scenario.mode) << " | "
            << Thousands(r.median_rate()) << " | " << runs << " | " << Fixed(r.mean_batch(), 1) << " | "
            << Fixed(r.mean_append_ms(), 2) << " | " << Percent(r.append_share(), 1) << " | " << Thousands(el)
            << " (b=" << b << ") | " << Percent(r.median_rate(), el) << " | " << Thousands(rk) << " | "
            << Percent(r.median_rate(), rk) << " |\n";
      }
      out << "\n";
      for (const ScenarioResult& r : scenarios_) {
        out << "- " << r.scenario.clients << " " << ModeName(r.scenario.mode) << " client"
            << (r.scenario.clients > 1 ? "s" : "") << ": " << Thousands(r.median_rate()) << "/s = "
            << Percent(r.median_rate(), r.eventlog_at_batch.events_per_s)
            << " of the raw EventLog ceiling at the observed mean batch size (" << Fixed(r.mean_batch(), 1) << "); "
            << Percent(r.median_rate(), r.rocksdb_at_batch.events_per_s) << " of raw RocksDB\n";
      }
      out << "\n## CPU during the measured intervals\n\n"
          << "Cores busy (of " << m.cpus << "), and CPU time per acknowledged referral. \"Other processes\" is "
          << "everything on the machine that is neither the broker nor this benchmark.\n\n"
          << "| scenario | broker main loop | broker ZeroMQ I/O | broker other | bench clients | other processes "
             "| machine busy | broker main us/ack | broker I/O us/ack | clients us/ack | broker us/ack |\n"
          << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
      for (const ScenarioResult& r : scenarios_) {
        const CpuUse& c = r.cpu;
        const double other = c.machine - c.broker_main - c.broker_io - c.broker_other - c.bench;
        auto per_ack = [&r](double seconds) { return r.acks > 0 ? Fixed(1e6 * seconds / r.acks, 1) : "n/a"; };
        out << "| " << r.scenario.name << " | " << Fixed(c.cores(c.broker_main), 2) << " | "
            << Fixed(c.cores(c.broker_io), 2) << " | " << Fixed(c.cores(c.broker_other), 2) << " | "
            << Fixed(c.cores(c.bench), 2) << " | " << Fixed(c.cores(std::max(0.0, other)), 2) << " | "
            << Fixed(c.cores(c.machine), 2) << " | " << per_ack(c.broker_main) << " | " << per_ack(c.broker_io)
            << " | " << per_ack(c.bench) << " | " << per_ack(c.broker_main + c.broker_io + c.broker_other)
            << " |\n";
      }
      out << "\n";
    }
    if (latency_) {
      const LatencyResult& l = *latency_;
      const double batch = l.measured.batch_count > 0 ? l.measured.batch_sum / l.measured.batch_count : 0;
      const double append = l.measured.fsync_count > 0 ? 1e3 * l.measured.fsync_sum / l.measured.fsync_count : 0;
      // Share of AppendBatch calls slower than a bucket bound (from the broker's histogram).
      auto share_over = [&](double at_most) {
        const double n = l.measured.fsync_count;
        return n > 0 ? Fixed(100.0 * (n - at_most) / n, 1) + "%" : std::string("n/a");
      };
      out << "## Ack latency at a fixed offered load (open loop, measured from the scheduled send time)\n\n"
          << "| offered/s | requests | p50 ms | p99 ms | p99.9 ms | max ms | mean ms | broker mean batch "
             "| mean AppendBatch ms | AppendBatch > 1 ms | > 2 ms | max sender lag ms |\n"
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
          << "| " << Thousands(s_.rate) << " | " << l.open.sent << " | " << Fixed(l.open.p50_ms, 2) << " | "
          << Fixed(l.open.p99_ms, 2) << " | " << Fixed(l.open.p999_ms, 2) << " | " << Fixed(l.open.max_ms, 2)
          << " | " << Fixed(l.open.mean_ms, 2) << " | " << Fixed(batch, 1) << " | " << Fixed(append, 2) << " | "
          << share_over(l.measured.fsync_le_1ms) << " | " << share_over(l.measured.fsync_le_2ms) << " | "
          << Fixed(l.open.max_send_lag_ms, 2) << " |\n\n";
    }
    // The targets, stated against what was measured in this run.
    out << "## Targets\n\n";
    bool any = false;
    for (const ScenarioResult& r : scenarios_) {
      if (r.scenario.name != "w8" && r.scenario.name != "b8") continue;
      const double el = r.eventlog_at_batch.events_per_s;
      const double rocks = r.rocksdb_at_batch.events_per_s;
      const std::string who = r.scenario.name == "w8" ? "8 windowed clients, one referral per frame"
                                                      : "8 windowed clients, batch frames";
      out << "- >= 100,000 acks/s (" << who << "): " << Thousands(r.median_rate()) << "/s -> "
          << (r.median_rate() >= 100000 ? "MET" : "MISSED (" + Percent(r.median_rate(), 100000) + " of target)")
          << "\n- >= 50% of the raw ceiling (" << who << ", at their batch size): " << Percent(r.median_rate(), el)
          << " of EventLog -> " << (r.median_rate() >= 0.5 * el ? "MET" : "MISSED") << "; "
          << Percent(r.median_rate(), rocks) << " of plain RocksDB -> "
          << (r.median_rate() >= 0.5 * rocks ? "MET" : "MISSED") << "\n";
      any = true;
    }
    if (latency_) {
      out << "- p99 ack <= 2 ms at " << Thousands(s_.rate) << "/s: " << Fixed(latency_->open.p99_ms, 2) << " ms -> "
          << (latency_->open.p99_ms <= 2.0 ? "MET" : "MISSED") << "\n";
      any = true;
    }
    if (!any) out << "(run w8 and latency to check the targets)\n";
  }

  Settings s_;
  TempDir root_;
  std::string broker_binary_;
  v1::Referral referral_;
  std::vector<BenchAgency> agencies_;
  std::map<size_t, CeilingResult> eventlog_, rocksdb_;
  std::vector<EchoResult> echo_;
  std::vector<std::pair<int, FlushLatency>> flush_;  // gap in us, latency
  std::optional<CpuPath> cpu_;
  std::vector<ScenarioResult> scenarios_;
  std::optional<LatencyResult> latency_;
  double elapsed_s_ = 0;
  std::string load_before_, load_after_;
};

}  // namespace
}  // namespace refx::bench

int main(int argc, char** argv) {
  refx::bench::Settings s;
  CLI::App app{"refx-bench-ingest: broker ingest throughput and latency against raw ceilings"};
  refx::bench::AddLoadFlags(app, &s, "referrals");
  app.add_option("--scenarios", s.scenarios,
                 "Comma-separated: all, ceilings, windowed, batched, strict, disk, eventlog, rocksdb, echo, cpu, w1, w8, "
                 "w64, b1, b8, b64, s1, s8, s64, latency")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--ceiling-ms", s.ceiling_ms, "Duration of each raw ceiling run")->capture_default_str();
  app.add_option("--per-frame", s.per_frame, "Referrals per batch frame (b1, b8, b64)")->capture_default_str();
  app.add_option("--frame-window", s.frame_window, "Batch frames in flight per batched client")->capture_default_str();
  app.add_option("--io-threads", s.io_threads, "I/O threads of the clients' shared zmq context")->capture_default_str();
  app.add_option("--max-batch", s.max_batch, "Broker max_batch (configuration)")->capture_default_str();
  app.add_option("--broker", s.broker, "refx-broker binary; default: next to this program");
  CLI11_PARSE(app, argc, argv);
  if (s.quick && app.count("--ceiling-ms") == 0) s.ceiling_ms = 200;
  if (!refx::bench::FinishLoadFlags(app, "refx-bench-ingest", &s)) return 2;
  if (s.ceiling_ms < 1 || s.per_frame < 1 || s.frame_window < 1 || s.io_threads < 1) {
    std::fprintf(stderr, "refx-bench-ingest: --ceiling-ms, --per-frame, --frame-window and --io-threads must be positive\n");
    return 2;
  }
  return refx::bench::RunReportingFailure("refx-bench-ingest", [&] {
    const auto parts = refx::bench::Expand(s.scenarios);
    refx::bench::IngestBench bench(s);
    bench.Run(parts);
    return 0;
  });
}
