// The auditor's pages: a referral's timeline (and its cases as of a time),
// exports, the signed checkpoints and the monitoring report. Every read
// asks for a purpose, which the broker records (record_accessed) with the
// person before it sends anything.
#include <spdlog/spdlog.h>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "console/console_impl.h"
#include "core/civil_date.h"
#include "core/event_util.h"
#include "core/frame_codec.h"
#include "domain/monitoring/case_fold.h"
#include "domain/monitoring/monitoring_report.h"
#include "domain/monitoring/report_render.h"
#include "render/csv.h"
#include "render/fields.h"
#include "render/format.h"

namespace refx::console {

namespace {

using google::protobuf::util::TimeUtil;

// "YYYY-MM-DDTHH:MM" (an HTML datetime-local, London time is not assumed:
// the form says UTC) -> unix seconds. False when malformed.
bool ParseAsOf(const std::string& text, int64_t* out) {
  google::protobuf::Timestamp t;
  std::string rfc = text;
  if (rfc.size() == 16) rfc += ":00";
  if (rfc.size() == 19) rfc += "Z";
  if (!TimeUtil::FromString(rfc, &t)) return false;
  *out = t.seconds();
  return true;
}

// What an auditor sees of one event: type, actor, person, the case, and
// no personal data of the subject (the referral body is left out).
render::Data AuditRow(const v1::Event& e) {
  render::Data row = EventRow(e);
  row.set("destination", DestinationOf(e).empty() ? "—" : DestinationOf(e));
  return row;
}

}  // namespace

void Console::Impl::AddAuditRoutes() {
  auto& s = server();

  s.Get("/audit", [this](const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Authenticate(req, res, false, &caller) || !RequireRole(caller, v1::StaffMember::AUDITOR, res)) return;
    Page(res, "console_audit", PageData(&caller, "Audit"));
  });

