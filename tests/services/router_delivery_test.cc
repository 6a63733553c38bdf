// The router and delivery services hosted in-process against the real
// refx-broker (CURVE on, real RocksDB) over the Sevenoaks sample
// partnership: referrals are routed by the rules, each case is delivered
// with the destination's need-to-know view, routing history survives a
// restart (repeat MARAC), and a Prevent outcome opens a Channel case.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/london_time.h"
#include "core/subject_key.h"
#include "in_process_broker.h"
#include "core/working_calendar.h"
#include "services/delivery/delivery_service.h"
#include "services/router/router_service.h"
#include "services_stack.h"

namespace refx::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::unique_ptr<RouterService> MakeRouter(ServicesStack& s) {
  RouterOptions o;
  o.config = &s.config();
  o.subject_secret = s.subject_secret();
  o.client = s.stack().ClientOptionsFor("refx-router");
  o.state_dir = s.StateDir("router");
  o.retry_delay_ms = 200;
  std::unique_ptr<RouterService> router;
  Status st = RouterService::Create(std::move(o), &router);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return router;
}

std::unique_ptr<DeliveryService> MakeDelivery(ServicesStack& s) {
  DeliveryOptions o;
  o.config = &s.config();
  o.client = s.stack().ClientOptionsFor("refx-delivery");
  o.state_dir = s.StateDir("delivery");
  o.retry_delay_ms = 200;
  std::unique_ptr<DeliveryService> delivery;
  Status st = DeliveryService::Create(std::move(o), &delivery);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return delivery;
}

const v1::Event* SubmissionOf(const std::vector<v1::Event>& events, const std::string& referral_id) {
  for (const v1::Event& e : events) {
    if (e.has_referral_submitted() && e.referral_submitted().referral_id() == referral_id) return &e;
  }
  return nullptr;
}

CivilDate UtcDate(const google::protobuf::Timestamp& t) { return CivilDate::FromDays(t.seconds() / 86400); }

// A lead acts on its case: appended as the destination's own agency.
void AppendAsLead(ServicesStack& s, const std::string& agency, v1::Event event) {
  v1::Ack ack;
  Status st = s.stack().ClientFor(agency)->Append(event, "", &ack);
  ASSERT_TRUE(st.ok()) << st.ToString();
}

