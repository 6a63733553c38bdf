// Unit tests for third-party redaction (core/third_parties.h): the person
// causing harm, the referrer's name and contact details and people linked
// to a context are replaced by the marker; the subject's data is kept.
#include "core/third_parties.h"

#include <gtest/gtest.h>

namespace refx {
namespace {

TEST(ThirdPartiesTest, RedactsOtherPeopleAndKeepsTheSubject) {
  v1::Event e;
  v1::Referral* r = e.mutable_referral_submitted()->mutable_referral();
  r->mutable_person()->set_given_name("Subjectname");
  r->mutable_person()->set_address("1 Example Road");
  r->set_narrative("narrative about the subject");
  r->mutable_referrer()->set_agency_id("kent-police");
  r->mutable_referrer()->set_role("PC");
  r->mutable_referrer()->set_name("Referrer Person");
  r->mutable_referrer()->set_email("ref@example.invalid");
  r->mutable_perpetrator()->set_name("Perp Person");
  r->mutable_perpetrator()->set_notes("notes");
  std::set<std::string> redacted;
  EXPECT_EQ(RedactThirdParties(&e, &redacted), 4);
  EXPECT_EQ(r->perpetrator().name(), kRedactedMarker);
  EXPECT_EQ(r->perpetrator().notes(), kRedactedMarker);
  EXPECT_EQ(r->referrer().name(), kRedactedMarker);
  EXPECT_EQ(r->referrer().email(), kRedactedMarker);
  EXPECT_TRUE(r->referrer().phone().empty()) << "an empty field stays empty";
  EXPECT_EQ(r->referrer().agency_id(), "kent-police");
  EXPECT_EQ(r->referrer().role(), "PC");
  EXPECT_EQ(r->person().given_name(), "Subjectname");
  EXPECT_EQ(r->person().address(), "1 Example Road");
  EXPECT_EQ(r->narrative(), "narrative about the subject");
  EXPECT_EQ(redacted, (std::set<std::string>{"refx.v1.Perpetrator.name", "refx.v1.Perpetrator.notes",
                                             "refx.v1.Referrer.name", "refx.v1.Referrer.email"}));
}

TEST(ThirdPartiesTest, RedactsDeliveredViewsAndLinkedPeople) {
  v1::Event e;
  v1::Referral* view = e.mutable_case_delivered()->mutable_view();
  view->mutable_context()->set_name("Example Park");
  view->mutable_context()->add_linked_people("Child One");
  view->mutable_context()->add_linked_people("Child Two");
  EXPECT_EQ(RedactThirdParties(&e, nullptr), 1);
  ASSERT_EQ(view->context().linked_people_size(), 2);
  EXPECT_EQ(view->context().linked_people(0), kRedactedMarker);
  EXPECT_EQ(view->context().linked_people(1), kRedactedMarker);
  EXPECT_EQ(view->context().name(), "Example Park");
  v1::Event other;
  other.mutable_case_acknowledged()->set_referral_id("R-0000000001");
  EXPECT_EQ(RedactThirdParties(&other, nullptr), 0);
}

}  // namespace
}  // namespace refx
