// GET /v1/referrals/{ref} through the real processes: refx-broker,
// refx-router and refx-delivery as children over the Sevenoaks
// configuration, the kent-police adapter in front. The status goes to
// "routed" with the destinations the rules chose and each case's state and
// outcome, and never carries the leads' notes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "adapter_process.h"
#include "core/json.h"
#include "tests/services/services_stack.h"

namespace refx::testing {
namespace {

using nlohmann::json;

TEST(AdapterRoutingTest, StatusShowsDestinationsAndOutcomesWithoutNotes) {
  ServicesStack s;
  ASSERT_TRUE(s.stack().StartBroker());
  ServiceProcess router(s.ServiceArgs(REFX_ROUTER_BIN, "refx-router"), s.LogPath("refx-router"));
  ServiceProcess delivery(s.ServiceArgs(REFX_DELIVERY_BIN, "refx-delivery"), s.LogPath("refx-delivery"));
  router.Start();
  delivery.Start();
  AdapterProcess adapter(s.stack(), "kent-police");
  ASSERT_TRUE(adapter.Start());
  auto c = adapter.Client();
  auto r = c->Post("/v1/referrals?wait=durable", ToJsonLine(DaHighRiskReferral("kent-police", "KP-RT-1")),
                   "application/json");
  ASSERT_EQ(r->status, 201) << r->body;
  const std::string referral = json::parse(r->body)["referralId"];

  auto status = [&] { return json::parse(c->Get("/v1/referrals/KP-RT-1")->body); };
  json st;
  for (int i = 0; i < 600; ++i) {
    st = status();
    if (st["state"] == "routed" && st["destinations"].size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(st["state"], "routed") << st.dump();
  std::set<std::string> destinations(st["destinations"].begin(), st["destinations"].end());
  EXPECT_EQ(destinations, (std::set<std::string>{"DA_MARAC", "IDVA"}));

  // The DA MARAC's lead acknowledges, accepts and records an outcome, the
  // last two with notes.
  const std::string lead = s.config().DestinationByCode("DA_MARAC")->agency_id();
  auto lead_client = s.stack().ClientFor(lead);
  std::vector<v1::Event> steps(3);
  steps[0].mutable_case_acknowledged()->set_referral_id(referral);
  steps[0].mutable_case_acknowledged()->set_destination("DA_MARAC");
  steps[1].mutable_case_accepted()->set_referral_id(referral);
  steps[1].mutable_case_accepted()->set_destination("DA_MARAC");
  steps[1].mutable_case_accepted()->set_note("MARAC-PRIVATE-NOTE-1");
  steps[2].mutable_outcome_recorded()->set_referral_id(referral);
  steps[2].mutable_outcome_recorded()->set_destination("DA_MARAC");
  steps[2].mutable_outcome_recorded()->set_code("LISTED_AT_MEETING");
  steps[2].mutable_outcome_recorded()->set_note("MARAC-PRIVATE-NOTE-2");
  // "routed" above is case_routed; the lead may acknowledge once the
  // delivery service has logged case_delivered, which can come later.
  s.WaitFor("the DA MARAC case delivered", [&](const std::vector<v1::Event>& events) {
    return HasEvent(events, v1::Event::kCaseDelivered, referral, "DA_MARAC");
  });
  for (const v1::Event& step : steps) {
    v1::Ack ack;
    ASSERT_TRUE(lead_client->Append(step, "", &ack).ok()) << step.ShortDebugString();
  }
  std::string body;
  bool outcome_seen = false;
  for (int i = 0; i < 300 && !outcome_seen; ++i) {
    body = c->Get("/v1/referrals/KP-RT-1")->body;
    const json parsed = json::parse(body);
    for (const auto& cs : parsed["cases"]) {
      if (cs["destination"] == "DA_MARAC" && cs.value("lastOutcome", std::string()) == "LISTED_AT_MEETING") outcome_seen = true;
    }
    if (!outcome_seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(outcome_seen) << body;
  EXPECT_EQ(body.find("MARAC-PRIVATE-NOTE"), std::string::npos) << body;
  EXPECT_EQ(body.find("\"note\""), std::string::npos) << body;
}

}  // namespace
}  // namespace refx::testing
