// Named people acting through a CONSOLE identity (Frame.on_behalf_of): the
// broker checks each request against the person's own rights, records the
// person on every event it writes for them, and refuses (writing nothing)
// what the person may not do. Real broker binary, CURVE on.
#include <gtest/gtest.h>

#include <google/protobuf/util/time_util.h>

#include <string>
#include <vector>

#include "core/event_util.h"
#include "log_reader.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

// lead-a owns DEST_A and DEST_A2; ann works only DEST_A, cat DEST_A and
// DEST_A2, bob (of lead-b) DEST_B; dan is disabled.
constexpr char kPartnership[] = R"(
destinations { code: "DEST_A" name: "A panel" agency_id: "lead-a" need_to_know: [SUBJECT_IDENTITY] purpose: "risk panel" }
destinations { code: "DEST_A2" name: "A service" agency_id: "lead-a" need_to_know: [SUBJECT_IDENTITY] purpose: "support" }
destinations { code: "DEST_B" name: "B service" agency_id: "lead-b" need_to_know: [SUBJECT_IDENTITY] purpose: "support" }
outcome_codes { code: "NFA" }
people { id: "ann" name: "Ann Lead" agency_id: "lead-a" roles: LEAD destinations: "DEST_A" }
people { id: "cat" name: "Cat Lead" agency_id: "lead-a" roles: LEAD destinations: ["DEST_A", "DEST_A2"] }
people { id: "bob" name: "Bob Lead" agency_id: "lead-b" roles: LEAD destinations: "DEST_B" }
people { id: "dan" name: "Dan Lead" agency_id: "lead-a" roles: LEAD destinations: "DEST_A" disabled: true }
people { id: "ida" name: "Ida Auditor" agency_id: "auditor" roles: AUDITOR }
people { id: "adm" name: "Adm Admin" agency_id: "admin" roles: ADMIN }
)";

std::vector<AgencySpec> Agencies() {
  return {{"agency-a", {"SUBMITTER"}, {}}, {"lead-a", {"LEAD"}, {}},    {"lead-b", {"LEAD"}, {}},
          {"router", {"SERVICE"}, {}},     {"auditor", {"AUDITOR"}, {}}, {"console", {"CONSOLE"}, {}},
          {"admin", {"ADMIN"}, {}}};
}

class PeopleTest : public ::testing::Test {
 protected:
  PeopleTest() : stack_(Agencies(), "", kPartnership) {}
  void SetUp() override {
    ASSERT_TRUE(stack_.StartBroker());
    submitter_ = stack_.ClientFor("agency-a");
    service_ = stack_.ClientFor("router");
    console_ = stack_.ClientFor("console");
    v1::Ack ack;
    ASSERT_TRUE(submitter_->Submit(SampleReferral("agency-a", "P-1"), &ack).ok());
    referral_ = ack.referral_id();
    for (const char* dest : {"DEST_A", "DEST_A2", "DEST_B"}) {
      v1::Event routed;
      auto* r = routed.mutable_case_routed();
      r->set_referral_id(referral_);
      r->set_destination(dest);
      r->set_rule_id("TEST_RULE");
      *r->mutable_deadline() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1800000000);
      ASSERT_TRUE(service_->Append(routed, "", &ack).ok());
      v1::Event delivered;
      delivered.mutable_case_delivered()->set_referral_id(referral_);
      delivered.mutable_case_delivered()->set_destination(dest);
      ASSERT_TRUE(service_->Append(delivered, "", &ack).ok());
    }
  }

  v1::Event Ack(const std::string& dest) {
    v1::Event e;
    e.mutable_case_acknowledged()->set_referral_id(referral_);
    e.mutable_case_acknowledged()->set_destination(dest);
    return e;
  }
  v1::Event Assign(const std::string& dest, const std::string& to, const std::string& from = "") {
    v1::Event e;
    auto* a = e.mutable_case_assigned();
    a->set_referral_id(referral_);
    a->set_destination(dest);
    a->set_assignee(to);
    a->set_previous_assignee(from);
    return e;
  }
  // Sends an append on behalf of `person` through `client`; the reply frame.
  v1::Frame AppendFor(BrokerClient* client, const std::string& person, const v1::Event& event) {
    v1::Frame request, reply;
    request.set_on_behalf_of(person);
    *request.mutable_append()->mutable_event() = event;
    Status s = client->Call(request, &reply);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return reply;
  }
  uint64_t Head() {
    v1::Frame request, reply;
    request.mutable_heartbeat();
    EXPECT_TRUE(service_->Call(request, &reply).ok());
    return reply.heartbeat().head_seq();
  }
  // Every event of the log, read as the router (which sees all).
  std::vector<v1::Event> AllEvents() {
    std::vector<v1::Event> events;
    v1::ReadRequest r;
    EXPECT_TRUE(service_->Read(r, [&](const v1::Event& e, const std::string&, const std::string&) {
                          events.push_back(e);
                          return true;
                        }).ok());
    return events;
  }
  static void ExpectRefused(const v1::Frame& reply, v1::ErrorCode code, const std::string& words) {
    ASSERT_TRUE(reply.has_error()) << reply.ShortDebugString();
    EXPECT_EQ(reply.error().code(), code) << reply.error().message();
    EXPECT_NE(reply.error().message().find(words), std::string::npos) << reply.error().message();
  }
  v1::CaseRecord CaseAs(BrokerClient* client, const std::string& dest) {
    v1::QueryRequest q;
    q.set_referral_id(referral_);
    v1::QueryResult result;
    EXPECT_TRUE(client->Query(q, &result).ok());
    for (const auto& c : result.cases()) {
      if (c.destination() == dest) return c;
    }
    return v1::CaseRecord();
  }

  TestStack stack_;
  std::unique_ptr<BrokerClient> submitter_, service_, console_;
  std::string referral_;
};

