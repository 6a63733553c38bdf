// `refx audit as-of TIME REFERRAL --purpose TEXT [--json]`: the state of
// each case of a referral at a moment, folded from the referral's events up
// to the END of what TIME names (domain/monitoring/case_fold.h): a time to
// the second includes that second's events, a date alone the whole of that
// day in Europe/London (cli/london_time.h). Also what each agency had been
// told by then (the case_delivered events to it). Ids, codes, states, groups
// and times only; times in Europe/London, UTC in --json.
#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/audit/audit_command.h"
#include "cli/audit/audited_read.h"
#include "audit/event_lines.h"
#include "audit/referral_fold.h"
#include "cli/audit/subcommands.h"
#include "cli/london_time.h"
#include "cli/referral_arg.h"
#include "cli/text_table.h"
#include "core/event_util.h"
#include "core/json.h"
#include "refx/v1/cli.pb.h"

namespace refx::cli {

namespace {

struct AsOfArgs {
  std::string time;
  std::string referral;
  std::string purpose;
  std::string as = audit::kDefaultAuditor;
  bool json = false;
};

int RunAsOf(const ConnectionFlags& flags, const AsOfArgs& args) {
  const std::string command = "audit as-of";
  TimeSpan span;
  if (!ParseTimeSpan(args.time, &span)) {
    return Fail(command,
                Status::InvalidArgument("TIME must be " + std::string(kTimeArgumentHelp) + ", not \"" + args.time +
                                        "\""),
                kExitRefused);
  }
  // The last instant TIME covers: events stamped within that second (or
  // day) are part of the state "as of" it.
  const google::protobuf::Timestamp as_of = span.end - google::protobuf::util::TimeUtil::NanosecondsToDuration(1);
  // All the referral's events (a handful), kept up to TIME here: events
  // after it still tell "not yet" from "nothing to see".
  std::vector<v1::Event> events;
  const int exit = audit::ReadReferral(command, flags, args.referral, args.purpose, args.as,
                                       [&](const v1::Event& event, const std::string&, const std::string&) {
                                         // Audit reads (record_accessed) are not part of the referral's state.
                                         if (!(as_of < event.time()) && !event.has_record_accessed()) {
                                           events.push_back(event);
                                         }
                                         return true;
                                       });
  if (exit != kExitOk) return exit;

  refx::audit::FoldedReferral folded;
  refx::audit::FoldReferral(events, &folded);
  v1::AuditAsOf result;
  result.set_referral_id(args.referral);
  *result.mutable_as_of() = as_of;
  result.set_as_of_seq(events.empty() ? 0 : events.back().seq());
  result.set_submitter(folded.submitter);
  result.set_withdrawn(folded.withdrawn);
  for (const auto& c : folded.cases) *result.add_cases() = c;
  for (const v1::Event& e : events) {
    if (!e.has_case_delivered()) continue;
    const v1::CaseDelivered& d = e.case_delivered();
    v1::AsOfDisclosure* out = result.add_disclosures();
    out->set_agency(d.recipient_agency());
    out->set_destination(d.destination());
    out->set_seq(e.seq());
    *out->mutable_time() = e.time();
    *out->mutable_disclosed_groups() = d.disclosed_groups();
    out->set_attempt(d.attempt());
    out->set_rule_id(d.rule_id());
    out->set_purpose(d.purpose());
  }

  if (args.json) {
    std::printf("%s\n", ToJsonLine(result).c_str());
    return kExitOk;
  }
  const std::string when =
      span.whole_day ? "the end of " + args.time + " (" + FormatLondon(as_of) + ")" : FormatLondon(as_of);
  if (events.empty()) {
    std::printf("%s as of %s: no event yet (its first is later)\n", args.referral.c_str(), when.c_str());
    return kExitOk;
  }
  std::printf("%s as of %s (its events up to seq %llu)\n", args.referral.c_str(), when.c_str(),
              static_cast<unsigned long long>(result.as_of_seq()));
  if (!folded.submitter.empty()) std::printf("submitted by %s\n", folded.submitter.c_str());
  if (folded.withdrawn) std::printf("withdrawn by then\n");
  if (result.cases().empty()) {
    std::printf("cases: none routed by then\n");
  } else {
    std::printf("cases:\n");
    std::vector<std::vector<std::string>> rows = {
        {"  DESTINATION", "STATE", "RULE", "DEADLINE", "BREACHED", "DELIVERIES", "OUTCOME", "SINCE SEQ"}};
    for (const auto& c : result.cases()) {
      rows.push_back({"  " + c.destination(), v1::CaseState_Name(c.state()), c.rule_id().empty() ? "-" : c.rule_id(),
                      FormatLondon(c.deadline()), c.deadline_breached() ? "yes" : "no",
                      std::to_string(c.deliveries()), c.last_outcome().empty() ? "-" : c.last_outcome(),
                      std::to_string(c.version())});
    }
    PrintTable(rows);
  }
  if (result.disclosures().empty()) {
    std::printf("told by then: nobody (no delivery yet)\n");
  } else {
    std::printf("told by then:\n");
    std::vector<std::vector<std::string>> rows = {
        {"  AGENCY", "DESTINATION", "SEQ", "TIME", "ATTEMPT", "RULE", "DISCLOSED GROUPS"}};
    for (const v1::Event& e : events) {
      if (!e.has_case_delivered()) continue;
      const v1::CaseDelivered& d = e.case_delivered();
      rows.push_back({"  " + d.recipient_agency(), d.destination(), std::to_string(e.seq()), FormatLondon(e.time()),
                      std::to_string(d.attempt()), d.rule_id().empty() ? "-" : d.rule_id(), refx::audit::GroupsText(d)});
    }
    PrintTable(rows);
  }
  return kExitOk;
}

}  // namespace

void AddAuditAsOfCommand(CLI::App* audit, ConnectionFlags* flags, int* exit_code) {
  auto args = std::make_shared<AsOfArgs>();
  CLI::App* cmd = audit->add_subcommand(
      "as-of",
      "A referral's cases as they stood at TIME (state, rule, deadline, breached), and what each agency had been "
      "told by then (deliveries: seq, time, disclosed groups). No personal data");
  cmd->add_option("time", args->time,
                  std::string(kTimeArgumentHelp) +
                      ". The state includes every event within what TIME names: 17:00:05 includes that second's "
                      "events, and a date alone means the END of that day in Europe/London (all its events)")
      ->required();
  AddReferralArgument(cmd, &args->referral);
  cmd->add_option("--purpose", args->purpose,
                  "Why you read this referral (required; the broker records it as a record_accessed event)");
  cmd->add_option("--as", args->as, "Identity to read as: an agency id or a destination code (role AUDITOR)")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "One refx.v1.AuditAsOf JSON line");
  cmd->callback([args, flags, exit_code] { *exit_code = RunAsOf(*flags, *args); });
}

}  // namespace refx::cli
