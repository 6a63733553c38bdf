// `refx audit export REFERRAL --format json|csv|html --purpose TEXT
// [--to-seq N] [--out FILE]`: a self-contained record of one referral for a
// case review or a subject access request. It IS personal data about the
// subject. The record and its renderings are audit/export_render.h, which
// the web console's downloads share; this file reads and writes the file.
#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "audit/export_render.h"
#include "cli/audit/audit_command.h"
#include "cli/audit/audited_read.h"
#include "cli/audit/subcommands.h"
#include "cli/local_stack.h"
#include "cli/referral_arg.h"
#include "core/partnership_config.h"
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

int RunExport(const ConnectionFlags& flags, const ExportArgs& args) {
  const std::string command = "audit export";
  if (!refx::audit::IsExportFormat(args.format)) {
    return Fail(command, Status::InvalidArgument("--format must be json, csv or html, not \"" + args.format + "\""),
                       kExitRefused);
  }
  v1::AuditExport x;
  x.set_referral_id(args.referral);
  x.set_exported_by(args.as);
  x.set_purpose(args.purpose);
  const int exit = audit::ReadReferral(
      command, flags, args.referral, args.purpose, args.as,
      [&](const v1::Event& event, const std::string&, const std::string& hash) {
        refx::audit::AddExportEvent(event, hash, &x);
        return true;
      },
      args.to_seq);
  if (exit != kExitOk) return exit;
  refx::audit::FinishExport(google::protobuf::util::TimeUtil::GetCurrentTime().seconds(), &x);

  std::string text;
  Status rendered = refx::audit::RenderExport(x, args.format, DestinationNames(flags), &text);
  if (!rendered.ok()) return Fail(command, rendered, kExitSetupError);
  if (args.out.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return kExitOk;
  }
  Status s = WriteOut(args.out, text);
  if (!s.ok()) return Fail(command, s, kExitSetupError);
  std::fprintf(stderr, "refx audit export: wrote %s (%d events of %s); it contains personal data\n", args.out.c_str(),
               x.events_size(), args.referral.c_str());
  return kExitOk;
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
  AddReferralArgument(cmd, &args->referral);
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
