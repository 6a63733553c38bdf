#include "cli/inbox_support.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "cli/inbox_command.h"
#include "cli/london_time.h"
#include "core/event_util.h"

namespace refx::cli::inbox {

using refx::cli::FormatLondon;

bool Caller::Covers(const std::string& destination) const {
  return std::find(destinations.begin(), destinations.end(), destination) != destinations.end();
}

Status ResolveCaller(const ConnectionFlags& flags, const std::string& who, bool need_destinations, Caller* out) {
  const std::string path = ResolveHome(flags.home) + "/config.textproto";
  Status s = PartnershipConfig::Load(path, &out->config);
  if (!s.ok()) {
    return Status::NotFound("no local stack configuration (" + s.message() +
                            "); run deploy/refx.sh up, or pass --home");
  }
  std::string upper = who;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const v1::Destination* dest = out->config->DestinationByCode(who);
  if (dest == nullptr) dest = out->config->DestinationByCode(upper);
  if (dest != nullptr) {
    out->agency_id = dest->agency_id();
    out->destinations = {dest->code()};
    out->by_destination = true;
    return Status::OK();
  }
  if (out->config->AgencyById(who) == nullptr) {
    return Status::NotFound("--as \"" + who + "\" is neither an agency id nor a destination code in " + path);
  }
  out->agency_id = who;
  out->by_destination = false;
  out->destinations.clear();
  for (const auto& d : out->config->proto().destinations()) {
    if (d.agency_id() == who) out->destinations.push_back(d.code());
  }
  if (need_destinations && out->destinations.empty()) {
    return Status::NotFound("agency \"" + who + "\" owns no destination in " + path);
  }
  return Status::OK();
}

Status ConnectAs(const ConnectionFlags& flags, const Caller& caller, std::unique_ptr<BrokerClient>* out) {
  ClientOptions options;
  REFX_RETURN_IF_ERROR(ConnectedClientOptions(flags, caller.agency_id, &options));
  *out = std::make_unique<BrokerClient>(options);
  return Status::OK();
}

std::string NormaliseReferralId(const std::string& text) {
  if (!text.empty() && text.size() <= 10 && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    const uint64_t seq = std::stoull(text);
    if (seq != 0) return ReferralIdForSeq(seq);
  }
  return text;
}

std::string FormatTime(const google::protobuf::Timestamp& time) { return FormatLondon(time); }

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
      line += "  rule " + e.case_routed().rule_id() + "  deadline " + FormatTime(e.case_routed().deadline()) +
              Quoted("reason", e.case_routed().reason());
      break;
    case B::kCaseDelivered:
      line += "  attempt " + std::to_string(e.case_delivered().attempt()) + "  deadline " +
              FormatTime(e.case_delivered().deadline()) + "  rule " + e.case_delivered().rule_id() +
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
      line += "  " + e.deadline_breached().deadline_kind() + " deadline " + FormatTime(e.deadline_breached().deadline());
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

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

}  // namespace refx::cli::inbox
