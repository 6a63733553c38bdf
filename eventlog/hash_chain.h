// The log's hash chain: hash(n) = SHA-256(hash(n-1) || seq(n) as 8 bytes
// big-endian || stored bytes of event n), with hash(0) = 32 zero bytes.
// It covers the exact stored bytes; protobuf serialisation is not canonical,
// so verifiers must never re-serialise an event to check it.
// Pure functions; thread-safe (libsodium must be initialised: see InitCrypto).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/hex.h"

namespace refx::eventlog {

inline constexpr size_t kHashBytes = 32;

// Initialises libsodium once; safe to call from several threads.
// Returns false if libsodium cannot be initialised.
bool InitCrypto();

// The 32 zero bytes that precede seq 1.
const std::string& GenesisHash();

// Returns the 32-byte chain hash of an event given its predecessor's hash.
std::string ChainHash(std::string_view prev_hash, uint64_t seq, std::string_view stored_bytes);

// Lower-case hex of `bytes`, for printing hashes (core/hex.h).
using refx::ToHex;

}  // namespace refx::eventlog