TEST(RouterDeliveryTest, RoutesByTheRulesAndDeliversNeedToKnowViews) {
  ServicesStack s;
  ASSERT_TRUE(s.stack().StartBroker());
  auto router = MakeRouter(s);
  auto delivery = MakeDelivery(s);
  ASSERT_TRUE(router && delivery);
  HostedService r, d;
  r.Start([&](const std::function<bool()>& stop) { return router->Run(stop); });
  d.Start([&](const std::function<bool()>& stop) { return delivery->Run(stop); });

  const std::string da = s.Submit(DaHighRiskReferral("kent-police", "T-DA-1"));
  const std::string other = s.Submit(CategoryReferral("kent-police", "T-OT-1", v1::OTHER));
  auto events = s.WaitFor("three delivered cases", [&](const std::vector<v1::Event>& ev) {
    return HasEvent(ev, v1::Event::kCaseDelivered, da, "DA_MARAC") && HasEvent(ev, v1::Event::kCaseDelivered, da, "IDVA") &&
           HasEvent(ev, v1::Event::kCaseDelivered, other, "CSU_TRIAGE");
  });
  EXPECT_TRUE(r.Stop().ok());
  EXPECT_TRUE(d.Stop().ok());

  // Routing: DASH 15 -> rule R1 -> DA MARAC and an IDVA; "other" -> the fallback.
  EXPECT_THAT(RoutedDestinations(events, da), UnorderedElementsAre("DA_MARAC", "IDVA"));
  EXPECT_THAT(RoutedDestinations(events, other), ElementsAre("CSU_TRIAGE"));
  WorkingCalendar calendar;
  ASSERT_TRUE(WorkingCalendar::FromProto(s.config().proto().calendar(), &calendar).ok());
  const CivilDate submitted_on = UtcDate(SubmissionOf(events, da)->time());
  for (const v1::Event* e : EventsOf(events, v1::Event::kCaseRouted, da)) {
    EXPECT_EQ(e->actor(), "refx-router");
    EXPECT_EQ(e->case_routed().rule_id(), "R1_DA_HIGH_RISK");
    EXPECT_THAT(e->case_routed().reason(), HasSubstr("DASH score 15"));
    // The deadline is the last second, in London, of the engine's deadline date.
    const CivilDate expected = calendar.Deadline(*s.config().DestinationByCode(e->case_routed().destination()), submitted_on);
    EXPECT_EQ(e->case_routed().deadline().seconds(), EndOfLondonDay(expected))
        << e->case_routed().destination() << " deadline should be " << expected.ToString() << " 23:59:59 London time";
  }
  const auto other_routed = EventsOf(events, v1::Event::kCaseRouted, other);
  ASSERT_EQ(other_routed.size(), 1u);
  EXPECT_EQ(other_routed[0]->case_routed().rule_id(), RoutingEngine::kNoRuleId);

  // Delivery: once each, by the delivery service, with the broker's view.
  const auto marac = EventsOf(events, v1::Event::kCaseDelivered, da, "DA_MARAC");
  ASSERT_EQ(marac.size(), 1u);
  const v1::CaseDelivered& to_marac = marac[0]->case_delivered();
  EXPECT_EQ(marac[0]->actor(), "refx-delivery");
  EXPECT_EQ(to_marac.attempt(), 1u);
  EXPECT_EQ(to_marac.recipient_agency(), "da-marac-coordinator");
  EXPECT_EQ(to_marac.rule_id(), "R1_DA_HIGH_RISK");
  EXPECT_EQ(to_marac.view().person().address(), "1 Example Road, Testtown");
  EXPECT_EQ(to_marac.view().assessment().score(), 15u);

  const auto triage = EventsOf(events, v1::Event::kCaseDelivered, other, "CSU_TRIAGE");
  ASSERT_EQ(triage.size(), 1u);
  const v1::CaseDelivered& to_triage = triage[0]->case_delivered();
  EXPECT_EQ(to_triage.recipient_agency(), "sevenoaks-csu");
  // CSU triage needs to know who, not where: no SUBJECT_CONTACT.
  EXPECT_EQ(to_triage.view().person().given_name(), "Jordan");
  EXPECT_EQ(to_triage.view().person().address(), "");
  EXPECT_THAT(to_triage.disclosed_groups(), ::testing::Not(::testing::Contains(v1::SUBJECT_CONTACT)));
  EXPECT_FALSE(to_triage.purpose().empty());
}

TEST(RouterDeliveryTest, RoutingHistoryIsRebuiltOnRestartForRepeatReferrals) {
  ServicesStack s;
  ASSERT_TRUE(s.stack().StartBroker());
  const std::string first = s.Submit(DaHighRiskReferral("kent-police", "T-REP-1", "Robin"));
  {
    auto router = MakeRouter(s);
    ASSERT_TRUE(router);
    HostedService r;
    r.Start([&](const std::function<bool()>& stop) { return router->Run(stop); });
    s.WaitFor("the first referral routed", [&](const std::vector<v1::Event>& ev) {
      return RoutedDestinations(ev, first).size() == 2;
    });
    ASSERT_TRUE(r.Stop().ok());
  }
  std::ifstream cursor(s.StateDir("router") + "/router.cursor");
  uint64_t stored = 0;
  ASSERT_TRUE(cursor >> stored) << "the router stores its cursor";
  EXPECT_GE(stored, 1u);

  // Medium risk (DASH 11) would go to DA_OUTREACH, but Robin was at MARAC
  // this year: a repeat, so rule R1 applies. Casey has no history.
  const std::string repeat = s.Submit(DaReferralWithScore("kent-police", "T-REP-2", 11, "Robin"));
  const std::string fresh = s.Submit(DaReferralWithScore("kent-police", "T-REP-3", 11, "Casey"));
  auto router = MakeRouter(s);
  ASSERT_TRUE(router);
  HostedService r;
  r.Start([&](const std::function<bool()>& stop) { return router->Run(stop); });
  auto events = s.WaitFor("both new referrals routed", [&](const std::vector<v1::Event>& ev) {
    return RoutedDestinations(ev, repeat).size() == 2 && RoutedDestinations(ev, fresh).size() == 1;
  });
  EXPECT_TRUE(r.Stop().ok());

  EXPECT_THAT(RoutedDestinations(events, first), UnorderedElementsAre("DA_MARAC", "IDVA")) << "not routed twice";
  EXPECT_THAT(RoutedDestinations(events, repeat), UnorderedElementsAre("DA_MARAC", "IDVA"));
  for (const v1::Event* e : EventsOf(events, v1::Event::kCaseRouted, repeat)) {
    EXPECT_EQ(e->case_routed().rule_id(), "R1_DA_HIGH_RISK");
    EXPECT_THAT(e->case_routed().reason(), HasSubstr("routing history"));
  }
  EXPECT_THAT(RoutedDestinations(events, fresh), ElementsAre("DA_OUTREACH"));
}

