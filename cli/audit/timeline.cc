// `refx audit timeline REFERRAL --purpose TEXT [--json] [--as AGENCY]`:
// every event of one referral the reader may see, in seq order, read
// through the broker (filtered there by the referral index).
#include <cstdio>
#include <memory>
#include <string>

#include "cli/audit/audit_command.h"
#include "cli/audit/audited_read.h"
#include "audit/event_lines.h"
#include "cli/audit/subcommands.h"
#include "cli/referral_arg.h"
#include "core/event_util.h"
#include "core/json.h"

namespace refx::cli {

namespace {

struct TimelineArgs {
  std::string referral;
  std::string purpose;
  std::string as = audit::kDefaultAuditor;
  bool json = false;
};

int RunTimeline(const ConnectionFlags& flags, const TimelineArgs& args) {
  const std::string command = "audit timeline";
  const int exit = audit::ReadReferral(
      command, flags, args.referral, args.purpose, args.as,
      [&](const v1::Event& event, const std::string&, const std::string&) {
        std::printf("%s\n", (args.json ? ToJsonLine(event) : refx::audit::AuditLine(event)).c_str());
        return true;
      });
  std::fflush(stdout);
  return exit;
}

}  // namespace

void AddAuditTimelineCommand(CLI::App* audit, ConnectionFlags* flags, int* exit_code) {
  auto args = std::make_shared<TimelineArgs>();
  CLI::App* cmd = audit->add_subcommand(
      "timeline",
      "Every event of one referral in seq order: submission, routing (rule, reason), deliveries (what groups were "
      "disclosed to whom), acks, accepts/declines, outcomes, breaches, escalations, erasures, record accesses. The "
      "text form has no personal data; --json prints the full events, which DO contain personal data");
  AddReferralArgument(cmd, &args->referral);
  cmd->add_option("--purpose", args->purpose,
                  "Why you read this referral (required; the broker records it as a record_accessed event)");
  cmd->add_option("--as", args->as,
                  "Identity to read as: an agency id or a destination code (its agency); role AUDITOR, a LEAD sees "
                  "only its own cases")
      ->capture_default_str();
  cmd->add_flag("--json", args->json,
                "One refx.v1.Event JSON line per event: the FULL event, including personal data (names, dates of "
                "birth, addresses, narrative)");
  cmd->callback([args, flags, exit_code] { *exit_code = RunTimeline(*flags, *args); });
}

}  // namespace refx::cli
