// Unit tests for calendar dates (core/civil_date.h).

#include "core/civil_date.h"

#include <gtest/gtest.h>

#include <ctime>
#include <string>

namespace refx {
namespace {

TEST(CivilDateTest, ParsesGoodDates) {
  struct Good {
    const char* text;
    CivilDate want;
  };
  const Good cases[] = {
      {"2026-11-26", {2026, 11, 26}}, {"1900-01-01", {1900, 1, 1}},  {"2999-12-31", {2999, 12, 31}},
      {"2024-02-29", {2024, 2, 29}},  {"2000-02-29", {2000, 2, 29}}, {"2026-04-30", {2026, 4, 30}},
      {"2026-01-31", {2026, 1, 31}},  {"1970-01-01", {1970, 1, 1}},
  };
  for (const Good& c : cases) {
    CivilDate d;
    ASSERT_TRUE(ParseCivilDate(c.text, &d)) << c.text;
    EXPECT_EQ(d, c.want) << c.text;
    EXPECT_EQ(d.ToString(), c.text);
  }
}

TEST(CivilDateTest, RefusesBadForms) {
  const char* cases[] = {
      "",           "2026",        "2026-1-01",   "2026-01-1",   "26-01-01",    "2026/01/01",
      "20260101",   "2026-01-01 ", " 2026-01-01", "2026-01-01T00:00:00Z",      "2026-1a-01",
      "2O26-01-01", "+026-01-01",  "-026-01-01",  "2026--01-01", "2026-01--1", "2026-13-01",
      "2026-00-10", "2026-01-00",  "2026-01-32",  "2026-04-31",  "2026-06-31", "2026-09-31",
      "2026-11-31", "2026-02-30",  "1899-12-31",  "3000-01-01",  "0000-01-01",
  };
  for (const char* text : cases) {
    CivilDate d{1234, 5, 6};
    EXPECT_FALSE(ParseCivilDate(text, &d)) << "\"" << text << "\"";
    EXPECT_EQ(d, (CivilDate{1234, 5, 6})) << "output changed for \"" << text << "\"";
  }
}

TEST(CivilDateTest, LeapYears) {
  struct LeapCase {
    int year;
    bool leap;
  };
  const LeapCase cases[] = {{1900, false}, {1996, true},  {2000, true},  {2023, false}, {2024, true},
                            {2026, false}, {2100, false}, {2400, true},  {2800, true},  {2900, false}};
  for (const LeapCase& c : cases) {
    CivilDate d;
    const std::string feb29 = std::to_string(c.year) + "-02-29";
    EXPECT_EQ(ParseCivilDate(feb29, &d), c.leap) << feb29;
    // Days in the year agree.
    const int64_t days = CivilDate{c.year + 1, 1, 1}.ToDays() - CivilDate{c.year, 1, 1}.ToDays();
    EXPECT_EQ(days, c.leap ? 366 : 365) << c.year;
  }
}

TEST(CivilDateTest, WeekdayOfKnownDates) {
  struct WeekdayCase {
    CivilDate date;
    int weekday;  // 0 = Monday .. 6 = Sunday
  };
  const WeekdayCase cases[] = {
      {{2026, 11, 26}, 3},  // Thursday
      {{2026, 11, 28}, 5},  // Saturday
      {{2026, 11, 29}, 6},  // Sunday
      {{2026, 11, 30}, 0},  // Monday
      {{1970, 1, 1}, 3},    // Thursday (the epoch)
      {{1969, 12, 31}, 2},  // Wednesday (before the epoch)
      {{1969, 12, 29}, 0},  // Monday
      {{1900, 1, 1}, 0},    // Monday
      {{2000, 1, 1}, 5},    // Saturday
      {{2024, 2, 29}, 3},   // Thursday
      {{2026, 12, 25}, 4},  // Friday
      {{2999, 12, 31}, 1},  // Tuesday
  };
  for (const WeekdayCase& c : cases) {
    EXPECT_EQ(c.date.Weekday(), c.weekday) << c.date.ToString();
  }
}

TEST(CivilDateTest, ToDaysOfKnownDates) {
  EXPECT_EQ((CivilDate{1970, 1, 1}).ToDays(), 0);
  EXPECT_EQ((CivilDate{1970, 1, 2}).ToDays(), 1);
  EXPECT_EQ((CivilDate{1969, 12, 31}).ToDays(), -1);
  EXPECT_EQ((CivilDate{2000, 1, 1}).ToDays(), 10957);
  EXPECT_EQ((CivilDate{1900, 1, 1}).ToDays(), -25567);
  EXPECT_EQ((CivilDate{2026, 11, 26}).ToDays(), 20783);
}

TEST(CivilDateTest, FromDaysInvertsToDaysOverTheWholeRange) {
  const int64_t first = CivilDate{1900, 1, 1}.ToDays();
  const int64_t last = CivilDate{2999, 12, 31}.ToDays();
  CivilDate prev = CivilDate::FromDays(first - 1);
  EXPECT_EQ(prev, (CivilDate{1899, 12, 31}));
  int failures = 0;
  for (int64_t days = first; days <= last && failures < 5; ++days) {
    const CivilDate d = CivilDate::FromDays(days);
    if (d.ToDays() != days) {
      ADD_FAILURE() << days << " -> " << d.ToString() << " -> " << d.ToDays();
      ++failures;
    }
    // Each day follows the previous one.
    if (!(prev < d)) {
      ADD_FAILURE() << prev.ToString() << " is not before " << d.ToString();
      ++failures;
    }
    // The text form parses back to the same date.
    CivilDate parsed;
    if (!ParseCivilDate(d.ToString(), &parsed) || !(parsed == d)) {
      ADD_FAILURE() << d.ToString() << " does not parse back";
      ++failures;
    }
    prev = d;
  }
  EXPECT_EQ(prev, (CivilDate{2999, 12, 31}));
}

TEST(CivilDateTest, ToStringPadsWithZeros) {
  EXPECT_EQ((CivilDate{2026, 1, 5}).ToString(), "2026-01-05");
  EXPECT_EQ((CivilDate{1900, 12, 31}).ToString(), "1900-12-31");
}

TEST(CivilDateTest, Comparisons) {
  EXPECT_TRUE((CivilDate{2026, 11, 25}) < (CivilDate{2026, 11, 26}));
  EXPECT_TRUE((CivilDate{2025, 12, 31}) < (CivilDate{2026, 1, 1}));
  EXPECT_FALSE((CivilDate{2026, 11, 26}) < (CivilDate{2026, 11, 26}));
  EXPECT_FALSE((CivilDate{2026, 11, 27}) < (CivilDate{2026, 11, 26}));
  EXPECT_TRUE((CivilDate{2026, 11, 26}) == (CivilDate{2026, 11, 26}));
  EXPECT_FALSE((CivilDate{2026, 11, 26}) == (CivilDate{2026, 11, 27}));
}

TEST(CivilDateTest, AgeOnBoundaries) {
  struct AgeCase {
    CivilDate dob;
    CivilDate on;
    int age;
  };
  const AgeCase cases[] = {
      {{2000, 11, 26}, {2026, 11, 25}, 25},  // day before the birthday
      {{2000, 11, 26}, {2026, 11, 26}, 26},  // on the birthday
      {{2000, 11, 26}, {2026, 11, 27}, 26},
      {{2000, 12, 1}, {2026, 11, 30}, 25},   // later month
      {{2000, 1, 31}, {2026, 2, 1}, 26},     // earlier month
      {{2026, 11, 26}, {2026, 11, 26}, 0},   // born today
      {{2025, 11, 27}, {2026, 11, 26}, 0},   // day before the first birthday
      {{2025, 11, 26}, {2026, 11, 26}, 1},
      {{2008, 11, 26}, {2026, 11, 25}, 17},  // the day before turning 18
      {{2008, 11, 26}, {2026, 11, 26}, 18},
      {{2000, 2, 29}, {2026, 2, 28}, 25},    // leap-day birthday in a common year
      {{2000, 2, 29}, {2026, 3, 1}, 26},
      {{2000, 2, 29}, {2024, 2, 29}, 24},
      {{2000, 2, 29}, {2024, 2, 28}, 23},
  };
  for (const AgeCase& c : cases) {
    EXPECT_EQ(AgeOn(c.dob, c.on), c.age) << c.dob.ToString() << " on " << c.on.ToString();
  }
}

TEST(CivilDateTest, TodayUtcMatchesTheSystemClock) {
  const int64_t before = static_cast<int64_t>(std::time(nullptr)) / 86400;
  const CivilDate today = TodayUtc();
  const int64_t after = static_cast<int64_t>(std::time(nullptr)) / 86400;
  EXPECT_GE(today.ToDays(), before);
  EXPECT_LE(today.ToDays(), after);
}

}  // namespace
}  // namespace refx