  // A referral's timeline, and its cases folded up to an optional as-of time.
  s.Get("/audit/referral", [this](const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Authenticate(req, res, false, &caller) || !RequireRole(caller, v1::StaffMember::AUDITOR, res)) return;
    const std::string referral = Param(req, "referral"), purpose = Param(req, "purpose"), as_of = Param(req, "as_of");
    uint64_t seq = 0;
    if (!SeqForReferralId(referral, &seq)) {
      Message(res, &caller, 400, "Not a referral id", "A referral id looks like R-0000000042.");
      return;
    }
    if (purpose.size() < 5) {
      Message(res, &caller, 400, "Purpose needed",
              "Say why you read this referral (at least 5 characters); it is recorded with your name.");
      return;
    }
    v1::ReadRequest r;
    r.set_referral_id(referral);
    r.set_purpose(purpose);
    int64_t until = 0;
    if (!as_of.empty()) {
      if (!ParseAsOf(as_of, &until)) {
        Message(res, &caller, 400, "Not a time", "Give the as-of time as YYYY-MM-DDTHH:MM (UTC).");
        return;
      }
      r.mutable_until()->set_seconds(until);
    }
    std::vector<render::Data> rows;
    outcomes::CaseFold fold;
    Status st = BrokerFor(caller.person.id())->Read(r, [&](const v1::Event& e, const std::string&, const std::string&) {
      rows.push_back(AuditRow(e));
      fold.Apply(e);
      return true;
    });
    if (!st.ok()) {
      Message(res, &caller, HttpStatusFor(st), "Not read", st.message());
      return;
    }
    std::vector<render::Data> cases;
    for (const auto* c : fold.CasesOf(referral)) {
      render::Data row;
      row.set("destination", c->destination);
      row.set("state", StateWords(c->state));
      row.set("deadline", c->deadline ? render::LondonTime(c->deadline / 1000000) : "—");
      row.set("breached", c->acknowledge_breached);
      cases.push_back(row);
    }
    render::Data d = PageData(&caller, "Timeline of " + referral);
    d.set("referral_id", referral);
    d.set("purpose", purpose);
    d.set("as_of", as_of.empty() ? "now" : as_of + " UTC");
    d.set("rows", render::List(rows));
    d.set("cases", render::List(cases));
    d.set("export_query", "referral=" + httplib::detail::encode_query_param(referral) +
                              "&purpose=" + httplib::detail::encode_query_param(purpose));
    Page(res, "console_audit_referral", d);
  });

  // Downloads of a referral's events: CSV (one row per event, no personal
  // data) or JSON (the events as the broker sent them, protobuf JSON).
  s.Get("/audit/export", [this](const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Authenticate(req, res, false, &caller) || !RequireRole(caller, v1::StaffMember::AUDITOR, res)) return;
    const std::string referral = Param(req, "referral"), purpose = Param(req, "purpose"), format = Param(req, "format");
    uint64_t seq = 0;
    if (!SeqForReferralId(referral, &seq) || purpose.size() < 5 || (format != "csv" && format != "json")) {
      Message(res, &caller, 400, "Export refused", "An export needs a referral id, a purpose and format csv or json.");
      return;
    }
    v1::ReadRequest r;
    r.set_referral_id(referral);
    r.set_purpose(purpose + " (export " + format + ")");
    render::CsvWriter csv;
    csv.Row({"seq", "time_utc", "actor", "person", "event", "referral_id", "destination"});
    std::string json = "[\n";
    google::protobuf::util::JsonPrintOptions jo;
    Status st = BrokerFor(caller.person.id())->Read(r, [&](const v1::Event& e, const std::string&, const std::string&) {
      csv.Row({std::to_string(e.seq()), render::UtcTime(e.time().seconds()), e.actor(), e.person(), EventTypeName(e),
               ReferralIdOf(e), DestinationOf(e)});
      std::string one;
      (void)google::protobuf::util::MessageToJsonString(e, &one, jo);
      json += (json.size() > 2 ? ",\n" : "") + one;
      return true;
    });
    if (!st.ok()) {
      Message(res, &caller, HttpStatusFor(st), "Not read", st.message());
      return;
    }
    res.set_header("Content-Disposition", "attachment; filename=\"" + referral + "." + format + "\"");
    if (format == "csv") {
      res.set_content(csv.str(), "text/csv; charset=utf-8");
    } else {
      res.set_content(json + "\n]\n", "application/json");
    }
  });

  // The signed checkpoints the broker holds.
  s.Get("/audit/checkpoints", [this](const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Authenticate(req, res, false, &caller) || !RequireRole(caller, v1::StaffMember::AUDITOR, res)) return;
    v1::Frame request, reply;
    request.mutable_checkpoints();
    Status st = BrokerFor(caller.person.id())->Call(request, &reply);
    if (st.ok() && reply.has_error()) st = StatusFromError(reply.error());
    if (!st.ok() || !reply.has_checkpoint_list()) {
      Message(res, &caller, st.ok() ? 502 : HttpStatusFor(st), "Checkpoints not available", st.message());
      return;
    }
    std::vector<render::Data> rows;
    for (const auto& c : reply.checkpoint_list().checkpoints()) {
      render::Data row;
      row.set("text", c.ShortDebugString().substr(0, 300));
      rows.push_back(row);
    }
    render::Data d = PageData(&caller, "Signed checkpoints");
    d.set("head", std::to_string(reply.checkpoint_list().head_seq()));
    d.set("count", std::to_string(rows.size()));
    d.set("rows", render::List(rows));
    Page(res, "console_audit_checkpoints", d);
  });

  // The monitoring report for a period, as `refx report` makes it.
  s.Get("/audit/report", [this](const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Authenticate(req, res, false, &caller) || !RequireRole(caller, v1::StaffMember::AUDITOR, res)) return;
    const std::string period_text = Param(req, "period"), purpose = Param(req, "purpose");
    outcomes::ReportPeriod period;
    Status st = outcomes::ParseReportPeriod(period_text, &period);
    if (!st.ok() || purpose.size() < 5) {
      Message(res, &caller, 400, "Report refused",
              st.ok() ? "Say why you read the report (at least 5 characters)." : st.message());
      return;
    }
    outcomes::ReportOptions options = outcomes::ReportOptionsFor(period, caller.config->proto());
    options.repeat_unavailable = "not computed by the console (no subject key here)";
    outcomes::MonitoringReport report(options);
    v1::ReadRequest r;
    r.set_purpose(purpose + " (monitoring report " + period.id + ")");
    st = BrokerFor(caller.person.id(), 15000)->Read(r, [&](const v1::Event& e, const std::string&, const std::string&) {
      report.Add(e);
      return true;
    });
    std::string html;
    if (st.ok()) st = outcomes::RenderHtml(report.Figures(), &html);
    if (!st.ok()) {
      Message(res, &caller, HttpStatusFor(st), "Report not made", st.message());
      return;
    }
    // The report is a stand-alone page with its own inline style and SVG
    // charts, and no script.
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
                   "base-uri 'none'; form-action 'none'");
    res.set_content(html, "text/html; charset=utf-8");
  });
}

}  // namespace refx::console
