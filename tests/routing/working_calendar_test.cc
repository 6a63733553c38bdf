// Unit tests for refx::WorkingCalendar and AddMonths, with the England and
// Wales bank holidays of the Sevenoaks sample configuration.

#include "core/working_calendar.h"

#include <gtest/gtest.h>
#include <google/protobuf/text_format.h>

#include <string>

#include "tests/routing/sample_config.h"

namespace refx {
namespace {

using refx::testing::Date;

WorkingCalendar SampleCalendar() {
  v1::PartnershipConfig raw;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      refx::testing::ReadTextFile(refx::testing::SampleConfigPath()), &raw));
  WorkingCalendar cal;
  Status s = WorkingCalendar::FromProto(raw.calendar(), &cal);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return cal;
}

TEST(AddMonthsTest, KeepsTheDayOrClampsToTheMonthEnd) {
  EXPECT_EQ(AddMonths(Date("2026-06-13"), 1), Date("2026-07-13"));
  EXPECT_EQ(AddMonths(Date("2026-11-26"), -6), Date("2026-05-26"));
  EXPECT_EQ(AddMonths(Date("2026-08-31"), 6), Date("2027-02-28"));
  EXPECT_EQ(AddMonths(Date("2027-08-31"), 6), Date("2028-02-29"));
  EXPECT_EQ(AddMonths(Date("2026-01-31"), 1), Date("2026-02-28"));
  EXPECT_EQ(AddMonths(Date("2026-03-31"), -1), Date("2026-02-28"));
  EXPECT_EQ(AddMonths(Date("2025-11-20"), 12), Date("2026-11-20"));
  EXPECT_EQ(AddMonths(Date("2026-01-15"), -13), Date("2024-12-15"));
}

TEST(WorkingCalendarTest, DefaultIsMondayToFriday) {
  WorkingCalendar cal;
  EXPECT_TRUE(cal.IsWorkingDay(Date("2026-11-27")));   // Friday
  EXPECT_FALSE(cal.IsWorkingDay(Date("2026-11-28")));  // Saturday
  EXPECT_FALSE(cal.IsWorkingDay(Date("2026-11-29")));  // Sunday
  EXPECT_TRUE(cal.IsWorkingDay(Date("2026-12-25")));   // no bank holidays configured
}

TEST(WorkingCalendarTest, SampleBankHolidays) {
  const WorkingCalendar cal = SampleCalendar();
  // England and Wales, 2026-2028 (Easter Sundays 2026-04-05, 2027-03-28, 2028-04-16).
  const char* holidays[] = {"2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31",
                            "2026-12-25", "2026-12-28", "2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03",
                            "2027-05-31", "2027-08-30", "2027-12-27", "2027-12-28", "2028-01-03", "2028-04-14",
                            "2028-04-17", "2028-05-01", "2028-05-29", "2028-08-28", "2028-12-25", "2028-12-26"};
  for (const char* h : holidays) {
    EXPECT_TRUE(cal.IsBankHoliday(Date(h))) << h;
    EXPECT_FALSE(cal.IsWorkingDay(Date(h))) << h;
    // Every bank holiday listed is a weekday (substitute days included).
    EXPECT_LT(Date(h).Weekday(), 5) << h;
  }
  EXPECT_TRUE(cal.IsWorkingDay(Date("2026-12-24")));
  EXPECT_TRUE(cal.IsWorkingDay(Date("2026-04-07")));
  EXPECT_FALSE(cal.IsBankHoliday(Date("2026-12-26")));  // Saturday: the Monday is the substitute
}

TEST(WorkingCalendarTest, AddZeroWorkingDays) {
  const WorkingCalendar cal = SampleCalendar();
  EXPECT_EQ(cal.AddWorkingDays(Date("2026-11-26"), 0), Date("2026-11-26"));  // Thursday
  EXPECT_EQ(cal.AddWorkingDays(Date("2026-11-28"), 0), Date("2026-11-30"));  // Saturday -> Monday
  EXPECT_EQ(cal.AddWorkingDays(Date("2027-03-26"), 0), Date("2027-03-30"));  // Good Friday -> Tuesday
}

TEST(WorkingCalendarTest, AddWorkingDaysSkipsWeekendsAndBankHolidays) {
  const WorkingCalendar cal = SampleCalendar();
  EXPECT_EQ(cal.AddWorkingDays(Date("2026-11-26"), 1), Date("2026-11-27"));
  EXPECT_EQ(cal.AddWorkingDays(Date("2026-11-27"), 1), Date("2026-11-30"));  // Friday -> Monday
  EXPECT_EQ(cal.AddWorkingDays(Date("2027-05-28"), 1), Date("2027-06-01"));  // over the spring bank holiday
  EXPECT_EQ(cal.AddWorkingDays(Date("2027-03-25"), 1), Date("2027-03-30"));  // over Easter
  EXPECT_EQ(cal.AddWorkingDays(Date("2027-12-24"), 1), Date("2027-12-29"));  // Christmas 2027
  EXPECT_EQ(cal.AddWorkingDays(Date("2026-11-28"), 1), Date("2026-11-30"));  // Saturday + 1
  EXPECT_EQ(cal.AddWorkingDays(Date("2026-11-26"), 5), Date("2026-12-03"));
  EXPECT_EQ(cal.AddWorkingDays(Date("2026-12-18"), 5), Date("2026-12-29"));  // over Christmas
  EXPECT_EQ(cal.AddWorkingDays(Date("2026-12-18"), 8), Date("2027-01-04"));  // and New Year
  EXPECT_EQ(cal.AddWorkingDays(Date("2026-11-26"), 20), Date("2026-12-24"));
}

