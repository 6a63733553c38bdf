// The case lifecycle as the broker enforces it: appends checked against the
// case's state and the actor's rights, need-to-know delivery views, reads
// filtered to what each identity may see, and case queries. Real broker
// binary, CURVE on.
#include <gtest/gtest.h>
#include <signal.h>

#include <google/protobuf/util/time_util.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <regex>
#include <thread>

#include "core/event_util.h"
#include "log_reader.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

// DEST_A needs to know the subject's identity but not their contact details.
constexpr char kDestinations[] = R"(
destinations { code: "DEST_A" name: "A panel" agency_id: "lead-a" need_to_know: [SUBJECT_IDENTITY, ASSESSMENT] purpose: "risk panel" }
destinations { code: "DEST_B" name: "B service" agency_id: "lead-b" need_to_know: [SUBJECT_IDENTITY, SUBJECT_CONTACT] purpose: "support" }
outcome_codes { code: "SAFETY_PLAN" }
outcome_codes { code: "NFA" }
)";

std::vector<AgencySpec> Agencies() {
  return {{"agency-a", {"SUBMITTER"}, {}},
          {"lead-a", {"LEAD"}, {}},
          {"lead-b", {"LEAD"}, {}},
          {"router", {"SERVICE"}, {}},
          {"auditor", {"AUDITOR"}, {}}};
}

class LifecycleTest : public ::testing::Test {
 protected:
  LifecycleTest() : stack_(Agencies(), "", kDestinations) {}
  void SetUp() override {
    ASSERT_TRUE(stack_.StartBroker());
    submitter_ = stack_.ClientFor("agency-a");
    service_ = stack_.ClientFor("router");
    lead_a_ = stack_.ClientFor("lead-a");
    lead_b_ = stack_.ClientFor("lead-b");
    v1::Ack ack;
    ASSERT_TRUE(submitter_->Submit(SampleReferral("agency-a", "L-1"), &ack).ok());
    referral_ = ack.referral_id();
  }

  Status Append(BrokerClient* client, v1::Event event, const std::string& key = "") {
    v1::Ack ack;
    return client->Append(event, key, &ack);
  }
  v1::Event Routed(const std::string& dest) {
    v1::Event e;
    auto* r = e.mutable_case_routed();
    r->set_referral_id(referral_);
    r->set_destination(dest);
    r->set_rule_id("TEST_RULE");
    r->set_reason("test reason");
    *r->mutable_deadline() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1800000000);
    return e;
  }
  v1::Event Delivered(const std::string& dest) {
    v1::Event e;
    e.mutable_case_delivered()->set_referral_id(referral_);
    e.mutable_case_delivered()->set_destination(dest);
    return e;
  }
  template <typename Setter>
  v1::Event Make(Setter set) {
    v1::Event e;
    set(&e);
    return e;
  }
  v1::CaseRecord CaseOf(BrokerClient* client, const std::string& dest) {
    v1::QueryRequest q;
    q.set_referral_id(referral_);
    v1::QueryResult result;
    EXPECT_TRUE(client->Query(q, &result).ok());
    for (const auto& c : result.cases()) {
      if (c.destination() == dest) return c;
    }
    return v1::CaseRecord();
  }
  std::vector<v1::Event> ReadAll(BrokerClient* client, const std::string& destination = "") {
    std::vector<v1::Event> events;
    v1::ReadRequest r;
    r.set_destination(destination);
    r.set_purpose("integration test");  // required from auditors, ignored for others
    EXPECT_TRUE(client->Read(r, [&](const v1::Event& e, const std::string&, const std::string&) {
                          events.push_back(e);
                          return true;
                        }).ok());
    return events;
  }

  TestStack stack_;
  std::unique_ptr<BrokerClient> submitter_, service_, lead_a_, lead_b_;
  std::string referral_;
};

