#include "core/working_calendar.h"

#include <date/date.h>

#include <algorithm>

namespace refx {

int64_t WorkingCalendar::AddClockHours(int64_t start_unix_seconds, uint32_t hours) {
  return start_unix_seconds + static_cast<int64_t>(hours) * 3600;
}

CivilDate AddMonths(const CivilDate& d, int months) {
  const date::year_month ym =
      date::year_month{date::year{d.year}, date::month{static_cast<unsigned>(d.month)}} + date::months{months};
  // Keep the day, or the month's last day when it is shorter.
  const date::day last = date::year_month_day_last{ym.year(), date::month_day_last{ym.month()}}.day();
  const date::day day = std::min(date::day{static_cast<unsigned>(d.day)}, last);
  return CivilDate{static_cast<int>(ym.year()), static_cast<int>(static_cast<unsigned>(ym.month())),
                   static_cast<int>(static_cast<unsigned>(day))};
}

WorkingCalendar::WorkingCalendar() {
  for (int i = 0; i < 7; ++i) weekend_[i] = i >= 5;
}

Status WorkingCalendar::FromProto(const v1::WorkingCalendar& proto, WorkingCalendar* out) {
  WorkingCalendar cal;
  if (proto.weekend_days_size() > 0) {
    for (int i = 0; i < 7; ++i) cal.weekend_[i] = false;
    for (int i = 0; i < proto.weekend_days_size(); ++i) {
      const int day = proto.weekend_days(i);
      if (day < v1::WorkingCalendar::MONDAY || day > v1::WorkingCalendar::SUNDAY) {
        return Status::InvalidArgument("calendar.weekend_days[" + std::to_string(i) + "] is not a day of the week");
      }
      cal.weekend_[day - 1] = true;
    }
    if (std::all_of(cal.weekend_, cal.weekend_ + 7, [](bool b) { return b; })) {
      return Status::InvalidArgument("calendar.weekend_days leaves no working day in the week");
    }
  }
  for (int i = 0; i < proto.bank_holidays_size(); ++i) {
    CivilDate d;
    if (!ParseCivilDate(proto.bank_holidays(i), &d)) {
      return Status::InvalidArgument("calendar.bank_holidays[" + std::to_string(i) + "] \"" + proto.bank_holidays(i) +
                                     "\" is not a YYYY-MM-DD date");
    }
    cal.bank_holidays_.insert(d.ToDays());
  }
  *out = std::move(cal);
  return Status::OK();
}

bool WorkingCalendar::IsBankHoliday(const CivilDate& date) const { return bank_holidays_.count(date.ToDays()) > 0; }

bool WorkingCalendar::IsWorkingDay(const CivilDate& date) const {
  return !weekend_[date.Weekday()] && !IsBankHoliday(date);
}

CivilDate WorkingCalendar::AddWorkingDays(const CivilDate& date, uint32_t n) const {
  // A week always has a working day (FromProto ensures it), so each step
  // ends within 7 + (consecutive bank holidays) days.
  int64_t day = date.ToDays();
  if (n == 0) {
    while (!IsWorkingDay(CivilDate::FromDays(day))) ++day;
    return CivilDate::FromDays(day);
  }
  uint32_t counted = 0;
  while (counted < n) {
    ++day;
    if (IsWorkingDay(CivilDate::FromDays(day))) ++counted;
  }
  return CivilDate::FromDays(day);
}

std::optional<CivilDate> WorkingCalendar::NextMeeting(const v1::MeetingCalendar& meetings,
                                                      const CivilDate& submitted_on) {
  const int64_t earliest = submitted_on.ToDays() + meetings.cutoff_days_before();
  std::optional<CivilDate> best;
  for (const std::string& text : meetings.dates()) {
    CivilDate d;
    if (!ParseCivilDate(text, &d)) continue;
    if (d.ToDays() < earliest) continue;
    if (!best || d < *best) best = d;
  }
  return best;
}

CivilDate WorkingCalendar::Deadline(const v1::Destination& destination, const CivilDate& submitted_on) const {
  if (destination.has_meetings() && destination.meetings().dates_size() > 0) {
    std::optional<CivilDate> meeting = NextMeeting(destination.meetings(), submitted_on);
    if (meeting) return *meeting;
  }
  return AddWorkingDays(submitted_on, destination.ack_deadline_working_days());
}

}  // namespace refx
