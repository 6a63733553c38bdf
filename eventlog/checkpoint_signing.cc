#include "eventlog/checkpoint_signing.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/durable_dir.h"
#include "eventlog/hash_chain.h"
#include "eventlog/keys.h"

namespace refx::eventlog {

namespace {

constexpr char kSignedPrefix[] = "refx-checkpoint-v1";

// Reads a one-line hex key file of `bytes` raw bytes into *out. `what`
// names the kind of file in messages.
Status ReadHexKeyFile(const std::string& path, size_t bytes, const char* what, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError(path + ": cannot read the " + what);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  const size_t begin = text.find_first_not_of(" \t\r\n");
  const size_t end = text.find_last_not_of(" \t\r\n");
  std::string hex = begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
  sodium_memzero(text.data(), text.size());
  const Status bad = Status::InvalidArgument(path + ": a " + what + " holds " + std::to_string(2 * bytes) +
                                             " hexadecimal characters");
  if (hex.size() != 2 * bytes) {
    sodium_memzero(hex.data(), hex.size());
    return bad;
  }
  std::string raw(bytes, '\0');
  size_t len = 0;
  const char* hex_end = nullptr;
  const int rc = sodium_hex2bin(reinterpret_cast<unsigned char*>(raw.data()), raw.size(), hex.data(), hex.size(),
                                nullptr, &len, &hex_end);
  const bool ok = rc == 0 && len == bytes && hex_end == hex.data() + hex.size();
  sodium_memzero(hex.data(), hex.size());
  if (!ok) {
    sodium_memzero(raw.data(), raw.size());
    return bad;
  }
  *out = std::move(raw);
  return Status::OK();
}

std::string HexLine(const unsigned char* bytes, size_t n) {
  std::string hex(2 * n + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes, n);
  hex.back() = '\n';
  return hex;
}

void PutBigEndian64(uint64_t v, std::string* out) { out->append(EncodeSeq(v)); }

}  // namespace

std::string SigningSecretKeyPath(const std::string& dir, const std::string& name) {
  return dir + "/" + name + ".sign.key";
}

std::string SigningPublicKeyPath(const std::string& dir, const std::string& name) {
  return dir + "/" + name + ".sign.pub";
}

Status GenerateSigningKeyPair(const std::string& dir, const std::string& name, std::string* key_id) {
  if (!InitCrypto()) return Status::Internal("libsodium failed to initialise");
  if (name.empty() || name.find('/') != std::string::npos) {
    return Status::InvalidArgument("a signing key name must be non-empty and without '/'");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError(dir + ": cannot create folder: " + ec.message());
  const std::string secret_path = SigningSecretKeyPath(dir, name);
  const std::string public_path = SigningPublicKeyPath(dir, name);
  if (std::filesystem::exists(public_path)) {
    return Status::InvalidArgument(public_path + ": already exists; refusing to replace a signing key");
  }
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  unsigned char seed[crypto_sign_SEEDBYTES];
  randombytes_buf(seed, sizeof seed);
  crypto_sign_seed_keypair(pk, sk, seed);
  std::string secret_text = HexLine(seed, sizeof seed);
  sodium_memzero(seed, sizeof seed);
  sodium_memzero(sk, sizeof sk);
  Status s = CreateFileDurably(secret_path, secret_text, 0600, "signing key");
  sodium_memzero(secret_text.data(), secret_text.size());
  if (!s.ok()) return s;
  s = CreateFileDurably(public_path, HexLine(pk, sizeof pk), 0644, "signing key");
  if (!s.ok()) {
    ::unlink(secret_path.c_str());
    return s;
  }
  if (key_id != nullptr) *key_id = SigningKeyId(std::string_view(reinterpret_cast<const char*>(pk), sizeof pk));
  return Status::OK();
}

Status LoadSigningPublicKey(const std::string& path, std::string* public_key) {
  if (!InitCrypto()) return Status::Internal("libsodium failed to initialise");
  return ReadHexKeyFile(path, kSigningPublicKeyBytes, "signing public key file", public_key);
}

std::string SigningKeyId(std::string_view public_key) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(public_key.data()), public_key.size());
  return ToHex(std::string_view(reinterpret_cast<const char*>(digest), 8));
}

