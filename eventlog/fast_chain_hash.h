// A fast path for the log's chain hash (eventlog/hash_chain.h) for bulk
// verification: SHA-256 with the x86 SHA extensions when the CPU has them
// (about ten times libsodium's portable SHA-256 on small events), and
// libsodium otherwise. The result is always identical to ChainHash.
// Pure functions; thread-safe (InitCrypto must have succeeded).
#pragma once

#include <cstdint>
#include <string_view>

namespace refx::eventlog {

// Writes ChainHash(prev_hash, seq, stored_bytes) to out[0..31] without
// allocating.
void ChainHashInto(std::string_view prev_hash, uint64_t seq, std::string_view stored_bytes, unsigned char* out);

// True when ChainHashInto uses the SHA extensions on this CPU.
bool ChainHashAccelerated();

}  // namespace refx::eventlog
