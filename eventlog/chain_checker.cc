#include "eventlog/chain_checker.h"

#include <cstring>

#include "eventlog/fast_chain_hash.h"

namespace refx::eventlog {

ChainChecker::ChainChecker(uint64_t first, std::string_view prev_hash) : expected_(first) {
  prev_known_ = prev_hash.size() == kHashBytes;
  if (prev_known_) std::memcpy(prev_, prev_hash.data(), kHashBytes);
}

ChainBreak ChainChecker::Break(ChainBreak kind, uint64_t seq) {
  break_ = kind;
  break_seq_ = seq;
  return kind;
}

ChainBreak ChainChecker::Feed(uint64_t seq, std::string_view stored_bytes, std::string_view stored_hash) {
  if (broken()) return ChainBreak::kStopped;
  if (seq > expected_) return Break(ChainBreak::kMissing, expected_);
  if (seq < expected_) return Break(ChainBreak::kOutOfOrder, seq);
  if (stored_hash.size() != kHashBytes) return Break(ChainBreak::kBadHashSize, seq);
  if (prev_known_) {
    ChainHashInto(last_hash_bytes(), seq, stored_bytes, recomputed_);
    if (std::memcmp(recomputed_, stored_hash.data(), kHashBytes) != 0) return Break(ChainBreak::kHashMismatch, seq);
  }
  std::memcpy(prev_, stored_hash.data(), kHashBytes);
  prev_known_ = true;
  ++expected_;
  ++checked_;
  return ChainBreak::kNone;
}

}  // namespace refx::eventlog
