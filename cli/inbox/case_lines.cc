#include "cli/inbox/case_lines.h"

#include "cli/london_time.h"
#include "core/event_util.h"

namespace refx::cli::inbox {

namespace {

std::string Quoted(const std::string& label, const std::string& text) {
  return text.empty() ? "" : "  " + label + ": " + text;
}

}  // namespace

std::string EventLine(const v1::Event& e) {
  std::string line = "seq " + std::to_string(e.seq()) + "  " + ReferralIdOf(e);
  const std::string& destination = DestinationOf(e);
  if (!destination.empty()) line += "  " + destination;
  line += "  ";
  line += EventTypeName(e);
  if (!e.actor().empty()) line += " by " + e.actor();
  using B = v1::Event::BodyCase;
  switch (e.body_case()) {
    case B::kCaseRouted:
      line += "  rule " + e.case_routed().rule_id() + "  deadline " + FormatLondon(e.case_routed().deadline()) +
              Quoted("reason", e.case_routed().reason());
      break;
    case B::kCaseDelivered:
      line += "  attempt " + std::to_string(e.case_delivered().attempt()) + "  deadline " +
              FormatLondon(e.case_delivered().deadline()) + "  rule " + e.case_delivered().rule_id() +
              Quoted("reason", e.case_delivered().reason());
      break;
    case B::kCaseAccepted:
      line += Quoted("note", e.case_accepted().note());
      break;
    case B::kCaseDeclined:
      line += Quoted("reason", e.case_declined().reason());
      break;
    case B::kOutcomeRecorded:
      line += "  " + e.outcome_recorded().code() + Quoted("note", e.outcome_recorded().note());
      break;
    case B::kCaseUndeliverable:
      line += Quoted("reason", e.case_undeliverable().reason());
      break;
    case B::kDeadlineBreached:
      line += "  " + e.deadline_breached().deadline_kind() + " deadline " + FormatLondon(e.deadline_breached().deadline());
      break;
    case B::kCaseEscalated:
      line += "  to " + e.case_escalated().escalated_to() + Quoted("reason", e.case_escalated().reason());
      break;
    case B::kReferralWithdrawn:
      line += Quoted("reason", e.referral_withdrawn().reason());
      break;
    default:
      break;
  }
  return line;
}

std::string DeliveryLines(const v1::Event& e) {
  const v1::CaseDelivered& d = e.case_delivered();
  const v1::Referral& view = d.view();
  std::string summary = "    " + v1::Category_Name(view.category()) + ", " + v1::Urgency_Name(view.urgency());
  if (view.has_person()) {
    std::string name = view.person().given_name();
    if (!view.person().family_name().empty()) name += (name.empty() ? "" : " ") + view.person().family_name();
    if (!name.empty()) summary += "; subject: " + name;
  } else if (view.has_context() && !view.context().name().empty()) {
    summary += "; context: " + v1::ContextKind_Name(view.context().kind()) + " " + view.context().name();
  }
  return EventLine(e) + "\n" + summary;
}

}  // namespace refx::cli::inbox
