// `refx audit export REFERRAL --format json|csv|html --purpose TEXT
// [--out FILE]`: a self-contained record of one referral for a case review
// or a subject access request. It IS personal data about the subject: the
// json form holds the full events (the referral as submitted, the views
// delivered, notes and reasons); html shows the referral as submitted and
// every event's details; csv has one row per event with notes and reasons.
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cli/audit_command.h"
#include "cli/audit_subcommands.h"
#include "cli/audit_support.h"
#include "cli/inbox_support.h"
#include "core/event_util.h"
#include "core/json.h"
#include "eventlog/hash_chain.h"
#include "refx/v1/cli.pb.h"

namespace refx::cli {

namespace {

struct ExportArgs {
  std::string referral;
  std::string format = "json";
  std::string purpose;
  std::string out;
  std::string as = audit::kDefaultAuditor;
};

// One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF.
std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Csv(const v1::AuditExport& x) {
  std::string out = "seq,time,actor,kind,destination,rule,detail\r\n";
  for (const v1::Event& e : x.events()) {
    const std::vector<std::string> row = {std::to_string(e.seq()), inbox::FormatTime(e.time()),
                                          e.actor(),                EventTypeName(e),
                                          DestinationOf(e),          audit::RuleOf(e),
                                          audit::EventDetail(e, true)};
    for (size_t i = 0; i < row.size(); ++i) out += (i == 0 ? "" : ",") + CsvField(row[i]);
    out += "\r\n";
  }
  return out;
}

// Text for HTML element content and attribute values.
std::string Html(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Cell(const std::string& text) { return "<td>" + Html(text) + "</td>"; }

std::string HtmlPage(const v1::AuditExport& x) {
  const std::string title = "Record of referral " + x.referral_id();
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + Html(title) + "</title>\n";
  h += "<style>\n"
       "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em;color:#222}\n"
       "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}\n"
       ".warning{border:2px solid #b00;background:#fee;padding:.6em 1em;margin:1em 0}\n"
       "dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}\n"
       "table{border-collapse:collapse;width:100%;font-size:.9em}\n"
       "th,td{border:1px solid #bbb;padding:.3em .5em;text-align:left;vertical-align:top}\n"
       "th{background:#eee}tr:nth-child(even) td{background:#fafafa}\n"
       "code,pre{font-family:ui-monospace,monospace;font-size:.85em}pre{white-space:pre-wrap;background:#f5f5f5;"
       "padding:.8em}\n"
       "</style>\n</head>\n<body>\n";
  h += "<h1>" + Html(title) + "</h1>\n";
  h += "<p class=\"warning\">OFFICIAL-SENSITIVE. This record contains personal data about the subject of the "
       "referral. Handle it under your data protection policy and do not share it beyond the purpose below.</p>\n";
  h += "<dl>\n";
  const std::string last_hash = x.chain_hashes().empty() ? "-" : x.chain_hashes(x.chain_hashes_size() - 1);
  const std::string last_seq = x.events().empty() ? "-" : std::to_string(x.events(x.events_size() - 1).seq());
  const std::vector<std::pair<std::string, std::string>> header = {
      {"Referral", x.referral_id()},
      {"Exported by", x.exported_by()},
      {"Exported at", inbox::FormatTime(x.exported_at())},
      {"Purpose", x.purpose()},
      {"Events", std::to_string(x.events_size())},
      {"Chain hash of the last event (seq " + last_seq + ")", last_hash}};
  for (const auto& [name, value] : header) h += "<dt>" + Html(name) + "</dt><dd><code>" + Html(value) + "</code></dd>\n";
  h += "</dl>\n";

  h += "<h2>Cases</h2>\n";
  if (x.cases().empty()) {
    h += "<p>No case was opened.</p>\n";
  } else {
    h += "<table>\n<tr><th>Destination</th><th>State</th><th>Rule</th><th>Routing reason</th><th>Deadline</th>"
         "<th>Breached</th><th>Deliveries</th><th>Last outcome</th></tr>\n";
    for (const v1::CaseRecord& c : x.cases()) {
      h += "<tr>" + Cell(c.destination()) + Cell(v1::CaseState_Name(c.state())) + Cell(c.rule_id()) +
           Cell(c.reason()) + Cell(inbox::FormatTime(c.deadline())) + Cell(c.deadline_breached() ? "yes" : "no") +
           Cell(std::to_string(c.deliveries())) + Cell(c.last_outcome()) + "</tr>\n";
    }
    h += "</table>\n";
  }

  h += "<h2>Events</h2>\n<table>\n<tr><th>Seq</th><th>Time (UTC)</th><th>Actor</th><th>Event</th>"
       "<th>Destination</th><th>Rule</th><th>Details</th></tr>\n";
  for (const v1::Event& e : x.events()) {
    h += "<tr>" + Cell(std::to_string(e.seq())) + Cell(inbox::FormatTime(e.time())) + Cell(e.actor()) +
         Cell(EventTypeName(e)) + Cell(DestinationOf(e)) + Cell(audit::RuleOf(e)) + Cell(audit::EventDetail(e, true)) +
         "</tr>\n";
  }
  h += "</table>\n";

  for (const v1::Event& e : x.events()) {
    if (!e.has_referral_submitted()) continue;
    google::protobuf::TextFormat::Printer printer;
    printer.SetUseUtf8StringEscaping(true);
    std::string text;
    printer.PrintToString(e.referral_submitted().referral(), &text);
    h += "<h2>The referral as submitted (seq " + std::to_string(e.seq()) + ")</h2>\n<pre>" + Html(text) + "</pre>\n";
  }
  h += "<p><small>Made by <code>refx audit export</code>. The full events are in the json form "
       "(<code>--format json</code>).</small></p>\n</body>\n</html>\n";
  return h;
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
    text = HtmlPage(x);
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
  cmd->add_option("referral", args->referral, "Referral id, e.g. R-0000000042 (or 42)")
      ->required()
      ->transform([](std::string value) { return inbox::NormaliseReferralId(value); });
  cmd->add_option("--format", args->format, "json, csv or html")->capture_default_str();
  cmd->add_option("--purpose", args->purpose,
                  "Why you export this referral (required; the broker records it as a record_accessed event)");
  cmd->add_option("--out", args->out, "Write to this file instead of stdout");
  cmd->add_option("--as", args->as, "Identity to read as (role AUDITOR)")->capture_default_str();
  cmd->callback([args, flags, exit_code] { *exit_code = RunExport(*flags, *args); });
}

}  // namespace refx::cli
