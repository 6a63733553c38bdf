// Unit tests for the times people read and write: UK civil time with GMT /
// BST (core/london_time.h) and what a time argument covers
// (cli/london_time.h).
#include "cli/london_time.h"
#include "core/london_time.h"

#include <gtest/gtest.h>

#include <google/protobuf/util/time_util.h>

namespace refx::cli {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp Utc(const std::string& rfc3339) {
  google::protobuf::Timestamp t;
  EXPECT_TRUE(TimeUtil::FromString(rfc3339, &t)) << rfc3339;
  return t;
}

TEST(LondonTimeTest, WinterIsGmtSummerIsBst) {
  EXPECT_EQ(FormatLondon(Utc("2027-01-15T17:00:05Z")), "2027-01-15 17:00:05 GMT");
  EXPECT_EQ(FormatLondon(Utc("2027-07-15T17:00:05.9Z")), "2027-07-15 18:00:05 BST");
  EXPECT_EQ(FormatLondon(Utc("2027-07-15T23:30:00Z")), "2027-07-16 00:30:00 BST");
  EXPECT_EQ(FormatLondon(google::protobuf::Timestamp()), "-");
}

// 2027: BST from 01:00 UTC on Sunday 28 March to 01:00 UTC on Sunday 31 October.
TEST(LondonTimeTest, TheClocksChangeAtOneUtcOnTheLastSundays) {
  EXPECT_EQ(FormatLondon(Utc("2027-03-28T00:59:59Z")), "2027-03-28 00:59:59 GMT");
  EXPECT_EQ(FormatLondon(Utc("2027-03-28T01:00:00Z")), "2027-03-28 02:00:00 BST");
  EXPECT_EQ(FormatLondon(Utc("2027-10-31T00:59:59Z")), "2027-10-31 01:59:59 BST");
  EXPECT_EQ(FormatLondon(Utc("2027-10-31T01:00:00Z")), "2027-10-31 01:00:00 GMT");
  // 2026: 29 March and 25 October.
  EXPECT_EQ(LondonOffsetSeconds(Utc("2026-03-29T01:00:00Z").seconds()), 3600);
  EXPECT_EQ(LondonOffsetSeconds(Utc("2026-03-28T12:00:00Z").seconds()), 0);
  EXPECT_EQ(LondonOffsetSeconds(Utc("2026-10-25T00:59:59Z").seconds()), 3600);
  EXPECT_EQ(LondonOffsetSeconds(Utc("2026-10-25T01:00:00Z").seconds()), 0);
}

// London's clock read back as UTC, on the days the clocks change (2027: 28
// March and 31 October).
TEST(LondonTimeTest, WallTimesOnTheChangeDays) {
  const CivilDate spring{2027, 3, 28}, autumn{2027, 10, 31};
  EXPECT_EQ(FromLondonWallTime(spring, 0), Utc("2027-03-28T00:00:00Z").seconds());
  EXPECT_EQ(FromLondonWallTime(spring, 3 * 3600), Utc("2027-03-28T02:00:00Z").seconds());
  // 01:30 never happens that night: read as GMT, 02:30 BST.
  EXPECT_EQ(FromLondonWallTime(spring, 5400), Utc("2027-03-28T01:30:00Z").seconds());
  // 01:30 happens twice: the first, BST, one.
  EXPECT_EQ(FromLondonWallTime(autumn, 5400), Utc("2027-10-31T00:30:00Z").seconds());
  EXPECT_EQ(FromLondonWallTime(autumn, 86400), Utc("2027-11-01T00:00:00Z").seconds());
  EXPECT_EQ(LondonDateOf(Utc("2027-07-15T23:30:00Z").seconds()), (CivilDate{2027, 7, 16}));
  EXPECT_EQ(LondonDateOf(Utc("2027-01-15T23:30:00Z").seconds()), (CivilDate{2027, 1, 15}));
  EXPECT_EQ(LondonTimeMinutes(Utc("2027-07-15T17:00:59Z").seconds()), "2027-07-15 18:00 BST");
}

// A day ends at 23:59:59 on London's clock: 22:59:59 UTC in summer.
TEST(LondonTimeTest, TheDayEndsInLondon) {
  EXPECT_EQ(EndOfLondonDay(CivilDate{2027, 1, 15}), Utc("2027-01-15T23:59:59Z").seconds());
  EXPECT_EQ(EndOfLondonDay(CivilDate{2027, 7, 15}), Utc("2027-07-15T22:59:59Z").seconds());
  EXPECT_EQ(EndOfLondonDay(CivilDate{2027, 3, 28}), Utc("2027-03-28T22:59:59Z").seconds());
  EXPECT_EQ(EndOfLondonDay(CivilDate{2027, 10, 31}), Utc("2027-10-31T23:59:59Z").seconds());
  EXPECT_EQ(LondonTimeSeconds(EndOfLondonDay(CivilDate{2027, 7, 15})), "2027-07-15 23:59:59 BST");
}

TEST(LondonTimeTest, ADateIsTheWholeLondonDay) {
  TimeSpan span;
  ASSERT_TRUE(ParseTimeSpan("2027-01-15", &span));
  EXPECT_TRUE(span.whole_day);
  EXPECT_EQ(TimeUtil::ToString(span.start), "2027-01-15T00:00:00Z");
  EXPECT_EQ(TimeUtil::ToString(span.end), "2027-01-16T00:00:00Z");
  ASSERT_TRUE(ParseTimeSpan("2027-07-15", &span));
  EXPECT_EQ(TimeUtil::ToString(span.start), "2027-07-14T23:00:00Z");
  EXPECT_EQ(TimeUtil::ToString(span.end), "2027-07-15T23:00:00Z");
}

TEST(LondonTimeTest, ATimeCoversWhatItWrites) {
  TimeSpan span;
  ASSERT_TRUE(ParseTimeSpan("2027-01-15T17:00:05Z", &span));
  EXPECT_FALSE(span.whole_day);
  EXPECT_EQ(TimeUtil::ToString(span.start), "2027-01-15T17:00:05Z");
  EXPECT_EQ(TimeUtil::ToString(span.end), "2027-01-15T17:00:06Z");
  ASSERT_TRUE(ParseTimeSpan("2027-01-15T17:00:05.25+01:00", &span));
  EXPECT_EQ(TimeUtil::ToString(span.start), "2027-01-15T16:00:05.250Z");
  EXPECT_EQ(TimeUtil::ToString(span.end), "2027-01-15T16:00:05.260Z");
  // Without a zone: London time.
  ASSERT_TRUE(ParseTimeSpan("2027-07-15T18:00:05", &span));
  EXPECT_EQ(TimeUtil::ToString(span.start), "2027-07-15T17:00:05Z");
  ASSERT_TRUE(ParseTimeSpan("2027-07-15 18:00", &span));
  EXPECT_EQ(TimeUtil::ToString(span.start), "2027-07-15T17:00:00Z");
  EXPECT_EQ(TimeUtil::ToString(span.end), "2027-07-15T17:01:00Z");
}

TEST(LondonTimeTest, AnythingElseIsRefused) {
  TimeSpan span;
  for (const char* bad : {"", "yesterday", "2027-02-30", "2027-01-15T25:00:00", "2027-01-15T17", "2027-01-15X17:00",
                          "2027-01-15T17:00:05.Z", "15/01/2027"}) {
    EXPECT_FALSE(ParseTimeSpan(bad, &span)) << bad;
  }
}

}  // namespace
}  // namespace refx::cli
