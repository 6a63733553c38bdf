// Tamper-evident verification of a whole event log: the hash chain over the
// exact stored bytes, the seqs, the recorded head, every index, and the
// signed checkpoints (eventlog/checkpoints.h).
//
// VerifyLog reads the log once (events in parallel seq ranges, each index
// once) and names the FIRST bad seq and what is wrong there:
//   ALTERED_BYTES     the stored bytes of an event (or its stored hash) do
//                     not chain: the event at first_bad_seq, or the stored
//                     hash of the one before it, was changed
//   MISSING_EVENT     seq first_bad_seq is not stored although later ones are
//   REORDERED         the event stored at first_bad_seq is another event of
//                     the log (it records another seq, which is itself not
//                     in its place): events were moved or swapped
//   TRUNCATED         the log ends (at first_bad_seq - 1) before the
//                     recorded head or before a signed checkpoint
//   CHAIN_RECOMPUTED  the chain is internally consistent but contradicts a
//                     signed checkpoint: the tail was rewritten and its
//                     chain recomputed. first_bad_seq is the first seq no
//                     matching checkpoint vouches for (the rewrite begins
//                     between it and the contradicted checkpoint)
//   INDEX_MISMATCH    by_referral, by_destination or dedupe disagrees with
//                     the events at first_bad_seq (an entry missing, or one
//                     naming an event that does not carry that referral,
//                     destination, agency or reference)
//   BAD_SIGNATURE     the checkpoint at first_bad_seq is malformed, signed
//                     by another key, or its signature does not verify
//   HEAD_MISMATCH     the recorded head (meta) disagrees with the events:
//                     events beyond it, or a different hash at its seq
// When two problems share the lowest seq the earlier class in the list of
// LogProblem wins.
//
// Checkpoints only protect what they cover: a log rewritten after its last
// checkpoint, or whose checkpoints were deleted along with its tail, is
// caught only by a checkpoint kept elsewhere (VerifyOptions::
// trusted_checkpoints, `refx audit verify --checkpoint`).
//
// Memory: about 24 bytes per event for the index check, plus the dedupe
// keys. Thread-safety: VerifyLog may run concurrently with readers and with
// the writer of `log` (it then checks a prefix; a concurrent append may
// show up as HEAD_MISMATCH, so verify offline or through the broker).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "eventlog/event_log.h"
#include "eventlog/findings.h"
#include "refx/v1/checkpoint.pb.h"

namespace refx::eventlog {

struct VerifyOptions {
  // Ed25519 public keys (32 raw bytes each; LoadSigningPublicKey) trusted to
  // sign checkpoints. Empty: checkpoints are still compared with the chain,
  // but their signatures are not checked (report.checkpoints_authenticated
  // is then false).
  std::vector<std::string> signing_public_keys;
  // Checkpoints kept outside the database (copied off the host), checked
  // like the stored ones.
  std::vector<v1::Checkpoint> trusted_checkpoints;
  // Check by_referral, by_destination and dedupe against the events.
  bool check_indexes = true;
  // Worker threads (for the index loading and the event scan); 0: one per
  // core (at most 8).
  unsigned threads = 0;
  // Seq ranges per worker thread in the event scan. A thread done with a
  // range takes the next one, so a thread slowed down (by other work on the
  // machine) leaves more ranges to the others. 0: one per thread for small
  // logs, more (up to 8) for big ones.
  unsigned ranges_per_thread = 0;
  // Called from the calling thread: once with 0 before the indexes are
  // read, about ten times a second while events are checked, and once at
  // the end: (events checked, events to check).
  std::function<void(uint64_t checked, uint64_t total)> progress;
};

// The outcome of VerifyLog.
struct LogVerifyReport {
  bool ok() const { return problem == LogProblem::kNone; }

  LogProblem problem = LogProblem::kNone;
  uint64_t first_bad_seq = 0;  // 0 when ok (an index entry naming seq 0 is reported at 0)
  std::string detail;          // what is wrong, with seqs and ids only (no personal data)

  uint64_t events_checked = 0;         // events whose chain link was verified
  uint64_t last_seq = 0;               // highest seq stored in the events family
  uint64_t head_seq = 0;               // head recorded in meta
  uint64_t index_entries_checked = 0;  // by_referral + by_destination + dedupe entries read
  uint64_t checkpoints_checked = 0;    // stored + trusted checkpoints examined
  uint64_t last_checkpoint_seq = 0;    // highest seq a valid checkpoint vouches for
  bool checkpoints_authenticated = false;  // their signatures were checked with a given key
  bool hash_accelerated = false;           // SHA extensions were used
};

// Verifies everything `log` holds. Open the log with skip_head_check (and
// read_only for an offline copy) so that a damaged head can be named. Never
// fails: an unreadable database is reported as ALTERED_BYTES at the first
// seq that could not be read, with RocksDB's message.
LogVerifyReport VerifyLog(const EventLog& log, const VerifyOptions& options);

}  // namespace refx::eventlog
