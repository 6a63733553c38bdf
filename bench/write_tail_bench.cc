// refx-bench-write-tail: where the tail of a synced append comes from
// (issue 14 item 4: refx's ack latency at 1,000/s has a p99 several times
// its p50, Redis's on the same disk does not).
//
// It appends one ~1 KB referral_submitted per EventLog::AppendBatch (what
// the broker writes inline at 1,000/s: batches of one), paced at --rate, in
// a temporary log on the disk under --tmp, and times each call by stage
// with RocksDB's perf and I/O stats contexts: the WAL's fdatasync, the WAL
// write, the memtable inserts, write stalls (delay), the write group's wait,
// and the rest (our serialisation, sealing, chain hash, the unsynced index
// batch). Beside it, in the same run, the disk's own flush: a plain file,
// the same bytes, write + fdatasync at the same pace (before and after).
// It prints p50/p99/p99.9 of each, and for the slowest 1% of appends the
// mean of each stage: which stage the tail is made of.
//
// A benchmark, not a test: nothing asserts on timing.
#include <CLI/CLI.hpp>
#include <rocksdb/iostats_context.h>
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "bench/bench_support.h"
#include "bench/ceilings.h"
#include "core/event_util.h"
#include "core/subject_key.h"
#include "eventlog/event_log.h"
#include "eventlog/keys.h"
#include "eventlog/sealing.h"

namespace refx::bench {
namespace {

struct Settings {
  double rate = 1000;
  int seconds = 20;
  std::string tmp;
  bool sealed = true;
  bool keep = false;
};

// One append's time by stage, in milliseconds.
struct Stages {
  double at = 0;  // seconds since the first append
  double total = 0, fsync = 0, wal = 0, memtable = 0, delay = 0, group_wait = 0, other = 0;
};

std::string Ms(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

int Run(const Settings& s) {
  TempDir dir(s.tmp, "refx-bench-write-tail-", s.keep);
  const std::string load_before = LoadAverage();
  const int count = static_cast<int>(s.rate * s.seconds);
  const auto gap = std::chrono::microseconds(static_cast<int64_t>(1e6 / s.rate));

  // The disk alone, at the same pace and size.
  std::filesystem::create_directories(dir.path() + "/disk-before");
  std::filesystem::create_directories(dir.path() + "/disk-after");
  const FlushLatency disk_before = DiskFlushProbe(dir.path() + "/disk-before", 1200, gap, std::min(count, 5000));

  eventlog::OpenOptions o;
  o.path = dir.path() + "/log";
  o.sync = true;
  if (s.sealed) {
    const std::string key = dir.path() + "/master.key";
    Status k = GenerateSecretKeyFile(key, "master key");
    if (k.ok()) k = eventlog::LoadMasterKeyFile(key, &o.master_key);
    if (!k.ok()) throw BenchError("master key: " + k.ToString());
  }
  std::unique_ptr<eventlog::EventLog> log;
  Status st = eventlog::EventLog::Open(o, &log);
  if (!st.ok()) throw BenchError("EventLog::Open: " + st.ToString());
  const v1::Referral referral = MakeReferral("bench-agency-00");
  std::vector<eventlog::PendingEvent> one(1);
  one[0].event = MakeSubmittedEvent(1, "bench-agency-00", referral);

  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableTimeExceptForMutex);
  std::vector<Stages> stages;
  stages.reserve(static_cast<size_t>(count));
  // When a table file appears (a memtable flush or a compaction writing),
  // seconds since the first append: appends near one are told apart below.
  std::vector<double> table_files_at;
  size_t tables = 0;
  auto count_tables = [&] {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(o.path)) n += e.path().extension() == ".sst";
    return n;
  };
  const auto first = Clock::now();
  auto next = first;
  for (int i = 0; i < count; ++i) {
    if (i % 10 == 0) {
      const size_t n = count_tables();
      if (n > tables && i > 0) table_files_at.push_back(std::chrono::duration<double>(Clock::now() - first).count());
      tables = n;
    }
    next += gap;
    std::this_thread::sleep_until(next);
    const uint64_t seq = log->head_seq() + 1;
    one[0].event.set_seq(seq);
    one[0].event.mutable_referral_submitted()->set_referral_id(ReferralIdForSeq(seq));
    one[0].dedupe_key = eventlog::DedupeKey("bench-agency-00", Reference("tail", seq));
    rocksdb::get_perf_context()->Reset();
    rocksdb::get_iostats_context()->Reset();
    const auto start = Clock::now();
    st = log->AppendBatch(one);
    const double total = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (!st.ok()) throw BenchError("AppendBatch: " + st.ToString());
    const auto* pc = rocksdb::get_perf_context();
    Stages x;
    x.at = std::chrono::duration<double>(start - first).count();
    x.total = total;
    x.fsync = rocksdb::get_iostats_context()->fsync_nanos / 1e6;
    x.wal = pc->write_wal_time / 1e6 - x.fsync;
    if (x.wal < 0) x.wal = 0;
    x.memtable = pc->write_memtable_time / 1e6;
    x.delay = pc->write_delay_time / 1e6;
    x.group_wait = pc->write_thread_wait_nanos / 1e6;
    x.other = std::max(0.0, total - x.fsync - x.wal - x.memtable - x.delay - x.group_wait);
    stages.push_back(x);
  }
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  log.reset();
  const FlushLatency disk_after = DiskFlushProbe(dir.path() + "/disk-after", 1200, gap, std::min(count, 5000));

