// EncodeFrameItems: frames written around referrals and appends without
// copying them into a Frame must be byte for byte what protobuf writes for
// the equivalent Frame (the broker reads either the same way).
#include "client/frame_items.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/frame_codec.h"

namespace refx {
namespace {

// A synthetic referral with nested messages, repeated fields and long text.
v1::Referral SyntheticReferral(int n) {
  v1::Referral r;
  r.set_referrer_reference("KP-" + std::to_string(n));
  r.set_category(v1::DOMESTIC_ABUSE);
  r.add_criteria_met("VHR14");
  r.add_criteria_met("REPEAT");
  r.mutable_person()->set_given_name("Alex");
  r.mutable_person()->set_age_years(30 + static_cast<uint32_t>(n));
  r.mutable_person()->set_family_name("Synthetic" + std::to_string(n));
  r.mutable_person()->set_address(std::string(300, 'a' + static_cast<char>(n % 26)));
  r.set_narrative(std::string(600, 'n'));
  return r;
}

v1::Frame Head(uint64_t correlation_id, const std::string& on_behalf_of) {
  v1::Frame head;
  head.set_correlation_id(correlation_id);
  head.set_on_behalf_of(on_behalf_of);
  return head;
}

TEST(FrameItemsTest, ASubmitIsProtobufsOwnBytes) {
  const v1::Referral referral = SyntheticReferral(1);
  v1::Frame frame = Head(42, "");
  *frame.mutable_submit()->mutable_referral() = referral;
  std::string bytes = "left over";
  EncodeFrameItems(Head(42, ""), v1::Frame::kSubmitFieldNumber, v1::SubmitRequest::kReferralFieldNumber,
                   {referral}, &bytes);
  EXPECT_EQ(bytes, EncodeFrame(frame));
}

TEST(FrameItemsTest, ABatchOfMessagesOrOfTheirBytesIsProtobufsOwnBytes) {
  std::vector<v1::Referral> referrals;
  for (int n = 0; n < 5; ++n) referrals.push_back(SyntheticReferral(n));
  referrals.push_back(v1::Referral());  // an empty one: a tag and a zero length
  v1::Frame frame = Head(7, "kent-police/officer-1");
  for (const v1::Referral& r : referrals) *frame.mutable_submit_batch()->add_referrals() = r;
  std::vector<std::string> serialised;
  for (const v1::Referral& r : referrals) serialised.push_back(r.SerializeAsString());
  const std::vector<FrameItem> as_messages = FrameItemsOf(referrals, 0, referrals.size());
  std::vector<std::string_view> views(serialised.begin(), serialised.end());
  const std::vector<FrameItem> as_bytes = FrameItemsOf(views, 0, views.size());
  std::string bytes;
  EncodeFrameItems(Head(7, "kent-police/officer-1"), v1::Frame::kSubmitBatchFieldNumber,
                   v1::SubmitBatchRequest::kReferralsFieldNumber, as_messages, &bytes);
  EXPECT_EQ(bytes, EncodeFrame(frame));
  EncodeFrameItems(Head(7, "kent-police/officer-1"), v1::Frame::kSubmitBatchFieldNumber,
                   v1::SubmitBatchRequest::kReferralsFieldNumber, as_bytes, &bytes);
  EXPECT_EQ(bytes, EncodeFrame(frame));
}

TEST(FrameItemsTest, AnAppendBatchAndAnEmptyBatchAreProtobufsOwnBytes) {
  std::vector<v1::AppendRequest> appends(2);
  appends[0].set_idempotency_key("route-1");
  appends[0].mutable_event()->mutable_case_routed()->set_referral_id("R-0000000001");
  appends[0].mutable_event()->mutable_case_routed()->set_destination("DA_MARAC");
  appends[1].set_idempotency_key("route-2");
  appends[1].mutable_event()->mutable_case_routed()->set_referral_id("R-0000000001");
  appends[1].mutable_event()->mutable_case_routed()->set_destination("IDVA");
  v1::Frame frame = Head(300, "");
  for (const v1::AppendRequest& a : appends) *frame.mutable_append_batch()->add_appends() = a;
  std::string bytes;
  EncodeFrameItems(Head(300, ""), v1::Frame::kAppendBatchFieldNumber, v1::AppendBatchRequest::kAppendsFieldNumber,
                   FrameItemsOf(appends, 0, 2), &bytes);
  EXPECT_EQ(bytes, EncodeFrame(frame));

  v1::Frame empty = Head(1, "");
  empty.mutable_submit_batch();
  EncodeFrameItems(Head(1, ""), v1::Frame::kSubmitBatchFieldNumber, v1::SubmitBatchRequest::kReferralsFieldNumber, {},
                   &bytes);
  EXPECT_EQ(bytes, EncodeFrame(empty));
}

}  // namespace
}  // namespace refx
