// ChainChecker: the one walk of the log's hash chain (eventlog/hash_chain.h).
// Fed the events of a log in seq order — each as its seq, its exact stored
// bytes and the chain hash stored with it — it recomputes the chain and says
// at which seq it first breaks and how. Where the events come from is the
// caller's business: EventLog::VerifyChain scans the database, VerifyLog
// (eventlog/verifier.h) scans seq ranges in parallel with one checker per
// range, and `refx audit verify` without --db feeds what the broker streams.
// The checker only judges the chain; what an event says (does it parse, does
// it record its own seq) is for the caller to check and report.
//
// Contract:
//   - The checker starts expecting seq `first` after a predecessor whose
//     chain hash is `prev_hash` (GenesisHash() before seq 1). An empty
//     `prev_hash` means "unknown" (the predecessor could not be read): the
//     first event's link is then not checked, only its seq.
//   - Feed returns ChainBreak::kNone while the chain holds. The first break
//     is returned once and kept: the checker stops there and every later
//     Feed returns kStopped without looking at its arguments.
//   - After a break, break_seq() is where it broke: the missing seq for
//     kMissing, the fed seq otherwise. last_seq() and last_hash() always
//     describe the last event whose link verified.
//
// Not thread-safe: one checker per walk (they are cheap: one hash of state).
// InitCrypto must have succeeded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "eventlog/hash_chain.h"

namespace refx::eventlog {

enum class ChainBreak {
  kNone = 0,      // the event links to the one before it
  kMissing,       // the fed seq is past the expected one: seq break_seq() is missing
  kOutOfOrder,    // the fed seq was already passed (a repeat or a step back)
  kBadHashSize,   // the stored hash is not kHashBytes long
  kHashMismatch,  // the recomputed hash differs from the stored one: the bytes
                  // of break_seq() (or the stored hash of the seq before) changed
  kStopped,       // a break was already reported; nothing more is checked
};

class ChainChecker {
 public:
  // Expects seq `first` next, after a predecessor with chain hash
  // `prev_hash` (32 bytes, or empty for unknown; see the contract above).
  explicit ChainChecker(uint64_t first = 1, std::string_view prev_hash = GenesisHash());

  // Checks that `seq` is the next seq and that `stored_hash` is the chain
  // hash of `stored_bytes` after the previous event's. On kNone the event
  // becomes the last one verified. Views are used only during the call.
  ChainBreak Feed(uint64_t seq, std::string_view stored_bytes, std::string_view stored_hash);

  bool broken() const { return break_ != ChainBreak::kNone; }
  ChainBreak break_kind() const { return break_; }
  // Where the chain broke (0 while it holds).
  uint64_t break_seq() const { return break_seq_; }
  // The seq the next Feed should bring.
  uint64_t expected() const { return expected_; }
  // The last seq whose link verified (first - 1 before any).
  uint64_t last_seq() const { return expected_ - 1; }
  // The chain hash of last_seq() (the 32 bytes given or verified); all
  // zeros when the predecessor was unknown and nothing has been fed.
  const unsigned char* last_hash() const { return prev_; }
  std::string_view last_hash_bytes() const {
    return std::string_view(reinterpret_cast<const char*>(prev_), kHashBytes);
  }
  // The hash recomputed for the event that broke with kHashMismatch.
  std::string_view recomputed_hash() const {
    return std::string_view(reinterpret_cast<const char*>(recomputed_), kHashBytes);
  }
  // Events whose link verified.
  uint64_t checked() const { return checked_; }

 private:
  ChainBreak Break(ChainBreak kind, uint64_t seq);

  unsigned char prev_[kHashBytes] = {};
  unsigned char recomputed_[kHashBytes] = {};
  bool prev_known_ = true;
  uint64_t expected_;
  uint64_t checked_ = 0;
  ChainBreak break_ = ChainBreak::kNone;
  uint64_t break_seq_ = 0;
};

}  // namespace refx::eventlog
