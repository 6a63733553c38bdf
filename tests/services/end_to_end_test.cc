// The whole path through real processes: the refx-broker, refx-router,
// refx-delivery and refx-outcomes binaries as child processes over CURVE,
// the Sevenoaks configuration, a lead following its inbox. A referral is
// submitted, routed by the rules, delivered (need-to-know view) to the lead
// who is watching, acknowledged, accepted and given an outcome; replaying
// the log gives the states the broker holds; a clean stop of every service
// exits 0.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "core/event_util.h"
#include "services/outcomes/case_fold.h"
#include "services_stack.h"

namespace refx::testing {
namespace {

TEST(EndToEndTest, ReferralGoesFromSubmissionToOutcomeThroughTheRealProcesses) {
  ServicesStack s;
  ASSERT_TRUE(s.stack().StartBroker());
  std::vector<std::unique_ptr<ServiceProcess>> services;
  for (const auto& [binary, name] : std::vector<std::pair<std::string, std::string>>{
           {REFX_ROUTER_BIN, "refx-router"}, {REFX_DELIVERY_BIN, "refx-delivery"}, {REFX_OUTCOMES_BIN, "refx-outcomes"}}) {
    services.push_back(std::make_unique<ServiceProcess>(s.ServiceArgs(binary, name), s.LogPath(name)));
    services.back()->Start();
  }
  const v1::Destination* marac = s.config().DestinationByCode("DA_MARAC");
  ASSERT_NE(marac, nullptr);
  const std::string lead = marac->agency_id();

  // The DA MARAC coordinator follows its inbox from the start of the log.
  std::mutex mu;
  std::vector<v1::Event> delivered;
  std::atomic<bool> stop_watching{false};
  std::thread watcher([&] {
    auto client = s.stack().ClientFor(lead, 500, 50);
    v1::ReadRequest follow;
    follow.set_follow(true);
    (void)client->Read(
        follow,
        [&](const v1::Event& e, const std::string&, const std::string&) {
          if (e.has_case_delivered()) {
            std::lock_guard<std::mutex> lock(mu);
            delivered.push_back(e);
          }
          return !stop_watching.load();
        },
        [&] { return stop_watching.load(); });
  });

  const std::string referral = s.Submit(DaHighRiskReferral("kent-police", "E2E-1", "Robin"));
  ASSERT_FALSE(referral.empty());
  // Rule R1 routes a DASH 15 referral to the DA MARAC and the IDVA service;
  // the delivery service hands the MARAC its view; the watching lead sees it.
  v1::Event delivery;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const v1::Event& e : delivered) {
        if (e.case_delivered().referral_id() == referral && e.case_delivered().destination() == "DA_MARAC") delivery = e;
      }
    }
    if (delivery.has_case_delivered()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop_watching = true;
  watcher.join();
  ASSERT_TRUE(delivery.has_case_delivered()) << "no delivery reached the lead; router log:\n"
                                            << services[0]->Log() << "\ndelivery log:\n"
                                            << services[1]->Log();
  EXPECT_EQ(delivery.actor(), "refx-delivery");
  EXPECT_EQ(delivery.case_delivered().recipient_agency(), lead);
  EXPECT_EQ(delivery.case_delivered().view().person().given_name(), "Robin");

  auto events = s.WaitFor("both cases routed", [&](const std::vector<v1::Event>& ev) {
    return RoutedDestinations(ev, referral).size() == 2;
  });
  for (const v1::Event* routed : EventsOf(events, v1::Event::kCaseRouted, referral)) {
    EXPECT_EQ(routed->actor(), "refx-router");
    EXPECT_FALSE(routed->case_routed().rule_id().empty());
  }

  // The lead acknowledges, accepts and records an outcome.
  auto client = s.stack().ClientFor(lead);
  auto append = [&](const std::function<void(v1::Event*)>& set) {
    v1::Event e;
    set(&e);
    v1::Ack ack;
    return client->Append(e, "", &ack);
  };
  ASSERT_TRUE(append([&](v1::Event* e) {
                e->mutable_case_acknowledged()->set_referral_id(referral);
                e->mutable_case_acknowledged()->set_destination("DA_MARAC");
              }).ok());
  ASSERT_TRUE(append([&](v1::Event* e) {
                e->mutable_case_accepted()->set_referral_id(referral);
                e->mutable_case_accepted()->set_destination("DA_MARAC");
              }).ok());
  ASSERT_TRUE(append([&](v1::Event* e) {
                e->mutable_outcome_recorded()->set_referral_id(referral);
                e->mutable_outcome_recorded()->set_destination("DA_MARAC");
                e->mutable_outcome_recorded()->set_code("LISTED_AT_MEETING");
              }).ok());
  v1::QueryRequest query;
  query.set_referral_id(referral);
  v1::QueryResult result;
  ASSERT_TRUE(client->Query(query, &result).ok());
  ASSERT_EQ(result.cases_size(), 1);  // the lead sees its own case only
  EXPECT_EQ(result.cases(0).destination(), "DA_MARAC");
  EXPECT_EQ(result.cases(0).state(), v1::OUTCOME_RECORDED);
  EXPECT_EQ(result.cases(0).last_outcome(), "LISTED_AT_MEETING");

  // Each process serves its own figures over HTTP (issue 9 item 13).
  const std::map<std::string, std::vector<std::string>> expected_series = {
      {"refx-router", {"refx_router_cases_routed_total 2\n", "# TYPE refx_router_cursor_lag gauge\n"}},
      {"refx-delivery", {"refx_delivery_redeliveries_total 0\n", "refx_delivery_undeliverable_cases 0\n"}},
      {"refx-outcomes", {"refx_outcomes_overdue_cases ", "refx_outcomes_open_cases "}},
  };
  for (const auto& [name, series] : expected_series) {
    httplib::Client http("127.0.0.1", s.metrics_port(name));
    auto health = http.Get("/healthz");
    ASSERT_TRUE(health) << name;
    EXPECT_EQ(health->status, 200) << name << ": " << health->body;
    auto metrics = http.Get("/metrics");
    ASSERT_TRUE(metrics) << name;
    for (const std::string& line : series) EXPECT_NE(metrics->body.find(line), std::string::npos) << name << metrics->body;
  }

  // The services stop first, so nothing is appended between the replay
  // and the broker's answer below.
  for (auto& service : services) {
    const int status = service->Stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << service->Log();
  }

  // Replaying the log reproduces exactly the case states the broker holds
  // (what the services and leads act on).
  outcomes::CaseFold fold;
  for (const v1::Event& e : s.ReadLog()) fold.Apply(e);
  v1::QueryResult live;
  ASSERT_TRUE(s.stack().ClientFor("refx-outcomes")->Query(query, &live).ok());
  ASSERT_EQ(live.cases_size(), 2);
  EXPECT_EQ(fold.CasesOf(referral).size(), 2u);
  for (const v1::CaseRecord& c : live.cases()) {
    const outcomes::CaseView* replayed = fold.Find(referral, c.destination());
    ASSERT_NE(replayed, nullptr) << c.destination();
    EXPECT_EQ(replayed->state, c.state()) << c.destination();
  }
}

}  // namespace
}  // namespace refx::testing
