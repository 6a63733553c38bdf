// LogEscape and LogRateLimiter (core/log_escape.h).
#include "core/log_escape.h"

#include <gtest/gtest.h>

namespace refx {
namespace {

TEST(LogEscapeTest, PrintableAsciiIsKept) {
  EXPECT_EQ(LogEscape("agency-a R-2026-000001 ASC/CHILD"), "agency-a R-2026-000001 ASC/CHILD");
}

TEST(LogEscapeTest, LineBreaksAndControlsBecomeHex) {
  EXPECT_EQ(LogEscape("a\n[error] forged\r\n"), "a\\x0a[error] forged\\x0d\\x0a");
  EXPECT_EQ(LogEscape(std::string("\x1b[31mred\t\x7f\0z", 12)), "\\x1b[31mred\\x09\\x7f\\x00z");
}

TEST(LogEscapeTest, QuotesAndBackslashesAreEscaped) {
  EXPECT_EQ(LogEscape(R"(x" is fine; "y\)"), R"(x\" is fine; \"y\\)");
}

TEST(LogEscapeTest, NonAsciiBytesBecomeHex) {
  // U+2028 LINE SEPARATOR, which some viewers break lines at.
  EXPECT_EQ(LogEscape("a\xe2\x80\xa8z"), "a\\xe2\\x80\\xa8z");
}

TEST(LogEscapeTest, LongValuesAreCappedAndSayTheirLength) {
  const std::string long_value(1000, 'q');
  EXPECT_EQ(LogEscape(long_value), std::string(kLogEscapeMaxBytes, 'q') + "...(1000 bytes)");
  EXPECT_EQ(LogEscape("abcdef", 3), "abc...(6 bytes)");
  EXPECT_EQ(LogEscape("abc", 3), "abc");
}

TEST(LogRateLimiterTest, AtMostNPerKeyPerSecondThenSaysHowManyWereSuppressed) {
  std::chrono::steady_clock::time_point now{};
  LogRateLimiter limiter(3, [&] { return now; });
  uint64_t suppressed = 99;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(limiter.Allow("agency-a", &suppressed)) << i;
    EXPECT_EQ(suppressed, 0u);
  }
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limiter.Allow("agency-a", &suppressed)) << i;
  // Another agency has its own allowance.
  ASSERT_TRUE(limiter.Allow("agency-b", &suppressed));
  EXPECT_EQ(suppressed, 0u);
  now += std::chrono::milliseconds(999);
  EXPECT_FALSE(limiter.Allow("agency-a", &suppressed));
  now += std::chrono::milliseconds(1);
  ASSERT_TRUE(limiter.Allow("agency-a", &suppressed));
  EXPECT_EQ(suppressed, 6u) << "the first line of the new window reports the lines held back";
  ASSERT_TRUE(limiter.Allow("agency-a", &suppressed));
  EXPECT_EQ(suppressed, 0u) << "the count is reported once";
}

}  // namespace
}  // namespace refx
