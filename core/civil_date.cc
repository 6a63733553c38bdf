#include "core/civil_date.h"

#include <chrono>
#include <cstdio>

namespace refx {

namespace {
// Howard Hinnant's days_from_civil / civil_from_days algorithms.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}
}  // namespace

int64_t CivilDate::ToDays() const { return DaysFromCivil(year, month, day); }

CivilDate CivilDate::FromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return CivilDate{static_cast<int>(y + (m <= 2)), static_cast<int>(m), static_cast<int>(d)};
}

int CivilDate::Weekday() const {
  // 1970-01-01 was a Thursday (3 when Monday is 0).
  int64_t w = (ToDays() + 3) % 7;
  return static_cast<int>(w < 0 ? w + 7 : w);
}

std::string CivilDate::ToString() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year, month, day);
  return buf;
}

bool ParseCivilDate(std::string_view t, CivilDate* out) {
  if (t.size() != 10 || t[4] != '-' || t[7] != '-') return false;
  auto digits = [&t](size_t from, size_t n, int* v) {
    *v = 0;
    for (size_t i = from; i < from + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      *v = *v * 10 + (t[i] - '0');
    }
    return true;
  };
  CivilDate d;
  if (!digits(0, 4, &d.year) || !digits(5, 2, &d.month) || !digits(8, 2, &d.day)) return false;
  if (d.year < 1900 || d.year > 2999 || d.month < 1 || d.month > 12) return false;
  if (d.day < 1 || d.day > DaysInMonth(d.year, d.month)) return false;
  *out = d;
  return true;
}

CivilDate TodayUtc() {
  using namespace std::chrono;
  const auto days = duration_cast<hours>(system_clock::now().time_since_epoch()).count() / 24;
  return CivilDate::FromDays(days);
}

int AgeOn(const CivilDate& dob, const CivilDate& on) {
  int age = on.year - dob.year;
  if (on.month < dob.month || (on.month == dob.month && on.day < dob.day)) --age;
  return age;
}

}  // namespace refx
