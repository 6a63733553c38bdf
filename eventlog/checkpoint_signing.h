// Signed checkpoints of the event log's head, and the Ed25519 signing keys
// that make them (libsodium crypto_sign_*).
//
// The broker signs its head (seq, chain hash) now and then with a key kept
// OUTSIDE the database and stores the refx.v1.Checkpoint in the log's
// "checkpoints" column family (EventLog::PutCheckpoint). Somebody who can
// edit the database can recompute the whole hash chain after rewriting its
// tail, but cannot forge a checkpoint: the verifier (eventlog/verifier.h)
// compares each checkpoint with the recomputed chain and so catches the
// rewrite. What is signed is fixed in proto/refx/v1/checkpoint.proto:
//   "refx-checkpoint-v1" || seq (8 bytes BE) || chain hash (32 bytes)
//   || signed_at unix seconds (8 bytes BE)
//
// Key files (a pair named N in folder D), one line of lower-case hex each:
//   D/N.sign.key  the 32-byte Ed25519 seed, 64 hex characters, mode 0600
//                 (the secret: never copy it off the broker's host)
//   D/N.sign.pub  the 32-byte Ed25519 public key, 64 hex characters
//                 (give it to auditors: `refx audit verify --signing-pub`)
// A key is named in checkpoints by its key id: the lower-case hex of the
// first 8 bytes of SHA-256(public key).
//
// Nothing here logs, and key material never appears in a Status message.
// This part needs no database (it is in refx_chain, without RocksDB):
// `refx` checks checkpoint signatures online with it. Storing checkpoints
// in the log and the broker's schedule are eventlog/checkpoints.h.
// Thread-safety: free functions are thread-safe; a CheckpointSigner is
// immutable once loaded, so Sign may be called from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "refx/v1/checkpoint.pb.h"

namespace refx::eventlog {

inline constexpr size_t kSigningPublicKeyBytes = 32;
inline constexpr size_t kSigningSeedBytes = 32;
inline constexpr size_t kCheckpointSignatureBytes = 64;

// D/N.sign.key and D/N.sign.pub.
std::string SigningSecretKeyPath(const std::string& dir, const std::string& name);
std::string SigningPublicKeyPath(const std::string& dir, const std::string& name);

// Creates a fresh Ed25519 key pair as D/N.sign.key (mode 0600, written and
// synced first) and D/N.sign.pub, creating D if needed. Returns
// InvalidArgument if either file already exists (a signing key is never
// replaced silently), IoError if a file cannot be written (nothing is left
// behind then). On success sets *key_id when key_id is not null.
Status GenerateSigningKeyPair(const std::string& dir, const std::string& name, std::string* key_id = nullptr);

// Reads a public key file into *public_key (32 raw bytes). Surrounding
// white space is ignored. IoError if unreadable; InvalidArgument naming the
// file if it does not hold exactly 64 hex characters.
Status LoadSigningPublicKey(const std::string& path, std::string* public_key);

// The key id of a 32-byte public key (16 lower-case hex characters).
std::string SigningKeyId(std::string_view public_key);

// The exact bytes a checkpoint's signature covers.
std::string CheckpointSignedBytes(uint64_t seq, std::string_view chain_hash, int64_t signed_at_seconds);

// Returns OK if `checkpoint` is well formed (seq >= 1, 32-byte hash, whole
// seconds, 64-byte signature), names `public_key` by its key id and carries
// a valid signature by it. Otherwise InvalidArgument saying which of these
// failed ("signed by key X, not Y", "signature does not verify", ...).
Status VerifyCheckpoint(const v1::Checkpoint& checkpoint, const std::string& public_key);

// Holds a loaded secret signing key and signs heads with it.
class CheckpointSigner {
 public:
  // Loads the secret key file (e.g. D/broker.sign.key). IoError if it
  // cannot be read; InvalidArgument naming the file if it does not hold 64
  // hex characters. On success *out owns the signer.
  static Status Load(const std::string& secret_key_path, std::unique_ptr<CheckpointSigner>* out);

  ~CheckpointSigner();  // wipes the secret key
  CheckpointSigner(const CheckpointSigner&) = delete;
  CheckpointSigner& operator=(const CheckpointSigner&) = delete;

  // Signs (seq, hash) as of now (whole seconds) into *out, replacing its
  // contents. InvalidArgument if seq is 0 or hash is not 32 bytes.
  Status Sign(uint64_t seq, const std::string& hash, v1::Checkpoint* out) const;
  // The same with an explicit signing time (tests, replays).
  Status SignAt(uint64_t seq, const std::string& hash, int64_t unix_seconds, v1::Checkpoint* out) const;

  const std::string& public_key() const { return public_key_; }  // 32 raw bytes
  const std::string& key_id() const { return key_id_; }

 private:
  CheckpointSigner() = default;
  std::string secret_key_;  // 64 bytes: libsodium's seed || public key
  std::string public_key_;
  std::string key_id_;
};

}  // namespace refx::eventlog
