#include "core/civil_date.h"

#include <date/date.h>

#include <chrono>
#include <cstdio>

namespace refx {

namespace {
// Howard Hinnant's date library (libhowardhinnant-date-dev) does the
// calendar arithmetic; CivilDate keeps the plain struct the rest of refx uses.
date::sys_days SysDays(const CivilDate& d) {
  return date::sys_days(date::year{d.year} / static_cast<unsigned>(d.month) / static_cast<unsigned>(d.day));
}
}  // namespace

int64_t CivilDate::ToDays() const { return SysDays(*this).time_since_epoch().count(); }

CivilDate CivilDate::FromDays(int64_t z) {
  const date::year_month_day ymd{date::sys_days{date::days{z}}};
  return CivilDate{static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
                   static_cast<int>(static_cast<unsigned>(ymd.day()))};
}

int CivilDate::Weekday() const { return static_cast<int>(date::weekday{SysDays(*this)}.iso_encoding()) - 1; }

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
  if (d.year < 1900 || d.year > 2999) return false;
  const date::year_month_day ymd{date::year{d.year}, date::month{static_cast<unsigned>(d.month)},
                                 date::day{static_cast<unsigned>(d.day)}};
  if (!ymd.ok()) return false;  // 2026-02-30, month 13...
  *out = d;
  return true;
}

CivilDate TodayUtc() {
  return CivilDate::FromDays(date::floor<date::days>(std::chrono::system_clock::now()).time_since_epoch().count());
}

int AgeOn(const CivilDate& dob, const CivilDate& on) {
  int age = on.year - dob.year;
  if (on.month < dob.month || (on.month == dob.month && on.day < dob.day)) --age;
  return age;
}

}  // namespace refx
