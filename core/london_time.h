// UK civil time (Europe/London: GMT in winter, BST in summer) for what
// people read and write, from the system's time-zone data through Howard
// Hinnant's date/tz. The log, the wire and every machine output stay in UTC.
// The one place refx converts between UTC and London time (the CLI, the
// rendered pages and the working-day deadlines all use it).
//
// Thread-safety: pure functions; safe from any thread. The zone is looked up
// once (locate_zone throws only when the system has no tzdata; refx's
// packages install it, libdate-tz depends on it).
#pragma once

#include <cstdint>
#include <string>

#include "core/civil_date.h"

namespace refx {

// London's offset from UTC at `unix_seconds` (seconds since the Unix epoch):
// 3600 during British Summer Time, else 0.
int LondonOffsetSeconds(int64_t unix_seconds);

// True when `unix_seconds` falls in British Summer Time.
inline bool IsBritishSummerTime(int64_t unix_seconds) { return LondonOffsetSeconds(unix_seconds) != 0; }

// The Europe/London calendar date of an instant.
CivilDate LondonDateOf(int64_t unix_seconds);

// The instant at which London's clocks read `second_of_day` seconds after
// midnight on `date` (0 <= second_of_day <= 86400; 86400 is the next
// midnight). In the autumn hour that happens twice this is the first (BST)
// one; a time in the spring hour that never happens is read as GMT (an hour
// later on the clock).
int64_t FromLondonWallTime(const CivilDate& date, int64_t second_of_day);

// The last second of `date` in London, 23:59:59 local time: 22:59:59 UTC
// during BST, 23:59:59 UTC in winter. A working-day deadline ends then.
int64_t EndOfLondonDay(const CivilDate& date);

// "2027-01-15 17:00:05 GMT" / "2027-07-15 18:00:05 BST" (whole seconds,
// fractions dropped).
std::string LondonTimeSeconds(int64_t unix_seconds);

// "2027-01-15 17:00 GMT" / "2027-07-15 18:00 BST" (to the minute).
std::string LondonTimeMinutes(int64_t unix_seconds);

}  // namespace refx
