// Working-day arithmetic and case deadlines, from the partnership's
// WorkingCalendar (weekend days and bank holidays) and each destination's
// acknowledgement rule (working days, or the next meeting).
//
// Thread-safety: a WorkingCalendar is immutable after it is built; const
// methods may be called from several threads at once.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "core/civil_date.h"
#include "core/london_time.h"  // LondonDateOf, EndOfLondonDay: a deadline day ends in London
#include "core/status.h"
#include "refx/v1/config.pb.h"

namespace refx {

// `date` moved by `months` calendar months (negative = back), keeping the
// day of the month, or the month's last day when it is shorter
// (2026-08-31 + 6 months = 2027-02-28). Pure function.
CivilDate AddMonths(const CivilDate& date, int months);

class WorkingCalendar {
 public:
  // Saturday and Sunday off, no bank holidays.
  WorkingCalendar();

  // Builds *out from the configuration. Returns InvalidArgument naming the
  // first bank holiday that is not a "YYYY-MM-DD" date, or an unspecified
  // weekend day, or a week with no working day; *out is then unchanged.
  static Status FromProto(const v1::WorkingCalendar& proto, WorkingCalendar* out);

  // True unless `date` falls on a weekend day or a bank holiday.
  bool IsWorkingDay(const CivilDate& date) const;
  bool IsBankHoliday(const CivilDate& date) const;

  // The date `n` working days after `date`. With n = 0: `date` itself if it
  // is a working day, else the next working day. Example: Friday + 1 is the
  // Monday, or the Tuesday when that Monday is a bank holiday.
  CivilDate AddWorkingDays(const CivilDate& date, uint32_t n) const;

  // The first date in `meetings.dates` on or after `submitted_on` plus
  // `meetings.cutoff_days_before` calendar days; nullopt when the list has
  // no such date. Dates that do not parse are ignored (configuration
  // validation refuses them). Pure function.
  static std::optional<CivilDate> NextMeeting(const v1::MeetingCalendar& meetings, const CivilDate& submitted_on);

  // The deadline of a case opened at `destination` for a referral submitted
  // on `submitted_on`: the next meeting (see NextMeeting) when the
  // destination has meeting dates, otherwise - or when no meeting date is
  // late enough - `ack_deadline_working_days` working days after
  // submission (see AddWorkingDays).
  CivilDate Deadline(const v1::Destination& destination, const CivilDate& submitted_on) const;

  // A clock-hour deadline: `hours` elapsed hours after `start_unix_seconds`
  // (seconds since the Unix epoch, UTC). Nights, weekends and bank holidays
  // count like any other hour, and a clock change neither adds nor removes
  // one: across the October change the deadline reads an hour earlier on
  // the local clock than the start did. Pure function.
  static int64_t AddClockHours(int64_t start_unix_seconds, uint32_t hours);

 private:
  bool weekend_[7];                // indexed by CivilDate::Weekday(), 0 = Monday
  std::set<int64_t> bank_holidays_;  // CivilDate::ToDays()
};

}  // namespace refx