// A router started on a backlog reads each event it acts on once: its
// replay stops at the cursor (the follow reads what comes after), and
// neither reads the kinds it does not act on (case_delivered, with its
// sealed view). It used to replay to the head and then read the backlog
// again from the cursor, every kind of event both times.
TEST(RouterDeliveryTest, ARestartOnABacklogReadsEachRoutingEventOnce) {
  ServicesStack s;
  ASSERT_TRUE(s.stack().StartBroker());
  auto delivery = MakeDelivery(s);
  ASSERT_TRUE(delivery);
  HostedService d;
  d.Start([&](const std::function<bool()>& stop) { return delivery->Run(stop); });
  const std::string first = s.Submit(DaHighRiskReferral("kent-police", "T-ONCE-0", "Robin"));
  {
    auto router = MakeRouter(s);
    ASSERT_TRUE(router);
    HostedService r;
    r.Start([&](const std::function<bool()>& stop) { return router->Run(stop); });
    s.WaitFor("the first referral delivered", [&](const std::vector<v1::Event>& ev) {
      return HasEvent(ev, v1::Event::kCaseDelivered, first, "DA_MARAC") &&
             HasEvent(ev, v1::Event::kCaseDelivered, first, "IDVA");
    });
    ASSERT_TRUE(r.Stop().ok());
  }
  constexpr int kBacklog = 12;
  std::vector<std::string> backlog;
  for (int i = 1; i <= kBacklog; ++i) {
    backlog.push_back(s.Submit(DaHighRiskReferral("kent-police", "T-ONCE-" + std::to_string(i), "Robin")));
  }
  auto router = MakeRouter(s);
  ASSERT_TRUE(router);
  HostedService r;
  r.Start([&](const std::function<bool()>& stop) { return router->Run(stop); });
  s.WaitFor("the backlog routed and delivered", [&](const std::vector<v1::Event>& ev) {
    for (const std::string& id : backlog) {
      if (!HasEvent(ev, v1::Event::kCaseDelivered, id, "DA_MARAC") || !HasEvent(ev, v1::Event::kCaseDelivered, id, "IDVA")) {
        return false;
      }
    }
    return true;
  });
  ASSERT_TRUE(r.Stop().ok());
  EXPECT_TRUE(d.Stop().ok());
  const std::vector<v1::Event> events = s.ReadLog();
  size_t routing_events = 0;
  for (const v1::Event& e : events) {
    if (e.has_referral_submitted() || e.has_case_routed() || e.has_outcome_recorded() || e.has_referral_withdrawn() ||
        e.has_subject_indexed()) {
      ++routing_events;
    }
  }
  // Each routing event of the log at most once (the first router read
  // the events before the backlog; this one at most all of them once).
  EXPECT_GE(router->events_read(), static_cast<uint64_t>(kBacklog));
  EXPECT_LE(router->events_read(), routing_events);
  for (const std::string& id : backlog) {
    EXPECT_THAT(RoutedDestinations(events, id), UnorderedElementsAre("DA_MARAC", "IDVA")) << id;
  }
}

