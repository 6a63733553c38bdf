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

#include <google/protobuf/util/time_util.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <httplib.h>

#include "core/event_util.h"
#include "core/json.h"
#include "core/london_time.h"
#include "core/working_calendar.h"
#include "domain/monitoring/case_fold.h"
#include "services_stack.h"

namespace refx::testing {
namespace {

// refx-router, refx-delivery and refx-outcomes as child processes, in that
// order, against `s`'s broker.
std::vector<std::unique_ptr<ServiceProcess>> StartServices(ServicesStack* s) {
  std::vector<std::unique_ptr<ServiceProcess>> services;
  for (const auto& [binary, name] : std::vector<std::pair<std::string, std::string>>{
           {REFX_ROUTER_BIN, "refx-router"}, {REFX_DELIVERY_BIN, "refx-delivery"}, {REFX_OUTCOMES_BIN, "refx-outcomes"}}) {
    services.push_back(std::make_unique<ServiceProcess>(s->ServiceArgs(binary, name), s->LogPath(name)));
    services.back()->Start();
  }
  return services;
}

TEST(EndToEndTest, ReferralGoesFromSubmissionToOutcomeThroughTheRealProcesses) {
  ServicesStack s;
  ASSERT_TRUE(s.stack().StartBroker());
  std::vector<std::unique_ptr<ServiceProcess>> services = StartServices(&s);
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
    std::string last;
    ASSERT_TRUE(s.WaitHealthy(name, &last)) << name << ": " << last;
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


v1::Referral SampleReferral(const std::string& file) {
  std::ifstream in(std::string(REFX_SOURCE_DIR) + "/deploy/samples/" + file);
  std::stringstream text;
  text << in.rdbuf();
  v1::Referral referral;
  const Status s = MessageFromJson(text.str(), &referral);
  EXPECT_TRUE(s.ok()) << file << ": " << s.ToString();
  return referral;
}

// One referral of each kind of ROUTING.md rules 14-17 and the Violence
// Reduction Unit's, from deploy/samples/, through the real processes: each
// is routed where its rules say, with the deadlines they set, and
// delivered; the Duty-to-Notify delivery names nobody.
TEST(EndToEndTest, NewPathwaysAreRoutedAndDeliveredThroughTheRealProcesses) {
  ServicesStack s;
  ASSERT_TRUE(s.stack().StartBroker());
  std::vector<std::unique_ptr<ServiceProcess>> services = StartServices(&s);
  const std::map<std::string, std::set<std::string>> want = {
      {"26-business-crime-repeat-offender.json", {"CMARAC"}},
      {"27-modern-slavery-adult-duty-to-notify.json", {"MODERN_SLAVERY_DTN"}},
      {"28-fgm-girl-under-18.json", {"POLICE_SAFEGUARDING", "CHILDRENS_FRONT_DOOR"}},
      {"29-missing-child-returned.json", {"MISSING_RHI", "DCSM"}},
      {"30-vru-young-person-dcsm.json", {"DCSM"}},
  };
  std::map<std::string, std::string> ids;  // file -> referral id
  std::map<std::string, v1::Referral> sent;
  for (const auto& [file, dests] : want) {
    sent[file] = SampleReferral(file);
    ids[file] = s.Submit(sent[file]);
    ASSERT_FALSE(ids[file].empty()) << file;
  }
  const auto events = s.WaitFor("every case routed and delivered", [&](const std::vector<v1::Event>& ev) {
    for (const auto& [file, dests] : want) {
      for (const std::string& dest : dests) {
        if (EventsOf(ev, v1::Event::kCaseDelivered, ids[file], dest).empty()) return false;
      }
    }
    return true;
  });
  for (auto& service : services) {
    const int status = service->Stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << service->Log();
  }

  WorkingCalendar calendar;
  ASSERT_TRUE(WorkingCalendar::FromProto(s.config().proto().calendar(), &calendar).ok());
  for (const auto& [file, dests] : want) {
    SCOPED_TRACE(file);
    const std::string& id = ids[file];
    const std::vector<std::string> routed = RoutedDestinations(events, id);
    EXPECT_EQ(std::set<std::string>(routed.begin(), routed.end()), dests);
    const auto submitted = EventsOf(events, v1::Event::kReferralSubmitted, id);
    ASSERT_EQ(submitted.size(), 1u);
    const CivilDate submitted_on = CivilDate::FromDays(submitted[0]->time().seconds() / 86400);
    for (const v1::Event* e : EventsOf(events, v1::Event::kCaseRouted, id)) {
      const v1::CaseRouted& c = e->case_routed();
      if (c.destination() == "MISSING_RHI") {
        // 72 clock hours from the child's return.
        google::protobuf::Timestamp returned;
        ASSERT_TRUE(google::protobuf::util::TimeUtil::FromString(sent[file].missing().returned_at(), &returned));
        EXPECT_EQ(c.deadline().seconds(), returned.seconds() + 72 * 3600);
      }
      if (c.destination() == "POLICE_SAFEGUARDING") {
        // FGM: the end of the next working day.
        EXPECT_EQ(c.deadline().seconds(), EndOfLondonDay(calendar.AddWorkingDays(submitted_on, 1)));
        EXPECT_EQ(c.rule_id(), "R16_FGM_UNDER_18");
      }
    }
    for (const v1::Event* e : EventsOf(events, v1::Event::kCaseDelivered, id)) {
      const v1::CaseDelivered& d = e->case_delivered();
      EXPECT_EQ(d.recipient_agency(), s.config().DestinationByCode(d.destination())->agency_id());
      if (d.destination() != "MODERN_SLAVERY_DTN") continue;
      // The Duty to Notify: no name, address, contact, referrer or story;
      // the exploitation type and the reason it is anonymous.
      EXPECT_TRUE(d.view().person().given_name().empty());
      EXPECT_TRUE(d.view().person().family_name().empty());
      EXPECT_TRUE(d.view().person().date_of_birth().empty());
      EXPECT_TRUE(d.view().person().address().empty());
      EXPECT_TRUE(d.view().referrer().name().empty());
      EXPECT_TRUE(d.view().narrative().empty());
      EXPECT_TRUE(d.view().exploitation().labour_exploitation());
      EXPECT_NE(d.reason().find("Duty to Notify"), std::string::npos) << d.reason();
    }
  }
  // The business-crime referral reached the CMARAC with the member
  // business recorded and the incidents as pathway data.
  for (const v1::Event* e : EventsOf(events, v1::Event::kCaseDelivered, ids["26-business-crime-repeat-offender.json"])) {
    EXPECT_FALSE(e->case_delivered().view().business_crime().member_business().empty());
    EXPECT_EQ(e->case_delivered().view().business_crime().incidents_size(), 3);
  }
}

}  // namespace
}  // namespace refx::testing
