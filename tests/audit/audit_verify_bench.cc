// Builds a synthetic event log (audit_log_builder.h: small submissions and
// lifecycle events, dedupe keys, destinations, a checkpoint every N events)
// and times VerifyLog on it.
//
//   audit_verify_bench [--events N] [--dir DIR] [--every N] [--threads N]
//
// With --dir the log is kept (and reused when it already exists), so
// `refx audit verify --db DIR/log` can be timed on it too. Before timing,
// the memtables are flushed to SST files, as a backup (RocksDB BackupEngine
// or Checkpoint) does, so the read-only open does not replay the WAL.
// Prints wall time and process CPU time (the figure that matters on a busy
// machine).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include <rocksdb/db.h>
#include <time.h>
#include <unistd.h>

#include "eventlog/checkpoints.h"
#include "eventlog/event_log.h"
#include "eventlog/verifier.h"
#include "tests/audit/audit_log_builder.h"

using namespace refx;
using namespace refx::eventlog;

namespace {

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Flushes every column family, as a backup would.
Status FlushAll(const std::string& path) {
  audit_testing::RawDb raw(path);
  if (!raw.status().ok()) return Status::IoError(raw.status().ToString());
  rocksdb::FlushOptions fo;
  fo.wait = true;
  for (const auto& name : ColumnFamilyNames()) {
    rocksdb::Status s = raw.db()->Flush(fo, raw.cf(name));
    if (!s.ok()) return Status::IoError(s.ToString());
  }
  return Status::OK();
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t events = 1000000, every = 1000;
  unsigned threads = 0;
  std::string dir;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--events") events = std::strtoull(next(), nullptr, 10);
    else if (arg == "--every") every = std::strtoull(next(), nullptr, 10);
    else if (arg == "--threads") threads = static_cast<unsigned>(std::strtoul(next(), nullptr, 10));
    else if (arg == "--dir") dir = next();
    else {
      std::fprintf(stderr, "usage: audit_verify_bench [--events N] [--dir DIR] [--every N] [--threads N]\n");
      return 2;
    }
  }
  const bool keep = !dir.empty();
  if (!keep) dir = (std::filesystem::temp_directory_path() / ("refx-audit-bench-" + std::to_string(::getpid()))).string();
  const std::string path = dir + "/log";
  std::string public_key;

  if (!std::filesystem::exists(path)) {
    Status s = GenerateSigningKeyPair(dir, "broker");
    std::unique_ptr<CheckpointSigner> signer;
    if (s.ok()) s = CheckpointSigner::Load(SigningSecretKeyPath(dir, "broker"), &signer);
    std::unique_ptr<EventLog> log;
    OpenOptions o;
    o.path = path;
    if (s.ok()) s = EventLog::Open(o, &log);
    const auto start = std::chrono::steady_clock::now();
    if (s.ok()) s = audit_testing::AppendSynthetic(log.get(), events, signer.get(), every, 2000);
    if (!s.ok()) {
      std::fprintf(stderr, "building the log: %s\n", s.ToString().c_str());
      return 1;
    }
    std::printf("built %llu events (checkpoint every %llu) in %.1f s at %s\n",
                static_cast<unsigned long long>(events), static_cast<unsigned long long>(every), Since(start),
                path.c_str());
  }
  Status s = FlushAll(path);
  if (!s.ok()) {
    std::fprintf(stderr, "flushing: %s\n", s.ToString().c_str());
    return 1;
  }
  s = LoadSigningPublicKey(SigningPublicKeyPath(dir, "broker"), &public_key);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }

  OpenOptions o;
  o.path = path;
  o.read_only = true;
  o.create_if_missing = false;
  o.skip_head_check = true;
  std::unique_ptr<EventLog> log;
  const auto open_start = std::chrono::steady_clock::now();
  s = EventLog::Open(o, &log);
  std::printf("read-only open: %.3f s\n", Since(open_start));
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  for (bool indexes : {true, false}) {
    VerifyOptions options;
    options.signing_public_keys = {public_key};
    options.threads = threads;
    options.check_indexes = indexes;
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = CpuSeconds();
    LogVerifyReport report = VerifyLog(*log, options);
    const double seconds = Since(start);
    const double cpu = CpuSeconds() - cpu_start;
    std::printf("verify%s: %s, %llu events, %llu index entries, %llu checkpoints, %.3f s wall (%.0f events/s), "
                "%.3f s CPU (%.0f events per CPU second)%s\n",
                indexes ? "" : " (no index check)", report.ok() ? "intact" : LogProblemName(report.problem),
                static_cast<unsigned long long>(report.events_checked),
                static_cast<unsigned long long>(report.index_entries_checked),
                static_cast<unsigned long long>(report.checkpoints_checked), seconds,
                static_cast<double>(report.events_checked) / seconds, cpu,
                static_cast<double>(report.events_checked) / cpu,
                report.hash_accelerated ? " (SHA extensions)" : " (portable SHA-256)");
  }
  log.reset();
  if (!keep) std::filesystem::remove_all(dir);
  return 0;
}