TEST_F(PeopleTest, ConsoleActingForALeadAcknowledgesAndTheEventNamesThePerson) {
  v1::Frame reply = AppendFor(console_.get(), "ann", Ack("DEST_A"));
  ASSERT_TRUE(reply.has_ack()) << reply.ShortDebugString();
  const std::vector<v1::Event> events = AllEvents();
  ASSERT_FALSE(events.empty());
  const v1::Event& last = events.back();
  EXPECT_EQ(last.seq(), reply.ack().seq());
  ASSERT_TRUE(last.has_case_acknowledged());
  EXPECT_EQ(last.person(), "ann");
  // The actor is the person's agency (proto/README.md), as if its lead had
  // acknowledged; the person says who.
  EXPECT_EQ(last.actor(), "lead-a");
  // Events not made for a person have none, even if the client names one.
  v1::Event forged = Ack("DEST_B");
  forged.set_person("ann");
  v1::Ack ack;
  auto lead_b = stack_.ClientFor("lead-b");
  ASSERT_TRUE(lead_b->Append(forged, "", &ack).ok());
  const v1::Event after = AllEvents().back();
  EXPECT_EQ(after.seq(), ack.seq());
  EXPECT_EQ(after.person(), "");
  LogContents log = StopAndCheckLog(stack_, ack.seq());
  (void)log;
}

TEST_F(PeopleTest, ALeadIsRefusedOnCasesOutsideTheDestinationsTheyWorkAndNothingIsWritten) {
  const uint64_t head = Head();
  // DEST_B belongs to another agency; DEST_A2 to ann's own agency, but ann
  // does not work it.
  ExpectRefused(AppendFor(console_.get(), "ann", Ack("DEST_B")), v1::PERMISSION_DENIED, "does not work");
  ExpectRefused(AppendFor(console_.get(), "ann", Ack("DEST_A2")), v1::PERMISSION_DENIED, "does not work");
  // A person may not append what only services or submitters do.
  v1::Event withdraw;
  withdraw.mutable_referral_withdrawn()->set_referral_id(referral_);
  withdraw.mutable_referral_withdrawn()->set_reason("test");
  ExpectRefused(AppendFor(console_.get(), "ann", withdraw), v1::PERMISSION_DENIED, "may not append");
  // An admin person acts on no case; an auditor person neither.
  ExpectRefused(AppendFor(console_.get(), "adm", Ack("DEST_A")), v1::PERMISSION_DENIED, "not a LEAD");
  ExpectRefused(AppendFor(console_.get(), "ida", Ack("DEST_A")), v1::PERMISSION_DENIED, "not a LEAD");
  EXPECT_EQ(Head(), head);
  // cat works DEST_A2.
  EXPECT_TRUE(AppendFor(console_.get(), "cat", Ack("DEST_A2")).has_ack());
  EXPECT_EQ(Head(), head + 1);
}

