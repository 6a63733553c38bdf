// Unit tests for refx::MessageFromJson: strict JSON first (RFC 8259), with
// the place of the first error as LINE:COLUMN, then protobuf's mapping.
#include "core/json.h"

#include <gtest/gtest.h>

#include <string>

#include "refx/v1/referral.pb.h"

namespace refx {
namespace {

Status Parse(const std::string& text) {
  v1::Referral r;
  return MessageFromJson(text, &r);
}

TEST(JsonTest, StrictJsonIsAccepted) {
  v1::Referral r;
  ASSERT_TRUE(MessageFromJson("{\n  \"referrerReference\": \"KP-1\",\n  \"category\": \"DOMESTIC_ABUSE\"\n}", &r).ok());
  EXPECT_EQ(r.referrer_reference(), "KP-1");
  EXPECT_EQ(r.category(), v1::DOMESTIC_ABUSE);
}

// protobuf's own parser takes each of these; strict JSON does not.
TEST(JsonTest, UnquotedKeyIsRefusedWithLineAndColumn) {
  Status s = Parse("{\n  \"referrerReference\": \"KP-1\",\n  category: \"DOMESTIC_ABUSE\"\n}");
  ASSERT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("at 3:3"), std::string::npos) << s.message();
}

TEST(JsonTest, TrailingCommaIsRefusedWithLineAndColumn) {
  Status s = Parse("{\n  \"referrerReference\": \"KP-1\",\n  \"category\": \"DOMESTIC_ABUSE\",\n}");
  ASSERT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("at 4:1"), std::string::npos) << s.message();
}

// Found by fuzz/fuzz_json_referral.cc: a number beyond a double made the
// strict check throw out_of_range, which nothing caught: `refx submit`, the
// adapter's file drop and HTTP intake ended or answered 500.
TEST(JsonTest, NumberTooLargeIsRefusedNotThrown) {
  for (const char* text : {"{\"referrerReference\": 777777777778E7778}", "[1e999]", "-1e400"}) {
    Status s = Status::OK();
    EXPECT_NO_THROW(s = Parse(text)) << text;
    ASSERT_EQ(s.code(), Status::Code::kInvalidArgument) << text;
    EXPECT_NE(s.message().find("too large"), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find("7777"), std::string::npos) << "quotes the input: " << s.message();
  }
}

TEST(JsonTest, SingleQuotesAndCommentsAreRefused) {
  EXPECT_FALSE(Parse("{'referrerReference': 'KP-1'}").ok());
  EXPECT_FALSE(Parse("{\"referrerReference\": \"KP-1\" // note\n}").ok());
}

TEST(JsonTest, AnUnknownFieldIsNamedWithItsPlace) {
  Status s = Parse("{\n  \"referrerReference\": \"KP-1\",\n    \"catgory\": \"DOMESTIC_ABUSE\"\n}");
  ASSERT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("catgory"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("at 3:6"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace refx
