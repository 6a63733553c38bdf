// `refx inbox` end to end: the real refx binary, run as a child process with
// a HOME folder laid out as `deploy/refx.sh up` lays it out (configuration
// and key pairs), against the real broker binary with CURVE on. A SERVICE
// identity in this process routes and delivers; the lead acts through the
// CLI, and the broker's case records show the result.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <google/protobuf/util/time_util.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "core/json.h"
#include "refx/v1/cli.pb.h"
#include "cli_child.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

constexpr char kDestinations[] = R"(
destinations { code: "DA_MARAC" name: "DA MARAC" agency_id: "da-marac-coordinator" need_to_know: [SUBJECT_IDENTITY, ASSESSMENT] purpose: "MARAC risk panel" }
destinations { code: "DA_IDVA" name: "IDVA service" agency_id: "da-marac-coordinator" need_to_know: [SUBJECT_IDENTITY, SUBJECT_CONTACT] purpose: "IDVA support" }
destinations { code: "CHANNEL" name: "Channel panel" agency_id: "kcc-channel-panel" need_to_know: [SUBJECT_IDENTITY] purpose: "Channel" }
outcome_codes { code: "SAFETY_PLAN" }
outcome_codes { code: "NFA" }
)";

std::vector<AgencySpec> Agencies() {
  return {{"kent-police", {"SUBMITTER"}, {}},
          {"da-marac-coordinator", {"LEAD"}, {}},
          {"kcc-channel-panel", {"LEAD"}, {}},
          {"refx-router", {"SERVICE"}, {}}};
}


class InboxCliTest : public ::testing::Test {
 protected:
  InboxCliTest() : stack_(Agencies(), "", kDestinations) {}

  void SetUp() override {
    ASSERT_TRUE(stack_.StartBroker());
    WriteCliHome(stack_, Agencies(), home_.path());

    service_ = stack_.ClientFor("refx-router");
    auto police = stack_.ClientFor("kent-police");
    v1::Ack ack;
    ASSERT_TRUE(police->Submit(SampleReferral("kent-police", "INBOX-1"), &ack).ok());
    referral_ = ack.referral_id();
  }

  void Route(const std::string& destination) {
    v1::Event e;
    auto* r = e.mutable_case_routed();
    r->set_referral_id(referral_);
    r->set_destination(destination);
    r->set_rule_id("TEST_RULE");
    r->set_reason("test routing reason");
    *r->mutable_deadline() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1800000000);
    v1::Ack ack;
    ASSERT_TRUE(service_->Append(e, "route:" + referral_ + ":" + destination, &ack).ok());
  }
  void Deliver(const std::string& destination) {
    v1::Event e;
    e.mutable_case_delivered()->set_referral_id(referral_);
    e.mutable_case_delivered()->set_destination(destination);
    v1::Ack ack;
    ASSERT_TRUE(service_->Append(e, "", &ack).ok());
  }
  void RouteAndDeliver(const std::string& destination) {
    Route(destination);
    Deliver(destination);
  }
  uint64_t Head() {
    v1::Frame request, reply;
    request.mutable_heartbeat();
    EXPECT_TRUE(service_->Call(request, &reply).ok());
    return reply.heartbeat().head_seq();
  }

  // refx with the connection flags for this stack, then `args`.
  std::vector<std::string> Command(std::vector<std::string> args) {
    std::vector<std::string> all = {"--home", home_.path(), "--broker", stack_.endpoint(), "--attempts", "3", "inbox"};
    all.insert(all.end(), args.begin(), args.end());
    return all;
  }
  CliRun Inbox(std::vector<std::string> args) { return Child(Command(std::move(args))).Finish(); }

  // `refx inbox list --as WHO --json`, parsed.
  std::vector<v1::CaseRecord> List(const std::string& who) {
    CliRun run = Inbox({"list", "--as", who, "--json"});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    std::vector<v1::CaseRecord> cases;
    for (const auto& line : Lines(run.out)) {
      v1::CaseRecord c;
      EXPECT_TRUE(MessageFromJson(line, &c).ok()) << line;
      cases.push_back(c);
    }
    return cases;
  }
  v1::CaseState StateAt(const std::string& destination) {
    for (const auto& c : List(destination)) {
      if (c.referral_id() == referral_) return c.state();
    }
    return v1::CASE_STATE_UNSPECIFIED;
  }

  TestStack stack_;
  TempDir home_;
  std::unique_ptr<BrokerClient> service_;
  std::string referral_;
};

