// Key encodings for the event log's column families. Sequence numbers are
// 8-byte big-endian so that RocksDB's bytewise order is numeric order.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace refx::eventlog {

std::string EncodeSeq(uint64_t seq);
// Decodes the first 8 bytes; `bytes` must hold at least 8.
uint64_t DecodeSeq(std::string_view bytes);

// Idempotency index key: identity, a NUL, then the client's key. Identities
// cannot contain NUL (config validation), so keys of different identities
// never collide.
std::string DedupeKey(std::string_view identity, std::string_view idempotency_key);
// An append's client key is stored after this prefix, apart from the
// referrer references of submissions (EventLog::AppendKey).
inline constexpr char kAppendDedupePrefix[] = "append:";

// Secondary index key: the indexed value, a NUL, then the 8-byte seq.
std::string IndexKey(std::string_view value, uint64_t seq);

// case_state key of a case (or of the referral itself, with destination "").
std::string CaseKey(std::string_view referral_id, std::string_view destination);

}  // namespace refx::eventlog
