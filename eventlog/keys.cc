#include "eventlog/keys.h"

namespace refx::eventlog {

std::string EncodeSeq(uint64_t seq) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(seq & 0xff);
    seq >>= 8;
  }
  return out;
}

uint64_t DecodeSeq(std::string_view bytes) {
  uint64_t seq = 0;
  for (int i = 0; i < 8; ++i) seq = (seq << 8) | static_cast<unsigned char>(bytes[i]);
  return seq;
}

std::string DedupeKey(std::string_view identity, std::string_view idempotency_key) {
  std::string out;
  out.reserve(identity.size() + 1 + idempotency_key.size());
  out.append(identity);
  out.push_back('\0');
  out.append(idempotency_key);
  return out;
}

std::string IndexKey(std::string_view value, uint64_t seq) {
  std::string out;
  out.reserve(value.size() + 9);
  out.append(value);
  out.push_back('\0');
  out.append(EncodeSeq(seq));
  return out;
}

std::string CaseKey(std::string_view referral_id, std::string_view destination) {
  std::string out(referral_id);
  out.push_back('\0');
  out.append(destination);
  return out;
}

}  // namespace refx::eventlog
