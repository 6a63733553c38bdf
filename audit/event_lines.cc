#include "audit/event_lines.h"

#include "core/event_util.h"
#include "core/london_time.h"

namespace refx::audit {

namespace {

// UK time to the second, "-" when unset (as the CLI prints times).
std::string FormatLondon(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "-";
  return LondonTimeSeconds(time.seconds());
}

// "  label: text" when text is set.
std::string Labelled(const std::string& label, const std::string& text) {
  return text.empty() ? "" : "  " + label + ": " + text;
}

// Free text written by a person: quoted with `free_text`, else only flagged.
std::string FreeText(const std::string& label, const std::string& text, bool free_text) {
  if (text.empty()) return "";
  if (free_text) return "  " + label + ": \"" + text + "\"";
  return "  (" + label + " withheld: see --json)";
}

}  // namespace

std::string RuleOf(const v1::Event& e) {
  if (e.has_case_routed()) return e.case_routed().rule_id();
  if (e.has_case_delivered()) return e.case_delivered().rule_id();
  return "";
}

std::string GroupsText(const v1::CaseDelivered& d) {
  std::string out;
  for (int g : d.disclosed_groups()) {
    if (!out.empty()) out += ",";
    out += v1::FieldGroup_Name(static_cast<v1::FieldGroup>(g));
  }
  return out;
}

std::string EventDetail(const v1::Event& e, bool free_text) {
  using B = v1::Event::BodyCase;
  std::string d;
  switch (e.body_case()) {
    case B::kReferralSubmitted: {
      // Envelope fields only: who referred (the agency), category, urgency,
      // lawful basis, consent position. Never the person or narrative.
      const v1::Referral& r = e.referral_submitted().referral();
      d += "from " + r.referrer().agency_id() + "  " + v1::Category_Name(r.category()) + "  " +
           v1::Urgency_Name(r.urgency()) + "  basis " + v1::LawfulBasis_Name(r.lawful_basis()) + "  consent " +
           v1::ConsentPosition_Name(r.consent().position());
      break;
    }
    case B::kCaseRouted:
      d += "rule " + e.case_routed().rule_id() + "  deadline " + FormatLondon(e.case_routed().deadline()) +
           Labelled("reason", e.case_routed().reason());
      break;
    case B::kCaseDelivered: {
      const v1::CaseDelivered& c = e.case_delivered();
      d += "to " + c.recipient_agency() + "  disclosed " + (c.disclosed_groups().empty() ? "-" : GroupsText(c)) +
           "  rule " + (c.rule_id().empty() ? "-" : c.rule_id()) + "  attempt " + std::to_string(c.attempt()) +
           "  deadline " + FormatLondon(c.deadline()) + Labelled("purpose", c.purpose());
      break;
    }
    case B::kCaseAccepted:
      d += FreeText("note", e.case_accepted().note(), free_text);
      break;
    case B::kCaseDeclined:
      d += FreeText("reason", e.case_declined().reason(), free_text);
      break;
    case B::kOutcomeRecorded:
      d += "outcome " + e.outcome_recorded().code() + FreeText("note", e.outcome_recorded().note(), free_text);
      break;
    case B::kReferralWithdrawn:
      d += FreeText("reason", e.referral_withdrawn().reason(), free_text);
      break;
    case B::kCaseUndeliverable:  // written by the delivery service: no personal data
      d += Labelled("reason", e.case_undeliverable().reason());
      break;
    case B::kDeadlineBreached:
      d += e.deadline_breached().deadline_kind() + " deadline " + FormatLondon(e.deadline_breached().deadline());
      break;
    case B::kCaseEscalated:  // written by the outcomes service
      d += "to " + e.case_escalated().escalated_to() + Labelled("reason", e.case_escalated().reason());
      break;
    case B::kSubjectErased: {
      const v1::SubjectErased& x = e.subject_erased();
      d += x.history_key() ? "subject hash's history key destroyed" : "subject's data key destroyed";
      if (!x.rule().empty()) d += "  under retention rule " + x.rule();
      if (x.override_retention()) d += "  retention " + x.retention_record_type() + " overridden (kept until " + x.retention_ends() + ")";
      d += FreeText("reason", x.reason(), free_text);
      break;
    }
    case B::kRecordAccessed: {
      const v1::RecordAccessed& a = e.record_accessed();
      d += "what: " + a.what() + "  purpose: \"" + a.purpose() + "\"";
      std::string ids;
      for (const auto& id : a.referral_ids()) ids += (ids.empty() ? "" : ",") + id;
      d += Labelled("referrals", ids);
      break;
    }
    default:
      break;
  }
  // Its personal fields were sealed under a key since destroyed.
  if (e.erased()) d += "  personal fields erased";
  // Strip the separator a body may have started with.
  while (!d.empty() && d.front() == ' ') d.erase(d.begin());
  return d;
}

std::string AuditLine(const v1::Event& e) {
  std::string line = "seq " + std::to_string(e.seq()) + "  " + FormatLondon(e.time()) + "  " +
                     (e.actor().empty() ? "-" : e.actor()) + "  " + EventTypeName(e);
  const std::string& referral = ReferralIdOf(e);
  if (!referral.empty()) line += "  " + referral;
  const std::string& destination = DestinationOf(e);
  if (!destination.empty()) line += "  " + destination;
  const std::string detail = EventDetail(e, false);
  if (!detail.empty()) line += "  " + detail;
  return line;
}

}  // namespace refx::audit
