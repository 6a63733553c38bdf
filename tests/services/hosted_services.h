// The router, the delivery service and the notifier made for a
// ServicesStack, to be hosted in-process (HostedService) by tests that need
// cases routed and delivered (and alerts sent) around what they test. Fails
// the test (EXPECT) when one cannot be made.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "services/delivery/delivery_service.h"
#include "services/notifier/notifier_service.h"
#include "services/router/router_service.h"
#include "services_stack.h"

namespace refx::testing {

// `secret`: the subject key the router uses; the stack's when null.
inline std::unique_ptr<RouterService> MakeHostedRouter(ServicesStack& s, int retry_delay_ms = 200,
                                                       const std::string* secret = nullptr) {
  RouterOptions o;
  o.config = &s.config();
  o.subject_secret = secret != nullptr ? *secret : s.subject_secret();
  o.client = s.stack().ClientOptionsFor("refx-router");
  o.state_dir = s.StateDir("router");
  o.retry_delay_ms = retry_delay_ms;
  std::unique_ptr<RouterService> router;
  Status st = RouterService::Create(std::move(o), &router);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return router;
}

inline std::unique_ptr<DeliveryService> MakeHostedDelivery(ServicesStack& s, int retry_delay_ms = 200) {
  DeliveryOptions o;
  o.config = &s.config();
  o.client = s.stack().ClientOptionsFor("refx-delivery");
  o.state_dir = s.StateDir("delivery");
  o.retry_delay_ms = retry_delay_ms;
  std::unique_ptr<DeliveryService> delivery;
  Status st = DeliveryService::Create(std::move(o), &delivery);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return delivery;
}

// `clock`: the time the notifier compares deadlines with; the system's when
// null.
inline std::unique_ptr<notifier::NotifierService> MakeHostedNotifier(
    ServicesStack& s, std::function<notifier::TimePoint()> clock = nullptr) {
  notifier::NotifierOptions o;
  o.config = &s.config();
  o.client = s.stack().ClientOptionsFor("refx-notifier");
  o.state_dir = s.StateDir("notifier");
  o.clock = std::move(clock);
  o.check_interval = std::chrono::milliseconds(100);
  o.retry_delay_ms = 200;
  std::unique_ptr<notifier::NotifierService> n;
  Status st = notifier::NotifierService::Create(std::move(o), &n);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return n;
}

}  // namespace refx::testing
