#include "render/format.h"

#include <cmath>
#include <cstdio>

#include "core/civil_date.h"
#include "core/london_time.h"

namespace refx::render {

namespace {

constexpr int64_t kSecondsPerDay = 86400;

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

std::string LondonTime(int64_t utc_seconds) {
  if (utc_seconds == 0) return "-";
  return LondonTimeSeconds(utc_seconds);
}

std::string UtcTime(int64_t utc_seconds) {
  if (utc_seconds == 0) return "";
  return Clock(utc_seconds, "T", "Z");
}

}  // namespace refx::render
