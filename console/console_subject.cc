// The auditor's subject search: every referral about a person, by name and
// date of birth (a subject access request). The console computes the keyed
// subject hash with the subject key the configuration names (as `refx audit
// subject` does, core/subject_key.h) and sends only the hash to the broker,
// which answers from its subject index and records the search, with the
// person and the purpose, before it answers. The form is a POST with the
// CSRF token, so the name and date of birth never appear in a URL (browser
// history, proxy logs), and a search is a recorded act.
#include <spdlog/spdlog.h>

#include <map>
#include <string>
#include <vector>

#include "console/console_impl.h"
#include "core/subject_key.h"
#include "render/format.h"

namespace refx::console {

void Console::Impl::AddSubjectRoutes() {
  server().Post("/audit/subject", [this](const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Authenticate(req, res, true, &caller) || !RequireRole(caller, v1::StaffMember::AUDITOR, res)) return;
    const std::string name = Param(req, "name"), dob = Param(req, "dob"), purpose = Param(req, "purpose");
    if (purpose.size() < 5) {
      Message(res, &caller, 400, "Purpose needed",
              "Say why you search for this person (at least 5 characters); it is recorded with your name.");
      return;
    }
    std::string secret;
    Status st = LoadConfiguredSubjectKey(caller.config->proto().subject_key_file(), options_.config_path, &secret);
    if (!st.ok()) {
      spdlog::error("console: subject search unavailable: cannot load the subject key: {}", st.ToString());
      Message(res, &caller, 503, "Subject search unavailable",
              "The console cannot read the partnership's subject key, so it cannot search by person.");
      return;
    }
    v1::QueryRequest query;
    st = PersonSubjectKey(secret, name, dob, query.mutable_subject_key());
    if (!st.ok()) {
      Message(res, &caller, 400, "Name and date of birth needed",
              "Give the person's full name and their date of birth (YYYY-MM-DD): " + st.message() + ".");
      return;
    }
    query.set_purpose(purpose);
    v1::QueryResult result;
    st = BrokerFor(caller.person.id())->Query(query, &result);
    if (!st.ok()) {
      Message(res, &caller, HttpStatusFor(st), "Not searched", st.message());
      return;
    }
    std::map<std::string, std::vector<render::Data>> cases;
    for (const v1::CaseRecord& c : result.cases()) {
      render::Data row;
      row.set("destination", c.destination());
      row.set("state", StateWords(c.state()));
      cases[c.referral_id()].push_back(row);
    }
    std::vector<render::Data> rows;
    for (const v1::SubjectReferral& r : result.referrals()) {
      const std::string& id = r.referral().referral_id();
      render::Data row;
      row.set("referral_id", id);
      row.set("submitted", render::LondonTime(r.submitted().seconds()));
      row.set("submitter", r.referral().submitter());
      row.set("withdrawn", r.referral().withdrawn());
      row.set("cases", render::List(cases[id]));
      row.set("timeline_query", "referral=" + httplib::detail::encode_query_param(id) +
                                    "&purpose=" + httplib::detail::encode_query_param(purpose));
      rows.push_back(row);
    }
    render::Data d = PageData(&caller, "Referrals about one person");
    d.set("purpose", purpose);
    d.set("count", std::to_string(rows.size()));
    d.set("found", !rows.empty());
    d.set("rows", render::List(rows));
    // Not kept by the browser: the page names a person's referrals.
    res.set_header("Cache-Control", "no-store");
    Page(res, "console_audit_subject", d);
  });
}

}  // namespace refx::console
