// A real broker run in the test's process (real ZeroMQ with CURVE, real
// RocksDB in the stack's data folder) so that a test can set its date:
// its `today` reads a day count the test moves. For retention tests.
//
// Thread-safety: made and destroyed by one thread; the broker runs on its
// own thread meanwhile.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "broker/broker.h"
#include "test_stack.h"

namespace refx::testing {

class InProcessBroker {
 public:
  // Opens `stack`'s log with its master key and starts the broker (signing
  // checkpoints with the stack's key) on a free loopback port, its date
  // the day count in *today_days (days since 1970; must outlive it).
  // `tune` adjusts the options last (the endpoint, the sweep's slice and
  // gate). Failures are test failures.
  InProcessBroker(const TestStack& stack, std::atomic<int64_t>* today_days,
                  const std::function<void(broker::BrokerOptions*)>& tune = nullptr);
  // Stops the broker and waits for its thread.
  ~InProcessBroker();
  InProcessBroker(const InProcessBroker&) = delete;
  InProcessBroker& operator=(const InProcessBroker&) = delete;

  const std::string& endpoint() const { return broker_->frontend_endpoint(); }

 private:
  std::unique_ptr<PartnershipConfig> config_;
  std::unique_ptr<broker::Broker> broker_;
  std::thread thread_;
  Status result_;
};

}  // namespace refx::testing
