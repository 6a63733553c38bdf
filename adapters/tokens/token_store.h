// Bearer tokens for the adapter's HTTP intake. A token is 256 random bits
// shown once, as 64 hex digits, when issued; the token file keeps only its
// BLAKE2b hash (libsodium crypto_generichash, 32 bytes), one line per
// calling system:
//   NAME HASH-HEX CREATED-UTC
// Lines starting '#' are comments. `refx tokens issue|list|revoke` edits the
// file (written to a temporary file, fsynced and renamed into place);
// refx-adapter reads it and notices changes without a restart.
#ifndef REFX_ADAPTERS_TOKENS_TOKEN_STORE_H_
#define REFX_ADAPTERS_TOKENS_TOKEN_STORE_H_

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"

namespace refx::adapters {

struct TokenEntry {
  std::string name;     // the calling system, e.g. "niche-rms"
  std::string hash_hex; // BLAKE2b-256 of the token, hex
  std::string created;  // "2026-12-04T17:00:00Z"
};

// Reads and edits a token file. Stateless functions over the file; callers
// that edit concurrently must serialise themselves (the CLI is one process).
class TokenFile {
 public:
  // The entries of `path`; an absent file has none (OK). Corruption naming
  // FILE:LINE for a malformed line.
  static Status Read(const std::string& path, std::vector<TokenEntry>* entries);
  // Issues a token for `name` (letters, digits, '.', '_', '-'; 1..64) and
  // adds its hash to the file, creating it (mode 0600). On success *token
  // holds the token: it is not kept anywhere and cannot be shown again.
  // InvalidArgument for a bad or already used name; IoError when the file
  // cannot be written (then nothing changed).
  static Status Issue(const std::string& path, const std::string& name, std::string* token);
  // Removes `name`'s token. NotFound when there is none.
  static Status Revoke(const std::string& path, const std::string& name);
  // The hex BLAKE2b-256 hash of `token`.
  static std::string HashHex(const std::string& token);
};

// Checks presented bearer tokens against a token file, reloading it when
// its modification time or size changes (at most once a second).
// Thread-safe.
class TokenVerifier {
 public:
  explicit TokenVerifier(std::string path) : path_(std::move(path)) {}
  // OK with *caller set to the token's name when `token` matches an entry
  // (every entry is compared, in constant time); NotFound when none does;
  // IoError/Corruption when the file cannot be read.
  Status Verify(const std::string& token, std::string* caller);

 private:
  Status ReloadIfChanged();

  const std::string path_;
  std::mutex mu_;
  std::vector<TokenEntry> entries_;
  std::vector<std::vector<unsigned char>> hashes_;
  bool loaded_ = false;
  int64_t mtime_ns_ = -1;
  int64_t size_ = -1;
  std::chrono::steady_clock::time_point checked_;
};

}  // namespace refx::adapters

#endif  // REFX_ADAPTERS_TOKENS_TOKEN_STORE_H_
