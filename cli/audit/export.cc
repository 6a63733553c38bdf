// `refx audit export REFERRAL --format json|csv|html --purpose TEXT
// [--out FILE]`: a self-contained record of one referral for a case review
// or a subject access request. It IS personal data about the subject: the
// json form holds the full events (the referral as submitted, the views
// delivered, notes and reasons); html (template audit_export in render/)
// shows the referral as submitted as labelled fields and every event's
// details, times in UK time to the second, with a print stylesheet; csv has
// one row per event with notes and reasons, times in UTC to the second, and
// text cells guarded against formulas (render/csv.h).
//
// `refx audit export --subject --name NAME --dob DATE --purpose TEXT
// [--redact-third-parties]`: the subject access pack, every referral about
// the person (found as `refx audit subject` finds them; the search and each
// referral's read are recorded), as one refx.v1.SubjectAccessPack (json),
// one csv with a referral column, or one html page with a section per
// referral (template subject_access). --redact-third-parties replaces the
// data of other people (core/third_parties.h) with a marker in every
// referral the export holds; it may be given for one referral too.
#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli/audit/audit_command.h"
#include "cli/audit/audited_read.h"
#include "cli/audit/event_lines.h"
#include "cli/audit/referral_fold.h"
#include "cli/audit/subcommands.h"
#include "cli/audit/subject_search.h"
#include "cli/local_stack.h"
#include "cli/referral_arg.h"
#include "core/event_util.h"
#include "core/json.h"
#include "core/partnership_config.h"
#include "core/third_parties.h"
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
  bool subject = false;
  audit::SubjectSearch search;  // with --subject (its purpose and as: the fields above)
  bool redact = false;
};

// An event's details without the leading separator spaces.
std::string Detail(const v1::Event& e) {
  std::string d = audit::EventDetail(e, true);
  d.erase(0, d.find_first_not_of(' ') == std::string::npos ? d.size() : d.find_first_not_of(' '));
  return d;
}

// One row per event; with `with_referral` (a subject access pack) each row
// starts with its referral id.
void CsvRows(const v1::AuditExport& x, bool with_referral, render::CsvWriter* out) {
  render::CsvWriter& csv = *out;
  for (const v1::Event& e : x.events()) {
    if (with_referral) csv.Text(x.referral_id());
    csv.Number(e.seq())
        .Text(render::UtcTime(e.time().seconds()))
        .Text(e.actor())
        .Text(EventTypeName(e))
        .Text(DestinationOf(e))
        .Text(audit::RuleOf(e))
        .Text(Detail(e))
        .EndRow();
  }
}

const std::vector<std::string> kCsvColumns = {"seq", "time", "actor", "kind", "destination", "rule", "detail"};

std::string Csv(const v1::AuditExport& x) {
  render::CsvWriter csv;
  csv.Row(kCsvColumns);
  CsvRows(x, false, &csv);
  return csv.str();
}

std::string PackCsv(const v1::SubjectAccessPack& pack) {
  render::CsvWriter csv;
  std::vector<std::string> columns = {"referral"};
  columns.insert(columns.end(), kCsvColumns.begin(), kCsvColumns.end());
  csv.Row(columns);
  for (const v1::AuditExport& x : pack.referrals()) CsvRows(x, true, &csv);
  return csv.str();
}

render::Data Pair(const std::string& name, const std::string& value) {
  render::Data d;
  d.set("name", name);
  d.set("value", value);
  return d;
}

// One referral's cases, events and submission (template
// audit_export_body) into *page. `names`: destination code -> configured
// name (a code without one is shown as it is).
void ReferralBody(const v1::AuditExport& x, const std::map<std::string, std::string>& names, render::Data* out) {
  render::Data& page = *out;
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
}

std::string LastHash(const v1::AuditExport& x) {
  return x.chain_hashes().empty() ? "-" : x.chain_hashes(x.chain_hashes_size() - 1);
}

// The page of one referral (template audit_export).
Status HtmlPage(const v1::AuditExport& x, const std::map<std::string, std::string>& names, std::string* out) {
  render::Data page;
  page.set("title", "Record of referral " + x.referral_id());
  const std::string last_seq = x.events().empty() ? "-" : std::to_string(x.events(x.events_size() - 1).seq());
  page.set("header", render::List({Pair("Referral", x.referral_id()), Pair("Exported by", x.exported_by()),
                                   Pair("Exported at", render::LondonTime(x.exported_at().seconds())),
                                   Pair("Purpose", x.purpose()), Pair("Events", std::to_string(x.events_size())),
                                   Pair("Chain hash of the last event (seq " + last_seq + ")", LastHash(x))}));
  ReferralBody(x, names, &page);
  return render::RenderTemplate("audit_export", page, out);
}

// What the pack says about redaction (html and stderr).
std::string RedactionNote(const v1::SubjectAccessPack& pack) {
  if (!pack.third_parties_redacted()) {
    return "Third parties are NOT redacted: this pack still holds other people's data (the person causing harm, the "
           "referrer's contact details). Do not release it to the subject as it is.";
  }
  return std::string("Other people's data is redacted and shown as ") + kRedactedMarker +
         " (the person causing harm, the referrer's name and contact details, other people linked to a context). "
         "Free text (narrative, notes, reasons) is not redacted: review it before release.";
}