TEST_F(LifecycleTest, FullPathWithStateChecks) {
  ASSERT_TRUE(Append(service_.get(), Routed("DEST_A"), "route:A").ok());
  // Only a service routes; a case is routed once.
  EXPECT_EQ(Append(lead_a_.get(), Routed("DEST_B")).code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(Append(service_.get(), Routed("DEST_A")).code(), Status::Code::kIllegalTransition);
  // Accept before delivery and acknowledgement is illegal.
  auto accept = Make([&](v1::Event* e) {
    e->mutable_case_accepted()->set_referral_id(referral_);
    e->mutable_case_accepted()->set_destination("DEST_A");
  });
  EXPECT_EQ(Append(lead_a_.get(), accept).code(), Status::Code::kIllegalTransition);
  ASSERT_TRUE(Append(service_.get(), Delivered("DEST_A")).ok());
  auto ack = Make([&](v1::Event* e) {
    e->mutable_case_acknowledged()->set_referral_id(referral_);
    e->mutable_case_acknowledged()->set_destination("DEST_A");
  });
  // Only the destination's own agency acknowledges.
  EXPECT_EQ(Append(lead_b_.get(), ack).code(), Status::Code::kPermissionDenied);
  ASSERT_TRUE(Append(lead_a_.get(), ack).ok());
  EXPECT_EQ(Append(lead_a_.get(), accept).code(), Status::Code::kOk);
  auto outcome = Make([&](v1::Event* e) {
    e->mutable_outcome_recorded()->set_referral_id(referral_);
    e->mutable_outcome_recorded()->set_destination("DEST_A");
    e->mutable_outcome_recorded()->set_code("NOT_A_CODE");
  });
  EXPECT_EQ(Append(lead_a_.get(), outcome).code(), Status::Code::kInvalidArgument);  // an unconfigured outcome code
  outcome.mutable_outcome_recorded()->set_code("SAFETY_PLAN");
  ASSERT_TRUE(Append(lead_a_.get(), outcome).ok());
  v1::CaseRecord c = CaseOf(lead_a_.get(), "DEST_A");
  EXPECT_EQ(c.state(), v1::OUTCOME_RECORDED);
  EXPECT_EQ(c.last_outcome(), "SAFETY_PLAN");
  EXPECT_EQ(c.rule_id(), "TEST_RULE");
  EXPECT_EQ(c.deliveries(), 1u);

  // Every step is in the log, in order, with the actor from CURVE.
  ASSERT_EQ(stack_.StopBroker(SIGTERM), 0);
  std::unique_ptr<eventlog::EventLog> log;
  eventlog::OpenOptions o;
  o.path = stack_.data_dir();
  o.read_only = true;
  ASSERT_TRUE(eventlog::EventLog::Open(o, &log).ok());
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(log->SeqsForReferral(referral_, &seqs).ok());
  std::vector<std::string> types, actors;
  for (uint64_t seq : seqs) {
    eventlog::StoredEvent ev;
    ASSERT_TRUE(log->Get(seq, &ev).ok());
    v1::Event e;
    ASSERT_TRUE(e.ParseFromString(ev.bytes));
    types.push_back(EventTypeName(e));
    actors.push_back(e.actor());
  }
  EXPECT_EQ(types, (std::vector<std::string>{"referral_submitted", "case_routed", "case_delivered",
                                             "case_acknowledged", "case_accepted", "outcome_recorded"}));
  EXPECT_EQ(actors, (std::vector<std::string>{"agency-a", "router", "router", "lead-a", "lead-a", "lead-a"}));
  EXPECT_TRUE(log->VerifyChain().ok);
}

TEST_F(LifecycleTest, DeclineNeedsAReasonAndRefusedAppendsWriteNothing) {
  ASSERT_TRUE(Append(service_.get(), Routed("DEST_A")).ok());
  ASSERT_TRUE(Append(service_.get(), Delivered("DEST_A")).ok());
  ASSERT_TRUE(Append(lead_a_.get(), Make([&](v1::Event* e) {
                       e->mutable_case_acknowledged()->set_referral_id(referral_);
                       e->mutable_case_acknowledged()->set_destination("DEST_A");
                     })).ok());
  auto decline = Make([&](v1::Event* e) {
    e->mutable_case_declined()->set_referral_id(referral_);
    e->mutable_case_declined()->set_destination("DEST_A");
  });
  Status s = Append(lead_a_.get(), decline);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.field_path(), "append.event.case_declined.reason");
  // Unknown referral, unknown destination, submission by append: refused.
  auto unknown = Routed("DEST_A");
  unknown.mutable_case_routed()->set_referral_id("R-0000009999");
  EXPECT_EQ(Append(service_.get(), unknown).code(), Status::Code::kNotFound);
  EXPECT_EQ(Append(service_.get(), Routed("NOWHERE")).code(), Status::Code::kUnknownAgency);
  auto submit = Make([](v1::Event* e) { e->mutable_referral_submitted(); });
  EXPECT_EQ(Append(service_.get(), submit).code(), Status::Code::kUnsupportedFrame);
  EXPECT_EQ(CaseOf(lead_a_.get(), "DEST_A").state(), v1::ACKNOWLEDGED);
  const uint64_t head = CaseOf(lead_a_.get(), "DEST_A").version();
  decline.mutable_case_declined()->set_reason("Not within our criteria");
  ASSERT_TRUE(Append(lead_a_.get(), decline).ok());
  EXPECT_EQ(CaseOf(lead_a_.get(), "DEST_A").state(), v1::DECLINED);
  EXPECT_EQ(CaseOf(lead_a_.get(), "DEST_A").version(), head + 1) << "refused appends wrote nothing";
}

