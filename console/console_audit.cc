// The auditor's pages: a referral's timeline (and its cases as of a time)
// and the monitoring report (the integrity check and the exports are
// console_records.cc). Every read
// asks for a purpose, which the broker records (record_accessed) with the
// person before it sends anything.
#include <spdlog/spdlog.h>

#include <google/protobuf/util/time_util.h>

#include "console/console_impl.h"
#include "core/civil_date.h"
#include "core/event_util.h"
#include "domain/monitoring/case_fold.h"
#include "domain/monitoring/monitoring_report.h"
#include "domain/monitoring/report_render.h"
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
    uint64_t last_seq = 0;
    Status st = BrokerFor(caller.person.id())->Read(r, [&](const v1::Event& e, const std::string&, const std::string&) {
      last_seq = e.seq();
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
                              "&purpose=" + httplib::detail::encode_query_param(purpose) +
                              "&to_seq=" + std::to_string(last_seq));
    Page(res, "console_audit_referral", d);
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
