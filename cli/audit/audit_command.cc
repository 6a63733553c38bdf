#include "cli/audit/audit_command.h"
#include "cli/audit/audited_read.h"
#include "cli/checkpoint_file.h"
#include "cli/progress_bar.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cli/audit/subcommands.h"
#include "core/json.h"
#include "eventlog/checkpoints.h"
#include "eventlog/event_log.h"
#include "eventlog/verifier.h"
#include "refx/v1/checkpoint.pb.h"
#include "refx/v1/cli.pb.h"

namespace refx::cli {

namespace {

struct VerifyArgs {
  std::string db;
  std::string as = audit::kDefaultAuditor;  // online only
  std::string purpose;                      // online only
  std::vector<std::string> signing_pubs;
  std::vector<std::string> checkpoint_files;
  bool json = false;
  unsigned threads = 0;
};

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

int RunCheckpoint(const std::string& db, bool all) {
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
  if (all) {
    for (const v1::Checkpoint& cp : checkpoints) std::printf("%s\n", ToJsonLine(cp).c_str());
  } else {
    std::printf("%s\n", ToJsonLine(checkpoints.back()).c_str());
  }
  return kExitOk;
}

int RunKeygen(const std::string& name, const std::string& dir) {
  if (std::filesystem::exists(eventlog::SigningSecretKeyPath(dir, name)) ||
      std::filesystem::exists(eventlog::SigningPublicKeyPath(dir, name))) {
    std::printf("kept the existing signing key %s\n", eventlog::SigningSecretKeyPath(dir, name).c_str());
    return kExitOk;
  }
  std::string key_id;
  Status s = eventlog::GenerateSigningKeyPair(dir, name, &key_id);
  if (!s.ok()) {
    std::fprintf(stderr, "refx: gen-signing-key: %s\n", s.ToString().c_str());
    return kExitSetupError;
  }
  std::printf("generated %s and %s (key id %s)\n", eventlog::SigningSecretKeyPath(dir, name).c_str(),
              eventlog::SigningPublicKeyPath(dir, name).c_str(), key_id.c_str());
  return kExitOk;
}

}  // namespace

void AddAuditCommand(CLI::App& app, ConnectionFlags* flags, int* exit_code) {
  CLI::App* audit = app.add_subcommand(
      "audit", "For auditors: verify the log (offline or through the broker), and read a referral's history "
               "(every read is recorded with its --purpose)");
  audit->require_subcommand(1);

  auto verify_args = std::make_shared<VerifyArgs>();
  CLI::App* verify = audit->add_subcommand(
      "verify", "Verify the log: with --db a log folder or restored backup (chain, seqs, head, indexes, signed "
                "checkpoints); without --db the running broker's log, streamed as an auditor (chain, seqs, "
                "signed checkpoints; --purpose required). Exit 0 intact, 4 tampered, 1 setup error, 2 refused, "
                "3 broker unreachable");
  verify->add_option("--db", verify_args->db, "The event log folder (opened read-only); omit to verify online");
  verify->add_option("--purpose", verify_args->purpose,
                     "Online: why you read the log (recorded by the broker as a record_accessed event)");
  verify->add_option("--as", verify_args->as,
                     "Online: identity to read as: an agency id or a destination code (role AUDITOR)")
      ->capture_default_str();
  verify->add_option("--signing-pub", verify_args->signing_pubs,
                     "Checkpoint signing public key file NAME.sign.pub (repeatable)");
  verify->add_option("--checkpoint", verify_args->checkpoint_files,
                     "File of refx.v1.Checkpoint JSON lines kept off the broker's host (repeatable)");
  verify->add_option("--threads", verify_args->threads, "Offline: worker threads (default: one per core)");
  verify->add_flag("--json", verify_args->json, "One refx.v1.VerifyResult JSON line");
  verify->callback([verify_args, flags, exit_code] {
    if (!verify_args->db.empty()) {
      *exit_code = RunVerify(*verify_args);
      return;
    }
    OnlineVerifyArgs online;
    online.as = verify_args->as;
    online.purpose = verify_args->purpose;
    online.signing_pubs = verify_args->signing_pubs;
    online.checkpoint_files = verify_args->checkpoint_files;
    online.json = verify_args->json;
    *exit_code = RunOnlineVerify(*flags, online);
  });

  AddAuditTimelineCommand(audit, flags, exit_code);
  AddAuditReplayCommand(audit, flags, exit_code);
  AddAuditAsOfCommand(audit, flags, exit_code);
  AddAuditExportCommand(audit, flags, exit_code);

  auto checkpoint_db = std::make_shared<std::string>();
  auto checkpoint_all = std::make_shared<bool>(false);
  CLI::App* checkpoint = audit->add_subcommand(
      "checkpoint", "Print the latest stored signed checkpoint as JSON, to keep off the broker's host");
  checkpoint->add_option("--db", *checkpoint_db, "The event log folder (opened read-only)")->required();
  checkpoint->add_flag("--all", *checkpoint_all, "Every stored checkpoint, one JSON line each");
  checkpoint->callback([checkpoint_db, checkpoint_all, exit_code] {
    *exit_code = RunCheckpoint(*checkpoint_db, *checkpoint_all);
  });

  // The signing key generator: on `refx keys` when it is there.
  CLI::App* keys = nullptr;
  for (CLI::App* sub : app.get_subcommands([](CLI::App* a) { return a->get_name() == "keys"; })) keys = sub;
  auto keygen_name = std::make_shared<std::string>();
  auto keygen_dir = std::make_shared<std::string>();
  CLI::App* keygen =
      keys != nullptr
          ? keys->add_subcommand("gen-signing-key",
                                 "Generate the checkpoint signing key pair NAME.sign.key / NAME.sign.pub in --dir "
                                 "(existing ones are kept)")
          : audit->add_subcommand("keygen", "Generate the checkpoint signing key pair NAME.sign.key / NAME.sign.pub");
  keygen->add_option("name", *keygen_name, "Key pair name (e.g. broker)")->required();
  keygen->add_option("--dir", *keygen_dir, "Folder for the key files")->required();
  keygen->callback([keygen_name, keygen_dir, exit_code] { *exit_code = RunKeygen(*keygen_name, *keygen_dir); });
}

}  // namespace refx::cli