// An idempotency key names one event: a repeat of it is a duplicate (the
// fields the broker fills in do not count), a different event under it is
// refused IDEMPOTENCY_CONFLICT and writes nothing, as for submissions.
TEST_F(LifecycleTest, RepeatedAppendKeyWithADifferentEventIsAConflict) {
  v1::Ack first, again;
  ASSERT_TRUE(service_->Append(Routed("DEST_A"), "route:1", &first).ok());
  ASSERT_TRUE(service_->Append(Routed("DEST_A"), "route:1", &again).ok());
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(again.seq(), first.seq());
  ASSERT_TRUE(service_->Append(Delivered("DEST_A"), "deliver:1", &first).ok());
  ASSERT_TRUE(service_->Append(Delivered("DEST_A"), "deliver:1", &again).ok());
  EXPECT_TRUE(again.duplicate()) << "the view, purpose and attempt the broker filled in are not the client's";
  const size_t events = ReadAll(service_.get()).size();

  v1::Ack ack;
  Status s = service_->Append(Routed("DEST_B"), "route:1", &ack);
  EXPECT_EQ(s.code(), Status::Code::kIdempotencyConflict) << s.ToString();
  EXPECT_EQ(s.field_path(), "append.idempotency_key");
  v1::Event other_reason = Routed("DEST_A");
  other_reason.mutable_case_routed()->set_reason("another reason");
  s = service_->Append(other_reason, "route:1", &ack);
  EXPECT_EQ(s.code(), Status::Code::kIdempotencyConflict) << s.ToString();
  s = service_->Append(Routed("DEST_B"), "deliver:1", &ack);
  EXPECT_EQ(s.code(), Status::Code::kIdempotencyConflict) << s.ToString();
  EXPECT_EQ(ReadAll(service_.get()).size(), events) << "a conflict writes nothing";
  EXPECT_EQ(CaseOf(service_.get(), "DEST_B").state(), v1::CASE_STATE_UNSPECIFIED) << "DEST_B was never routed";
}

// A reader grants credit as it consumes events and cannot know that the
// broker has meanwhile sent the last batch: a credit after the end of its
// read is expected, taken quietly (no reply, as for any credit) and not
// logged as a refusal. A credit on a connection that never read is still
// NOT_FOUND.
TEST_F(LifecycleTest, CreditAfterTheEndOfAReadIsNotARefusal) {
  auto reader = stack_.ClientFor("router", 3000, 1);
  v1::Frame read, credit, reply;
  read.mutable_read();
  ASSERT_TRUE(reader->Call(read, &reply).ok());
  ASSERT_TRUE(reply.has_events()) << reply.DebugString();
  ASSERT_TRUE(reply.events().end_of_log());
  credit.mutable_credit()->set_events(100);
  EXPECT_EQ(reader->Call(credit, &reply).code(), Status::Code::kUnavailable) << "no reply: " << reply.DebugString();

  auto stranger = stack_.ClientFor("router", 10000, 1);
  ASSERT_TRUE(stranger->Call(credit, &reply).ok());
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.error().code(), v1::NOT_FOUND);
  // Only the stranger's credit was refused; the line names the agency (not
  // the payload) and its time carries its zone.
  std::ifstream log(stack_.broker_log());
  std::string line;
  int refusals = 0;
  while (std::getline(log, line)) {
    if (line.find("no read in progress") == std::string::npos) continue;
    ++refusals;
    EXPECT_NE(line.find("refused request " + std::to_string(reply.correlation_id()) + " from router:"), std::string::npos)
        << line;
    EXPECT_TRUE(std::regex_search(line, std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z )"))) << line;
  }
  EXPECT_EQ(refusals, 1);
}