std::string CheckpointSignedBytes(uint64_t seq, std::string_view chain_hash, int64_t signed_at_seconds) {
  std::string out;
  out.reserve(sizeof kSignedPrefix - 1 + 8 + chain_hash.size() + 8);
  out.append(kSignedPrefix, sizeof kSignedPrefix - 1);
  PutBigEndian64(seq, &out);
  out.append(chain_hash);
  PutBigEndian64(static_cast<uint64_t>(signed_at_seconds), &out);
  return out;
}

Status VerifyCheckpoint(const v1::Checkpoint& checkpoint, const std::string& public_key) {
  if (!InitCrypto()) return Status::Internal("libsodium failed to initialise");
  if (public_key.size() != kSigningPublicKeyBytes) {
    return Status::InvalidArgument("a signing public key is 32 bytes");
  }
  if (checkpoint.seq() == 0) return Status::InvalidArgument("checkpoint has seq 0");
  if (checkpoint.chain_hash().size() != kHashBytes) return Status::InvalidArgument("checkpoint hash is not 32 bytes");
  if (checkpoint.signed_at().nanos() != 0) {
    return Status::InvalidArgument("checkpoint time has nanoseconds, which are not signed");
  }
  if (checkpoint.signature().size() != kCheckpointSignatureBytes) {
    return Status::InvalidArgument("checkpoint signature is not 64 bytes");
  }
  const std::string expected_id = SigningKeyId(public_key);
  if (checkpoint.key_id() != expected_id) {
    return Status::InvalidArgument("checkpoint is signed by key " + checkpoint.key_id() + ", not by key " +
                                   expected_id);
  }
  const std::string message =
      CheckpointSignedBytes(checkpoint.seq(), checkpoint.chain_hash(), checkpoint.signed_at().seconds());
  if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(checkpoint.signature().data()),
                                  reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                                  reinterpret_cast<const unsigned char*>(public_key.data())) != 0) {
    return Status::InvalidArgument("checkpoint signature does not verify with key " + expected_id);
  }
  return Status::OK();
}

Status CheckpointSigner::Load(const std::string& secret_key_path, std::unique_ptr<CheckpointSigner>* out) {
  if (!InitCrypto()) return Status::Internal("libsodium failed to initialise");
  std::string seed;
  REFX_RETURN_IF_ERROR(ReadHexKeyFile(secret_key_path, kSigningSeedBytes, "signing secret key file", &seed));
  std::unique_ptr<CheckpointSigner> signer(new CheckpointSigner());
  signer->secret_key_.assign(crypto_sign_SECRETKEYBYTES, '\0');
  signer->public_key_.assign(crypto_sign_PUBLICKEYBYTES, '\0');
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(signer->public_key_.data()),
                           reinterpret_cast<unsigned char*>(signer->secret_key_.data()),
                           reinterpret_cast<const unsigned char*>(seed.data()));
  sodium_memzero(seed.data(), seed.size());
  signer->key_id_ = SigningKeyId(signer->public_key_);
  *out = std::move(signer);
  return Status::OK();
}

CheckpointSigner::~CheckpointSigner() { sodium_memzero(secret_key_.data(), secret_key_.size()); }

Status CheckpointSigner::Sign(uint64_t seq, const std::string& hash, v1::Checkpoint* out) const {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return SignAt(seq, hash, now, out);
}

Status CheckpointSigner::SignAt(uint64_t seq, const std::string& hash, int64_t unix_seconds,
                                v1::Checkpoint* out) const {
  if (seq == 0) return Status::InvalidArgument("cannot checkpoint seq 0");
  if (hash.size() != kHashBytes) return Status::InvalidArgument("a chain hash is 32 bytes");
  const std::string message = CheckpointSignedBytes(seq, hash, unix_seconds);
  std::string signature(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(signature.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       reinterpret_cast<const unsigned char*>(secret_key_.data()));
  out->Clear();
  out->set_seq(seq);
  out->set_chain_hash(hash);
  out->mutable_signed_at()->set_seconds(unix_seconds);
  out->set_key_id(key_id_);
  out->set_signature(std::move(signature));
  return Status::OK();
}

}  // namespace refx::eventlog
