// Times and durations as people read them in pages and tables. Machine
// output (JSON, CSV time columns) stays UTC. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace refx::render {

// A duration in hours and minutes, rounded to the minute: "45 min",
// "3 h 05 min", "52 h 00 min"; "under 1 min" for a positive duration that
// rounds to 0, "0 min" for 0. Negative durations are shown as 0.
std::string HoursMinutes(double hours);

// The wall-clock time in Europe/London to the second, with its zone:
// "2026-07-01 15:04:05 BST", "2026-12-04 14:26:40 GMT". "-" for 0 (unset).
// From core/london_time.h.
std::string LondonTime(int64_t utc_seconds);

// UTC to the second, RFC 3339: "2026-12-04T14:26:40Z"; "" for 0 (unset).
std::string UtcTime(int64_t utc_seconds);

}  // namespace refx::render
