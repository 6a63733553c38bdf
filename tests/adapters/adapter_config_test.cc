// AdapterConfig: a good file loads with defaults and absolute paths; each
// fault is refused with FILE:LINE:COLUMN naming the line at fault.
#include "adapters/adapter_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "client/curve_keygen.h"
#include "tests/unit/test_util.h"

namespace refx::adapters {
namespace {

class AdapterConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CurveKeyPair pair;
    ASSERT_TRUE(GenerateCurveKeyPair(&pair).ok());
    ASSERT_TRUE(SaveCurveKeyPair(tmp_.Sub(""), "kent-police", pair).ok());
    ASSERT_TRUE(SaveCurveKeyPair(tmp_.Sub(""), "broker", pair).ok());
  }
  Status ParseText(const std::string& text, std::unique_ptr<AdapterConfig>* out) {
    return AdapterConfig::Parse(text, "adapter.textproto", tmp_.path(), out);
  }
  static std::string Good() {
    return "agency_id: \"kent-police\"\n"
           "broker {\n"
           "  endpoint: \"tcp://127.0.0.1:7400\"\n"
           "  broker_public_key_file: \"broker.pub\"\n"
           "  key_dir: \".\"\n"
           "}\n"
           "spool_dir: \"spool\"\n"
           "http {\n"
           "  listen: \"127.0.0.1:7480\"\n"
           "  token_file: \"tokens\"\n"
           "}\n";
  }
  testing::TempDir tmp_;
};

TEST_F(AdapterConfigTest, GoodFileLoadsWithDefaults) {
  std::unique_ptr<AdapterConfig> cfg;
  Status s = ParseText(Good(), &cfg);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(cfg->agency_id(), "kent-police");
  EXPECT_EQ(cfg->proto().broker().key_name(), "kent-police");
  EXPECT_EQ(cfg->proto().spool_dir(), tmp_.path() + "/spool");
  EXPECT_EQ(cfg->proto().forward().batch_max(), 256u);
  EXPECT_EQ(cfg->proto().forward().outcomes_keep_days(), 14u);
  EXPECT_EQ(cfg->proto().http().worker_threads(), 16u);
  EXPECT_EQ(cfg->proto().http().max_body_bytes(), 262144u);
  EXPECT_EQ(cfg->proto().http().rate_limit_per_minute(), 600u);
  EXPECT_FALSE(cfg->agency_keys().secret_key.empty());
  EXPECT_EQ(cfg->broker_public_key().size(), 40u);
}

TEST(AdapterSampleConfigTest, TheSampleConfigurationLoads) {
  // deploy/refx.sh copies deploy/config/adapters/kent-police.textproto into
  // the state folder (var/), against which its relative paths resolve.
  testing::TempDir var;
  std::filesystem::create_directories(var.Sub("keys"));
  CurveKeyPair pair;
  ASSERT_TRUE(GenerateCurveKeyPair(&pair).ok());
  ASSERT_TRUE(SaveCurveKeyPair(var.Sub("keys"), "kent-police", pair).ok());
  ASSERT_TRUE(SaveCurveKeyPair(var.Sub("keys"), "broker", pair).ok());
  const std::string sample = std::string(REFX_SOURCE_DIR) + "/deploy/config/adapters/kent-police.textproto";
  std::filesystem::copy_file(sample, var.Sub("kent-police.adapter.textproto"));
  std::unique_ptr<AdapterConfig> cfg;
  Status s = AdapterConfig::Load(var.Sub("kent-police.adapter.textproto"), &cfg);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(cfg->agency_id(), "kent-police");
  EXPECT_EQ(cfg->proto().http().listen(), "127.0.0.1:7480");
  EXPECT_EQ(cfg->proto().http().token_file(), var.Sub("keys/kent-police.tokens"));
  ASSERT_EQ(cfg->proto().drops_size(), 1);
  EXPECT_EQ(cfg->proto().drops(0).folder(), var.Sub("inbox/kent-police"));
}

struct Fault {
  std::string from, to, expect;
};

TEST_F(AdapterConfigTest, EachFaultIsNamedWithItsLine) {
  const std::vector<Fault> faults = {
      {"agency_id: \"kent-police\"", "agency_id: \"Kent Police\"", "adapter.textproto:1:"},
      {"agency_id: \"kent-police\"", "agncy_id: \"kent-police\"", "adapter.textproto:1:"},
      {"listen: \"127.0.0.1:7480\"", "listen: \"0.0.0.0:7480\"", "adapter.textproto:9:3: listening on 0.0.0.0"},
      {"listen: \"127.0.0.1:7480\"", "listen: \"127.0.0.1\"", "adapter.textproto:9:3:"},
      {"  token_file: \"tokens\"\n", "", "needs token_file"},
      {"broker.pub", "missing.pub", "adapter.textproto:4:3:"},
      {"spool_dir: \"spool\"\n", "", "spool_dir is required"},
      {"endpoint: \"tcp://127.0.0.1:7400\"", "endpoint: \"http://x\"", "adapter.textproto:3:3:"},
  };
  for (const Fault& f : faults) {
    std::string text = Good();
    size_t at = text.find(f.from);
    ASSERT_NE(at, std::string::npos) << f.from;
    text.replace(at, f.from.size(), f.to);
    std::unique_ptr<AdapterConfig> cfg;
    Status s = ParseText(text, &cfg);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << f.to;
    EXPECT_NE(s.message().find(f.expect), std::string::npos) << s.message();
  }
  std::unique_ptr<AdapterConfig> cfg;
  Status s = ParseText(Good() + "forward { batch_max: 5000 }\n", &cfg);
  EXPECT_NE(s.message().find("adapter.textproto:12:11: batch_max"), std::string::npos) << s.message();
  s = ParseText(Good() + "forward { outcomes_keep_days: 100000 }\n", &cfg);
  EXPECT_NE(s.message().find("adapter.textproto:12:11: outcomes_keep_days must be 1..3660"), std::string::npos)
      << s.message();
  s = ParseText(Good() + "drops { folder: \"in\" csv_format: \"nope\" }\n", &cfg);
  EXPECT_NE(s.message().find("adapter.textproto:12:"), std::string::npos) << s.message();
  s = ParseText(Good() + "metrics_address: \"10.0.0.1:9\"\n", &cfg);
  EXPECT_NE(s.message().find("adapter.textproto:12:1: metrics_address must be on loopback"), std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace refx::adapters
