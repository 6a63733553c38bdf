#include "cli/admin_command.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/audit/subcommands.h"
#include "cli/audit/subject_search.h"
#include "cli/connect.h"
#include "core/frame_codec.h"
#include "core/json.h"
#include "cli/offline/arguments.h"
#include "cli/offline/handover.h"

namespace refx::cli {

namespace {

struct BackupArgs {
  std::string dir;
  std::string as = "refx-admin";
  int wait_s = 3600;
  bool json = false;
};

struct ReloadArgs {
  std::string as = "refx-admin";
  bool json = false;
};

struct EraseArgs {
  std::string referral;
  std::string reason;
  bool override_retention = false;
  bool subject = false;          // every referral about the person in `search`
  audit::SubjectSearch search;   // with --subject: name, date of birth, configuration
  std::string as = "refx-admin";
  int wait_s = 600;
  bool json = false;
};

int RunBackup(const ConnectionFlags& flags, const BackupArgs& args) {
  const std::string command = "admin backup";
  std::error_code ec;
  const std::string dir = std::filesystem::absolute(args.dir, ec).lexically_normal().string();
  if (ec || args.dir.empty()) return Fail(command, Status::InvalidArgument("DIR is not a usable path"), kExitRefused);
  // Is the broker there? (A backup takes a while, so it is sent once with a
  // long wait rather than retried: a retry would take a second backup.)
  std::unique_ptr<BrokerClient> probe;
  Status s = ConnectAs(flags, args.as, &probe);
  if (!s.ok()) return Fail(command, s, ExitCodeForConnect(s));
  uint64_t head = 0;
  s = HeadSeq(probe.get(), &head);
  if (!s.ok()) return Fail(command, s, ExitCodeFor(s));
  probe.reset();
  ConnectionFlags once = flags;
  once.timeout_ms = args.wait_s * 1000;
  once.attempts = 1;
  std::unique_ptr<BrokerClient> client;
  s = ConnectAs(once, args.as, &client);
  if (!s.ok()) return Fail(command, s, ExitCodeForConnect(s));
  v1::Frame request, reply;
  request.mutable_backup()->set_dir(dir);
  if (!args.json) std::fprintf(stderr, "refx admin backup: backing up the broker's log into %s ...\n", dir.c_str());
  s = client->Call(request, &reply);
  if (!s.ok()) return Fail(command, s, ExitCodeFor(s));
  if (reply.has_error()) return Fail(command, StatusFromError(reply.error()), kExitRefused);
  if (!reply.has_backup_result()) return Fail(command, Status::Internal("unexpected reply to a BackupRequest"), kExitRefused);
  const v1::BackupResult& r = reply.backup_result();
  if (args.json) {
    std::printf("%s\n", ToJsonLine(r).c_str());
  } else {
    std::printf("backup %u of the broker's log in %s: head seq %llu, %llu bytes in %u files, %s, %.2f s\n",
                r.backup_id(), dir.c_str(), static_cast<unsigned long long>(r.head_seq()),
                static_cast<unsigned long long>(r.size_bytes()), r.file_count(),
                r.verified() ? "verified (sizes and checksums)" : "NOT verified", r.seconds());
    if (!r.expired_backup_ids().empty()) {
      std::string ids;
      for (uint32_t id : r.expired_backup_ids()) ids += (ids.empty() ? "" : ", ") + std::to_string(id);
      std::printf("expired (broker { backup { } }): backup%s %s deleted; %u kept\n",
                  r.expired_backup_ids_size() == 1 ? "" : "s", ids.c_str(), r.backups_kept());
    }
    std::printf("restore it with: refx admin restore %s --to NEW_DATA_DIR\n", dir.c_str());
  }
  return r.verified() ? kExitOk : kExitRefused;
}

int RunReload(const ConnectionFlags& flags, const ReloadArgs& args) {
  const std::string command = "admin reload";
  std::unique_ptr<BrokerClient> client;
  Status s = ConnectAs(flags, args.as, &client);
  if (!s.ok()) return Fail(command, s, ExitCodeForConnect(s));
  v1::Frame request, reply;
  request.mutable_reload();
  s = client->Call(request, &reply);
  if (!s.ok()) return Fail(command, s, ExitCodeFor(s));
  // A bad file: the broker's error names FILE:LINE:COLUMN; it keeps running
  // on the configuration it had.
  if (reply.has_error()) return Fail(command, StatusFromError(reply.error()), kExitRefused);
  if (!reply.has_reload_result()) return Fail(command, Status::Internal("unexpected reply to a ReloadRequest"), kExitRefused);
  const v1::ReloadResult& r = reply.reload_result();
  if (args.json) {
    std::printf("%s\n", ToJsonLine(r).c_str());
    return kExitOk;
  }
  std::printf("configuration reloaded from %s: %u agencies, %u people, %u destinations, %u rules\n",
              r.config_file().c_str(), r.agencies(), r.people(), r.destinations(), r.rules());
  if (r.changes().empty()) std::printf("  no changes\n");
  for (const std::string& change : r.changes()) std::printf("  %s\n", change.c_str());
  return kExitOk;
}

// Erases one referral through `client` and prints the result. kExitOk, or
// the exit code after printing why.
int EraseOne(const std::string& command, BrokerClient* client, const EraseArgs& args, const std::string& referral) {
  v1::Frame request, reply;
  v1::EraseRequest* erase = request.mutable_erase();
  erase->set_referral_id(referral);
  erase->set_reason(args.reason);
  erase->set_override_retention(args.override_retention);
  Status s = client->Call(request, &reply);
  if (!s.ok()) return Fail(command, s, ExitCodeFor(s));
  if (reply.has_error()) return Fail(command, StatusFromError(reply.error()), kExitRefused);
  if (!reply.has_erase_result()) return Fail(command, Status::Internal("unexpected reply to an EraseRequest"), kExitRefused);
  const v1::EraseResult& r = reply.erase_result();
  if (args.json) {
    std::printf("%s\n", ToJsonLine(r).c_str());
  } else {
    std::printf("erased %s: its data key is destroyed and purged from the log's files (subject_erased at seq %llu, "
                "%.2f s); backups taken before now still hold it until they are deleted\n",
                r.referral_id().c_str(), static_cast<unsigned long long>(r.seq()), r.seconds());
  }
  return kExitOk;
}

int RunErase(const ConnectionFlags& flags, const EraseArgs& args) {
  const std::string command = "admin erase";
  if (args.reason.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Fail(command, Status::InvalidArgument("--reason is required: say why the record is erased"), kExitRefused);
  }
  const Status which = audit::CheckReferralOrSubject(args.referral, args.subject, args.search);
  if (!which.ok()) return Fail(command, which, kExitRefused);
  std::vector<std::string> referrals;
  if (args.subject) {
    // The referrals about the person, found as `refx audit subject` finds
    // them (erased ones are not found again); the search is recorded with
    // the erasure's reason as its purpose.
    audit::SubjectSearch search = args.search;
    search.as = args.as;
    search.purpose = "erasure: " + args.reason;
    v1::QueryResult found;
    const int exit = audit::FindSubjectReferrals(command, flags, search, &found);
    if (exit != kExitOk) return exit;
    for (const v1::SubjectReferral& r : found.referrals()) referrals.push_back(r.referral().referral_id());
    if (referrals.empty()) {
      std::fprintf(stderr, "refx %s: no referral about this person is left to erase\n", command.c_str());
      return kExitOk;
    }
  } else {
    referrals.push_back(args.referral);
  }
  // Sent once with a long wait: the broker answers only when the key has
  // left the files (a flush and a compaction).
  ConnectionFlags once = flags;
  once.timeout_ms = args.wait_s * 1000;
  once.attempts = 1;
  std::unique_ptr<BrokerClient> client;
  Status s = ConnectAs(once, args.as, &client);
  if (!s.ok()) return Fail(command, s, ExitCodeForConnect(s));
  // Each referral is its own erasure; the first refusal stops the rest (and
  // is printed), so what was erased before it is listed above it.
  for (const std::string& referral : referrals) {
    const int exit = EraseOne(command, client.get(), args, referral);
    if (exit != kExitOk) return exit;
  }
  return kExitOk;
}

}  // namespace

void AddAdminCommand(CLI::App& app, ConnectionFlags* flags, int* exit_code) {
  CLI::App* admin = app.add_subcommand("admin", "Operate the broker: backups, restores, configuration reloads and erasures");
  admin->require_subcommand(1);
  {
    auto args = std::make_shared<BackupArgs>();
    CLI::App* cmd = admin->add_subcommand(
        "backup",
        "Ask the running broker for a consistent, verified backup of its live log into DIR on the broker's host "
        "(role ADMIN); then the broker deletes the backups there that its configuration's broker { backup { keep_days "
        "keep_last } } says have expired (never the newest). Exit 0 done, 1 setup error, 2 refused (the broker's error is printed), 3 unreachable");
    cmd->add_option("dir", args->dir, "Backup folder on the broker's host (created if missing; relative paths are "
                                      "made absolute here)")
        ->required();
    cmd->add_option("--as", args->as, "Identity to ask as (role ADMIN)")->capture_default_str();
    cmd->add_option("--wait-s", args->wait_s, "How long to wait for the backup to finish")->capture_default_str();
    cmd->add_flag("--json", args->json, "Print the refx.v1.BackupResult as one JSON line");
    cmd->callback([args, flags, exit_code] { *exit_code = RunBackup(*flags, *args); });
  }
  {
    auto args = std::make_shared<ReloadArgs>();
    CLI::App* cmd = admin->add_subcommand(
        "reload",
        "Ask the running broker to reload its configuration file (role ADMIN; SIGHUP to the broker does the same). "
        "A bad file is refused with FILE:LINE:COLUMN and the running configuration stays. Exit 0 reloaded, "
        "1 setup error, 2 refused (the broker's error is printed), 3 unreachable");
    cmd->add_option("--as", args->as, "Identity to ask as (role ADMIN)")->capture_default_str();
    cmd->add_flag("--json", args->json, "Print the refx.v1.ReloadResult as one JSON line");
    cmd->callback([args, flags, exit_code] { *exit_code = RunReload(*flags, *args); });
  }
  {
    auto args = std::make_shared<EraseArgs>();
    CLI::App* cmd = admin->add_subcommand(
        "erase",
        "Erase a referral's personal data (role ADMIN): the broker destroys its data key, records subject_erased with "
        "the reason, and answers once the key has left the log's files. Refused while the configured retention says "
        "the record must be kept, unless --override-retention. No prompt. Exit 0 erased, 1 setup error, 2 refused "
        "(the broker's error is printed), 3 unreachable");
    cmd->add_option("referral", args->referral, "Referral id, e.g. R-0000000042 (or --subject)");
    cmd->add_flag("--subject", args->subject,
                  "Erase every referral about one person (--name and --dob), found through the subject index as "
                  "`refx audit subject` finds them; the search is recorded with the reason as its purpose");
    AddSubjectSearchOptions(cmd, &args->search);
    cmd->add_option("--reason", args->reason, "Why it is erased (recorded in the log)")->required();
    cmd->add_flag("--override-retention", args->override_retention,
                  "Erase even though the retention period has not ended (recorded on the event)");
    cmd->add_option("--as", args->as, "Identity to ask as (role ADMIN)")->capture_default_str();
    cmd->add_option("--wait-s", args->wait_s, "How long to wait for the broker to finish")->capture_default_str();
    cmd->add_flag("--json", args->json, "Print the refx.v1.EraseResult as one JSON line");
    cmd->callback([args, flags, exit_code] { *exit_code = RunErase(*flags, *args); });
  }
  {
    auto args = std::make_shared<offline::RestoreArgs>();
    offline::AddRestoreCommand(admin, args.get())->callback([args, exit_code] {
      *exit_code = offline::RunOfflineTool("admin restore");
    });
  }
}

}  // namespace refx::cli
