#include "cli/london_time.h"

#include <google/protobuf/util/time_util.h>

#include <cstdio>

#include "core/civil_date.h"

namespace refx::cli {

namespace {

using google::protobuf::util::TimeUtil;

constexpr int64_t kDay = 86400;

// 01:00 UTC on the last Sunday of `month` in `year`.
int64_t LastSundayOneAm(int year, int month) {
  const CivilDate last{year, month, 31};  // March and October both have 31 days
  const int back = (last.Weekday() + 1) % 7;
  return (last.ToDays() - back) * kDay + 3600;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Seconds since the epoch of a wall-clock time in London.
int64_t FromLondonWall(int64_t wall) {
  // Try summer time first: in the autumn hour that happens twice this picks
  // the first (BST) one; in the spring hour that never happens, GMT.
  if (UkOffsetSeconds(wall - 3600) == 3600) return wall - 3600;
  return wall;
}

bool Digits(const std::string& s, size_t at, size_t n, int* out) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

int UkOffsetSeconds(int64_t t) {
  const CivilDate date = CivilDate::FromDays(FloorDiv(t, kDay));
  if (date.month < 3 || date.month > 10) return 0;
  return t >= LastSundayOneAm(date.year, 3) && t < LastSundayOneAm(date.year, 10) ? 3600 : 0;
}

std::string FormatLondon(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "-";
  const int offset = UkOffsetSeconds(time.seconds());
  const int64_t wall = time.seconds() + offset;
  const CivilDate date = CivilDate::FromDays(FloorDiv(wall, kDay));
  const int64_t second = wall - FloorDiv(wall, kDay) * kDay;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s %02d:%02d:%02d %s", date.ToString().c_str(), static_cast<int>(second / 3600),
                static_cast<int>(second / 60 % 60), static_cast<int>(second % 60), offset ? "BST" : "GMT");
  return buf;
}

bool ParseTimeSpan(const std::string& text, TimeSpan* out) {
  CivilDate date;
  if (text.size() < 10 || !ParseCivilDate(text.substr(0, 10), &date)) return false;
  if (text.size() == 10) {
    out->whole_day = true;
    out->start = TimeUtil::SecondsToTimestamp(FromLondonWall(date.ToDays() * kDay));
    out->end = TimeUtil::SecondsToTimestamp(FromLondonWall((date.ToDays() + 1) * kDay));
    return true;
  }
  out->whole_day = false;
  if (text[10] != 'T' && text[10] != 't' && text[10] != ' ') return false;
  // The precision written: whole seconds, minutes, or the fraction's digits.
  int64_t step_nanos = 1000000000;
  const size_t dot = text.find('.', 11);
  if (dot != std::string::npos) {
    size_t digits = 0;
    while (dot + 1 + digits < text.size() && text[dot + 1 + digits] >= '0' && text[dot + 1 + digits] <= '9') ++digits;
    if (digits == 0 || digits > 9) return false;
    for (size_t i = 0; i < digits; ++i) step_nanos /= 10;
  }
  const char last = text.back();
  const bool zoned = last == 'Z' || last == 'z' || text.find_first_of("+-", 19) != std::string::npos;
  google::protobuf::Timestamp start;
  if (zoned) {
    std::string rfc = text;
    rfc[10] = 'T';
    if (rfc.back() == 'z') rfc.back() = 'Z';
    if (!TimeUtil::FromString(rfc, &start)) return false;
  } else {
    // HH:MM or HH:MM:SS[.fraction] in London.
    int hh = 0, mm = 0, ss = 0;
    if (!Digits(text, 11, 2, &hh) || text.size() < 16 || text[13] != ':' || !Digits(text, 14, 2, &mm)) return false;
    size_t at = 16;
    if (text.size() == 16) {
      step_nanos = 0;  // minutes: a minute's span
    } else {
      if (text[16] != ':' || !Digits(text, 17, 2, &ss)) return false;
      at = 19;
    }
    int32_t nanos = 0;
    if (at < text.size()) {
      if (text[at] != '.') return false;
      std::string fraction = text.substr(at + 1);
      if (fraction.empty() || fraction.size() > 9 || fraction.find_first_not_of("0123456789") != std::string::npos) {
        return false;
      }
      fraction.append(9 - fraction.size(), '0');
      nanos = std::stoi(fraction);
    }
    if (hh > 23 || mm > 59 || ss > 59) return false;
    start = TimeUtil::SecondsToTimestamp(FromLondonWall(date.ToDays() * kDay + hh * 3600 + mm * 60 + ss));
    start.set_nanos(nanos);
  }
  out->start = start;
  out->end = start + (step_nanos == 0 ? TimeUtil::SecondsToDuration(60) : TimeUtil::NanosecondsToDuration(step_nanos));
  return true;
}

}  // namespace refx::cli
