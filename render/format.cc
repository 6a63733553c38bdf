#include "render/format.h"

#include <cmath>
#include <cstdio>

#include "core/civil_date.h"

namespace refx::render {

namespace {

constexpr int64_t kSecondsPerDay = 86400;

// Seconds since the epoch of 01:00 UTC on the last Sunday of `month`.
int64_t LastSundayOneAm(int year, int month) {
  const CivilDate last{year, month, 31};  // March and October have 31 days
  const int64_t days = last.ToDays() - (last.Weekday() + 1) % 7;
  return days * kSecondsPerDay + 3600;
}

std::string Clock(int64_t seconds, const char* date_time_separator, const char* zone) {
  int64_t days = seconds / kSecondsPerDay;
  int64_t rest = seconds % kSecondsPerDay;
  if (rest < 0) {
    rest += kSecondsPerDay;
    --days;
  }
  const CivilDate d = CivilDate::FromDays(days);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d%s%02d:%02d:%02d%s", d.year, d.month, d.day, date_time_separator,
                static_cast<int>(rest / 3600), static_cast<int>(rest / 60 % 60), static_cast<int>(rest % 60), zone);
  return buf;
}

}  // namespace

std::string HoursMinutes(double hours) {
  if (!(hours > 0)) return "0 min";
  const long long minutes = std::llround(hours * 60);
  if (minutes == 0) return "under 1 min";
  if (minutes < 60) return std::to_string(minutes) + " min";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld h %02lld min", minutes / 60, minutes % 60);
  return buf;
}

bool IsBritishSummerTime(int64_t utc_seconds) {
  int64_t days = utc_seconds / kSecondsPerDay;
  if (utc_seconds % kSecondsPerDay < 0) --days;
  const int year = CivilDate::FromDays(days).year;
  return utc_seconds >= LastSundayOneAm(year, 3) && utc_seconds < LastSundayOneAm(year, 10);
}

std::string LondonTime(int64_t utc_seconds) {
  if (utc_seconds == 0) return "-";
  const bool bst = IsBritishSummerTime(utc_seconds);
  return Clock(utc_seconds + (bst ? 3600 : 0), " ", bst ? " BST" : " GMT");
}

std::string UtcTime(int64_t utc_seconds) {
  if (utc_seconds == 0) return "";
  return Clock(utc_seconds, "T", "Z");
}

}  // namespace refx::render