TEST(WorkingCalendarTest, CustomWeekend) {
  v1::WorkingCalendar proto;
  proto.add_weekend_days(v1::WorkingCalendar::FRIDAY);
  proto.add_weekend_days(v1::WorkingCalendar::SATURDAY);
  WorkingCalendar cal;
  ASSERT_TRUE(WorkingCalendar::FromProto(proto, &cal).ok());
  EXPECT_FALSE(cal.IsWorkingDay(Date("2026-11-27")));  // Friday
  EXPECT_TRUE(cal.IsWorkingDay(Date("2026-11-29")));   // Sunday
  EXPECT_EQ(cal.AddWorkingDays(Date("2026-11-26"), 1), Date("2026-11-29"));
}

TEST(WorkingCalendarTest, FromProtoRefusesBadInput) {
  WorkingCalendar cal;
  v1::WorkingCalendar bad_date;
  bad_date.add_bank_holidays("2026-02-30");
  Status s = WorkingCalendar::FromProto(bad_date, &cal);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("2026-02-30"), std::string::npos) << s.message();

  v1::WorkingCalendar no_working_day;
  for (int d = v1::WorkingCalendar::MONDAY; d <= v1::WorkingCalendar::SUNDAY; ++d) {
    no_working_day.add_weekend_days(static_cast<v1::WorkingCalendar::Day>(d));
  }
  EXPECT_EQ(WorkingCalendar::FromProto(no_working_day, &cal).code(), Status::Code::kInvalidArgument);

  v1::WorkingCalendar unspecified;
  unspecified.add_weekend_days(v1::WorkingCalendar::DAY_UNSPECIFIED);
  EXPECT_EQ(WorkingCalendar::FromProto(unspecified, &cal).code(), Status::Code::kInvalidArgument);
}

TEST(WorkingCalendarTest, NextMeetingHonoursTheCutoff) {
  v1::MeetingCalendar m;
  m.add_dates("2027-02-18");
  m.add_dates("2027-01-21");  // order does not matter
  m.set_cutoff_days_before(10);
  EXPECT_EQ(WorkingCalendar::NextMeeting(m, Date("2027-01-11")), Date("2027-01-21"));
  EXPECT_EQ(WorkingCalendar::NextMeeting(m, Date("2027-01-12")), Date("2027-02-18"));
  EXPECT_EQ(WorkingCalendar::NextMeeting(m, Date("2027-02-09")), std::nullopt);
  m.set_cutoff_days_before(0);
  EXPECT_EQ(WorkingCalendar::NextMeeting(m, Date("2027-01-21")), Date("2027-01-21"));
}

TEST(WorkingCalendarTest, DeadlineByWorkingDaysOrMeeting) {
  const WorkingCalendar cal = SampleCalendar();
  v1::Destination idva;
  idva.set_ack_deadline_working_days(1);
  EXPECT_EQ(cal.Deadline(idva, Date("2027-05-28")), Date("2027-06-01"));
  v1::Destination same_day;
  EXPECT_EQ(cal.Deadline(same_day, Date("2027-05-29")), Date("2027-06-01"));  // Saturday; Monday is a holiday

  v1::Destination panel;
  panel.set_ack_deadline_working_days(5);
  panel.mutable_meetings()->add_dates("2027-01-21");
  panel.mutable_meetings()->set_cutoff_days_before(10);
  EXPECT_EQ(cal.Deadline(panel, Date("2027-01-11")), Date("2027-01-21"));
  // No meeting late enough: the working-day deadline.
  EXPECT_EQ(cal.Deadline(panel, Date("2027-01-12")), Date("2027-01-19"));
}

// Clock hours are elapsed hours: they run through the weekend, and across
// the end of BST (Sunday 2026-10-25 02:00 BST -> 01:00 GMT) the local clock
// shows an hour less than at the start.
TEST(WorkingCalendarTest, ClockHoursAcrossAWeekendAndTheClockChanges) {
  const int64_t friday_1830_bst = 1792776600;  // 2026-10-23T17:30:00Z
  EXPECT_EQ(LondonTimeMinutes(friday_1830_bst), "2026-10-23 18:30 BST");
  const int64_t due = WorkingCalendar::AddClockHours(friday_1830_bst, 72);
  EXPECT_EQ(due - friday_1830_bst, 72 * 3600);
  EXPECT_EQ(LondonTimeMinutes(due), "2026-10-26 17:30 GMT");
  EXPECT_EQ(LondonDateOf(due), Date("2026-10-26"));
  // Into BST (Sunday 2027-03-28 01:00 GMT -> 02:00 BST).
  const int64_t friday_2000_gmt = 1806091200;  // 2027-03-26T20:00:00Z
  EXPECT_EQ(LondonTimeMinutes(WorkingCalendar::AddClockHours(friday_2000_gmt, 72)), "2027-03-29 21:00 BST");
  // The London date differs from the UTC date late on a summer evening.
  EXPECT_EQ(LondonDateOf(1782948600), Date("2026-07-02"));  // 2026-07-01T23:30:00Z = 00:30 BST
}

}  // namespace
}  // namespace refx
