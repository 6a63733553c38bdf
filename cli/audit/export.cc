// `refx audit export REFERRAL --format json|csv|html --purpose TEXT
// [--out FILE]`: a self-contained record of one referral for a case review
// or a subject access request. It IS personal data about the subject: the
// json form holds the full events (the referral as submitted, the views
// delivered, notes and reasons); html (template audit_export in render/)
// shows the referral as submitted as labelled fields and every event's
// details, times in UK time to the second, with a print stylesheet; csv has
// one row per event with notes and reasons, times in UTC to the second, and
// text cells guarded against formulas (render/csv.h).
#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/audit/audit_command.h"
#include "cli/audit/audited_read.h"
#include "cli/audit/event_lines.h"
#include "cli/audit/referral_fold.h"
#include "cli/audit/subcommands.h"
#include "cli/local_stack.h"
#include "cli/referral_arg.h"
#include "core/event_util.h"
#include "core/json.h"
#include "core/partnership_config.h"
#include "eventlog/hash_chain.h"
#include "refx/v1/cli.pb.h"
#include "render/csv.h"
#include "render/fields.h"
#include "render/format.h"
#include "render/templates.h"

namespace refx::cli {

namespace {

struct ExportArgs {
  std::string referral;
  std::string format = "json";
  std::string purpose;
  std::string out;
  std::string as = audit::kDefaultAuditor;
};

// An event's details without the leading separator spaces.
std::string Detail(const v1::Event& e) {
  std::string d = audit::EventDetail(e, true);
  d.erase(0, d.find_first_not_of(' ') == std::string::npos ? d.size() : d.find_first_not_of(' '));
  return d;
}

std::string Csv(const v1::AuditExport& x) {
  render::CsvWriter csv;
  csv.Row({"seq", "time", "actor", "kind", "destination", "rule", "detail"});
  for (const v1::Event& e : x.events()) {
    csv.Number(e.seq())
        .Text(render::UtcTime(e.time().seconds()))
        .Text(e.actor())
        .Text(EventTypeName(e))
        .Text(DestinationOf(e))
        .Text(audit::RuleOf(e))
        .Text(Detail(e))
        .EndRow();
  }
  return csv.str();
}

render::Data Pair(const std::string& name, const std::string& value) {
  render::Data d;
  d.set("name", name);
  d.set("value", value);
  return d;
}

// The page (template audit_export). `names`: destination code -> configured
// name (a code without one is shown as it is).
Status HtmlPage(const v1::AuditExport& x, const std::map<std::string, std::string>& names, std::string* out) {
  render::Data page;
  page.set("title", "Record of referral " + x.referral_id());
  const std::string last_hash = x.chain_hashes().empty() ? "-" : x.chain_hashes(x.chain_hashes_size() - 1);
  const std::string last_seq = x.events().empty() ? "-" : std::to_string(x.events(x.events_size() - 1).seq());
  page.set("header", render::List({Pair("Referral", x.referral_id()), Pair("Exported by", x.exported_by()),
                                   Pair("Exported at", render::LondonTime(x.exported_at().seconds())),
                                   Pair("Purpose", x.purpose()), Pair("Events", std::to_string(x.events_size())),
                                   Pair("Chain hash of the last event (seq " + last_seq + ")", last_hash)}));
  std::vector<render::Data> cases;
  for (const v1::CaseRecord& c : x.cases()) {
    render::Data d;
    auto name = names.find(c.destination());
    d.set("destination", c.destination());
    d.set("destination_name", name == names.end() ? c.destination() : name->second);
    d.set("state", render::Humanise(v1::CaseState_Name(c.state())));
    d.set("rule", c.rule_id());
    d.set("reason", c.reason());
    d.set("deadline", render::LondonTime(c.deadline().seconds()));
    d.set("breached", c.deadline_breached() ? "yes" : "no");
    d.set("deliveries", std::to_string(c.deliveries()));
    d.set("last_outcome", c.last_outcome());
    cases.push_back(d);
  }
  page.set("has_cases", !cases.empty());
  page.set("cases", render::List(cases));
  std::vector<render::Data> events, referrals;
  for (const v1::Event& e : x.events()) {
    render::Data d;
    d.set("seq", std::to_string(e.seq()));
    d.set("time", render::LondonTime(e.time().seconds()));
    d.set("actor", e.actor());
    d.set("kind", EventTypeName(e));
    d.set("destination", DestinationOf(e));
    d.set("rule", audit::RuleOf(e));
    d.set("detail", Detail(e));
    events.push_back(d);
    if (e.has_referral_submitted()) {
      render::Data r;
      r.set("seq", std::to_string(e.seq()));
      r.set("groups", render::FieldGroupsData(render::LabelledFields(e.referral_submitted().referral(), "Referral")));
      referrals.push_back(r);
    }
  }
  page.set("events", render::List(events));
  page.set("referrals", render::List(referrals));
  return render::RenderTemplate("audit_export", page, out);
}

// Destination code -> configured name, from the partnership configuration
// under HOME; empty when there is none (the page then shows codes).
std::map<std::string, std::string> DestinationNames(const ConnectionFlags& flags) {
  std::map<std::string, std::string> names;
  std::unique_ptr<PartnershipConfig> config;
  if (!PartnershipConfig::Load(ResolveHome(flags.home) + "/config.textproto", &config).ok()) return names;
  for (const v1::Destination& d : config->proto().destinations()) {
    if (!d.name().empty()) names[d.code()] = d.name();
  }
  return names;
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
  if (args.format != "json" && args.format != "csv" && args.format != "html") {
    return Fail(command, Status::InvalidArgument("--format must be json, csv or html, not \"" + args.format + "\""),
                       kExitRefused);
  }
  v1::AuditExport x;
  x.set_referral_id(args.referral);
  x.set_exported_by(args.as);
  x.set_purpose(args.purpose);
  std::vector<v1::Event> events;
  const int exit = audit::ReadReferral(command, flags, args.referral, args.purpose, args.as,
                                       [&](const v1::Event& event, const std::string&, const std::string& hash) {
                                         *x.add_events() = event;
                                         x.add_chain_hashes(eventlog::ToHex(hash));
                                         events.push_back(event);
                                         return true;
                                       });
  if (exit != kExitOk) return exit;
  *x.mutable_exported_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  audit::FoldedReferral folded;
  audit::FoldReferral(events, &folded);
  for (const auto& c : folded.cases) *x.add_cases() = c;

  std::string text;
  if (args.format == "json") {
    text = ToJsonPretty(x) + "\n";
  } else if (args.format == "csv") {
    text = Csv(x);
  } else {
    Status rendered = HtmlPage(x, DestinationNames(flags), &text);
    if (!rendered.ok()) return Fail(command, rendered, kExitSetupError);
  }
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
  cmd->callback([args, flags, exit_code] { *exit_code = RunExport(*flags, *args); });
}

}  // namespace refx::cli
