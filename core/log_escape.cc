#include "core/log_escape.h"

namespace refx {

std::string LogEscape(std::string_view value, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  const size_t n = value.size() < max_bytes ? value.size() : max_bytes;
  std::string out;
  out.reserve(n + 16);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == '\\' || c == '"') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  if (value.size() > n) out += "...(" + std::to_string(value.size()) + " bytes)";
  return out;
}

LogRateLimiter::LogRateLimiter(int per_second, Clock clock)
    : per_second_(per_second),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })) {}

bool LogRateLimiter::Allow(const std::string& key, uint64_t* suppressed) {
  const auto now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, fresh] = windows_.try_emplace(key);
  Window& w = it->second;
  if (fresh || now - w.start >= std::chrono::seconds(1)) {
    w.start = now;
    w.written = 0;
  }
  if (w.written >= per_second_) {
    ++w.suppressed;
    return false;
  }
  ++w.written;
  *suppressed = w.suppressed;
  w.suppressed = 0;
  return true;
}

}  // namespace refx
