// The file drop against the real broker: the adapter's real spool and
// forwarder in this process, the real refx-broker as a child over loopback
// TCP with CURVE, a real RocksDB log. A file dropped twice (and a file
// taken again after a crash before it was moved) lands each referral once.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "adapters/adapter.h"
#include "adapters/adapter_config.h"
#include "adapters/filedrop/component.h"
#include "filedrop_test_util.h"
#include "log_reader.h"
#include "test_stack.h"

namespace refx::adapters {
namespace {

using namespace std::chrono_literals;

class FileDropBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.StartBroker());
    ASSERT_TRUE(SaveCurveKeyPair(stack_.key_dir(), "kent-police", stack_.agency_keys("kent-police")).ok());
    inbox_ = dir_.path() + "/inbox";
    std::string config = "agency_id: \"kent-police\"\n"
                         "broker { endpoint: \"" + stack_.endpoint() + "\" broker_public_key_file: \"" +
                         stack_.key_dir() + "/broker.pub\" key_dir: \"" + stack_.key_dir() + "\" }\n"
                         "spool_dir: \"" + dir_.path() + "/spool\"\n"
                         "drops { folder: \"" + inbox_ + "\" csv_format: \"test-police\" }\n"
                         "csv_formats {" + testing::kPoliceFormat + "}\n";
    std::unique_ptr<AdapterConfig> parsed;
    Status s = AdapterConfig::Parse(config, "test.textproto", dir_.path(), &parsed);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_TRUE(Adapter::Open(std::move(parsed), &adapter_).ok());
    std::unique_ptr<FileDropComponent> drops;
    s = FileDropComponent::Create(adapter_.get(), &drops);
    ASSERT_TRUE(s.ok()) << s.ToString();
    adapter_->AddComponent(std::move(drops));
    ASSERT_TRUE(adapter_->Start().ok());
  }

  void DropByRename(const std::string& name, const std::string& text) {
    const std::string staged = dir_.path() + "/" + name + ".staged";
    testing::WriteFile(staged, text);
    ASSERT_EQ(std::rename(staged.c_str(), (inbox_ + "/" + name).c_str()), 0);
  }

  // Waits until `n` .csv files are in rejected/ and the spool is empty.
  void WaitForRejectedAndForwarded(size_t n) {
    for (int i = 0; i < 1200; ++i) {
      size_t rejected = 0;
      for (const auto& e : std::filesystem::directory_iterator(inbox_ + "/rejected")) {
        rejected += e.path().extension() == ".csv";
      }
      if (rejected >= n && adapter_->spool()->Figures().referrals == 0) return;
      std::this_thread::sleep_for(50ms);
    }
    FAIL() << "the files were not taken and forwarded within a minute";
  }

  refx::testing::TestStack stack_{{refx::testing::AgencySpec{"kent-police", {"SUBMITTER"}, {}}}};
  testing::TempFolder dir_;
  std::string inbox_;
  std::unique_ptr<Adapter> adapter_;
};

TEST_F(FileDropBrokerTest, AFileDroppedTwiceLandsEachReferralOnce) {
  std::string csv = testing::kPoliceHeader;
  for (int i = 1; i <= 50; ++i) csv += testing::PoliceRow("KP-" + std::to_string(i));
  csv += "KP-51,Hannah,Whitlow,31/02/1991,High,16,\n";  // refused: not a date
  DropByRename("export.csv", csv);
  WaitForRejectedAndForwarded(1);
  DropByRename("export.csv", csv);
  // A copy under another name, taken while the second may still be forwarding.
  DropByRename("export-copy.csv", csv);
  WaitForRejectedAndForwarded(3);
  EXPECT_TRUE(testing::Exists(inbox_ + "/rejected/export.csv"));
  EXPECT_TRUE(testing::Exists(inbox_ + "/rejected/export~2.csv"));
  EXPECT_TRUE(testing::Exists(inbox_ + "/rejected/export-copy.csv"));
  EXPECT_EQ(adapter_->spool()->Figures().referrals, 0u);
  adapter_->Stop();

  refx::testing::LogContents log = refx::testing::StopAndCheckLog(stack_, 50);
  ASSERT_EQ(log.submissions.size(), 50u);
  for (int i = 1; i <= 50; ++i) {
    const auto it = log.submissions.find({"kent-police", "KP-" + std::to_string(i)});
    ASSERT_NE(it, log.submissions.end()) << "KP-" << i;
    EXPECT_EQ(it->second.size(), 1u) << "KP-" << i << " landed more than once";
  }
  EXPECT_EQ(log.submissions.count({"kent-police", "KP-51"}), 0u);
}

}  // namespace
}  // namespace refx::adapters
