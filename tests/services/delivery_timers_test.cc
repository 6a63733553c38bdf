// The delivery service's timers with a fake clock, in-process against the
// real refx-broker: redelivery of unacknowledged cases (and none after an
// acknowledgement), undeliverable after undeliverable_after_seconds with an
// escalation to CSU triage, and an escalation left half-done by a crash
// finished after a restart. The test routes cases itself, as refx-router.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include <httplib.h>

#include "core/london_time.h"
#include "core/metrics_http.h"
#include "services/delivery/delivery_service.h"
#include "services_stack.h"

namespace refx::testing {
namespace {

class DeliveryTimersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(s_.stack().StartBroker());
    router_ = s_.stack().ClientFor("refx-router");
  }

  std::unique_ptr<DeliveryService> MakeDelivery() {
    DeliveryOptions o;
    o.config = &s_.config();
    o.client = s_.stack().ClientOptionsFor("refx-delivery");
    o.state_dir = s_.StateDir("delivery");
    o.retry_delay_ms = 200;
    o.clock = [this] { return std::chrono::system_clock::now() + std::chrono::seconds(offset_.load()); };
    std::unique_ptr<DeliveryService> delivery;
    Status st = DeliveryService::Create(std::move(o), &delivery);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return delivery;
  }

  // Opens case (referral, destination) as the router would.
  void Route(const std::string& referral_id, const std::string& destination) {
    v1::Event e;
    e.mutable_case_routed()->set_referral_id(referral_id);
    e.mutable_case_routed()->set_destination(destination);
    e.mutable_case_routed()->set_rule_id("TEST_RULE");
    e.mutable_case_routed()->set_reason("routed by the test");
    v1::Ack ack;
    Status st = router_->Append(e, "route:" + referral_id + ":" + destination, &ack);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // Waits until the service has completed `n` more checks of its timers.
  void WaitPasses(const DeliveryService& delivery, uint64_t n) {
    const uint64_t target = delivery.timer_passes() + n;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (delivery.timer_passes() < target) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the delivery service stopped checking its timers";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  size_t Count(const std::vector<v1::Event>& ev, v1::Event::BodyCase kind, const std::string& ref,
               const std::string& dest) {
    return EventsOf(ev, kind, ref, dest).size();
  }

  ServicesStack s_;
  std::unique_ptr<BrokerClient> router_;
  std::atomic<int64_t> offset_{0};  // seconds the fake clock is ahead
};

TEST_F(DeliveryTimersTest, RedeliversThenEscalatesUnacknowledgedCases) {
  const v1::DeliverySettings& settings = s_.config().proto().delivery();
  ASSERT_EQ(settings.escalate_to(), "CSU_TRIAGE");
  const int64_t interval = settings.redelivery_interval_seconds();
  const int64_t give_up = settings.undeliverable_after_seconds();
  ASSERT_GT(interval, 0);
  ASSERT_GT(give_up, interval);

  const std::string a = s_.Submit(DaHighRiskReferral("kent-police", "T-DL-A", "Avery"));
  const std::string b = s_.Submit(DaHighRiskReferral("kent-police", "T-DL-B", "Blake"));
  Route(a, "IDVA");
  Route(b, "IDVA");
  auto delivery = MakeDelivery();
  ASSERT_TRUE(delivery);
  HostedService d;
  d.Start([&](const std::function<bool()>& stop) { return delivery->Run(stop); });
  s_.WaitFor("first deliveries", [&](const std::vector<v1::Event>& ev) {
    return Count(ev, v1::Event::kCaseDelivered, a, "IDVA") == 1 && Count(ev, v1::Event::kCaseDelivered, b, "IDVA") == 1;
  });

  // The IDVA service acknowledges A only.
  v1::Event ack;
  ack.mutable_case_acknowledged()->set_referral_id(a);
  ack.mutable_case_acknowledged()->set_destination("IDVA");
  v1::Ack acked;
  ASSERT_TRUE(s_.stack().ClientFor("look-ahead-idva")->Append(ack, "", &acked).ok());
  for (int i = 0; i < 3000 && delivery->last_seq() < acked.seq(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GE(delivery->last_seq(), acked.seq());

  // One interval later B is delivered again; A is not.
  offset_ = interval + 1;
  auto events = s_.WaitFor("B redelivered", [&](const std::vector<v1::Event>& ev) {
    return Count(ev, v1::Event::kCaseDelivered, b, "IDVA") >= 2;
  });
  WaitPasses(*delivery, 2);
  events = s_.ReadLog();
  const auto b_deliveries = EventsOf(events, v1::Event::kCaseDelivered, b, "IDVA");
  ASSERT_EQ(b_deliveries.size(), 2u) << "one redelivery per interval";
  EXPECT_EQ(b_deliveries[1]->case_delivered().attempt(), 2u);
  EXPECT_EQ(b_deliveries[1]->actor(), "refx-delivery");
  EXPECT_EQ(b_deliveries[1]->case_delivered().view().person().given_name(), "Blake");
  EXPECT_EQ(Count(events, v1::Event::kCaseDelivered, a, "IDVA"), 1u) << "an acknowledged case is not redelivered";

  // Past undeliverable_after_seconds: B is undeliverable, escalated and
  // opened at CSU triage, which then gets it delivered.
  offset_ = give_up + interval + 1;
  events = s_.WaitFor("B escalated to CSU triage and delivered there", [&](const std::vector<v1::Event>& ev) {
    return HasEvent(ev, v1::Event::kCaseDelivered, b, "CSU_TRIAGE");
  });
  const auto undeliverable = EventsOf(events, v1::Event::kCaseUndeliverable, b, "IDVA");
  ASSERT_EQ(undeliverable.size(), 1u);
  EXPECT_EQ(undeliverable[0]->actor(), "refx-delivery");
  EXPECT_FALSE(undeliverable[0]->case_undeliverable().reason().empty());
  const auto escalated = EventsOf(events, v1::Event::kCaseEscalated, b, "IDVA");
  ASSERT_EQ(escalated.size(), 1u);
  EXPECT_EQ(escalated[0]->case_escalated().escalated_to(), "CSU_TRIAGE");
  const auto routed = EventsOf(events, v1::Event::kCaseRouted, b, "CSU_TRIAGE");
  ASSERT_EQ(routed.size(), 1u);
  EXPECT_EQ(routed[0]->actor(), "refx-delivery");
  EXPECT_EQ(routed[0]->case_routed().rule_id(), "ESCALATED_UNDELIVERABLE");
  const int64_t deadline = routed[0]->case_routed().deadline().seconds();
  EXPECT_EQ(deadline, EndOfLondonDay(LondonDateOf(deadline))) << "the end of a day in London";
  EXPECT_EQ(Count(events, v1::Event::kCaseDelivered, b, "IDVA"), 2u) << "no redelivery once undeliverable";
  EXPECT_EQ(Count(events, v1::Event::kCaseUndeliverable, a, "IDVA"), 0u);

  // The service's figures over real HTTP (issue 9 item 13): one
  // redelivery (B's attempt 2), one undeliverable case, and no lag once it
  // has read the log to the head.
  MetricsHttpServer http([&] { return delivery->RenderMetrics(); },
                         [&](std::string* fields) { return delivery->Healthy(fields); });
  ASSERT_TRUE(http.Start("127.0.0.1:0").ok());
  WaitPasses(*delivery, 2);
  httplib::Client client("127.0.0.1", http.port());
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("refx_delivery_redeliveries_total 1\n"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("refx_delivery_undeliverable_cases 1\n"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("refx_delivery_last_seq " + std::to_string(delivery->last_seq()) + "\n"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("# TYPE refx_delivery_cursor_lag gauge\n"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("refx_delivery_open_cases "), std::string::npos) << metrics->body;
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_NE(health->body.find("\"following\":true"), std::string::npos) << health->body;
  ASSERT_TRUE(d.Stop().ok());
}

TEST_F(DeliveryTimersTest, RestartFinishesAnEscalationAndRepeatsNothing) {
  const std::string b = s_.Submit(DaHighRiskReferral("kent-police", "T-DL-B", "Blake"));
  const std::string c = s_.Submit(DaHighRiskReferral("kent-police", "T-DL-C", "Cameron"));
  Route(b, "IDVA");
  Route(c, "IDVA");
  {
    auto delivery = MakeDelivery();
    ASSERT_TRUE(delivery);
    HostedService d;
    d.Start([&](const std::function<bool()>& stop) { return delivery->Run(stop); });
    s_.WaitFor("B and C delivered", [&](const std::vector<v1::Event>& ev) {
      return HasEvent(ev, v1::Event::kCaseDelivered, b, "IDVA") && HasEvent(ev, v1::Event::kCaseDelivered, c, "IDVA");
    });
    ASSERT_TRUE(d.Stop().ok());
  }
  // A crash right after marking C undeliverable, before escalating it.
  v1::Event undeliverable;
  undeliverable.mutable_case_undeliverable()->set_referral_id(c);
  undeliverable.mutable_case_undeliverable()->set_destination("IDVA");
  undeliverable.mutable_case_undeliverable()->set_reason("not acknowledged (simulated)");
  v1::Ack ack;
  ASSERT_TRUE(s_.stack().ClientFor("refx-delivery")->Append(undeliverable, "undeliverable:" + c + ":IDVA", &ack).ok());
  const size_t before = s_.ReadLog().size();

  // A new process rebuilds its timers from the log.
  auto delivery = MakeDelivery();
  ASSERT_TRUE(delivery);
  HostedService d;
  d.Start([&](const std::function<bool()>& stop) { return delivery->Run(stop); });
  auto events = s_.WaitFor("C escalated and delivered at CSU triage", [&](const std::vector<v1::Event>& ev) {
    return HasEvent(ev, v1::Event::kCaseDelivered, c, "CSU_TRIAGE");
  });
  WaitPasses(*delivery, 2);
  ASSERT_TRUE(d.Stop().ok());
  events = s_.ReadLog();
  EXPECT_EQ(Count(events, v1::Event::kCaseEscalated, c, "IDVA"), 1u);
  EXPECT_EQ(Count(events, v1::Event::kCaseRouted, c, "CSU_TRIAGE"), 1u);
  EXPECT_EQ(Count(events, v1::Event::kCaseDelivered, c, "CSU_TRIAGE"), 1u);
  EXPECT_EQ(Count(events, v1::Event::kCaseDelivered, b, "IDVA"), 1u) << "B is not due: nothing repeated";
  EXPECT_EQ(events.size(), before + 3) << "escalated, routed, delivered: nothing else";
}

}  // namespace
}  // namespace refx::testing
