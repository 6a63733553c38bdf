#include "audit/export_render.h"

#include <vector>

#include "audit/event_lines.h"
#include "audit/referral_fold.h"
#include "core/event_util.h"
#include "core/json.h"
#include "core/third_parties.h"
#include "eventlog/hash_chain.h"
#include "render/csv.h"
#include "render/fields.h"
#include "render/format.h"
#include "render/templates.h"

namespace refx::audit {

namespace {

// An event's details without the leading separator spaces.
std::string Detail(const v1::Event& e) {
  std::string d = EventDetail(e, true);
  d.erase(0, d.find_first_not_of(' ') == std::string::npos ? d.size() : d.find_first_not_of(' '));
  return d;
}

const std::vector<std::string> kCsvColumns = {"seq", "time", "actor", "kind", "destination", "rule", "detail"};

// One row per event; with `with_referral` (a subject access pack) each row
// starts with its referral id.
void CsvRows(const v1::AuditExport& x, bool with_referral, render::CsvWriter* csv) {
  for (const v1::Event& e : x.events()) {
    if (with_referral) csv->Text(x.referral_id());
    csv->Number(e.seq())
        .Text(render::UtcTime(e.time().seconds()))
        .Text(e.actor())
        .Text(EventTypeName(e))
        .Text(DestinationOf(e))
        .Text(RuleOf(e))
        .Text(Detail(e))
        .EndRow();
  }
}

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

std::string LastHash(const v1::AuditExport& x) {
  return x.chain_hashes().empty() ? "-" : x.chain_hashes(x.chain_hashes_size() - 1);
}

// One referral's cases, events and submission (template audit_export_body,
// shared by audit_export and each section of subject_access) into *page.
void ReferralBody(const v1::AuditExport& x, const std::map<std::string, std::string>& names, render::Data* page) {
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
  page->set("has_cases", !cases.empty());
  page->set("cases", render::List(cases));
  std::vector<render::Data> events, referrals;
  for (const v1::Event& e : x.events()) {
    render::Data d;
    d.set("seq", std::to_string(e.seq()));
    d.set("time", render::LondonTime(e.time().seconds()));
    d.set("actor", e.actor());
    d.set("kind", EventTypeName(e));
    d.set("destination", DestinationOf(e));
    d.set("rule", RuleOf(e));
    d.set("detail", Detail(e));
    events.push_back(d);
    if (e.has_referral_submitted()) {
      render::Data r;
      r.set("seq", std::to_string(e.seq()));
      r.set("groups", render::FieldGroupsData(render::LabelledFields(e.referral_submitted().referral(), "Referral")));
      referrals.push_back(r);
    }
  }
  page->set("events", render::List(events));
  page->set("referrals", render::List(referrals));
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

}  // namespace

void AddExportEvent(const v1::Event& event, const std::string& chain_hash, v1::AuditExport* x) {
  *x->add_events() = event;
  x->add_chain_hashes(eventlog::ToHex(chain_hash));
}

void FinishExport(int64_t exported_at_seconds, v1::AuditExport* x) {
  x->mutable_exported_at()->set_seconds(exported_at_seconds);
  const std::vector<v1::Event> events(x->events().begin(), x->events().end());
  FoldedReferral folded;
  FoldReferral(events, &folded);
  x->clear_cases();
  for (const auto& c : folded.cases) *x->add_cases() = c;
}

std::map<std::string, std::string> DestinationNames(const v1::PartnershipConfig& config) {
  std::map<std::string, std::string> names;
  for (const v1::Destination& d : config.destinations()) {
    if (!d.name().empty()) names[d.code()] = d.name();
  }
  return names;
}

bool IsExportFormat(const std::string& format) { return format == "json" || format == "csv" || format == "html"; }

Status RenderExport(const v1::AuditExport& x, const std::string& format,
                    const std::map<std::string, std::string>& destination_names, std::string* out) {
  if (format == "json") {
    *out = ToJsonPretty(x) + "\n";
  } else if (format == "csv") {
    *out = Csv(x);
  } else if (format == "html") {
    return HtmlPage(x, destination_names, out);
  } else {
    return Status::InvalidArgument("the export format must be json, csv or html, not \"" + format + "\"", "format");
  }
  return Status::OK();
}

std::string RedactionNote(const v1::SubjectAccessPack& pack) {
  if (!pack.third_parties_redacted()) {
    return "Third parties are NOT redacted: this pack still holds other people's data (the person causing harm, the "
           "referrer's contact details). Do not release it to the subject as it is.";
  }
  return std::string("Other people's data is redacted and shown as ") + kRedactedMarker +
         " (the person causing harm, the referrer's name and contact details, other people linked to a context). "
         "Free text (narrative, notes, reasons) is not redacted: review it before release.";
}

Status RenderSubjectAccessPack(const v1::SubjectAccessPack& pack, const std::string& format,
                               const std::map<std::string, std::string>& destination_names, std::string* out) {
  if (format == "json") {
    *out = ToJsonPretty(pack) + "\n";
  } else if (format == "csv") {
    *out = PackCsv(pack);
  } else if (format == "html") {
    return PackHtmlPage(pack, destination_names, out);
  } else {
    return Status::InvalidArgument("the export format must be json, csv or html, not \"" + format + "\"", "format");
  }
  return Status::OK();
}

std::string ExportContentType(const std::string& format) {
  if (format == "csv") return "text/csv; charset=utf-8";
  if (format == "html") return "text/html; charset=utf-8";
  return "application/json";
}

}  // namespace refx::audit