// The subject access pack as one page (template subject_access).
Status PackHtmlPage(const v1::SubjectAccessPack& pack, const std::map<std::string, std::string>& names,
                    std::string* out) {
  render::Data page;
  page.set("title", "Subject access request: referrals about one person");
  std::string ids;
  for (const v1::AuditExport& x : pack.referrals()) ids += (ids.empty() ? "" : ", ") + x.referral_id();
  page.set("header", render::List({Pair("Referrals", ids.empty() ? "none" : ids),
                                   Pair("Exported by", pack.exported_by()),
                                   Pair("Exported at", render::LondonTime(pack.exported_at().seconds())),
                                   Pair("Purpose", pack.purpose()),
                                   Pair("Third parties redacted", pack.third_parties_redacted() ? "yes" : "no")}));
  page.set("redaction_note", RedactionNote(pack));
  std::vector<render::Data> sections;
  for (const v1::AuditExport& x : pack.referrals()) {
    render::Data section;
    section.set("referral_id", x.referral_id() + " (chain hash of its last event " + LastHash(x) + ")");
    ReferralBody(x, names, &section);
    sections.push_back(section);
  }
  page.set("sections", render::List(sections));
  return render::RenderTemplate("subject_access", page, out);
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

// Writes `doc` in args.format (json, or `csv` / `html` of it) to args.out
// or stdout; `what` says what a written file holds. kExitOk or the exit
// code after printing why.
template <typename Doc>
int Emit(const std::string& command, const ConnectionFlags& flags, const ExportArgs& args, const Doc& doc,
         std::string (*csv)(const Doc&),
         Status (*html)(const Doc&, const std::map<std::string, std::string>&, std::string*),
         const std::string& what) {
  std::string text;
  if (args.format == "json") {
    text = ToJsonPretty(doc) + "\n";
  } else if (args.format == "csv") {
    text = csv(doc);
  } else {
    Status rendered = html(doc, DestinationNames(flags), &text);
    if (!rendered.ok()) return Fail(command, rendered, kExitSetupError);
  }
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

// Reads one referral into *x (recorded by the broker with the purpose),
// redacting third parties into *redacted when asked.
int ReadExport(const std::string& command, const ConnectionFlags& flags, const ExportArgs& args,
               const std::string& referral, std::set<std::string>* redacted, v1::AuditExport* out) {
  v1::AuditExport& x = *out;
  x.set_referral_id(referral);
  x.set_exported_by(args.as);
  x.set_purpose(args.purpose);
  std::vector<v1::Event> events;
  const int exit = audit::ReadReferral(command, flags, referral, args.purpose, args.as,
                                       [&](const v1::Event& event, const std::string&, const std::string& hash) {
                                         v1::Event* kept = x.add_events();
                                         *kept = event;
                                         if (args.redact) RedactThirdParties(kept, redacted);
                                         x.add_chain_hashes(eventlog::ToHex(hash));
                                         events.push_back(event);
                                         return true;
                                       });
  if (exit != kExitOk) return exit;
  *x.mutable_exported_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  audit::FoldedReferral folded;
  audit::FoldReferral(events, &folded);
  for (const auto& c : folded.cases) *x.add_cases() = c;
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
  for (const v1::SubjectReferral& r : found.referrals()) {
    exit = ReadExport(command, flags, args, r.referral().referral_id(), &redacted, pack.add_referrals());
    if (exit != kExitOk) return exit;
  }
  for (const std::string& f : redacted) pack.add_redacted_fields(f);
  *pack.mutable_exported_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  exit = Emit(command, flags, args, pack, PackCsv, PackHtmlPage,
              std::to_string(pack.referrals_size()) + " referrals about this person");
  if (exit == kExitOk) std::fprintf(stderr, "refx audit export: %s\n", RedactionNote(pack).c_str());
  return exit;
}

int RunExport(const ConnectionFlags& flags, const ExportArgs& args) {
  const std::string command = "audit export";
  if (args.format != "json" && args.format != "csv" && args.format != "html") {
    return Fail(command, Status::InvalidArgument("--format must be json, csv or html, not \"" + args.format + "\""),
                       kExitRefused);
  }
  if (args.subject != args.referral.empty()) {
    return Fail(command,
                Status::InvalidArgument(args.subject ? "give either a REFERRAL or --subject (with --name and --dob), "
                                                       "not both"
                                                     : "give a REFERRAL, or --subject with --name and --dob"),
                kExitRefused);
  }
  if (!args.subject && (!args.search.name.empty() || !args.search.dob.empty())) {
    return Fail(command, Status::InvalidArgument("--name and --dob go with --subject"), kExitRefused);
  }
  if (args.subject) return RunSubjectExport(flags, args);
  v1::AuditExport x;
  std::set<std::string> redacted;
  const int exit = ReadExport(command, flags, args, args.referral, &redacted, &x);
  if (exit != kExitOk) return exit;

  return Emit(command, flags, args, x, Csv, HtmlPage,
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
  cmd->callback([args, flags, exit_code] { *exit_code = RunExport(*flags, *args); });
}

}  // namespace refx::cli