TEST_F(InboxCliTest, ListShowsTheDeliveredCase) {
  RouteAndDeliver("DA_MARAC");
  std::vector<v1::CaseRecord> cases = List("DA_MARAC");
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].referral_id(), referral_);
  EXPECT_EQ(cases[0].destination(), "DA_MARAC");
  EXPECT_EQ(cases[0].state(), v1::DELIVERED);
  EXPECT_EQ(cases[0].rule_id(), "TEST_RULE");
  EXPECT_EQ(cases[0].deliveries(), 1u);
  EXPECT_EQ(cases[0].deadline().seconds(), 1800000000);

  // An agency id covers every destination it owns; another agency sees none.
  RouteAndDeliver("DA_IDVA");
  EXPECT_EQ(List("da-marac-coordinator").size(), 2u);
  EXPECT_EQ(List("DA_MARAC").size(), 1u);
  EXPECT_TRUE(List("CHANNEL").empty());

  CliRun text = Inbox({"list", "--as", "da-marac-coordinator"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("REFERRAL"), std::string::npos);
  EXPECT_NE(text.out.find(referral_), std::string::npos);
  EXPECT_NE(text.out.find("DA_IDVA"), std::string::npos);
  CliRun filtered = Inbox({"list", "--as", "DA_MARAC", "--state", "accepted", "--json"});
  EXPECT_EQ(filtered.exit_code, 0) << filtered.err;
  EXPECT_TRUE(filtered.out.empty()) << filtered.out;
}

