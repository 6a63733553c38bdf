#include "eventlog/hash_chain.h"

#include <sodium.h>

#include "eventlog/keys.h"

namespace refx::eventlog {

bool InitCrypto() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

const std::string& GenesisHash() {
  static const std::string zero(kHashBytes, '\0');
  return zero;
}

std::string ChainHash(std::string_view prev_hash, uint64_t seq, std::string_view stored_bytes) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(prev_hash.data()), prev_hash.size());
  const std::string seq_bytes = EncodeSeq(seq);
  crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(seq_bytes.data()), seq_bytes.size());
  crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(stored_bytes.data()), stored_bytes.size());
  std::string out(kHashBytes, '\0');
  crypto_hash_sha256_final(&st, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

}  // namespace refx::eventlog
