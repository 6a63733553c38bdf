#include "cli/audit_support.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <utility>

#include "cli/audit_command.h"
#include "cli/inbox_support.h"
#include "core/event_util.h"
#include "core/frame_codec.h"
#include "core/json.h"
#include "domain/monitoring/case_fold.h"

namespace refx::cli::audit {

namespace {

using google::protobuf::util::TimeUtil;

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

std::string AgencyFor(const ConnectionFlags& flags, const std::string& as) {
  inbox::Caller caller;
  if (inbox::ResolveCaller(flags, as, false, &caller).ok()) return caller.agency_id;
  return as;  // no configuration to look it up in: the key pair's name
}

Status ConnectAs(const ConnectionFlags& flags, const std::string& as, std::unique_ptr<BrokerClient>* out) {
  ClientOptions options;
  REFX_RETURN_IF_ERROR(ConnectedClientOptions(flags, AgencyFor(flags, as), &options));
  *out = std::make_unique<BrokerClient>(options);
  return Status::OK();
}

Status CheckPurpose(const std::string& purpose) {
  if (purpose.find_first_not_of(" \t\r\n") != std::string::npos) return Status::OK();
  return Status::InvalidArgument(
      "--purpose is required: every audit read is recorded in the log with its purpose (a record_accessed "
      "event), e.g. --purpose \"SAR 2027-014\" or --purpose \"case review CR-7\"",
      "purpose");
}

int ReadReferral(const std::string& command, const ConnectionFlags& flags, const std::string& referral,
                 const std::string& purpose, const std::string& as, const BrokerClient::EventFn& on_event) {
  uint64_t submission_seq = 0;
  if (!SeqForReferralId(referral, &submission_seq)) {
    return Fail(command, Status::InvalidArgument("\"" + referral + "\" is not a referral id (R-0000000042 or 42)"),
                kExitRefused);
  }
  Status s = CheckPurpose(purpose);
  if (!s.ok()) return Fail(command, s, kExitRefused);
  std::unique_ptr<BrokerClient> client;
  s = ConnectAs(flags, as, &client);
  if (!s.ok()) return Fail(command, s, ExitCodeForConnect(s));
  v1::ReadRequest request;
  request.set_referral_id(referral);
  request.set_purpose(purpose);
  // The broker streams the record of this very read (and of earlier reads)
  // for any id, so the referral exists only if some other event names it.
  // Nothing is printed for a referral that does not exist.
  std::vector<std::pair<v1::Event, std::pair<std::string, std::string>>> reads;
  bool exists = false;
  uint64_t own_read_seq = 0;
  s = client->Read(request, [&](const v1::Event& event, const std::string& bytes, const std::string& hash) {
    if (!exists && event.has_record_accessed()) {
      own_read_seq = event.seq();
      reads.push_back({event, {bytes, hash}});
      return true;
    }
    if (!exists) {
      exists = true;
      for (const auto& [e, raw] : reads) {
        if (!on_event(e, raw.first, raw.second)) return false;
      }
    }
    return on_event(event, bytes, hash);
  });
  if (!s.ok()) return Fail(command, s, ExitCodeFor(s));
  if (!exists) {
    return Fail(command,
                Status::NotFound("no such referral: " + referral + " has no event that " + AgencyFor(flags, as) +
                                 " may see" +
                                 (own_read_seq ? " (this read is recorded all the same, as seq " +
                                                     std::to_string(own_read_seq) + ")"
                                               : "")),
                kExitRefused);
  }
  return kExitOk;
}

Status ReadCheckpointFile(const std::string& path, std::vector<v1::Checkpoint>* out) {
  std::ifstream in(path);
  if (!in) return Status::IoError(path + ": cannot read");
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    v1::Checkpoint cp;
    Status s = MessageFromJson(line, &cp);
    if (!s.ok()) return Status::InvalidArgument(path + ":" + std::to_string(number) + ": " + s.message());
    out->push_back(std::move(cp));
  }
  return Status::OK();
}

Status HeadSeq(BrokerClient* client, uint64_t* head) {
  v1::Frame request, reply;
  request.mutable_heartbeat();
  REFX_RETURN_IF_ERROR(client->Call(request, &reply));
  if (reply.has_error()) return StatusFromError(reply.error());
  if (!reply.has_heartbeat()) return Status::Internal("unexpected reply to a heartbeat");
  *head = reply.heartbeat().head_seq();
  return Status::OK();
}

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
  using inbox::FormatTime;
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
      d += "rule " + e.case_routed().rule_id() + "  deadline " + FormatTime(e.case_routed().deadline()) +
           Labelled("reason", e.case_routed().reason());
      break;
    case B::kCaseDelivered: {
      const v1::CaseDelivered& c = e.case_delivered();
      d += "to " + c.recipient_agency() + "  disclosed " + (c.disclosed_groups().empty() ? "-" : GroupsText(c)) +
           "  rule " + (c.rule_id().empty() ? "-" : c.rule_id()) + "  attempt " + std::to_string(c.attempt()) +
           "  deadline " + FormatTime(c.deadline()) + Labelled("purpose", c.purpose());
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
      d += e.deadline_breached().deadline_kind() + " deadline " + FormatTime(e.deadline_breached().deadline());
      break;
    case B::kCaseEscalated:  // written by the outcomes service
      d += "to " + e.case_escalated().escalated_to() + Labelled("reason", e.case_escalated().reason());
      break;
    case B::kSubjectErased:
      d += "subject's data key destroyed" + FreeText("reason", e.subject_erased().reason(), free_text);
      break;
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
  // Strip the separator a body may have started with.
  while (!d.empty() && d.front() == ' ') d.erase(d.begin());
  return d;
}

std::string AuditLine(const v1::Event& e) {
  std::string line = "seq " + std::to_string(e.seq()) + "  " + inbox::FormatTime(e.time()) + "  " +
                     (e.actor().empty() ? "-" : e.actor()) + "  " + EventTypeName(e);
  const std::string& referral = ReferralIdOf(e);
  if (!referral.empty()) line += "  " + referral;
  const std::string& destination = DestinationOf(e);
  if (!destination.empty()) line += "  " + destination;
  const std::string detail = EventDetail(e, false);
  if (!detail.empty()) line += "  " + detail;
  return line;
}

void DrawProgress(const char* label, uint64_t done, uint64_t total, const std::string& detail) {
  constexpr int kWidth = 30;
  double share = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  if (share > 1.0) share = 1.0;
  const int filled = static_cast<int>(share * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '.');
  std::fprintf(stderr, "\r%s [%s] %3d%%  %s\033[K", label, bar.c_str(), static_cast<int>(share * 100), detail.c_str());
  std::fflush(stderr);
}

std::string EventsDetail(uint64_t done, uint64_t total, double rate) {
  std::string text = std::to_string(done) + " / " + std::to_string(total) + " events";
  if (rate >= 0) text += "  " + std::to_string(static_cast<uint64_t>(rate)) + "/s";
  return text;
}

void ClearProgress() {
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

void FoldReferral(const std::vector<v1::Event>& events, FoldedReferral* out) {
  outcomes::CaseFold fold;
  struct Extra {
    v1::CaseRecord record;  // the fields the fold does not keep
  };
  std::map<std::string, Extra> extra;  // by destination
  std::string referral_id;
  for (const v1::Event& e : events) {
    out->last_seq = e.seq();
    if (e.has_referral_submitted()) {
      out->submitter = e.referral_submitted().referral().referrer().agency_id();
      if (out->submitter.empty()) out->submitter = e.actor();
      referral_id = e.referral_submitted().referral_id();
    }
    if (e.has_referral_withdrawn()) {
      out->withdrawn = true;
      referral_id = e.referral_withdrawn().referral_id();
      for (auto& [destination, x] : extra) {
        const outcomes::CaseView* before = fold.Find(referral_id, destination);
        if (before != nullptr && outcomes::IsOpenState(before->state)) x.record.set_version(e.seq());
      }
    }
    const outcomes::CaseView* changed = fold.Apply(e);
    if (changed == nullptr) continue;
    referral_id = changed->referral_id;
    v1::CaseRecord& r = extra[changed->destination].record;
    r.set_version(e.seq());
    switch (e.body_case()) {
      case v1::Event::kCaseRouted:
        r.set_rule_id(e.case_routed().rule_id());
        r.set_reason(e.case_routed().reason());
        break;
      case v1::Event::kCaseDelivered:
        r.set_deliveries(r.deliveries() + 1);
        if (r.rule_id().empty()) r.set_rule_id(e.case_delivered().rule_id());
        break;
      case v1::Event::kOutcomeRecorded:
        r.set_last_outcome(e.outcome_recorded().code());
        break;
      case v1::Event::kDeadlineBreached:
        r.set_deadline_breached(true);
        break;
      default:
        break;
    }
  }
  for (const outcomes::CaseView* c : fold.CasesOf(referral_id)) {
    v1::CaseRecord r = extra[c->destination].record;
    r.set_referral_id(c->referral_id);
    r.set_destination(c->destination);
    r.set_state(c->state);
    if (c->deadline != 0) *r.mutable_deadline() = TimeUtil::MicrosecondsToTimestamp(c->deadline);
    if (c->routed_at != 0) *r.mutable_routed_at() = TimeUtil::MicrosecondsToTimestamp(c->routed_at);
    if (c->acknowledge_breached) r.set_deadline_breached(true);
    out->cases.push_back(std::move(r));
  }
}

}  // namespace refx::cli::audit
