#include "cli/offline/commands.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/checkpoint_file.h"
#include "cli/exit_codes.h"
#include "cli/progress_bar.h"
#include "core/json.h"
#include "eventlog/backup.h"
#include "eventlog/checkpoints.h"
#include "eventlog/event_log.h"
#include "eventlog/verifier.h"
#include "refx/v1/checkpoint.pb.h"
#include "refx/v1/cli.pb.h"

namespace refx::cli::offline {

namespace {

// Opens an existing log read-only, tolerating a damaged head so that the
// verifier can name it.
Status OpenForAudit(const std::string& db, std::unique_ptr<eventlog::EventLog>* log) {
  std::error_code ec;
  if (!std::filesystem::is_directory(db, ec)) return Status::NotFound(db + ": no such folder");
  if (!std::filesystem::exists(std::filesystem::path(db) / "CURRENT", ec)) {
    return Status::NotFound(db + ": not an event log (no RocksDB CURRENT file)");
  }
  eventlog::OpenOptions options;
  options.path = db;
  options.create_if_missing = false;
  options.read_only = true;
  options.skip_head_check = true;
  return eventlog::EventLog::Open(options, log);
}

void DrawVerifyProgress(uint64_t checked, uint64_t total) {
  DrawProgress("verifying", checked, total, EventsDetail(checked, total, -1));
}

}  // namespace

int RunVerify(const VerifyArgs& args) {
  eventlog::VerifyOptions options;
  options.threads = args.threads;
  for (const std::string& path : args.signing_pubs) {
    std::string key;
    Status s = eventlog::LoadSigningPublicKey(path, &key);
    if (!s.ok()) {
      std::fprintf(stderr, "refx audit verify: %s\n", s.ToString().c_str());
      return kExitSetupError;
    }
    options.signing_public_keys.push_back(std::move(key));
  }
  for (const std::string& path : args.checkpoint_files) {
    Status s = ReadCheckpointFile(path, &options.trusted_checkpoints);
    if (!s.ok()) {
      std::fprintf(stderr, "refx audit verify: %s\n", s.ToString().c_str());
      return kExitSetupError;
    }
  }
  std::unique_ptr<eventlog::EventLog> log;
  Status s = OpenForAudit(args.db, &log);
  if (!s.ok()) {
    std::fprintf(stderr, "refx audit verify: cannot open the log: %s\n", s.ToString().c_str());
    return kExitSetupError;
  }
  const bool bar = ::isatty(STDERR_FILENO) == 1;
  if (bar) options.progress = DrawVerifyProgress;
  const auto start = std::chrono::steady_clock::now();
  const eventlog::LogVerifyReport report = eventlog::VerifyLog(*log, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (bar) ClearProgress();

  if (args.json) {
    v1::VerifyResult result;
    result.set_db(args.db);
    result.set_ok(report.ok());
    result.set_problem(eventlog::LogProblemName(report.problem));
    result.set_first_bad_seq(report.first_bad_seq);
    result.set_detail(report.detail);
    result.set_events_checked(report.events_checked);
    result.set_last_seq(report.last_seq);
    result.set_head_seq(report.head_seq);
    result.set_index_entries_checked(report.index_entries_checked);
    result.set_checkpoints_checked(report.checkpoints_checked);
    result.set_last_checkpoint_seq(report.last_checkpoint_seq);
    result.set_checkpoints_authenticated(report.checkpoints_authenticated);
    result.set_seconds(seconds);
    std::printf("%s\n", ToJsonLine(result).c_str());
  } else if (report.ok()) {
    std::printf("intact: %llu events (head seq %llu), %llu index entries, %llu checkpoints, %.2f s (%.0f events/s)\n",
                static_cast<unsigned long long>(report.events_checked),
                static_cast<unsigned long long>(report.head_seq),
                static_cast<unsigned long long>(report.index_entries_checked),
                static_cast<unsigned long long>(report.checkpoints_checked), seconds,
                seconds > 0 ? static_cast<double>(report.events_checked) / seconds : 0.0);
    if (report.last_checkpoint_seq == 0) {
      std::printf("warning: no signed checkpoint vouches for this log: a rewrite with a recomputed chain would "
                  "not be detected\n");
    } else if (!report.checkpoints_authenticated) {
      std::printf("warning: checkpoint signatures were NOT checked (pass --signing-pub FILE); last checkpoint seq "
                  "%llu\n",
                  static_cast<unsigned long long>(report.last_checkpoint_seq));
    } else {
      std::printf("signed checkpoints verified up to seq %llu",
                  static_cast<unsigned long long>(report.last_checkpoint_seq));
      if (report.last_checkpoint_seq < report.last_seq) {
        std::printf("; seqs %llu..%llu are not yet covered by a checkpoint",
                    static_cast<unsigned long long>(report.last_checkpoint_seq + 1),
                    static_cast<unsigned long long>(report.last_seq));
      }
      std::printf("\n");
    }
  } else {
    std::printf("first bad seq %llu: %s: %s\n", static_cast<unsigned long long>(report.first_bad_seq),
                eventlog::LogProblemName(report.problem), report.detail.c_str());
  }
  return report.ok() ? kExitOk : kExitTampered;
}

int RunCheckpoint(const CheckpointArgs& args) {
  const std::string& db = args.db;
  std::unique_ptr<eventlog::EventLog> log;
  Status s = OpenForAudit(db, &log);
  if (!s.ok()) {
    std::fprintf(stderr, "refx audit checkpoint: cannot open the log: %s\n", s.ToString().c_str());
    return kExitSetupError;
  }
  std::vector<v1::Checkpoint> checkpoints;
  s = eventlog::ReadCheckpoints(*log, &checkpoints);
  if (!s.ok()) {
    std::fprintf(stderr, "refx audit checkpoint: %s\n", s.ToString().c_str());
    return kExitTampered;
  }
  if (checkpoints.empty()) {
    std::fprintf(stderr, "refx audit checkpoint: %s holds no signed checkpoint\n", db.c_str());
    return kExitSetupError;
  }
  if (args.all) {
    for (const v1::Checkpoint& cp : checkpoints) std::printf("%s\n", ToJsonLine(cp).c_str());
  } else {
    std::printf("%s\n", ToJsonLine(checkpoints.back()).c_str());
  }
  return kExitOk;
}

int RunRestore(const RestoreArgs& args) {
  const std::string command = "admin restore";
  eventlog::BackupReport report;
  Status s = eventlog::RestoreLatestBackup(args.backup_dir, args.data_dir, &report);
  if (!s.ok()) return Fail(command, s, kExitSetupError);
  std::printf("restored backup %u from %s into %s: head seq %llu, %llu bytes in %u files\n", report.backup_id,
              args.backup_dir.c_str(), args.data_dir.c_str(), static_cast<unsigned long long>(report.head_seq),
              static_cast<unsigned long long>(report.size_bytes), report.file_count);
  std::printf("now check it: refx audit verify --db %s\n", args.data_dir.c_str());
  return kExitOk;
}

}  // namespace refx::cli::offline