// Issue 13: an erasure destroys the referral's data key but not its history
// key (ROUTING_HISTORY keeps the keyed subject hash 12 months). A router
// that replays the log from seq 1 gets the first submission back erased,
// and takes the subject key from its subject_indexed event instead: the
// new referral is still a repeat.
TEST(RouterDeliveryTest, AnErasedReferralStillCountsAsARepeatAfterAFullReplay) {
  ServicesStack s;
  ASSERT_TRUE(s.stack().StartBroker());
  const std::string first = s.Submit(DaHighRiskReferral("kent-police", "T-ERREP-1", "Robin"));
  {
    auto router = MakeRouter(s);
    ASSERT_TRUE(router);
    HostedService r;
    r.Start([&](const std::function<bool()>& stop) { return router->Run(stop); });
    s.WaitFor("the first referral routed and indexed", [&](const std::vector<v1::Event>& ev) {
      return RoutedDestinations(ev, first).size() == 2 && !EventsOf(ev, v1::Event::kSubjectIndexed, first).empty();
    });
    ASSERT_TRUE(r.Stop().ok());
  }
  v1::Frame request, reply;
  request.mutable_erase()->set_referral_id(first);
  request.mutable_erase()->set_reason("consent withdrawn");
  request.mutable_erase()->set_override_retention(true);
  ASSERT_TRUE(s.stack().ClientFor("refx-admin")->Call(request, &reply).ok());
  ASSERT_TRUE(reply.has_erase_result()) << reply.DebugString();
  // No snapshot: the restarted router replays the whole log.
  std::filesystem::remove(s.StateDir("router") + "/router.snapshot");

  const std::string repeat = s.Submit(DaReferralWithScore("kent-police", "T-ERREP-2", 11, "Robin"));
  auto router = MakeRouter(s);
  ASSERT_TRUE(router);
  HostedService r;
  r.Start([&](const std::function<bool()>& stop) { return router->Run(stop); });
  auto events = s.WaitFor("the new referral routed", [&](const std::vector<v1::Event>& ev) {
    return RoutedDestinations(ev, repeat).size() == 2 || RoutedDestinations(ev, repeat) == std::vector<std::string>{"DA_OUTREACH"};
  });
  EXPECT_TRUE(r.Stop().ok());
  ASSERT_TRUE(SubmissionOf(events, first)->erased());
  EXPECT_THAT(RoutedDestinations(events, repeat), UnorderedElementsAre("DA_MARAC", "IDVA"));
}