TEST_F(PeopleTest, OnBehalfOfFromANonConsoleIdentityOrForAnUnknownOrDisabledPersonIsRefused) {
  const uint64_t head = Head();
  auto lead_a = stack_.ClientFor("lead-a");
  ExpectRefused(AppendFor(lead_a.get(), "ann", Ack("DEST_A")), v1::PERMISSION_DENIED, "only from a CONSOLE");
  ExpectRefused(AppendFor(service_.get(), "ann", Ack("DEST_A")), v1::PERMISSION_DENIED, "only from a CONSOLE");
  ExpectRefused(AppendFor(console_.get(), "nobody", Ack("DEST_A")), v1::PERMISSION_DENIED, "no configured person");
  ExpectRefused(AppendFor(console_.get(), "dan", Ack("DEST_A")), v1::PERMISSION_DENIED, "disabled");
  // Reads too.
  v1::Frame request, reply;
  request.set_on_behalf_of("dan");
  request.mutable_query()->set_referral_id(referral_);
  ASSERT_TRUE(console_->Call(request, &reply).ok());
  ExpectRefused(reply, v1::PERMISSION_DENIED, "disabled");
  // Submissions are never made on behalf of a person.
  request.Clear();
  request.set_on_behalf_of("ann");
  *request.mutable_submit()->mutable_referral() = SampleReferral("console", "P-X");
  ASSERT_TRUE(console_->Call(request, &reply).ok());
  ExpectRefused(reply, v1::PERMISSION_DENIED, "on behalf of a person");
  // The console as itself may not act on cases.
  v1::Ack ack;
  EXPECT_EQ(console_->Append(Ack("DEST_A"), "", &ack).code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(Head(), head);
}

TEST_F(PeopleTest, ReadsAndQueriesForALeadShowOnlyTheDestinationsTheyWork) {
  ClientOptions options = stack_.ClientOptionsFor("console");
  options.on_behalf_of = "ann";
  BrokerClient ann(options);
  v1::QueryRequest q;
  q.set_referral_id(referral_);
  v1::QueryResult result;
  ASSERT_TRUE(ann.Query(q, &result).ok());
  ASSERT_EQ(result.cases_size(), 1);
  EXPECT_EQ(result.cases(0).destination(), "DEST_A");
  q.Clear();
  q.set_destination("DEST_A2");
  EXPECT_EQ(ann.Query(q, &result).code(), Status::Code::kPermissionDenied);

  std::vector<v1::Event> seen;
  v1::ReadRequest r;
  ASSERT_TRUE(ann.Read(r, [&](const v1::Event& e, const std::string&, const std::string&) {
                   seen.push_back(e);
                   return true;
                 }).ok());
  ASSERT_FALSE(seen.empty());
  for (const v1::Event& e : seen) EXPECT_EQ(DestinationOf(e), "DEST_A") << e.ShortDebugString();

  // Opening a case with a purpose is recorded, naming the person.
  const uint64_t head = Head();
  v1::Frame request, reply;
  request.set_on_behalf_of("ann");
  request.mutable_query()->set_referral_id(referral_);
  request.mutable_query()->set_purpose("case page");
  ASSERT_TRUE(console_->Call(request, &reply).ok());
  ASSERT_TRUE(reply.has_query_result()) << reply.ShortDebugString();
  EXPECT_EQ(reply.query_result().cases_size(), 1);
  const v1::Event last = AllEvents().back();
  EXPECT_EQ(last.seq(), head + 1);
  ASSERT_TRUE(last.has_record_accessed());
  EXPECT_EQ(last.person(), "ann");
  EXPECT_EQ(last.record_accessed().purpose(), "case page");
  ASSERT_EQ(last.record_accessed().referral_ids_size(), 1);
  EXPECT_EQ(last.record_accessed().referral_ids(0), referral_);
}

TEST_F(PeopleTest, AnAuditorPersonsReadNeedsAPurposeAndIsRecordedWithThePerson) {
  const uint64_t head = Head();
  ClientOptions options = stack_.ClientOptionsFor("console");
  options.on_behalf_of = "ida";
  BrokerClient ida(options);
  v1::ReadRequest r;
  r.set_referral_id(referral_);
  Status s = ida.Read(r, [](const v1::Event&, const std::string&, const std::string&) { return true; });
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(Head(), head);
  r.set_purpose("subject access request 12");
  std::vector<v1::Event> seen;
  s = ida.Read(r, [&](const v1::Event& e, const std::string&, const std::string&) {
    seen.push_back(e);
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  // The auditor sees the whole referral: the submission and every case.
  EXPECT_GE(seen.size(), 7u);
  const v1::Event last = AllEvents().back();
  EXPECT_EQ(last.seq(), head + 1);
  ASSERT_TRUE(last.has_record_accessed());
  EXPECT_EQ(last.person(), "ida");
  EXPECT_EQ(last.actor(), "auditor");
  EXPECT_EQ(last.record_accessed().purpose(), "subject access request 12");
  // An admin person reads nothing.
  options.on_behalf_of = "adm";
  BrokerClient adm(options);
  s = adm.Read(r, [](const v1::Event&, const std::string&, const std::string&) { return true; });
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << s.ToString();
}

TEST_F(PeopleTest, AssignmentAndHandOver) {
  const uint64_t head = Head();
  // To someone who does not work the destination, a disabled or unknown
  // person: refused.
  ExpectRefused(AppendFor(console_.get(), "ann", Assign("DEST_A", "bob")), v1::INVALID_ARGUMENT, "bob");
  ExpectRefused(AppendFor(console_.get(), "ann", Assign("DEST_A", "dan")), v1::INVALID_ARGUMENT, "dan");
  ExpectRefused(AppendFor(console_.get(), "ann", Assign("DEST_A", "zed")), v1::INVALID_ARGUMENT, "zed");
  // A first assignment names no previous assignee.
  ExpectRefused(AppendFor(console_.get(), "ann", Assign("DEST_A", "ann", "cat")), v1::ILLEGAL_TRANSITION,
                "not assigned yet");
  EXPECT_EQ(Head(), head);
  v1::Frame reply = AppendFor(console_.get(), "ann", Assign("DEST_A", "ann"));
  ASSERT_TRUE(reply.has_ack()) << reply.ShortDebugString();
  EXPECT_EQ(CaseAs(service_.get(), "DEST_A").assignee(), "ann");
  // A hand-over must name the current assignee.
  ExpectRefused(AppendFor(console_.get(), "ann", Assign("DEST_A", "cat")), v1::ILLEGAL_TRANSITION, "\"ann\"");
  reply = AppendFor(console_.get(), "ann", Assign("DEST_A", "cat", "ann"));
  ASSERT_TRUE(reply.has_ack()) << reply.ShortDebugString();
  EXPECT_EQ(CaseAs(service_.get(), "DEST_A").assignee(), "cat");
  const v1::Event last = AllEvents().back();
  ASSERT_TRUE(last.has_case_assigned());
  EXPECT_EQ(last.person(), "ann");
  EXPECT_EQ(last.case_assigned().assignee(), "cat");
  EXPECT_EQ(last.case_assigned().previous_assignee(), "ann");
  // The agency's own lead may assign too (no person recorded); another
  // agency may not.
  v1::Ack ack;
  auto lead_b = stack_.ClientFor("lead-b");
  EXPECT_EQ(lead_b->Append(Assign("DEST_A", "ann", "cat"), "", &ack).code(), Status::Code::kPermissionDenied);
  auto lead_a = stack_.ClientFor("lead-a");
  ASSERT_TRUE(lead_a->Append(Assign("DEST_A", "ann", "cat"), "", &ack).ok());
  EXPECT_EQ(CaseAs(service_.get(), "DEST_A").assignee(), "ann");
  StopAndCheckLog(stack_, head + 3);
}

TEST_F(PeopleTest, AccountActivityIsTakenOnlyFromTheConsole) {
  const uint64_t head = Head();
  v1::Event signed_in;
  signed_in.mutable_account_activity()->set_kind(v1::AccountActivity::SIGNED_IN);
  signed_in.mutable_account_activity()->set_account("ann");
  v1::Ack ack;
  auto lead_a = stack_.ClientFor("lead-a");
  EXPECT_EQ(lead_a->Append(signed_in, "", &ack).code(), Status::Code::kPermissionDenied);
  // A free-typed name is never recorded.
  v1::Event failed;
  failed.mutable_account_activity()->set_kind(v1::AccountActivity::SIGN_IN_FAILED);
  failed.mutable_account_activity()->set_account("hunter2");
  EXPECT_EQ(console_->Append(failed, "", &ack).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Head(), head);
  failed.mutable_account_activity()->set_account("unknown");
  ASSERT_TRUE(console_->Append(failed, "", &ack).ok());
  v1::Frame reply = AppendFor(console_.get(), "ann", signed_in);
  ASSERT_TRUE(reply.has_ack()) << reply.ShortDebugString();
  const std::vector<v1::Event> events = AllEvents();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[events.size() - 2].actor(), "console");
  EXPECT_EQ(events[events.size() - 2].person(), "");
  EXPECT_EQ(events.back().person(), "ann");
  EXPECT_EQ(events.back().account_activity().kind(), v1::AccountActivity::SIGNED_IN);
  StopAndCheckLog(stack_, head + 2);
}

}  // namespace
}  // namespace refx::testing
