// `refx audit export REFERRAL --format json|csv|html --purpose TEXT
// [--to-seq N] [--redact-third-parties] [--out FILE]`: a self-contained
// record of one referral for a case review or a subject access request. It
// IS personal data about the subject.
//
// `refx audit export --subject --name NAME --dob DATE --purpose TEXT
// [--redact-third-parties]`: the subject access pack, every referral about
// the person (found as `refx audit subject` finds them; the search and each
// referral's read are recorded), as one refx.v1.SubjectAccessPack (json),
// one csv with a referral column, or one html page with a section per
// referral. --redact-third-parties replaces the data of other people
// (core/third_parties.h) with a marker in every referral the export holds;
// it may be given for one referral too. A pack of several referrals draws
// a progress bar on stderr when it is a terminal.
//
// The records and their renderings are audit/export_render.h, which the web
// console's downloads share; this file reads and writes the file.
#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "audit/export_render.h"
#include "cli/audit/audit_command.h"
#include "cli/audit/audited_read.h"
#include "cli/audit/subcommands.h"
#include "cli/audit/subject_search.h"
#include "cli/local_stack.h"
#include "cli/progress_bar.h"
#include "cli/referral_arg.h"
#include "core/partnership_config.h"
#include "core/third_parties.h"
#include "refx/v1/cli.pb.h"

