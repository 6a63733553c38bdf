#include "cli/inbox/inbox_command.h"

#include <cctype>
#include <memory>

#include "cli/inbox/inbox.h"
#include "cli/referral_arg.h"
#include "refx/v1/event.pb.h"

namespace refx::cli {

namespace {

using inbox::Args;

// Upper-cases a --state value and checks it names a CaseState.
CLI::Validator CaseStateName() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        for (char& c : value) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        v1::CaseState state;
        if (!v1::CaseState_Parse(value, &state) || state == v1::CASE_STATE_UNSPECIFIED) {
          return "not a case state: " + value + " (ROUTED, DELIVERED, ACKNOWLEDGED, ACCEPTED, DECLINED, "
                 "OUTCOME_RECORDED, CLOSED, UNDELIVERABLE, WITHDRAWN)";
        }
        return "";
      },
      "STATE");
}

CLI::App* Leaf(CLI::App* inbox, const std::string& name, const std::string& description, Args* args,
               const std::string& json_help) {
  CLI::App* cmd = inbox->add_subcommand(name, description);
  cmd->add_option("--as", args->who, "Agency id or destination code to act as (e.g. DA_MARAC)")->required();
  cmd->add_flag("--json", args->json, json_help);
  return cmd;
}

void AddReferral(CLI::App* cmd, Args* args) {
  AddReferralArgument(cmd, &args->referral);
}

void AddDestination(CLI::App* cmd, Args* args) {
  cmd->add_option("--destination", args->destination,
                  "The case's destination (default: the referral's only case at yours)");
}

}  // namespace

void AddInboxCommand(CLI::App& app, ConnectionFlags* flags, int* exit_code) {
  CLI::App* inbox = app.add_subcommand(
      "inbox",
      "The lead's inbox: cases at your destinations, and acting on them. ack/accept/decline/outcome are idempotent: "
      "the same step again writes nothing and exits 0 (\"already ... as seq N\"); a step the case's state does not "
      "allow (decline after accept, outcome before accept) is refused with ILLEGAL_TRANSITION, exit 2");
  inbox->require_subcommand(1);

  {
    auto args = std::make_shared<Args>();
    CLI::App* cmd = Leaf(inbox, "list", "Cases at your destination(s), by deadline", args.get(),
                         "One refx.v1.CaseRecord JSON line per case");
    cmd->add_option("--state", args->states, "Only cases in this state (repeatable)")->transform(CaseStateName());
    cmd->callback([args, flags, exit_code] { *exit_code = inbox::RunList(*flags, *args); });
  }
  {
    auto args = std::make_shared<Args>();
    CLI::App* cmd = Leaf(inbox, "watch", "Print deliveries and case events as they happen (until Ctrl-C)", args.get(),
                         "One refx.v1.Event JSON line per event");
    CLI::Option* from = cmd->add_option("--from-seq", args->from_seq, "Start after this seq (default: the log head now)");
    cmd->add_option("--count", args->count, "Exit after this many deliveries (0: run until stopped)");
    cmd->callback([args, flags, exit_code, from] {
      args->from_seq_given = from->count() > 0;
      *exit_code = inbox::RunWatch(*flags, *args);
    });
  }
  {
    auto args = std::make_shared<Args>();
    CLI::App* cmd = Leaf(inbox, "show", "One case: its state, the latest delivered view and its history", args.get(),
                         "One refx.v1.InboxCase JSON line per case");
    AddReferral(cmd, args.get());
    AddDestination(cmd, args.get());
    cmd->callback([args, flags, exit_code] { *exit_code = inbox::RunShow(*flags, *args); });
  }
  {
    auto args = std::make_shared<Args>();
    CLI::App* cmd = Leaf(inbox, "ack", "Acknowledge a delivered case", args.get(), "Print the refx.v1.Ack as JSON");
    AddReferral(cmd, args.get());
    AddDestination(cmd, args.get());
    cmd->callback([args, flags, exit_code] { *exit_code = inbox::RunAction(*flags, "ack", *args); });
  }
  {
    auto args = std::make_shared<Args>();
    CLI::App* cmd = Leaf(inbox, "accept", "Accept an acknowledged case", args.get(), "Print the refx.v1.Ack as JSON");
    AddReferral(cmd, args.get());
    AddDestination(cmd, args.get());
    cmd->add_option("--note", args->note, "A note kept with the acceptance");
    cmd->callback([args, flags, exit_code] { *exit_code = inbox::RunAction(*flags, "accept", *args); });
  }
  {
    auto args = std::make_shared<Args>();
    CLI::App* cmd = Leaf(inbox, "decline", "Decline an acknowledged case (a reason is required)", args.get(),
                         "Print the refx.v1.Ack as JSON");
    AddReferral(cmd, args.get());
    AddDestination(cmd, args.get());
    cmd->add_option("--reason", args->reason, "Why the case is declined")->required();
    cmd->callback([args, flags, exit_code] { *exit_code = inbox::RunAction(*flags, "decline", *args); });
  }
  {
    auto args = std::make_shared<Args>();
    CLI::App* cmd = Leaf(inbox, "outcome", "Record an outcome (a configured code) for an accepted case", args.get(),
                         "Print the refx.v1.Ack as JSON");
    AddReferral(cmd, args.get());
    cmd->add_option("code", args->code, "Outcome code from the configuration, e.g. SAFETY_PLAN")->required();
    AddDestination(cmd, args.get());
    cmd->add_option("--note", args->note, "A note kept with the outcome");
    cmd->callback([args, flags, exit_code] { *exit_code = inbox::RunAction(*flags, "outcome", *args); });
  }
}

}  // namespace refx::cli
