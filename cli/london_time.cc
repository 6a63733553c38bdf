#include "cli/london_time.h"

#include <google/protobuf/util/time_util.h>

#include "core/civil_date.h"
#include "core/london_time.h"

namespace refx::cli {

namespace {

using google::protobuf::util::TimeUtil;

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

std::string FormatLondon(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "-";
  return LondonTimeSeconds(time.seconds());
}

bool ParseTimeSpan(const std::string& text, TimeSpan* out) {
  CivilDate date;
  if (text.size() < 10 || !ParseCivilDate(text.substr(0, 10), &date)) return false;
  if (text.size() == 10) {
    out->whole_day = true;
    out->start = TimeUtil::SecondsToTimestamp(FromLondonWallTime(date, 0));
    out->end = TimeUtil::SecondsToTimestamp(FromLondonWallTime(date, 86400));
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
    start = TimeUtil::SecondsToTimestamp(FromLondonWallTime(date, hh * 3600 + mm * 60 + ss));
    start.set_nanos(nanos);
  }
  out->start = start;
  out->end = start + (step_nanos == 0 ? TimeUtil::SecondsToDuration(60) : TimeUtil::NanosecondsToDuration(step_nanos));
  return true;
}

}  // namespace refx::cli