// Issue 13: when the broker destroys a referral's history key (its
// ROUTING_HISTORY retention ended), the router forgets the referral's
// subject: its snapshot no longer holds the keyed hash, and a new referral
// about the same person is no longer a repeat. The broker runs in-process,
// on the stack's endpoint, with a date the test moves.
TEST(RouterDeliveryTest, TheRouterForgetsASubjectWhenItsHistoryKeyIsDestroyedInMemoryAndSnapshot) {
  ServicesStack s;
  ASSERT_TRUE(s.stack().StartBroker());  // picks the endpoint the stack's clients use
  ASSERT_EQ(s.stack().StopBroker(SIGTERM), 0);
  std::atomic<int64_t> today(TodayUtc().ToDays());
  InProcessBroker broker(s.stack(), &today,
                         [&](broker::BrokerOptions* o) { o->frontend_endpoint = s.stack().endpoint(); });
  const v1::Referral referral = DaHighRiskReferral("kent-police", "T-FORGET-1", "Robin");
  const std::string key = SubjectKey(s.subject_secret(), referral);
  ASSERT_EQ(key.size(), 64u);
  const std::string first = s.Submit(referral);
  auto run_router = [&](const std::function<void()>& meanwhile) {
    auto router = MakeRouter(s);
    ASSERT_TRUE(router);
    HostedService r;
    r.Start([&](const std::function<bool()>& stop) { return router->Run(stop); });
    meanwhile();
    ASSERT_TRUE(r.Stop().ok());
  };
  // Routed and indexed; the snapshot written at the stop holds the hash.
  run_router([&] {
    s.WaitFor("the first referral routed and indexed", [&](const std::vector<v1::Event>& ev) {
      return RoutedDestinations(ev, first).size() == 2 && !EventsOf(ev, v1::Event::kSubjectIndexed, first).empty();
    });
  });
  ASSERT_NE(FilesHolding(s.StateDir("router"), key), "");

  std::vector<v1::Event> events;
  run_router([&] {
    // Thirteen months on: ROUTING_HISTORY (12 months) has ended, the record
    // (72) is kept.
    today = TodayUtc().ToDays() + 400;
    s.WaitFor("the history key destroyed", [&](const std::vector<v1::Event>& ev) {
      for (const v1::Event& e : ev) {
        if (e.has_subject_erased() && e.subject_erased().history_key()) return true;
      }
      return false;
    });
    // The router takes a snapshot once it has handled the erasure.
    for (int i = 0; i < 600 && !FilesHolding(s.StateDir("router"), key).empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(FilesHolding(s.StateDir("router"), key), "");
    // Robin again, medium risk: no longer a repeat, so DA_OUTREACH.
    const std::string again = s.Submit(DaReferralWithScore("kent-police", "T-FORGET-2", 11, "Robin"));
    events = s.WaitFor("the new referral routed", [&](const std::vector<v1::Event>& ev) {
      return !RoutedDestinations(ev, again).empty();
    });
    EXPECT_THAT(RoutedDestinations(events, again), ElementsAre("DA_OUTREACH"));
  });
  EXPECT_FALSE(SubmissionOf(events, first)->erased()) << "the record itself is kept";
}

TEST(RouterDeliveryTest, PreventAdoptedToChannelOpensAChannelCase) {
  ServicesStack s;
  ASSERT_TRUE(s.stack().StartBroker());
  auto router = MakeRouter(s);
  auto delivery = MakeDelivery(s);
  ASSERT_TRUE(router && delivery);
  HostedService r, d;
  r.Start([&](const std::function<bool()>& stop) { return router->Run(stop); });
  d.Start([&](const std::function<bool()>& stop) { return delivery->Run(stop); });

  const std::string pv = s.Submit(CategoryReferral("nhs-west-kent", "T-PV-1", v1::RADICALISATION, "Drew"));
  auto events = s.WaitFor("the Prevent case delivered", [&](const std::vector<v1::Event>& ev) {
    return HasEvent(ev, v1::Event::kCaseDelivered, pv, "PREVENT");
  });
  EXPECT_THAT(RoutedDestinations(events, pv), ElementsAre("PREVENT"));

  // The Prevent gateway (Kent Police) acknowledges, accepts and adopts it for Channel.
  v1::Event ack, accept, outcome;
  ack.mutable_case_acknowledged()->set_referral_id(pv);
  ack.mutable_case_acknowledged()->set_destination("PREVENT");
  accept.mutable_case_accepted()->set_referral_id(pv);
  accept.mutable_case_accepted()->set_destination("PREVENT");
  outcome.mutable_outcome_recorded()->set_referral_id(pv);
  outcome.mutable_outcome_recorded()->set_destination("PREVENT");
  outcome.mutable_outcome_recorded()->set_code("ADOPTED_TO_CHANNEL");
  AppendAsLead(s, "kent-police", ack);
  AppendAsLead(s, "kent-police", accept);
  AppendAsLead(s, "kent-police", outcome);

  events = s.WaitFor("the Channel case delivered", [&](const std::vector<v1::Event>& ev) {
    return HasEvent(ev, v1::Event::kCaseDelivered, pv, "CHANNEL");
  });
  EXPECT_TRUE(r.Stop().ok());
  EXPECT_TRUE(d.Stop().ok());
  EXPECT_THAT(RoutedDestinations(events, pv), ElementsAre("PREVENT", "CHANNEL"));
  const auto channel = EventsOf(events, v1::Event::kCaseRouted, pv, "CHANNEL");
  ASSERT_EQ(channel.size(), 1u);
  EXPECT_EQ(channel[0]->actor(), "refx-router");
  EXPECT_EQ(channel[0]->case_routed().rule_id(), "OUTCOME:ADOPTED_TO_CHANNEL");
  const auto delivered = EventsOf(events, v1::Event::kCaseDelivered, pv, "CHANNEL");
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0]->case_delivered().recipient_agency(), "kcc-channel-panel");
  // The PREVENT case was acknowledged: it is not delivered again.
  EXPECT_EQ(EventsOf(events, v1::Event::kCaseDelivered, pv, "PREVENT").size(), 1u);
}

}  // namespace
}  // namespace refx::testing
