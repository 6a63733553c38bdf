// ReadRequest.bodies and ReadRequest.form through the real broker binary
// over TCP with CURVE, on a log whose personal fields are sealed: a read of
// some kinds of event gets only those (and learns how far the broker
// looked), READ_FORM_OPENED sends each event once as the reader may see it,
// READ_FORM_STORED the stored bytes without opening them, and a body number
// or form that does not exist is refused naming the field.
#include <gtest/gtest.h>

#include <google/protobuf/util/time_util.h>

#include "test_stack.h"

namespace refx::testing {
namespace {

constexpr char kDestinations[] = R"(
destinations { code: "DEST_A" name: "A panel" agency_id: "lead-a" need_to_know: [SUBJECT_IDENTITY, ASSESSMENT] purpose: "risk panel" }
)";

std::vector<AgencySpec> Agencies() {
  return {{"agency-a", {"SUBMITTER"}, {}}, {"lead-a", {"LEAD"}, {}}, {"router", {"SERVICE"}, {}}};
}

struct Read {
  Status status;
  std::vector<v1::Event> events;      // as BrokerClient::Read parsed them
  std::vector<std::string> bytes;     // the bytes it passed beside them
  std::vector<std::string> hashes;
  uint64_t scanned_to = 0;
};

class ReadFormTest : public ::testing::Test {
 protected:
  ReadFormTest() : stack_(Agencies(), "", kDestinations) {}
  void SetUp() override {
    ASSERT_TRUE(stack_.StartBroker());
    service_ = stack_.ClientFor("router");
    v1::Ack ack;
    ASSERT_TRUE(stack_.ClientFor("agency-a")->Submit(SampleReferral("agency-a", "RF-1"), &ack).ok());
    referral_ = ack.referral_id();
    v1::Event routed;
    auto* r = routed.mutable_case_routed();
    r->set_referral_id(referral_);
    r->set_destination("DEST_A");
    r->set_rule_id("TEST_RULE");
    r->set_reason("test reason");
    *r->mutable_deadline() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1800000000);
    ASSERT_TRUE(service_->Append(routed, "route:" + referral_ + ":DEST_A", &ack).ok());
    v1::Event delivered;
    delivered.mutable_case_delivered()->set_referral_id(referral_);
    delivered.mutable_case_delivered()->set_destination("DEST_A");
    delivered.mutable_case_delivered()->set_attempt(1);
    ASSERT_TRUE(service_->Append(delivered, "deliver:" + referral_ + ":DEST_A:1", &ack).ok());
    head_ = ack.seq();
  }

  // Reads the whole log (not following) as the router service.
  Read ReadAll(const std::vector<int>& bodies, v1::ReadForm form = v1::READ_FORM_STORED_AND_OPENED) {
    v1::ReadRequest request;
    for (int b : bodies) request.add_bodies(b);
    request.set_form(form);
    Read out;
    auto client = stack_.ClientFor("router");
    out.status = client->Read(request, [&](const v1::Event& e, const std::string& bytes, const std::string& hash) {
      out.events.push_back(e);
      out.bytes.push_back(bytes);
      out.hashes.push_back(hash);
      return true;
    });
    out.scanned_to = client->scanned_to_seq();
    return out;
  }

  TestStack stack_;
  std::unique_ptr<BrokerClient> service_;
  std::string referral_;
  uint64_t head_ = 0;
};

v1::Event Parse(const std::string& bytes) {
  v1::Event e;
  EXPECT_TRUE(e.ParseFromString(bytes));
  return e;
}

TEST_F(ReadFormTest, BodiesSendOnlyThoseKindsAndTheReadPassesTheRest) {
  const Read all = ReadAll({});
  ASSERT_TRUE(all.status.ok()) << all.status.ToString();
  ASSERT_GE(all.events.size(), 3u);

  const Read routed = ReadAll({v1::Event::kCaseRoutedFieldNumber});
  ASSERT_TRUE(routed.status.ok()) << routed.status.ToString();
  ASSERT_EQ(routed.events.size(), 1u);
  EXPECT_TRUE(routed.events[0].has_case_routed());
  EXPECT_EQ(routed.events[0].case_routed().referral_id(), referral_);
  // The case_delivered after it was looked at and skipped.
  EXPECT_EQ(routed.scanned_to, head_);

  const Read two = ReadAll({v1::Event::kReferralSubmittedFieldNumber, v1::Event::kCaseDeliveredFieldNumber});
  ASSERT_TRUE(two.status.ok()) << two.status.ToString();
  ASSERT_EQ(two.events.size(), 2u);
  EXPECT_TRUE(two.events[0].has_referral_submitted());
  EXPECT_TRUE(two.events[1].has_case_delivered());
}

