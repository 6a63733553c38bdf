// Calendar dates ("YYYY-MM-DD") without time zones, for dates of birth,
// incident dates and working-day arithmetic. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace refx {

struct CivilDate {
  int year = 0;
  int month = 0;  // 1..12
  int day = 0;    // 1..31

  // Days since 1970-01-01 (negative before).
  int64_t ToDays() const;
  static CivilDate FromDays(int64_t days);
  // 0 = Monday .. 6 = Sunday.
  int Weekday() const;
  std::string ToString() const;

  friend bool operator==(const CivilDate& a, const CivilDate& b) {
    return a.year == b.year && a.month == b.month && a.day == b.day;
  }
  friend bool operator<(const CivilDate& a, const CivilDate& b) { return a.ToDays() < b.ToDays(); }
};

// Parses an ISO 8601 calendar date "YYYY-MM-DD" (years 1900..2999). Returns
// false for any other form or an impossible date such as 2026-02-30.
bool ParseCivilDate(std::string_view text, CivilDate* out);

// Today's date in UTC.
CivilDate TodayUtc();

// Whole years between date of birth and `on`.
int AgeOn(const CivilDate& date_of_birth, const CivilDate& on);

}  // namespace refx