// A lead must not learn which referral ids exist: a query for an unknown
// referral and for one with no case at its destinations get the same empty
// answer (as a read of either sends no event). Identities that may see
// everything are told the referral does not exist.
TEST_F(LifecycleTest, QueryDoesNotTellALeadWhichReferralsExist) {
  for (const std::string& id : {referral_, std::string("R-0000009999")}) {
    v1::QueryRequest q;
    q.set_referral_id(id);
    v1::QueryResult result;
    Status s = lead_a_->Query(q, &result);
    EXPECT_TRUE(s.ok()) << id << ": " << s.ToString();
    EXPECT_EQ(result.cases_size(), 0) << id;
  }
  v1::QueryRequest q;
  q.set_referral_id("R-0000009999");
  v1::QueryResult result;
  EXPECT_EQ(service_->Query(q, &result).code(), Status::Code::kNotFound);
}

// QueryRequest.referrer_reference: a submitter finds its own referral by its
// own reference (what its adapter asks once it no longer keeps the answer);
// nobody else finds it that way, and an unknown reference is NotFound.
TEST_F(LifecycleTest, ASubmitterFindsItsOwnReferralByItsReference) {
  ASSERT_TRUE(Append(service_.get(), Routed("DEST_A")).ok());
  v1::Ack again;  // the duplicate's answer: the first submission's id and seq
  ASSERT_TRUE(submitter_->Submit(SampleReferral("agency-a", "L-1"), &again).ok());
  v1::QueryRequest q;
  q.set_referrer_reference("L-1");
  v1::QueryResult result;
  Status s = submitter_->Query(q, &result);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(result.referrals_size(), 1);
  EXPECT_EQ(result.referrals(0).referral().referral_id(), referral_);
  EXPECT_EQ(result.referrals(0).seq(), again.seq());
  EXPECT_EQ(result.referrals(0).referral().submitter(), "agency-a");
  EXPECT_TRUE(result.referrals(0).has_submitted());
  ASSERT_EQ(result.cases_size(), 1);
  EXPECT_EQ(result.cases(0).destination(), "DEST_A");

  q.set_referrer_reference("L-NEVER");
  EXPECT_EQ(submitter_->Query(q, &result).code(), Status::Code::kNotFound);
  q.set_referrer_reference("L-1");
  for (BrokerClient* other : {lead_a_.get(), service_.get()}) {
    EXPECT_EQ(other->Query(q, &result).code(), Status::Code::kNotFound) << "an idempotency key is per identity";
  }
  q.set_referral_id(referral_);
  EXPECT_EQ(submitter_->Query(q, &result).code(), Status::Code::kInvalidArgument);
  // Nor is it dropped silently beside a subject key.
  v1::QueryRequest subject;
  subject.set_subject_key(std::string(64, 'a'));
  subject.set_purpose("integration test");
  subject.set_referrer_reference("L-1");
  Status both = stack_.ClientFor("auditor")->Query(subject, &result);
  EXPECT_EQ(both.code(), Status::Code::kInvalidArgument) << both.ToString();
  EXPECT_NE(both.message().find("not several"), std::string::npos) << both.ToString();
}

