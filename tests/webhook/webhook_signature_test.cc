// The webhook signature (HMAC-SHA256 over timestamp "." body, replay
// window), the secret file's checks, and the sender's refusal of bad
// webhook settings. No sockets.
#include "adapters/webhook/webhook_signature.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "adapters/webhook/webhook_sender.h"

namespace refx::adapters {
namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kBody = R"({"seq":"7","caseDelivered":{"referralId":"R-0000000001"}})";
constexpr int64_t kNow = 1'800'000'000;

TEST(WebhookSignatureTest, AValidSignatureVerifies) {
  const std::string ts = std::to_string(kNow);
  const std::string sig = WebhookSignature(kSecret, ts, kBody);
  EXPECT_EQ(sig.size(), 3u + 64u);
  EXPECT_EQ(sig.substr(0, 3), "v1=");
  Status s = VerifyWebhookSignature(kSecret, ts, sig, kBody, kNow + 10);
  EXPECT_TRUE(s.ok()) << s.ToString();
  // The signature covers the timestamp: the same body at another time differs.
  EXPECT_NE(WebhookSignature(kSecret, std::to_string(kNow + 1), kBody), sig);
}

TEST(WebhookSignatureTest, MatchesAnIndependentHmacSha256) {
  // Python: hmac.new(secret, b"1800000000." + body, hashlib.sha256).hexdigest()
  EXPECT_EQ(WebhookSignature(kSecret, "1800000000", kBody),
            "v1=fd39e59a7cc245bb7d1f311f9a5c201ac10649dc252d89b7f17bfae3a636e240");
}

TEST(WebhookSignatureTest, ChangedBodyWrongSecretOrOtherTimestampIsRefused) {
  const std::string ts = std::to_string(kNow);
  const std::string sig = WebhookSignature(kSecret, ts, kBody);
  std::string changed = kBody;
  changed[changed.size() - 3] = '2';
  EXPECT_EQ(VerifyWebhookSignature(kSecret, ts, sig, changed, kNow).code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(VerifyWebhookSignature(kSecret + "x", ts, sig, kBody, kNow).code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(VerifyWebhookSignature(kSecret, std::to_string(kNow + 1), sig, kBody, kNow).code(),
            Status::Code::kPermissionDenied);
}

TEST(WebhookSignatureTest, OutsideTheReplayWindowIsRefused) {
  const std::string ts = std::to_string(kNow);
  const std::string sig = WebhookSignature(kSecret, ts, kBody);
  EXPECT_TRUE(VerifyWebhookSignature(kSecret, ts, sig, kBody, kNow + 300).ok());
  EXPECT_TRUE(VerifyWebhookSignature(kSecret, ts, sig, kBody, kNow - 300).ok());
  Status late = VerifyWebhookSignature(kSecret, ts, sig, kBody, kNow + 301);
  EXPECT_EQ(late.code(), Status::Code::kPermissionDenied);
  EXPECT_NE(late.message().find("replay window"), std::string::npos) << late.message();
  EXPECT_EQ(VerifyWebhookSignature(kSecret, ts, sig, kBody, kNow - 301).code(), Status::Code::kPermissionDenied);
  EXPECT_TRUE(VerifyWebhookSignature(kSecret, ts, sig, kBody, kNow + 3600, 3600).ok());
}

TEST(WebhookSignatureTest, MalformedHeadersAreNamed) {
  const std::string ts = std::to_string(kNow);
  const std::string sig = WebhookSignature(kSecret, ts, kBody);
  Status s = VerifyWebhookSignature(kSecret, "", sig, kBody, kNow);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find(kTimestampHeader), std::string::npos);
  EXPECT_EQ(VerifyWebhookSignature(kSecret, "12a", sig, kBody, kNow).code(), Status::Code::kInvalidArgument);
  s = VerifyWebhookSignature(kSecret, ts, "", kBody, kNow);
  EXPECT_NE(s.message().find(kSignatureHeader), std::string::npos);
  EXPECT_EQ(VerifyWebhookSignature(kSecret, ts, sig.substr(3), kBody, kNow).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(VerifyWebhookSignature(kSecret, ts, "v1=" + std::string(64, 'g'), kBody, kNow).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(VerifyWebhookSignature(kSecret, ts, sig + "00", kBody, kNow).code(), Status::Code::kInvalidArgument);
}

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/refx-webhook-secret-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& text, mode_t mode) {
    const std::string path = dir_ + "/secret";
    std::ofstream(path, std::ios::trunc) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::string dir_;
};

TEST_F(SecretFileTest, ReadsAPrivateSecretWithoutTrailingNewline) {
  std::string secret;
  Status s = LoadWebhookSecret(Write(kSecret + "\n", 0600), &secret);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(secret, kSecret);
}

TEST_F(SecretFileTest, RefusesAReadableShortOrMissingSecret) {
  std::string secret = "unchanged";
  Status s = LoadWebhookSecret(Write(kSecret, 0644), &secret);
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied);
  EXPECT_NE(s.message().find("0644"), std::string::npos) << s.message();
  s = LoadWebhookSecret(Write("short\n", 0600), &secret);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("at least 32"), std::string::npos) << s.message();
  EXPECT_EQ(LoadWebhookSecret(dir_ + "/none", &secret).code(), Status::Code::kIoError);
  EXPECT_EQ(secret, "unchanged");
}

TEST_F(SecretFileTest, SenderRefusesBadSettings) {
  auto make = [&](const std::string& url, const std::string& secret, const std::string& name = "case-system") {
    WebhookOptions o;
    o.webhook.set_name(name);
    o.webhook.set_destination("DA_MARAC");
    o.webhook.set_url(url);
    o.secret = secret;
    o.state_dir = dir_ + "/state";
    std::unique_ptr<WebhookSender> sender;
    return WebhookSender::Create(o, &sender);
  };
  EXPECT_TRUE(make("http://127.0.0.1:9/cases", kSecret).ok());
  EXPECT_TRUE(make("https://cases.example.org/refx", kSecret).ok());
  Status s = make("http://cases.example.org/refx", kSecret);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.field_path(), "webhooks.url");
  EXPECT_NE(s.message().find("https://"), std::string::npos);
  EXPECT_EQ(make("ftp://127.0.0.1/x", kSecret).field_path(), "webhooks.url");
  EXPECT_EQ(make("http://127.0.0.1:9/cases", "short").field_path(), "webhooks.secret_file");
  EXPECT_EQ(make("http://127.0.0.1:9/cases", kSecret, "").field_path(), "webhooks.name");
}

}  // namespace
}  // namespace refx::adapters
