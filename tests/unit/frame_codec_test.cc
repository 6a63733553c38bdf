// Unit tests for the wire frame codec (core/frame_codec.h).

#include "core/frame_codec.h"

#include <gtest/gtest.h>
#include <google/protobuf/util/message_differencer.h>

#include <string>

#include "tests/unit/test_util.h"

namespace refx {
namespace {

using google::protobuf::util::MessageDifferencer;

constexpr size_t kMax = 262144;

v1::Frame SubmitFrame() {
  v1::Frame f;
  f.set_correlation_id(17);
  v1::Referral* r = f.mutable_submit()->mutable_referral();
  r->set_referrer_reference("KP-2026-0001");
  r->set_category(v1::DOMESTIC_ABUSE);
  r->mutable_referrer()->set_agency_id("kent-police");
  r->mutable_person()->set_given_name("Alex");
  r->mutable_person()->set_family_name("Example");
  return f;
}

Status Decode(const std::string& bytes, size_t max_bytes, v1::Frame* out) {
  return DecodeFrame(bytes.data(), bytes.size(), max_bytes, out);
}

TEST(FrameCodecTest, EncodeThenDecodeRoundTrips) {
  const v1::Frame in = SubmitFrame();
  const std::string bytes = EncodeFrame(in);
  ASSERT_FALSE(bytes.empty());
  v1::Frame out;
  Status s = Decode(bytes, kMax, &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(MessageDifferencer::Equals(in, out)) << out.DebugString();
  EXPECT_EQ(out.body_case(), v1::Frame::kSubmit);
}

TEST(FrameCodecTest, FrameAtTheLimitIsAccepted) {
  const std::string bytes = EncodeFrame(SubmitFrame());
  v1::Frame out;
  Status s = Decode(bytes, bytes.size(), &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(FrameCodecTest, OversizeFrameIsRefusedWithoutParsing) {
  const std::string bytes = EncodeFrame(SubmitFrame());
  v1::Frame out;
  out.set_correlation_id(99);
  out.mutable_heartbeat()->set_head_seq(5);
  Status s = Decode(bytes, bytes.size() - 1, &out);
  EXPECT_EQ(s.code(), Status::Code::kFrameTooLarge) << s.ToString();
  // Not parsed: *out is untouched (parsing would have replaced it).
  EXPECT_EQ(out.correlation_id(), 99u);
  EXPECT_EQ(out.body_case(), v1::Frame::kHeartbeat);

  // Garbage that is too large is also FrameTooLarge, not MalformedFrame: the
  // size is checked first.
  const std::string garbage(kMax + 1, '\xff');
  s = Decode(garbage, kMax, &out);
  EXPECT_EQ(s.code(), Status::Code::kFrameTooLarge) << s.ToString();
  EXPECT_EQ(out.correlation_id(), 99u);
}

TEST(FrameCodecTest, GarbageIsMalformed) {
  const std::string cases[] = {
      std::string("\xff\xff\xff\xff", 4),   // invalid tag
      std::string("\x0f", 1),               // field 1, wire type 7 (invalid)
      std::string("\x52\x10", 2) + "abc",   // submit (field 10) claims 16 bytes, has 3
      std::string("\x08", 1),               // correlation_id tag without its varint
      "not a protobuf at all, just text"};
  for (const std::string& bytes : cases) {
    v1::Frame out;
    Status s = Decode(bytes, kMax, &out);
    EXPECT_EQ(s.code(), Status::Code::kMalformedFrame) << s.ToString() << " for " << bytes.size() << " bytes";
  }
  // A valid frame cut short.
  const std::string whole = EncodeFrame(SubmitFrame());
  v1::Frame out;
  Status s = Decode(whole.substr(0, whole.size() - 3), kMax, &out);
  EXPECT_EQ(s.code(), Status::Code::kMalformedFrame) << s.ToString();
}

TEST(FrameCodecTest, FrameWithoutBodyIsUnsupported) {
  v1::Frame out;
  // Empty frame: parses as an empty Frame, which has no body.
  Status s = DecodeFrame("", 0, kMax, &out);
  EXPECT_EQ(s.code(), Status::Code::kUnsupportedFrame) << s.ToString();

  // Only a correlation id.
  v1::Frame only_id;
  only_id.set_correlation_id(5);
  s = Decode(EncodeFrame(only_id), kMax, &out);
  EXPECT_EQ(s.code(), Status::Code::kUnsupportedFrame) << s.ToString();

  // A body this build does not know (field 99, length-delimited, empty).
  s = Decode(std::string("\x08\x05\x9a\x06\x00", 5), kMax, &out);
  EXPECT_EQ(s.code(), Status::Code::kUnsupportedFrame) << s.ToString();
}

// ---------------------------------------------------------------------------
// Error frames.

struct WireCase {
  Status::Code code;
  v1::ErrorCode wire;
};

TEST(FrameCodecTest, ErrorFrameAndStatusFromErrorRoundTripEveryWireCode) {
  const WireCase cases[] = {
      {Status::Code::kMalformedFrame, v1::MALFORMED_FRAME},
      {Status::Code::kUnsupportedFrame, v1::UNSUPPORTED_FRAME},
      {Status::Code::kFrameTooLarge, v1::FRAME_TOO_LARGE},
      {Status::Code::kInvalidArgument, v1::INVALID_ARGUMENT},
      {Status::Code::kPermissionDenied, v1::PERMISSION_DENIED},
      {Status::Code::kUnknownAgency, v1::UNKNOWN_AGENCY},
      {Status::Code::kIllegalTransition, v1::ILLEGAL_TRANSITION},
      {Status::Code::kNotFound, v1::NOT_FOUND},
      {Status::Code::kUnavailable, v1::UNAVAILABLE},
      {Status::Code::kInternal, v1::INTERNAL},
  };
  for (const WireCase& c : cases) {
    SCOPED_TRACE(Status::CodeName(c.code));
    const Status in(c.code, "must hold 24 answers, got 23", "referral.assessment.dash_answers");
    const v1::Frame frame = ErrorFrame(4242, in);
    EXPECT_EQ(frame.correlation_id(), 4242u);
    ASSERT_EQ(frame.body_case(), v1::Frame::kError);
    EXPECT_EQ(frame.error().code(), c.wire);
    EXPECT_EQ(frame.error().message(), in.message());
    EXPECT_EQ(frame.error().field_path(), in.field_path());

    // Through the wire and back.
    v1::Frame decoded;
    Status s = Decode(EncodeFrame(frame), kMax, &decoded);
    ASSERT_TRUE(s.ok()) << s.ToString();
    const Status out = StatusFromError(decoded.error());
    EXPECT_EQ(out.code(), c.code);
    EXPECT_EQ(out.message(), in.message());
    EXPECT_EQ(out.field_path(), in.field_path());
    EXPECT_EQ(out.ToString(), in.ToString());
  }
}

TEST(FrameCodecTest, ErrorWithoutFieldPathRoundTrips) {
  const Status in = Status::PermissionDenied("agency may not submit this category");
  const v1::Frame frame = ErrorFrame(1, in);
  EXPECT_EQ(frame.error().field_path(), "");
  const Status out = StatusFromError(frame.error());
  EXPECT_EQ(out.code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(out.message(), in.message());
  EXPECT_EQ(out.field_path(), "");
}

TEST(FrameCodecTest, LocalOnlyCodesTravelAsInternal) {
  for (Status::Code code : {Status::Code::kIoError, Status::Code::kCorruption, Status::Code::kTimeout}) {
    SCOPED_TRACE(Status::CodeName(code));
    const v1::Frame frame = ErrorFrame(3, Status(code, "disk trouble"));
    EXPECT_EQ(frame.error().code(), v1::INTERNAL);
    EXPECT_EQ(frame.error().message(), "disk trouble");
    EXPECT_EQ(StatusFromError(frame.error()).code(), Status::Code::kInternal);
  }
}

TEST(FrameCodecTest, UnspecifiedWireCodeBecomesInternal) {
  v1::Error e;
  e.set_message("no code");
  const Status s = StatusFromError(e);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kInternal);
  EXPECT_EQ(s.message(), "no code");
}

// A code this build does not know (proto3 enums are open, e.g. 55 from a
// newer broker) and the local-only numbers 100..102 must not become local
// status codes: like UNSPECIFIED they map to kInternal.
TEST(FrameCodecTest, UnknownWireCodesBecomeInternal) {
  for (int wire : {55, 100, 101, 102}) {
    SCOPED_TRACE(wire);
    v1::Error e;
    e.set_code(static_cast<v1::ErrorCode>(wire));
    e.set_message("from a newer broker");
    const Status s = StatusFromError(e);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.code(), Status::Code::kInternal) << s.ToString();
  }
}

TEST(FrameCodecTest, PeekCorrelationIdReadsTheFirstField) {
  v1::Frame f;
  f.set_correlation_id(300);  // a two-byte varint
  f.mutable_heartbeat();
  const std::string bytes = EncodeFrame(f);
  EXPECT_EQ(PeekCorrelationId(bytes.data(), bytes.size()), 300u);
  const std::string garbage = "\xff\x01junk";
  EXPECT_EQ(PeekCorrelationId(garbage.data(), garbage.size()), 0u);
  EXPECT_EQ(PeekCorrelationId("", 0), 0u);
}

}  // namespace
}  // namespace refx