TEST_F(LifecycleTest, DeliveryCarriesOnlyTheNeedToKnowView) {
  ASSERT_TRUE(Append(service_.get(), Routed("DEST_A")).ok());
  ASSERT_TRUE(Append(service_.get(), Routed("DEST_B")).ok());
  // A service that tries to disclose more than needed is overruled by the broker.
  v1::Event greedy = Delivered("DEST_A");
  greedy.mutable_case_delivered()->add_disclosed_groups(v1::SUBJECT_CONTACT);
  greedy.mutable_case_delivered()->mutable_view()->mutable_person()->set_address("leak");
  ASSERT_TRUE(Append(service_.get(), greedy).ok());
  ASSERT_TRUE(Append(service_.get(), Delivered("DEST_B")).ok());

  auto events_a = ReadAll(lead_a_.get());
  const v1::CaseDelivered* to_a = nullptr;
  for (const auto& e : events_a) {
    EXPECT_EQ(DestinationOf(e), "DEST_A") << "lead-a sees only its own destination's cases";
    EXPECT_FALSE(e.has_referral_submitted()) << "never the raw referral";
    if (e.has_case_delivered()) to_a = &e.case_delivered();
  }
  ASSERT_NE(to_a, nullptr);
  EXPECT_EQ(to_a->recipient_agency(), "lead-a");
  EXPECT_EQ(to_a->purpose(), "risk panel");
  EXPECT_EQ(to_a->rule_id(), "TEST_RULE");
  EXPECT_EQ(to_a->view().person().family_name(), "Example");
  EXPECT_TRUE(to_a->view().person().address().empty()) << "DEST_A does not need the address";
  EXPECT_EQ(to_a->view().assessment().score(), 15u);
  EXPECT_TRUE(to_a->view().narrative().empty());
  EXPECT_TRUE(to_a->view().referrer().name().empty());
  EXPECT_EQ(to_a->view().referrer().agency_id(), "agency-a");  // envelope
  std::vector<int> groups(to_a->disclosed_groups().begin(), to_a->disclosed_groups().end());
  EXPECT_EQ(groups, (std::vector<int>{v1::ENVELOPE, v1::SUBJECT_IDENTITY, v1::ASSESSMENT}));

  auto events_b = ReadAll(lead_b_.get(), "DEST_B");
  ASSERT_FALSE(events_b.empty());
  EXPECT_EQ(events_b.back().case_delivered().view().person().address(), "1 Example Road, Testtown");
  EXPECT_EQ(events_b.back().case_delivered().view().assessment().score(), 0u) << "DEST_B gets no assessment";
  // A lead may not read another destination, nor query it.
  v1::ReadRequest r;
  r.set_destination("DEST_A");
  EXPECT_TRUE(ReadAll(lead_b_.get(), "DEST_A").empty());
  v1::QueryRequest q;
  q.set_destination("DEST_A");
  v1::QueryResult result;
  EXPECT_EQ(lead_b_->Query(q, &result).code(), Status::Code::kPermissionDenied);
  // The auditor sees everything, including the submission.
  auto all = ReadAll(stack_.ClientFor("auditor").get());
  EXPECT_TRUE(all.front().has_referral_submitted());
  // ... and its own read, recorded before the first event was sent.
  ASSERT_EQ(all.size(), 6u);
  ASSERT_TRUE(all.back().has_record_accessed());
  EXPECT_EQ(all.back().actor(), "auditor");
  EXPECT_EQ(all.back().record_accessed().purpose(), "integration test");
  // A submitter has no read access.
  EXPECT_EQ(submitter_->Read(r, [](const v1::Event&, const std::string&, const std::string&) { return true; }).code(),
            Status::Code::kPermissionDenied);
}

TEST_F(LifecycleTest, FollowingReadReceivesNewEventsLiveAndResumesAfterRestart) {
  std::mutex mu;
  std::vector<uint64_t> seen;  // guarded by mu
  auto seen_count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return seen.size();
  };
  std::atomic<bool> stop{false};
  std::thread watcher([&] {
    // Enough heartbeats to outlast a slow (sanitizer) broker restart.
    auto client = stack_.ClientFor("lead-a", 500, 200);
    v1::ReadRequest r;
    r.set_follow(true);
    Status s = client->Read(r, [&](const v1::Event& e, const std::string&, const std::string&) {
      std::lock_guard<std::mutex> lock(mu);
      seen.push_back(e.seq());
      return seen.size() < 3;
    }, [&] { return stop.load(); });
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  ASSERT_TRUE(Append(service_.get(), Routed("DEST_A")).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Restart the broker between two events: the read picks up where it was.
  ASSERT_EQ(stack_.StopBroker(SIGTERM), 0);
  ASSERT_TRUE(stack_.StartBroker());
  auto service = stack_.ClientFor("router");
  ASSERT_TRUE(Append(service.get(), Delivered("DEST_A")).ok());
  ASSERT_TRUE(Append(service.get(), Delivered("DEST_A")).ok());  // a redelivery
  // Bounded only so a broken read cannot hang the suite.
  for (int i = 0; i < 600 && seen_count() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  watcher.join();
  EXPECT_EQ(seen, (std::vector<uint64_t>{2, 3, 4}));
}

TEST_F(LifecycleTest, WithdrawalClosesOpenCasesAndOnlyTheSubmitterMayWithdraw) {
  ASSERT_TRUE(Append(service_.get(), Routed("DEST_A")).ok());
  auto withdraw = Make([&](v1::Event* e) {
    e->mutable_referral_withdrawn()->set_referral_id(referral_);
    e->mutable_referral_withdrawn()->set_reason("Sent in error");
  });
  EXPECT_EQ(Append(lead_a_.get(), withdraw).code(), Status::Code::kPermissionDenied);
  ASSERT_TRUE(Append(submitter_.get(), withdraw).ok());
  EXPECT_EQ(CaseOf(submitter_.get(), "DEST_A").state(), v1::WITHDRAWN);
  EXPECT_EQ(Append(service_.get(), Routed("DEST_B")).code(), Status::Code::kIllegalTransition);
}

}  // namespace
}  // namespace refx::testing