namespace refx::cli {

namespace {

struct ExportArgs {
  std::string referral;
  std::string format = "json";
  std::string purpose;
  std::string out;
  std::string as = audit::kDefaultAuditor;
  uint64_t to_seq = 0;  // 0: up to the head
  bool subject = false;
  audit::SubjectSearch search;  // with --subject (its purpose and as: the fields above)
  bool redact = false;
};

// Destination code -> configured name, from the partnership configuration
// under HOME; empty when there is none (the page then shows codes).
std::map<std::string, std::string> DestinationNames(const ConnectionFlags& flags) {
  std::unique_ptr<PartnershipConfig> config;
  if (!PartnershipConfig::Load(ResolveHome(flags.home) + "/config.textproto", &config).ok()) return {};
  return refx::audit::DestinationNames(config->proto());
}

Status WriteOut(const std::string& path, const std::string& text) {
  // Written beside the target and renamed, so a reader never sees half of it.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) return Status::IoError("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::IoError("cannot write " + path + ": " + ec.message());
  return Status::OK();
}

// Writes `text` to args.out or stdout; `what` says what a written file
// holds. kExitOk or the exit code after printing why.
int Emit(const std::string& command, const ExportArgs& args, const std::string& text, const std::string& what) {
  if (args.out.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return kExitOk;
  }
  Status s = WriteOut(args.out, text);
  if (!s.ok()) return Fail(command, s, kExitSetupError);
  std::fprintf(stderr, "refx audit export: wrote %s (%s); it contains personal data\n", args.out.c_str(),
               what.c_str());
  return kExitOk;
}

// Reads one referral (up to args.to_seq when set) into *x, recorded by the
// broker with the purpose, redacting third parties (adding the fields to
// *redacted) when asked.
int ReadExport(const std::string& command, const ConnectionFlags& flags, const ExportArgs& args,
               const std::string& referral, std::set<std::string>* redacted, v1::AuditExport* x) {
  x->set_referral_id(referral);
  x->set_exported_by(args.as);
  x->set_purpose(args.purpose);
  const int exit = audit::ReadReferral(
      command, flags, referral, args.purpose, args.as,
      [&](const v1::Event& event, const std::string&, const std::string& hash) {
        refx::audit::AddExportEvent(event, hash, x);
        return true;
      },
      args.to_seq);
  if (exit != kExitOk) return exit;
  refx::audit::FinishExport(google::protobuf::util::TimeUtil::GetCurrentTime().seconds(), x);
  if (args.redact) {
    for (v1::Event& event : *x->mutable_events()) RedactThirdParties(&event, redacted);
  }
  return kExitOk;
}

// --subject: every referral about the person, one pack.
int RunSubjectExport(const ConnectionFlags& flags, const ExportArgs& args) {
  const std::string command = "audit export";
  audit::SubjectSearch search = args.search;
  search.purpose = args.purpose;
  search.as = args.as;
  v1::QueryResult found;
  int exit = audit::FindSubjectReferrals(command, flags, search, &found);
  if (exit != kExitOk) return exit;
  v1::SubjectAccessPack pack;
  pack.set_exported_by(args.as);
  pack.set_purpose(args.purpose);
  pack.set_third_parties_redacted(args.redact);
  std::set<std::string> redacted;
  // One read per referral: a progress bar on stderr when it is a terminal.
  const bool progress = ::isatty(STDERR_FILENO) == 1;
  const uint64_t total = static_cast<uint64_t>(found.referrals_size());
  uint64_t done = 0;
  for (const v1::SubjectReferral& r : found.referrals()) {
    if (progress) {
      DrawProgress("exporting", done, total, std::to_string(done) + " / " + std::to_string(total) + " referrals");
    }
    exit = ReadExport(command, flags, args, r.referral().referral_id(), &redacted, pack.add_referrals());
    ++done;
    if (exit != kExitOk) break;
  }
  if (progress) ClearProgress();
  if (exit != kExitOk) return exit;
  for (const std::string& f : redacted) pack.add_redacted_fields(f);
  *pack.mutable_exported_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  std::string text;
  Status rendered = refx::audit::RenderSubjectAccessPack(pack, args.format, DestinationNames(flags), &text);
  if (!rendered.ok()) return Fail(command, rendered, kExitSetupError);
  exit = Emit(command, args, text, std::to_string(pack.referrals_size()) + " referrals about this person");
  if (exit == kExitOk) std::fprintf(stderr, "refx audit export: %s\n", refx::audit::RedactionNote(pack).c_str());
  return exit;
}

int RunExport(const ConnectionFlags& flags, const ExportArgs& args) {
  const std::string command = "audit export";
  if (!refx::audit::IsExportFormat(args.format)) {
    return Fail(command, Status::InvalidArgument("--format must be json, csv or html, not \"" + args.format + "\""),
                       kExitRefused);
  }
  const Status which = audit::CheckReferralOrSubject(args.referral, args.subject, args.search);
  if (!which.ok()) return Fail(command, which, kExitRefused);
  if (args.subject && args.to_seq != 0) {
    return Fail(command, Status::InvalidArgument("--to-seq goes with one REFERRAL, not --subject"), kExitRefused);
  }
  if (args.subject) return RunSubjectExport(flags, args);
  v1::AuditExport x;
  std::set<std::string> redacted;
  const int exit = ReadExport(command, flags, args, args.referral, &redacted, &x);
  if (exit != kExitOk) return exit;

  std::string text;
  Status rendered = refx::audit::RenderExport(x, args.format, DestinationNames(flags), &text);
  if (!rendered.ok()) return Fail(command, rendered, kExitSetupError);
  return Emit(command, args, text,
              std::to_string(x.events_size()) + " events of " + args.referral +
                  (args.redact ? ", third parties redacted" : ""));
}

}  // namespace

void AddAuditExportCommand(CLI::App* audit, ConnectionFlags* flags, int* exit_code) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = audit->add_subcommand(
      "export",
      "A self-contained record of one referral for a case review or a subject access request: json (one "
      "refx.v1.AuditExport document with the full events), csv (one row per event) or html (one page, no external "
      "links). THE EXPORT IS PERSONAL DATA about the subject: json and html include the referral's details "
      "(names, dates of birth, addresses, narrative) and csv/html the notes and reasons people wrote");
  AddReferralArgument(cmd, &args->referral)->required(false);
  cmd->add_flag("--subject", args->subject,
                "Export every referral about one person (--name and --dob) as one subject access pack instead of "
                "one referral; the search and each referral's read are recorded");
  AddSubjectSearchOptions(cmd, &args->search);
  cmd->add_flag("--redact-third-parties", args->redact,
                std::string("Replace other people's data (the person causing harm; the referrer's name, email and "
                            "phone; people linked to a context) with ") +
                    kRedactedMarker + "; free text is kept and needs a human review before release");
  cmd->add_option("--format", args->format, "json, csv or html")->capture_default_str();
  cmd->add_option("--purpose", args->purpose,
                  "Why you export this referral (required; the broker records it as a record_accessed event)");
  cmd->add_option("--out", args->out, "Write to this file instead of stdout");
  cmd->add_option("--as", args->as, "Identity to read as (role AUDITOR)")->capture_default_str();
  cmd->add_option("--to-seq", args->to_seq,
                  "Export the referral as the log stood at this seq (later events, e.g. later reads, left out); "
                  "the web console's downloads pass the last seq its timeline showed");
  cmd->callback([args, flags, exit_code] { *exit_code = RunExport(*flags, *args); });
}

}  // namespace refx::cli
