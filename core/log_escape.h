// Escaping for values written into log lines, and a per-key rate limit for
// lines a client can provoke (refusals).
//
// Every string that reaches a log line and came from a client frame, a
// dropped file or a client-influenced Status message goes through
// LogEscape, so that a client cannot forge or split log lines (CR, LF and
// other control characters), smuggle terminal escape sequences, or make a
// quoted value look closed. Personal data must still never be logged:
// escaping makes a value harmless to the log's reader, not fit to be kept.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace refx {

// The longest input LogEscape copies by default, in bytes.
inline constexpr size_t kLogEscapeMaxBytes = 256;

// Returns `value` fit for one log line: printable ASCII is copied as is but
// `\` and `"`, which become `\\` and `\"`; every other byte (control
// characters including CR and LF, DEL, and all bytes >= 0x80) becomes
// \xNN. At most `max_bytes` bytes of the input are copied; a longer value
// ends in "...(N bytes)" with N its full length. Never fails.
std::string LogEscape(std::string_view value, size_t max_bytes = kLogEscapeMaxBytes);

// Decides which of a flood of similar lines are written: at most
// `per_second` lines per key in each one-second window (the window starts
// at the key's first line after the previous window ended). The count of
// lines held back is handed to the caller with the key's next allowed line,
// so the log says how many were suppressed (a flood that stops entirely
// leaves its last count unsaid; the metrics count every refusal).
//
// Thread-safe. Keys are agency ids and peer addresses, both bounded sets, so
// the map is never pruned.
class LogRateLimiter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `clock` defaults to std::chrono::steady_clock::now (tests pass their own).
  explicit LogRateLimiter(int per_second, Clock clock = nullptr);

  // Returns true if a line for `key` may be written now; then *suppressed
  // is the number of lines for `key` held back since the last allowed one
  // (0 if none), which the caller should mention in that line. Returns
  // false, and counts the line as suppressed, otherwise.
  bool Allow(const std::string& key, uint64_t* suppressed);

 private:
  struct Window {
    std::chrono::steady_clock::time_point start;
    int written = 0;
    uint64_t suppressed = 0;
  };
  const int per_second_;
  const Clock clock_;
  std::mutex mu_;
  std::map<std::string, Window> windows_;  // guarded by mu_
};

}  // namespace refx
