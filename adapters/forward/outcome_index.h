// What the broker answered for each referral the adapter forwarded, by the
// agency's own reference: accepted (referral id and seq) or refused (the
// broker's code and reason). Kept in OUTCOMES_FILE (in the spool folder), an
// append-only text file made durable before the spool's cursor moves past
// the referrals it describes, so that GET /v1/referrals/{ref} can answer
// after a restart. A reference forwarded again (a resend) gets the newer
// answer; each answer gets a version higher than any before it, which
// `?wait=durable` waits on.
//
// Kept for a while, not for ever: an answer recorded more than `keep` ago
// leaves memory (swept at most once an hour, and skipped when the file is
// read) and leaves the file at its next compaction. A bulk load of a
// million rows therefore costs memory for `keep`, not for the adapter's
// life: a sweep that drops thousands of answers returns the memory to the
// system (malloc_trim), not only to the allocator. Older acceptances are still known to the broker (the adapter asks
// it: QueryRequest.referrer_reference); older refusals are forgotten.
//
// Compaction: every answer is a line, so resends (after a crash or a lost
// ack), refused resubmissions and expired answers grow the file past what
// it describes. Once it holds more than `compact_after_lines` lines and
// more than twice as many as it has references (checked after each write
// and on Open), it is rewritten with what is still needed (the latest
// answer per reference: its acceptance, and the refusal of a later
// resubmission when there was one) into a temporary file, fsynced, renamed
// over the log, and the folder fsynced. A crash at any point leaves the old
// file or the new, each complete.
//
// Thread-safe.
#ifndef REFX_ADAPTERS_FORWARD_OUTCOME_INDEX_H_
#define REFX_ADAPTERS_FORWARD_OUTCOME_INDEX_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
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
  // When refused: the broker's code and message. When accepted and a later
  // resubmission of the reference was refused (e.g. IDEMPOTENCY_CONFLICT:
  // different content), that refusal; the acceptance is kept.
  Status refusal;
  uint64_t version = 0;     // set by the index
  // Seconds since the epoch when the index took it: set by the index (an
  // answer read from a line written before lines carried it counts from
  // when the file was read).
  int64_t recorded_at = 0;
};

struct OutcomeIndexOptions {
  // Compaction threshold in lines (see the class comment).
  uint64_t compact_after_lines = 1 << 16;
  // How long an answer is kept (ForwardSettings.outcomes_keep_days).
  std::chrono::seconds keep = std::chrono::hours(24 * 14);
  // Seconds since the epoch; the system clock when empty (tests set it).
  std::function<int64_t()> now;
};

class OutcomeIndex {
 public:
  // Opens (creating) `path` and reads what it holds. A torn last line (a
  // crash mid-append) is ignored: its referrals are still in the spool and
  // will be forwarded again. IoError when the file cannot be opened.
  // Answers older than options.keep are not taken in.
  static Status Open(const std::string& path, std::unique_ptr<OutcomeIndex>* out,
                     OutcomeIndexOptions options = {});
  ~OutcomeIndex();

  // Appends `outcomes` and fsyncs the file; only then are they visible and
  // waiters woken. IoError when the write or fsync failed (the caller must
  // not move the spool's cursor).
  Status Record(const std::vector<ForwardOutcome>& outcomes);

  // Makes `outcomes` visible and wakes their waiters at once, before they
  // are durable here: the forwarder publishes the broker's answers as they
  // come (each is durable in the broker's log already), then writes them
  // with WriteDurably. After a crash between the two an answer is gone
  // from this index until its referral, still in the spool, is forwarded
  // again and answered the same (same id and seq).
  void Publish(const std::vector<ForwardOutcome>& outcomes);

  // Record's write and fsync without publishing (Publish did). IoError as
  // for Record.
  Status WriteDurably(const std::vector<ForwardOutcome>& outcomes);

  // The latest outcome for `reference`: OK, or NotFound (none, or only one
  // older than `keep`).
  Status Find(const std::string& reference, ForwardOutcome* out);

  // Lines in the file now (for tests and metrics).
  uint64_t lines();
  // References in memory now (for tests and metrics).
  size_t references();

  // The reference's current version (0 when it has no outcome in memory).
  uint64_t Version(const std::string& reference);

  // Waits until `reference` has an outcome newer than `version` or
  // `deadline` passes. OK with *out set; Timeout at the deadline.
  Status WaitNewer(const std::string& reference, uint64_t version, std::chrono::steady_clock::time_point deadline,
                   ForwardOutcome* out);

 private:
  OutcomeIndex() = default;
  int64_t Now() const;
  bool Expired(const ForwardOutcome& o, int64_t now) const;
  void Apply(ForwardOutcome outcome, int64_t now);  // under mu_
  // Drops expired answers from memory, at most once an hour unless `force`
  // (under mu_). Returns how many it dropped; when that is many, the caller
  // gives the freed memory back to the system once it has let go of mu_.
  size_t Sweep(int64_t now, bool force);
  // Compacts when the file has grown past the thresholds (under write_mu_).
  // `written`: the lines (`written_lines` of them) just appended by a write
  // whose answers may not be published yet; kept by the compaction.
  void MaybeCompact(const std::string& written, uint64_t written_lines);
  // Rewrites the file with the latest outcomes (under write_mu_). IoError
  // leaves the old file in place (and in use).
  Status Compact(const std::string& written, uint64_t written_lines);

  std::string path_;
  int fd_ = -1;
  OutcomeIndexOptions options_;
  uint64_t lines_ = 0;  // lines in the file (under write_mu_)
  std::mutex write_mu_;  // one Record at a time writes the file
  std::mutex mu_;
  std::condition_variable changed_;
  std::unordered_map<std::string, ForwardOutcome> latest_;
  uint64_t last_version_ = 0;  // under mu_
  int64_t swept_at_ = 0;       // under mu_
};

}  // namespace refx::adapters

#endif  // REFX_ADAPTERS_FORWARD_OUTCOME_INDEX_H_