  std::vector<double> cols[7];
  for (const Stages& x : stages) {
    const double v[7] = {x.total, x.fsync, x.wal, x.memtable, x.delay, x.group_wait, x.other};
    for (int c = 0; c < 7; ++c) cols[c].push_back(v[c]);
  }
  // The slowest 1% of appends, and the mean of each stage in them.
  std::vector<Stages> slow = stages;
  std::sort(slow.begin(), slow.end(), [](const Stages& a, const Stages& b) { return a.total > b.total; });
  slow.resize(std::max<size_t>(1, slow.size() / 100));
  double mean[7] = {};
  for (const Stages& x : slow) {
    const double v[7] = {x.total, x.fsync, x.wal, x.memtable, x.delay, x.group_wait, x.other};
    for (int c = 0; c < 7; ++c) mean[c] += v[c] / static_cast<double>(slow.size());
  }
  // Appends within 2 s of a new table file (flush or compaction I/O under
  // way) against the rest.
  std::vector<double> near, far;
  for (const Stages& x : stages) {
    bool close = false;
    for (double t : table_files_at) close = close || (x.at > t - 2 && x.at < t + 2);
    (close ? near : far).push_back(x.total);
  }
  std::sort(near.begin(), near.end());
  std::sort(far.begin(), far.end());
  static const char* kNames[7] = {"AppendBatch, total", "WAL fdatasync", "WAL write (without the sync)",
                                  "memtable inserts", "write stall (delay)", "write group wait",
                                  "the rest (serialise, seal, hash, index batch)"};
  std::ostream& out = std::cout;
  out << "# Synced append tail: " << Thousands(s.rate) << " appends/s of one ~1 KB referral_submitted"
      << (s.sealed ? " (sealed)" : "") << " for " << s.seconds << " s\n\n"
      << "Load average before / after: " << load_before << " / " << LoadAverage() << "\n\n"
      << "| stage | p50 ms | p99 ms | p99.9 ms | max ms | mean in the slowest 1% ms |\n|---|---:|---:|---:|---:|---:|\n";
  for (int c = 0; c < 7; ++c) {
    std::vector<double> v = cols[c];
    std::sort(v.begin(), v.end());
    out << "| " << kNames[c] << " | " << Ms(PercentileSorted(v, 50)) << " | " << Ms(PercentileSorted(v, 99)) << " | "
        << Ms(PercentileSorted(v, 99.9)) << " | " << Ms(v.back()) << " | " << Ms(mean[c]) << " |\n";
  }
  out << "| disk alone (1,200 B write + fdatasync, same pace), before | " << Ms(disk_before.p50_ms) << " | "
      << Ms(disk_before.p99_ms) << " | | " << Ms(disk_before.max_ms) << " | |\n"
      << "| disk alone, after | " << Ms(disk_after.p50_ms) << " | " << Ms(disk_after.p99_ms) << " | | "
      << Ms(disk_after.max_ms) << " | |\n\n"
      << "Table files written during the run (memtable flushes, compactions): " << table_files_at.size() << "\n\n"
      << "| appends | count | p50 ms | p99 ms | p99.9 ms |\n|---|---:|---:|---:|---:|\n";
  for (const auto& [name, v] : {std::pair{"within 2 s of a new table file", &near}, std::pair{"the others", &far}}) {
    if (v->empty()) continue;
    out << "| " << name << " | " << v->size() << " | " << Ms(PercentileSorted(*v, 50)) << " | "
        << Ms(PercentileSorted(*v, 99)) << " | " << Ms(PercentileSorted(*v, 99.9)) << " |\n";
  }
  return 0;
}

}  // namespace
}  // namespace refx::bench

int main(int argc, char** argv) {
  refx::bench::Settings s;
  CLI::App app{"refx-bench-write-tail: the stages of a synced EventLog append at a fixed pace"};
  app.add_option("--rate", s.rate, "Appends per second")->capture_default_str();
  app.add_option("--seconds", s.seconds, "Duration")->capture_default_str();
  app.add_option("--tmp", s.tmp, "Base of the temporary folder (on the disk to measure)");
  app.add_flag("!--plain", s.sealed, "Do not seal personal fields (no master key)");
  app.add_flag("--keep-temp", s.keep, "Keep the temporary folder");
  CLI11_PARSE(app, argc, argv);
  if (s.rate <= 0 || s.seconds < 1) {
    std::fprintf(stderr, "refx-bench-write-tail: --rate and --seconds must be positive\n");
    return 2;
  }
  return refx::bench::RunReportingFailure("refx-bench-write-tail", [&] { return refx::bench::Run(s); });
}