TEST_F(ReadFormTest, FormsSendStoredOpenedOrBoth) {
  const std::vector<int> sealed_kinds = {v1::Event::kReferralSubmittedFieldNumber,
                                         v1::Event::kCaseDeliveredFieldNumber};
  const Read both = ReadAll(sealed_kinds);
  const Read opened = ReadAll(sealed_kinds, v1::READ_FORM_OPENED);
  const Read stored = ReadAll(sealed_kinds, v1::READ_FORM_STORED);
  for (const Read* r : {&both, &opened, &stored}) {
    ASSERT_TRUE(r->status.ok()) << r->status.ToString();
    ASSERT_EQ(r->events.size(), 2u);
  }
  for (size_t i = 0; i < 2; ++i) {
    // The default: stored (sealed) bytes, the event opened beside them.
    EXPECT_TRUE(Parse(both.bytes[i]).has_sealed()) << i;
    EXPECT_FALSE(both.events[i].has_sealed()) << i;
    // Opened: one copy, the opened one; the chain hash is still the stored event's.
    EXPECT_FALSE(Parse(opened.bytes[i]).has_sealed()) << i;
    EXPECT_EQ(opened.events[i].SerializeAsString(), both.events[i].SerializeAsString()) << i;
    EXPECT_EQ(opened.hashes[i], both.hashes[i]) << i;
    // Stored: the stored bytes, nothing opened.
    EXPECT_EQ(stored.bytes[i], both.bytes[i]) << i;
    EXPECT_TRUE(stored.events[i].has_sealed()) << i;
    EXPECT_EQ(stored.hashes[i], both.hashes[i]) << i;
  }
  // The personal fields: there when opened, absent as stored.
  EXPECT_EQ(opened.events[0].referral_submitted().referral().person().given_name(), "Alex");
  EXPECT_EQ(both.events[0].referral_submitted().referral().person().given_name(), "Alex");
  EXPECT_TRUE(stored.events[0].referral_submitted().referral().person().given_name().empty());
  EXPECT_FALSE(opened.events[1].case_delivered().view().person().given_name().empty());
  EXPECT_TRUE(stored.events[1].case_delivered().view().person().given_name().empty());
  // The clear fields a service acts on are in the stored form.
  EXPECT_EQ(stored.events[1].case_delivered().referral_id(), referral_);
  EXPECT_EQ(stored.events[1].case_delivered().destination(), "DEST_A");
  EXPECT_EQ(stored.events[1].case_delivered().attempt(), 1u);
}

TEST_F(ReadFormTest, UnknownBodiesAndFormsAreRefusedByName) {
  const Read not_body = ReadAll({v1::Event::kCaseRoutedFieldNumber, v1::Event::kSealedFieldNumber});
  EXPECT_EQ(not_body.status.code(), Status::Code::kInvalidArgument) << not_body.status.ToString();
  EXPECT_EQ(not_body.status.field_path(), "read.bodies[1]");
  EXPECT_TRUE(not_body.events.empty());

  const Read no_field = ReadAll({5});
  EXPECT_EQ(no_field.status.code(), Status::Code::kInvalidArgument) << no_field.status.ToString();
  EXPECT_EQ(no_field.status.field_path(), "read.bodies[0]");

  const Read bad_form = ReadAll({}, static_cast<v1::ReadForm>(7));
  EXPECT_EQ(bad_form.status.code(), Status::Code::kInvalidArgument) << bad_form.status.ToString();
  EXPECT_EQ(bad_form.status.field_path(), "read.form");
}

TEST_F(ReadFormTest, ALeadsReadByKindSeesOnlyItsOwnCases) {
  // Bodies narrow what a lead may see; they never widen it: the raw
  // submission stays hidden from a lead that asks for it by kind.
  v1::ReadRequest request;
  request.add_bodies(v1::Event::kReferralSubmittedFieldNumber);
  request.add_bodies(v1::Event::kCaseDeliveredFieldNumber);
  request.set_form(v1::READ_FORM_OPENED);
  std::vector<v1::Event> seen;
  Status s = stack_.ClientFor("lead-a")->Read(request, [&](const v1::Event& e, const std::string&, const std::string&) {
    seen.push_back(e);
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].has_case_delivered());
}

}  // namespace
}  // namespace refx::testing
