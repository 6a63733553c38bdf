#include "in_process_broker.h"

#include <gtest/gtest.h>

#include "eventlog/checkpoint_signing.h"
#include "eventlog/sealing.h"

namespace refx::testing {

InProcessBroker::InProcessBroker(const TestStack& stack, std::atomic<int64_t>* today_days,
                                 const std::function<void(broker::BrokerOptions*)>& tune) {
  EXPECT_TRUE(PartnershipConfig::Load(stack.config_path(), &config_).ok());
  broker::BrokerOptions options;
  std::unique_ptr<eventlog::CheckpointSigner> signer;
  EXPECT_TRUE(eventlog::CheckpointSigner::Load(stack.key_dir() + "/broker.sign.key", &signer).ok());
  options.signer = std::move(signer);
  options.server_keys = stack.broker_keys();
  options.frontend_endpoint = "tcp://127.0.0.1:*";
  options.metrics_address = "off";
  options.today = [today_days] { return CivilDate::FromDays(today_days->load()); };
  if (tune) tune(&options);
  eventlog::OpenOptions open;
  open.path = stack.data_dir();
  EXPECT_TRUE(eventlog::LoadMasterKeyFile(stack.master_key_path(), &open.master_key).ok());
  std::unique_ptr<eventlog::EventLog> log;
  EXPECT_TRUE(eventlog::EventLog::Open(open, &log).ok());
  broker_ = std::make_unique<broker::Broker>(std::move(options), config_.get(), std::move(log));
  EXPECT_TRUE(broker_->Start().ok());
  thread_ = std::thread([this] { result_ = broker_->Run(); });
}

InProcessBroker::~InProcessBroker() {
  broker_->RequestStop();
  thread_.join();
  EXPECT_TRUE(result_.ok()) << result_.ToString();
}

}  // namespace refx::testing
