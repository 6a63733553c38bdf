// What a verification of the log finds (the first bad seq and what is wrong
// there: LogProblem, Finding), and the checks of signed checkpoints against
// a recomputed chain. Shared by VerifyLog (eventlog/verifier.h), which
// reads a log folder, and `refx audit verify` without --db, which recomputes
// the chain from what the broker streams (eventlog/chain_checker.h). Needs
// no database: part of refx_chain, without RocksDB. The meaning of each
// LogProblem is in eventlog/verifier.h.
//
// Thread-safety: pure functions; a Finding is a plain value (see below).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "refx/v1/checkpoint.pb.h"

namespace refx::eventlog {

// What is wrong at the first bad seq. Ordered by precedence at equal seq.
enum class LogProblem {
  kNone = 0,
  kMissingEvent,
  kReordered,
  kAlteredBytes,
  kChainRecomputed,
  kTruncated,
  kHeadMismatch,
  kBadSignature,
  kIndexMismatch,
};

// "NONE", "MISSING_EVENT", "REORDERED", "ALTERED_BYTES", "CHAIN_RECOMPUTED",
// "TRUNCATED", "HEAD_MISMATCH", "BAD_SIGNATURE", "INDEX_MISMATCH".
const char* LogProblemName(LogProblem problem);

// The first problem a verification has found: the lowest seq wins, then the
// earlier LogProblem. Not thread-safe; each thread keeps its own and Merge
// combines them.
struct Finding {
  uint64_t seq = std::numeric_limits<uint64_t>::max();
  LogProblem problem = LogProblem::kNone;
  std::string detail;

  // Whether a problem `p` at seq `s` would replace the one held.
  bool Beats(uint64_t s, LogProblem p) const {
    return problem == LogProblem::kNone || s < seq || (s == seq && static_cast<int>(p) < static_cast<int>(problem));
  }
  // Keeps (s, p, d) if it beats the problem held.
  void Offer(uint64_t s, LogProblem p, std::string d) {
    if (!Beats(s, p)) return;
    seq = s;
    problem = p;
    detail = std::move(d);
  }
  void Merge(const Finding& other) {
    if (other.problem != LogProblem::kNone) Offer(other.seq, other.problem, other.detail);
  }
};

// A signed checkpoint to hold a chain against. `trusted`: given by the
// caller (a file kept apart from the log) rather than stored in it.
struct CheckpointRef {
  v1::Checkpoint checkpoint;
  bool trusted = false;
};

// The checkpoints of `all` that are well formed and, when `public_keys` is
// not empty, signed by one of them; sorted by seq. Every other one is
// offered to *found as BAD_SIGNATURE at its seq.
std::vector<CheckpointRef> AuthenticCheckpoints(std::vector<CheckpointRef> all,
                                                const std::vector<std::string>& public_keys, Finding* found);

// Holds `checkpoints` (from AuthenticCheckpoints) against a chain recomputed
// up to seq `last`. hash_at(seq) returns the recomputed 32-byte chain hash at
// a checkpoint's seq, or null where there is none to compare (a problem
// reported otherwise). A checkpoint beyond `last` is TRUNCATED ("`source`
// ends at seq …", e.g. source "the log"), unless `beyond_last_explained`;
// the first checkpoint contradicted is CHAIN_RECOMPUTED, naming the range
// the rewrite began in. Returns the last seq where a checkpoint matched.
uint64_t HoldCheckpointsAgainstChain(const std::vector<CheckpointRef>& checkpoints, uint64_t last,
                                     const std::function<const unsigned char*(uint64_t seq)>& hash_at,
                                     const std::string& source, bool beyond_last_explained, Finding* found);

}  // namespace refx::eventlog
