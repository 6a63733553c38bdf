#include "adapters/webhook/webhook_signature.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/hex.h"

namespace refx::adapters {

namespace {

// sodium_init() is safe to call again and from any thread; it fails only
// when no random source exists, which HMAC does not need.
void InitSodium() {
  if (sodium_init() < 0) return;
}

std::string Mac(std::string_view secret, std::string_view timestamp, std::string_view body) {
  InitSodium();
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(timestamp.data()), timestamp.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>("."), 1);
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(body.data()), body.size());
  std::string mac(crypto_auth_hmacsha256_BYTES, '\0');
  crypto_auth_hmacsha256_final(&state, reinterpret_cast<unsigned char*>(mac.data()));
  sodium_memzero(&state, sizeof state);
  return mac;
}

}  // namespace

std::string WebhookSignature(std::string_view secret, std::string_view timestamp, std::string_view body) {
  return "v1=" + ToHex(Mac(secret, timestamp, body));
}

Status VerifyWebhookSignature(std::string_view secret, std::string_view timestamp, std::string_view signature,
                              std::string_view body, int64_t now_unix_seconds, int64_t window_seconds) {
  if (timestamp.empty()) return Status::InvalidArgument(std::string(kTimestampHeader) + " is missing");
  if (timestamp.size() > 18 || timestamp.find_first_not_of("0123456789") != std::string_view::npos) {
    return Status::InvalidArgument(std::string(kTimestampHeader) + " is not Unix seconds");
  }
  if (signature.empty()) return Status::InvalidArgument(std::string(kSignatureHeader) + " is missing");
  constexpr std::string_view kScheme = "v1=";
  if (signature.substr(0, kScheme.size()) != kScheme || signature.size() != kScheme.size() + 2 * crypto_auth_hmacsha256_BYTES) {
    return Status::InvalidArgument(std::string(kSignatureHeader) + " is not \"v1=\" and 64 hex digits");
  }
  InitSodium();
  unsigned char given[crypto_auth_hmacsha256_BYTES];
  size_t given_len = 0;
  const std::string_view hex = signature.substr(kScheme.size());
  if (sodium_hex2bin(given, sizeof given, hex.data(), hex.size(), nullptr, &given_len, nullptr) != 0 ||
      given_len != sizeof given) {
    return Status::InvalidArgument(std::string(kSignatureHeader) + " is not \"v1=\" and 64 hex digits");
  }
  const std::string expected = Mac(secret, timestamp, body);
  if (sodium_memcmp(given, expected.data(), sizeof given) != 0) {
    return Status::PermissionDenied("the signature does not match the body (wrong secret, or the body was changed)");
  }
  const int64_t sent = std::stoll(std::string(timestamp));
  const int64_t age = now_unix_seconds - sent;
  if (age > window_seconds || age < -window_seconds) {
    return Status::PermissionDenied("signed " + std::to_string(age) + " s from now, outside the replay window of " +
                                    std::to_string(window_seconds) + " s");
  }
  return Status::OK();
}

Status LoadWebhookSecret(const std::string& path, std::string* secret) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::IoError("cannot read the webhook secret " + path + ": " + std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0) {
    return Status::PermissionDenied("the webhook secret " + path + " may be read by others (mode 0" +
                                    std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
                                    std::to_string(st.st_mode & 7) + "); chmod 600 it");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot read the webhook secret " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && std::strchr(" \t\r\n", text.back()) != nullptr) text.pop_back();
  if (text.size() < kMinSecretBytes) {
    return Status::InvalidArgument("the webhook secret " + path + " has " + std::to_string(text.size()) +
                                   " bytes; it needs at least " + std::to_string(kMinSecretBytes) +
                                   " (e.g. 64 hex digits from `openssl rand -hex 32`)");
  }
  *secret = std::move(text);
  return Status::OK();
}

}  // namespace refx::adapters
