#include "core/london_time.h"

#include <date/tz.h>

#include <chrono>

namespace refx {

namespace {

const date::time_zone* London() {
  static const date::time_zone* london = date::locate_zone("Europe/London");
  return london;
}

date::sys_seconds Sys(int64_t unix_seconds) { return date::sys_seconds(std::chrono::seconds(unix_seconds)); }

date::zoned_seconds InLondon(int64_t unix_seconds) { return date::zoned_seconds(London(), Sys(unix_seconds)); }

}  // namespace

int LondonOffsetSeconds(int64_t unix_seconds) {
  return static_cast<int>(London()->get_info(Sys(unix_seconds)).offset.count());
}

CivilDate LondonDateOf(int64_t unix_seconds) {
  const auto local = InLondon(unix_seconds).get_local_time();
  return CivilDate::FromDays(date::floor<date::days>(local).time_since_epoch().count());
}

int64_t FromLondonWallTime(const CivilDate& date, int64_t second_of_day) {
  const date::local_seconds wall{std::chrono::seconds(date.ToDays() * 86400 + second_of_day)};
  // Unique, ambiguous (the autumn repeat: first is the BST reading) and
  // nonexistent (the spring gap: first is the GMT offset before it) alike.
  const date::local_info info = London()->get_info(wall);
  return (wall - info.first.offset).time_since_epoch().count();
}

int64_t EndOfLondonDay(const CivilDate& date) { return FromLondonWallTime(date, 86399); }

std::string LondonTimeSeconds(int64_t unix_seconds) { return date::format("%F %T %Z", InLondon(unix_seconds)); }

std::string LondonTimeMinutes(int64_t unix_seconds) { return date::format("%F %H:%M %Z", InLondon(unix_seconds)); }

}  // namespace refx