TEST_F(InboxCliTest, LeadMovesTheCaseAlong) {
  RouteAndDeliver("DA_MARAC");
  CliRun ack = Inbox({"ack", referral_, "--as", "DA_MARAC", "--json"});
  ASSERT_EQ(ack.exit_code, 0) << ack.err;
  v1::Ack first;
  ASSERT_TRUE(MessageFromJson(Lines(ack.out).at(0), &first).ok()) << ack.out;
  EXPECT_GT(first.seq(), 0u);
  EXPECT_FALSE(first.duplicate());
  EXPECT_EQ(StateAt("DA_MARAC"), v1::ACKNOWLEDGED);

  // A retry is answered with the original seq and writes nothing.
  const uint64_t head = Head();
  CliRun again = Inbox({"ack", referral_, "--as", "DA_MARAC", "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  v1::Ack second;
  ASSERT_TRUE(MessageFromJson(Lines(again.out).at(0), &second).ok()) << again.out;
  EXPECT_TRUE(second.duplicate());
  EXPECT_EQ(second.seq(), first.seq());
  EXPECT_EQ(Head(), head);

  CliRun accept = Inbox({"accept", referral_, "--as", "da-marac-coordinator", "--note", "listed for next panel"});
  ASSERT_EQ(accept.exit_code, 0) << accept.err;
  EXPECT_NE(accept.out.find("accepted"), std::string::npos) << accept.out;
  EXPECT_EQ(StateAt("DA_MARAC"), v1::ACCEPTED);

  // An outcome code that is not configured is a bad argument, not an unknown agency.
  CliRun unknown = Inbox({"outcome", referral_, "NOT_A_CODE", "--as", "DA_MARAC"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("INVALID_ARGUMENT"), std::string::npos) << unknown.err;
  EXPECT_EQ(unknown.err.find("UNKNOWN_AGENCY"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("outcome_recorded.code"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("SAFETY_PLAN"), std::string::npos) << unknown.err;

  CliRun outcome = Inbox({"outcome", referral_, "SAFETY_PLAN", "--as", "DA_MARAC", "--note", "plan agreed"});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  std::vector<v1::CaseRecord> cases = List("DA_MARAC");
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].state(), v1::OUTCOME_RECORDED);
  EXPECT_EQ(cases[0].last_outcome(), "SAFETY_PLAN");

  // A second, different outcome is a new event; the same one again is not.
  const uint64_t before = Head();
  ASSERT_EQ(Inbox({"outcome", referral_, "SAFETY_PLAN", "--as", "DA_MARAC", "--note", "plan agreed"}).exit_code, 0);
  EXPECT_EQ(Head(), before);
  ASSERT_EQ(Inbox({"outcome", referral_, "NFA", "--as", "DA_MARAC"}).exit_code, 0);
  EXPECT_EQ(Head(), before + 1);
  EXPECT_EQ(List("DA_MARAC").at(0).last_outcome(), "NFA");
}

TEST_F(InboxCliTest, DeclineNeedsAReason) {
  RouteAndDeliver("DA_MARAC");
  ASSERT_EQ(Inbox({"ack", referral_, "--as", "DA_MARAC"}).exit_code, 0);
  const uint64_t head = Head();
  CliRun missing = Inbox({"decline", referral_, "--as", "DA_MARAC"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("--reason"), std::string::npos) << missing.err;
  CliRun empty = Inbox({"decline", referral_, "--as", "DA_MARAC", "--reason", ""});
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_EQ(Head(), head) << "nothing written";
  EXPECT_EQ(StateAt("DA_MARAC"), v1::ACKNOWLEDGED);

  CliRun decline = Inbox({"decline", referral_, "--as", "DA_MARAC", "--reason", "threshold not met"});
  ASSERT_EQ(decline.exit_code, 0) << decline.err;
  EXPECT_EQ(StateAt("DA_MARAC"), v1::DECLINED);
}

TEST_F(InboxCliTest, BrokerRefusalsAreReportedWithExitCode2) {
  RouteAndDeliver("DA_MARAC");
  const uint64_t head = Head();
  // Another agency's lead may not act on DA_MARAC cases.
  CliRun wrong = Inbox({"ack", referral_, "--as", "kcc-channel-panel", "--destination", "DA_MARAC"});
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_NE(wrong.err.find("PERMISSION_DENIED"), std::string::npos) << wrong.err;
  // Without --destination it finds no case of its own to act on.
  CliRun none = Inbox({"ack", referral_, "--as", "CHANNEL"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("no case at CHANNEL"), std::string::npos) << none.err;
  // Accepting before acknowledging is not a legal transition.
  CliRun early = Inbox({"accept", referral_, "--as", "DA_MARAC"});
  EXPECT_EQ(early.exit_code, 2);
  EXPECT_NE(early.err.find("ILLEGAL_TRANSITION"), std::string::npos) << early.err;
  EXPECT_EQ(Head(), head) << "nothing written";
  EXPECT_EQ(StateAt("DA_MARAC"), v1::DELIVERED);
}

// The same step twice is harmless and says so (exit 0, nothing written); a
// step the case's state does not allow is refused (exit 2, nothing written).
TEST_F(InboxCliTest, ARepeatIsHarmlessAndAnIllegalStepIsRefused) {
  RouteAndDeliver("DA_MARAC");
  ASSERT_EQ(Inbox({"ack", referral_, "--as", "DA_MARAC"}).exit_code, 0);
  CliRun accept = Inbox({"accept", referral_, "--as", "DA_MARAC"});
  ASSERT_EQ(accept.exit_code, 0) << accept.err;
  const uint64_t head = Head();

  CliRun again = Inbox({"accept", referral_, "--as", "DA_MARAC"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("already accepted as seq " + std::to_string(head)), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("nothing written"), std::string::npos) << again.out;

  CliRun decline = Inbox({"decline", referral_, "--as", "DA_MARAC", "--reason", "changed our mind"});
  EXPECT_EQ(decline.exit_code, 2) << decline.out;
  EXPECT_NE(decline.err.find("ILLEGAL_TRANSITION"), std::string::npos) << decline.err;
  EXPECT_NE(decline.err.find("refused"), std::string::npos) << decline.err;
  EXPECT_EQ(Head(), head) << "nothing written";
  EXPECT_EQ(StateAt("DA_MARAC"), v1::ACCEPTED);
}

TEST_F(InboxCliTest, AmbiguousCaseNeedsADestination) {
  RouteAndDeliver("DA_MARAC");
  RouteAndDeliver("DA_IDVA");
  CliRun ambiguous = Inbox({"ack", referral_, "--as", "da-marac-coordinator"});
  EXPECT_EQ(ambiguous.exit_code, 2);
  EXPECT_NE(ambiguous.err.find("DA_MARAC"), std::string::npos) << ambiguous.err;
  EXPECT_NE(ambiguous.err.find("DA_IDVA"), std::string::npos) << ambiguous.err;
  EXPECT_NE(ambiguous.err.find("--destination"), std::string::npos) << ambiguous.err;
  ASSERT_EQ(Inbox({"ack", referral_, "--as", "da-marac-coordinator", "--destination", "DA_IDVA"}).exit_code, 0);
  EXPECT_EQ(StateAt("DA_IDVA"), v1::ACKNOWLEDGED);
  EXPECT_EQ(StateAt("DA_MARAC"), v1::DELIVERED);
}

TEST_F(InboxCliTest, WatchPrintsADeliveryAsItHappens) {
  Route("CHANNEL");
  Route("DA_MARAC");
  Child watch(Command({"watch", "--as", "DA_MARAC", "--count", "1", "--json"}));
  ASSERT_TRUE(watch.WaitForStderr("watching")) << "watch did not start";
  // Another destination's delivery is not shown; DA_MARAC's is.
  Deliver("CHANNEL");
  Deliver("DA_MARAC");
  CliRun run = watch.Finish();
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 1u) << run.out;
  v1::Event event;
  ASSERT_TRUE(MessageFromJson(lines[0], &event).ok()) << lines[0];
  ASSERT_TRUE(event.has_case_delivered()) << lines[0];
  const v1::CaseDelivered& d = event.case_delivered();
  EXPECT_EQ(d.referral_id(), referral_);
  EXPECT_EQ(d.destination(), "DA_MARAC");
  EXPECT_EQ(d.attempt(), 1u);
  EXPECT_EQ(d.view().person().given_name(), "Alex");  // the lead's need-to-know view
  EXPECT_TRUE(d.view().person().address().empty()) << "DA_MARAC does not need the address";
}

TEST_F(InboxCliTest, WatchAsAnAgencyPrintsTheSummary) {
  Route("DA_IDVA");
  const uint64_t from = Head();
  Child watch(Command({"watch", "--as", "da-marac-coordinator", "--count", "1", "--from-seq", std::to_string(from)}));
  Deliver("DA_IDVA");
  CliRun run = watch.Finish();
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find(referral_ + "  DA_IDVA  case_delivered"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("DOMESTIC_ABUSE, URGENT; subject: Alex Example"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("test routing reason"), std::string::npos) << run.out;
}

TEST_F(InboxCliTest, WatchStopsOnSigterm) {
  Child watch(Command({"watch", "--as", "DA_MARAC"}));
  ASSERT_TRUE(watch.WaitForStderr("watching"));
  kill(watch.pid(), SIGTERM);
  CliRun run = watch.Finish();
  EXPECT_EQ(run.exit_code, 0) << run.err;
}

TEST_F(InboxCliTest, ShowPrintsTheRecordAndTheView) {
  RouteAndDeliver("DA_MARAC");
  CliRun json = Inbox({"show", referral_, "--as", "DA_MARAC", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  v1::InboxCase c;
  ASSERT_TRUE(MessageFromJson(Lines(json.out).at(0), &c).ok()) << json.out;
  EXPECT_EQ(c.record().state(), v1::DELIVERED);
  EXPECT_EQ(c.delivery().view().person().family_name(), "Example");
  EXPECT_GT(c.delivery_seq(), 0u);
  ASSERT_EQ(c.history_size(), 2);
  EXPECT_TRUE(c.history(0).has_case_routed());
  EXPECT_TRUE(c.history(1).has_case_delivered());

  CliRun text = Inbox({"show", referral_, "--as", "DA_MARAC"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("DELIVERED"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("given_name: \"Alex\""), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("1 Example Road"), std::string::npos) << "no address for DA_MARAC";

  CliRun other = Inbox({"show", referral_, "--as", "CHANNEL"});
  EXPECT_EQ(other.exit_code, 2);
}

TEST_F(InboxCliTest, SetupAndReachabilityExitCodes) {
  CliRun unknown = Inbox({"list", "--as", "nobody"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("nobody"), std::string::npos) << unknown.err;
  TempDir empty;
  CliRun no_home = Child({"--home", empty.path(), "inbox", "list", "--as", "DA_MARAC"}).Finish();
  EXPECT_EQ(no_home.exit_code, 1) << no_home.err;

  ASSERT_EQ(stack_.StopBroker(SIGTERM), 0);
  CliRun down = Child({"--home", home_.path(), "--broker", stack_.endpoint(), "--attempts", "2", "--timeout-ms", "200",
                    "inbox", "list", "--as", "DA_MARAC"})
                 .Finish();
  EXPECT_EQ(down.exit_code, 3) << down.err;
  // With no broker listening, refx says so before any retry (whatever the
  // retry settings) and says what to check.
  for (const char* sub : {"list", "ack"}) {
    std::vector<std::string> args = {"--home", home_.path(), "--broker", stack_.endpoint(), "--attempts", "20",
                                     "--timeout-ms", "60000", "inbox", sub, "--as", "DA_MARAC"};
    if (std::string(sub) == "ack") args.push_back(referral_);
    CliRun stopped = Child(args).Finish();
    EXPECT_EQ(stopped.exit_code, 3) << stopped.err;
    EXPECT_NE(stopped.err.find("no broker listening at " + stack_.endpoint()), std::string::npos) << stopped.err;
    EXPECT_NE(stopped.err.find("is the broker running? try `deploy/refx.sh status`"), std::string::npos)
        << stopped.err;
  }
}

}  // namespace
}  // namespace refx::testing
