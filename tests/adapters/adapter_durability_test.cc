// Nothing lost, nothing twice, through refx-adapter: the broker down while
// 1,000 referrals arrive over HTTP, then started; the adapter SIGKILLed 10
// times at random moments in a burst and restarted. Real adapter and broker
// binaries, CURVE, RocksDB in a temp folder; the log is read at the end.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <random>
#include <thread>

#include "adapter_process.h"
#include "core/json.h"
#include "log_reader.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

// Posts references PREFIX-first .. PREFIX-(last-1) in order, each until the
// adapter answers 202 (a connection refused or cut by a kill is retried:
// the reference makes the resend safe).
void PostUntilAccepted(const AdapterProcess& adapter, const std::string& prefix, int first, int last,
                       std::atomic<int>* accepted, std::atomic<int>* refused) {
  std::unique_ptr<httplib::Client> c;
  for (int i = first; i < last; ++i) {
    const std::string body = ToJsonLine(SampleReferral("agency-a", prefix + "-" + std::to_string(i)));
    for (;;) {
      if (!c) {
        c = adapter.Client();
        c->set_connection_timeout(1, 0);
      }
      auto r = c->Post("/v1/referrals", body, "application/json");
      if (r && r->status == 202) {
        ++*accepted;
        break;
      }
      if (r && r->status != 503) {
        ++*refused;
        break;
      }
      c.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

void ExpectEachOnce(const LogContents& log, const std::string& prefix, int count) {
  int missing = 0, twice = 0;
  for (int i = 0; i < count; ++i) {
    auto it = log.submissions.find({"agency-a", prefix + "-" + std::to_string(i)});
    if (it == log.submissions.end()) ++missing;
    else if (it->second.size() != 1) ++twice;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(twice, 0);
  EXPECT_EQ(log.submissions.size(), static_cast<size_t>(count));
}

TEST(AdapterDurabilityTest, BrokerDownWhileAThousandArriveThenEachLandsOnce) {
  TestStack stack;
  ASSERT_TRUE(stack.StartBroker());  // picks the broker's port
  stack.StopBroker(SIGTERM);
  AdapterProcess adapter(stack, "agency-a", "rate_limit_per_minute: 100000");
  ASSERT_TRUE(adapter.Start());  // the broker is down
  constexpr int kClients = 16, kEach = 1000 / kClients + 1, kTotal = kClients * kEach;
  std::atomic<int> accepted{0}, refused{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back(PostUntilAccepted, std::cref(adapter), "BD", t * kEach, (t + 1) * kEach, &accepted, &refused);
  }
  for (auto& th : clients) th.join();
  EXPECT_EQ(accepted.load(), kTotal);
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(adapter.Metric("refx_adapter_spool_depth"), kTotal);
  // The forwarder's attempts against the stopped broker fail and are counted.
  for (int i = 0; i < 600 && adapter.Metric("refx_adapter_forward_failures_total") <= 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GT(adapter.Metric("refx_adapter_forward_failures_total"), 0);
  EXPECT_EQ(adapter.Metric("refx_adapter_broker_reachable"), 0);
  ASSERT_TRUE(stack.StartBroker());
  ASSERT_TRUE(adapter.WaitForEmptySpool(120));
  EXPECT_EQ(adapter.Metric("refx_adapter_forwarded_total"), kTotal);
  adapter.Stop(SIGTERM);
  LogContents log = StopAndCheckLog(stack, kTotal);
  ExpectEachOnce(log, "BD", kTotal);
}

TEST(AdapterDurabilityTest, TenSigkillsMidBurstLoseNothingAndDuplicateNothing) {
  TestStack stack;
  ASSERT_TRUE(stack.StartBroker());
  AdapterProcess adapter(stack, "agency-a", "rate_limit_per_minute: 100000");
  ASSERT_TRUE(adapter.Start());
  constexpr int kClients = 8, kEach = 150, kTotal = kClients * kEach;
  std::atomic<int> accepted{0}, refused{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back(PostUntilAccepted, std::cref(adapter), "SK", t * kEach, (t + 1) * kEach, &accepted, &refused);
  }
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pause_ms(50, 400);
  for (int kill = 0; kill < 10; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    adapter.Stop(SIGKILL);
    ASSERT_TRUE(adapter.Start()) << "restart " << kill;
  }
  for (auto& th : clients) th.join();
  EXPECT_EQ(accepted.load(), kTotal);
  EXPECT_EQ(refused.load(), 0);
  ASSERT_TRUE(adapter.WaitForEmptySpool(120));
  adapter.Stop(SIGTERM);
  LogContents log = StopAndCheckLog(stack, kTotal);
  ExpectEachOnce(log, "SK", kTotal);
}

}  // namespace
}  // namespace refx::testing
