// Unit tests for the times people read and write (cli/london_time.h): UK
// civil time with GMT / BST, and what a time argument covers.
#include "cli/london_time.h"

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
  EXPECT_EQ(UkOffsetSeconds(Utc("2026-03-29T01:00:00Z").seconds()), 3600);
  EXPECT_EQ(UkOffsetSeconds(Utc("2026-03-28T12:00:00Z").seconds()), 0);
  EXPECT_EQ(UkOffsetSeconds(Utc("2026-10-25T00:59:59Z").seconds()), 3600);
  EXPECT_EQ(UkOffsetSeconds(Utc("2026-10-25T01:00:00Z").seconds()), 0);
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
