// What the broker answered for each referral the adapter forwarded, by the
// agency's own reference: accepted (referral id and seq) or refused (the
// broker's code and reason). Kept in OUTCOMES_FILE (in the spool folder), an
// append-only text file made durable before the spool's cursor moves past
// the referrals it describes, so that GET /v1/referrals/{ref} can answer
// after a restart. A reference forwarded again (a resend) gets the newer
// answer; each answer bumps the reference's version, which `?wait=durable`
// waits on.
//
// Thread-safe.
#ifndef REFX_ADAPTERS_FORWARD_OUTCOME_INDEX_H_
#define REFX_ADAPTERS_FORWARD_OUTCOME_INDEX_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace refx::adapters {

struct ForwardOutcome {
  std::string referrer_reference;
  bool accepted = false;
  std::string referral_id;  // when accepted
  uint64_t seq = 0;         // when accepted
  Status refusal;           // when refused: the broker's code and message
  uint64_t version = 0;     // set by the index
};

class OutcomeIndex {
 public:
  // Opens (creating) `path` and reads what it holds. A torn last line (a
  // crash mid-append) is ignored: its referrals are still in the spool and
  // will be forwarded again. IoError when the file cannot be opened.
  static Status Open(const std::string& path, std::unique_ptr<OutcomeIndex>* out);
  ~OutcomeIndex();

  // Appends `outcomes` and fsyncs the file; only then are they visible and
  // waiters woken. IoError when the write or fsync failed (the caller must
  // not move the spool's cursor).
  Status Record(const std::vector<ForwardOutcome>& outcomes);

  // The latest outcome for `reference`: OK, or NotFound.
  Status Find(const std::string& reference, ForwardOutcome* out);

  // The reference's current version (0 when it has no outcome).
  uint64_t Version(const std::string& reference);

  // Waits until `reference` has an outcome newer than `version` or
  // `deadline` passes. OK with *out set; Timeout at the deadline.
  Status WaitNewer(const std::string& reference, uint64_t version, std::chrono::steady_clock::time_point deadline,
                   ForwardOutcome* out);

 private:
  OutcomeIndex() = default;
  void Apply(ForwardOutcome outcome);  // under mu_

  std::string path_;
  int fd_ = -1;
  std::mutex write_mu_;  // one Record at a time writes the file
  std::mutex mu_;
  std::condition_variable changed_;
  std::unordered_map<std::string, ForwardOutcome> latest_;
};

}  // namespace refx::adapters

#endif  // REFX_ADAPTERS_FORWARD_OUTCOME_INDEX_H_
