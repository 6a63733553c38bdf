#include "cli/audit/subject_search.h"

#include <memory>

#include "cli/audit/audited_read.h"
#include "cli/caller.h"
#include "cli/connect.h"
#include "cli/exit_codes.h"
#include "core/partnership_config.h"
#include "core/subject_key.h"

namespace refx::cli::audit {

int FindSubjectReferrals(const std::string& command, const ConnectionFlags& flags, const SubjectSearch& search,
                         v1::QueryResult* result) {
  Status s = CheckPurpose(search.purpose);
  if (!s.ok()) return Fail(command, s, kExitRefused);
  if (search.name.empty() || search.dob.empty()) {
    return Fail(command, Status::InvalidArgument("--name and --dob are both required (the subject's full name and "
                                                 "date of birth, YYYY-MM-DD)"),
                kExitRefused);
  }
  const std::string config_path =
      search.config.empty() ? ResolveHome(flags.home) + "/config.textproto" : search.config;
  std::unique_ptr<PartnershipConfig> config;
  s = PartnershipConfig::Load(config_path, &config);
  if (!s.ok()) return Fail(command, s, kExitSetupError);
  std::string secret;
  s = LoadConfiguredSubjectKey(config->proto().subject_key_file(), config_path, &secret);
  if (!s.ok()) {
    return Fail(command,
                Status::InvalidArgument("cannot load the subject key that " + config_path +
                                        " names (subject_key_file): " + s.message() +
                                        ". A subject search needs the router's subject key"),
                kExitSetupError);
  }
  v1::QueryRequest query;
  s = PersonSubjectKey(secret, search.name, search.dob, query.mutable_subject_key());
  if (!s.ok()) return Fail(command, s, kExitRefused);
  query.set_purpose(search.purpose);
  std::unique_ptr<BrokerClient> client;
  s = ConnectAs(flags, AgencyFor(flags, search.as), &client);
  if (!s.ok()) return Fail(command, s, ExitCodeForConnect(s));
  s = client->Query(query, result);
  if (!s.ok()) return Fail(command, s, ExitCodeFor(s));
  return kExitOk;
}

Status CheckReferralOrSubject(const std::string& referral, bool subject, const SubjectSearch& search) {
  if (subject && !referral.empty()) {
    return Status::InvalidArgument("give either a REFERRAL or --subject (with --name and --dob), not both");
  }
  if (!subject && referral.empty()) return Status::InvalidArgument("give a REFERRAL, or --subject with --name and --dob");
  if (!subject && (!search.name.empty() || !search.dob.empty())) {
    return Status::InvalidArgument("--name and --dob go with --subject");
  }
  return Status::OK();
}

}  // namespace refx::cli::audit
