#include "cli/audit/audited_read.h"

#include <memory>
#include <utility>
#include <vector>

#include "cli/caller.h"
#include "cli/connect.h"
#include "cli/exit_codes.h"
#include "core/event_util.h"

namespace refx::cli::audit {

Status CheckPurpose(const std::string& purpose) {
  if (purpose.find_first_not_of(" \t\r\n") != std::string::npos) return Status::OK();
  return Status::InvalidArgument(
      "--purpose is required: every audit read is recorded in the log with its purpose (a record_accessed "
      "event), e.g. --purpose \"SAR 2027-014\" or --purpose \"case review CR-7\"",
      "purpose");
}

int ReadReferral(const std::string& command, const ConnectionFlags& flags, const std::string& referral,
                 const std::string& purpose, const std::string& as, const BrokerClient::EventFn& on_event,
                 uint64_t to_seq) {
  uint64_t submission_seq = 0;
  if (!SeqForReferralId(referral, &submission_seq)) {
    return Fail(command, Status::InvalidArgument("\"" + referral + "\" is not a referral id (R-0000000042 or 42)"),
                kExitRefused);
  }
  Status s = CheckPurpose(purpose);
  if (!s.ok()) return Fail(command, s, kExitRefused);
  std::unique_ptr<BrokerClient> client;
  s = ConnectAs(flags, AgencyFor(flags, as), &client);
  if (!s.ok()) return Fail(command, s, ExitCodeForConnect(s));
  v1::ReadRequest request;
  request.set_referral_id(referral);
  request.set_purpose(purpose);
  request.set_to_seq(to_seq);
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

}  // namespace refx::cli::audit
