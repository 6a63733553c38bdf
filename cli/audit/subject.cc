// `refx audit subject --name NAME --dob YYYY-MM-DD --purpose TEXT [--json]
// [--as AGENCY] [--config FILE]`: every referral about one person, found
// through the broker's subject index (cli/audit/subject_search.h): id,
// submission time, referring agency, destinations with each case's state.
// The search is recorded in the log with its purpose. The text form holds
// no personal data (the name and date of birth are the caller's own input);
// --json prints the refx.v1.QueryResult.
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/audit/audited_read.h"
#include "cli/audit/subcommands.h"
#include "cli/audit/subject_search.h"
#include "cli/exit_codes.h"
#include "cli/text_table.h"
#include "core/json.h"
#include "render/format.h"

namespace refx::cli {

namespace {

struct SubjectArgs {
  audit::SubjectSearch search;
  bool json = false;
};

int RunSubject(const ConnectionFlags& flags, const SubjectArgs& args) {
  v1::QueryResult result;
  const int exit = audit::FindSubjectReferrals("audit subject", flags, args.search, &result);
  if (exit != kExitOk) return exit;
  if (args.json) {
    std::printf("%s\n", ToJsonPretty(result).c_str());
    std::fflush(stdout);
    return kExitOk;
  }
  std::map<std::string, std::string> states;  // referral id -> "DEST STATE, ..."
  for (const v1::CaseRecord& c : result.cases()) {
    std::string& s = states[c.referral_id()];
    if (!s.empty()) s += ", ";
    s += c.destination() + " " + v1::CaseState_Name(c.state());
  }
  std::vector<std::vector<std::string>> rows = {{"REFERRAL", "SUBMITTED (UK)", "REFERRER", "CASES"}};
  for (const v1::SubjectReferral& r : result.referrals()) {
    const std::string& id = r.referral().referral_id();
    std::string cases = states.count(id) ? states[id] : "(not routed)";
    if (r.referral().withdrawn()) cases += " (referral withdrawn)";
    rows.push_back({id, render::LondonTime(r.submitted().seconds()), r.referral().submitter(), cases});
  }
  if (result.referrals_size() > 0) PrintTable(rows);
  std::fflush(stdout);
  std::fprintf(stderr, "refx audit subject: %d referral%s about this person; the search is recorded in the log\n",
               result.referrals_size(), result.referrals_size() == 1 ? "" : "s");
  return kExitOk;
}

}  // namespace

void AddSubjectSearchOptions(CLI::App* cmd, audit::SubjectSearch* search) {
  cmd->add_option("--name", search->name,
                  "The subject's full name (given and family names; spacing, case and punctuation do not matter)");
  cmd->add_option("--dob", search->dob, "The subject's date of birth, YYYY-MM-DD");
  cmd->add_option("--config", search->config,
                  "Partnership configuration naming the subject key file (default HOME/config.textproto)");
}

void AddAuditSubjectCommand(CLI::App* audit, ConnectionFlags* flags, int* exit_code) {
  auto args = std::make_shared<SubjectArgs>();
  args->search.as = audit::kDefaultAuditor;
  CLI::App* cmd = audit->add_subcommand(
      "subject",
      "Every referral about one person (a subject access request): id, submitted, referring agency, and each "
      "case's destination and state. The name and date of birth are turned into the router's keyed subject hash "
      "here, with the subject key the configuration names; only the hash goes to the broker, which records the "
      "search with its --purpose");
  AddSubjectSearchOptions(cmd, &args->search);
  cmd->add_option("--purpose", args->search.purpose,
                  "Why you search (required; the broker records it as a record_accessed event)");
  cmd->add_option("--as", args->search.as, "Identity to search as (role AUDITOR or ADMIN)")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print the refx.v1.QueryResult as JSON");
  cmd->callback([args, flags, exit_code] { *exit_code = RunSubject(*flags, *args); });
}

}  // namespace refx::cli
