// Signing of outbound webhooks (adapters/webhook/README.md describes the
// receiver's side). Each POST carries
//   X-Refx-Timestamp: the sender's clock in Unix seconds, e.g. 1796400000
//   X-Refx-Signature: "v1=" + lower-case hex of
//                     HMAC-SHA256(secret, timestamp + "." + body)
// so a receiver that shares the secret can check that the body came from
// the adapter, unchanged, and recently (the replay window). A replay within
// the window carries the same X-Refx-Delivery (referral/destination/attempt),
// which the receiver treats as the same case again.
//
// Pure functions on libsodium (crypto_auth_hmacsha256, constant-time
// comparison); thread-safe once sodium_init() has run (the functions call it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace refx::adapters {

// The header names, shared by the sender and receivers.
inline constexpr char kTimestampHeader[] = "X-Refx-Timestamp";
inline constexpr char kSignatureHeader[] = "X-Refx-Signature";
inline constexpr char kDeliveryHeader[] = "X-Refx-Delivery";
// The replay window receivers should use unless they have a reason not to.
inline constexpr int64_t kDefaultReplayWindowSeconds = 300;
// The shortest secret accepted (bytes): HMAC-SHA256's own block of security.
inline constexpr size_t kMinSecretBytes = 32;

// "v1=<64 hex digits>": the signature of `body` sent at `timestamp` (the
// header's text, as sent).
std::string WebhookSignature(std::string_view secret, std::string_view timestamp, std::string_view body);

// The receiver's check of one request: OK when `signature` is the signature
// of `body` at `timestamp` under `secret` and `timestamp` is within
// `window_seconds` of `now_unix_seconds` (either side, for clock skew).
// InvalidArgument when a header is missing or malformed (naming which);
// PermissionDenied when the signature does not match, or the timestamp is
// outside the window (a replay or a badly wrong clock). Compares in
// constant time.
Status VerifyWebhookSignature(std::string_view secret, std::string_view timestamp, std::string_view signature,
                              std::string_view body, int64_t now_unix_seconds,
                              int64_t window_seconds = kDefaultReplayWindowSeconds);

// Reads a webhook secret file: its bytes without trailing white space. OK
// with *secret set; IoError when it cannot be read; PermissionDenied when
// group or others may read it (it must be mode 0600 or stricter);
// InvalidArgument when shorter than kMinSecretBytes. Each error names the
// file.
Status LoadWebhookSecret(const std::string& path, std::string* secret);

}  // namespace refx::adapters
