// Key lifecycle with live connections (issue 13 item 5): an agency's CURVE
// key rotated with an overlap (old and new both accepted, then the old one
// refused, on connections already open too), a key revoked by fingerprint
// (refused on its open connections from the reload on and at its next
// handshake). A revoked key's follow read, and reloads that change keys
// while submissions stream (nothing lost): reload_test.cc. Real broker
// binary, real CURVE and ZAP, real RocksDB.
#include <gtest/gtest.h>
#include <signal.h>

#include <google/protobuf/util/time_util.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/curve_keygen.h"
#include "core/curve_keys.h"
#include "cli_child.h"
#include "log_reader.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

using google::protobuf::util::TimeUtil;

std::vector<AgencySpec> Agencies() {
  return {{"agency-a", {"SUBMITTER"}, {}}, {"agency-b", {"SUBMITTER"}, {}}, {"admin", {"ADMIN"}, {}}};
}

// RFC 3339 for `seconds` from now.
std::string FromNow(int64_t seconds) {
  return TimeUtil::ToString(TimeUtil::SecondsToTimestamp(static_cast<int64_t>(std::time(nullptr)) + seconds));
}

class KeyLifecycleTest : public ::testing::Test {
 protected:
  KeyLifecycleTest() : stack_(Agencies()) {}
  void SetUp() override {
    ASSERT_TRUE(stack_.StartBroker());
    std::ifstream in(stack_.config_path());
    std::stringstream ss;
    ss << in.rdbuf();
    original_ = ss.str();
    admin_ = stack_.ClientFor("admin");
    ASSERT_TRUE(GenerateCurveKeyPair(&next_a_).ok());
  }

  // Writes the configuration whole under another name and renames it, as a
  // deployment tool does, so a reload never reads half a file.
  void WriteConfig(const std::string& text) {
    const std::string tmp = stack_.config_path() + ".tmp";
    std::ofstream(tmp) << text;
    ASSERT_EQ(std::rename(tmp.c_str(), stack_.config_path().c_str()), 0);
  }
  // The configuration with agency-a on next_a_, its original key accepted
  // until `until`.
  std::string Rotated(const std::string& until) const {
    std::string text = original_;
    const std::string old_key = "public_key: \"" + stack_.agency_keys("agency-a").public_key + "\"";
    text.replace(text.find(old_key), old_key.size(),
                 "public_key: \"" + next_a_.public_key + "\" previous_public_key: \"" +
                     stack_.agency_keys("agency-a").public_key + "\" previous_key_valid_until: \"" + until + "\"");
    return text;
  }
  v1::ReloadResult Reload() {
    v1::Frame request, reply;
    request.mutable_reload();
    Status s = admin_->Call(request, &reply);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(reply.has_reload_result()) << reply.ShortDebugString();
    return reply.reload_result();
  }
  // A client of `agency` using `keys`, retrying little: a refused handshake
  // is reported, not retried for long.
  std::unique_ptr<BrokerClient> ClientWithKeys(const std::string& agency, const CurveKeyPair& keys) {
    ClientOptions options = stack_.ClientOptionsFor(agency, /*timeout_ms=*/5000, /*attempts=*/2);
    options.client_keys = keys;
    return std::make_unique<BrokerClient>(options);
  }
  // Submits a new referral of `agency` on `client`; counts it if acknowledged.
  Status Submit(BrokerClient* client, const std::string& agency) {
    v1::Ack ack;
    Status s = client->Submit(SampleReferral(agency, "K-" + std::to_string(++sent_)), &ack);
    if (s.ok()) ++acked_;
    return s;
  }
  // Waits until `done` holds (a hang guard of 30 s, not a timing check).
  template <typename Done>
  bool Eventually(const Done& done) {
    for (int i = 0; i < 300; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  std::string BrokerLog() const {
    std::ifstream in(stack_.broker_log());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  TestStack stack_;
  std::string original_;
  std::unique_ptr<BrokerClient> admin_;
  CurveKeyPair next_a_;
  int sent_ = 0;
  uint64_t acked_ = 0;
};

TEST_F(KeyLifecycleTest, RotationAcceptsBothKeysDuringTheOverlapThenRefusesTheOld) {
  auto old_open = stack_.ClientFor("agency-a");  // connected with the old key before the rotation
  ASSERT_TRUE(Submit(old_open.get(), "agency-a").ok());

  WriteConfig(Rotated(FromNow(24 * 3600)));
  v1::ReloadResult result = Reload();
  ASSERT_EQ(result.changes_size(), 1) << result.ShortDebugString();
  EXPECT_EQ(result.changes(0), "agency changed: agency-a");
  // During the overlap: the open connection, a new one with the old key,
  // and one with the new key all work.
  Status s = Submit(old_open.get(), "agency-a");
  EXPECT_TRUE(s.ok()) << s.ToString();
  s = Submit(ClientWithKeys("agency-a", stack_.agency_keys("agency-a")).get(), "agency-a");
  EXPECT_TRUE(s.ok()) << s.ToString();
  auto new_open = ClientWithKeys("agency-a", next_a_);
  s = Submit(new_open.get(), "agency-a");
  EXPECT_TRUE(s.ok()) << s.ToString();

  // The overlap now ends a few seconds ahead, with no further reload: once
  // it has passed, the open connection's requests are refused.
  WriteConfig(Rotated(FromNow(2)));
  Reload();
  Status refused;
  ASSERT_TRUE(Eventually([&] {
    refused = Submit(old_open.get(), "agency-a");
    return !refused.ok();
  }));
  EXPECT_EQ(refused.code(), Status::Code::kPermissionDenied) << refused.ToString();
  EXPECT_NE(refused.message().find("overlap ended"), std::string::npos) << refused.ToString();
  const std::string old_fingerprint = CurveKeyFingerprint(stack_.agency_keys("agency-a").public_key);
  EXPECT_NE(refused.message().find(old_fingerprint), std::string::npos) << refused.ToString();
  // ...and so is a new handshake with the old key, while the new key works
  // on its open connection and on a new one.
  s = Submit(ClientWithKeys("agency-a", stack_.agency_keys("agency-a")).get(), "agency-a");
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << s.ToString();
  s = Submit(new_open.get(), "agency-a");
  EXPECT_TRUE(s.ok()) << s.ToString();
  s = Submit(ClientWithKeys("agency-a", next_a_).get(), "agency-a");
  EXPECT_TRUE(s.ok()) << s.ToString();

  const std::string log = BrokerLog();
  EXPECT_NE(log.find("overlap ended"), std::string::npos) << "refusals are logged";
  EXPECT_EQ(log.find(stack_.agency_keys("agency-a").public_key), std::string::npos) << "keys are named by fingerprint";
  LogContents contents = StopAndCheckLog(stack_, acked_);
  EXPECT_EQ(contents.submissions.size(), acked_);
}

TEST_F(KeyLifecycleTest, RevokedKeyIsRefusedOnItsOpenConnectionAndAtItsNextHandshake) {
  auto b_open = stack_.ClientFor("agency-b");
  auto a_open = stack_.ClientFor("agency-a");
  ASSERT_TRUE(Submit(b_open.get(), "agency-b").ok());
  ASSERT_TRUE(Submit(a_open.get(), "agency-a").ok());

  const std::string fingerprint = CurveKeyFingerprint(stack_.agency_keys("agency-b").public_key);
  WriteConfig(original_ + "revoked_keys: \"" + fingerprint + "\"\n");
  ASSERT_EQ(kill(stack_.broker_pid(), SIGHUP), 0);
  Status refused;
  ASSERT_TRUE(Eventually([&] {
    refused = Submit(b_open.get(), "agency-b");
    return !refused.ok();
  }));
  EXPECT_EQ(refused.code(), Status::Code::kPermissionDenied) << refused.ToString();
  EXPECT_NE(refused.message().find("key " + fingerprint + " of agency \"agency-b\" is revoked"), std::string::npos)
      << refused.ToString();
  // Every later request on it too, reads included.
  Status again = Submit(b_open.get(), "agency-b");
  EXPECT_EQ(again.code(), Status::Code::kPermissionDenied) << again.ToString();
  v1::Frame heartbeat, reply;
  heartbeat.mutable_heartbeat();
  ASSERT_TRUE(b_open->Call(heartbeat, &reply).ok());
  ASSERT_TRUE(reply.has_error()) << reply.ShortDebugString();
  EXPECT_EQ(reply.error().code(), v1::PERMISSION_DENIED);
  // A new connection with the key is refused at the handshake.
  Status fresh = Submit(stack_.ClientFor("agency-b", 5000, 2).get(), "agency-b");
  EXPECT_EQ(fresh.code(), Status::Code::kPermissionDenied) << fresh.ToString();
  // Other agencies are untouched.
  Status other = Submit(a_open.get(), "agency-a");
  EXPECT_TRUE(other.ok()) << other.ToString();

  const std::string log = BrokerLog();
  EXPECT_NE(log.find("broker: reload: key revoked: " + fingerprint), std::string::npos);
  EXPECT_NE(log.find("zap: refused a connection"), std::string::npos);
  EXPECT_EQ(log.find(stack_.agency_keys("agency-b").public_key), std::string::npos) << "keys are named by fingerprint";
  LogContents contents = StopAndCheckLog(stack_, acked_);
  EXPECT_EQ(contents.submissions.size(), acked_);
}

// Replacing a key without an overlap (the way to cut off a lost key at
// once) reaches the connection already open with the replaced key.
TEST_F(KeyLifecycleTest, AReplacedKeyWithoutOverlapIsRefusedOnItsOpenConnection) {
  auto old_open = stack_.ClientFor("agency-a");
  ASSERT_TRUE(Submit(old_open.get(), "agency-a").ok());
  std::string text = original_;
  const std::string old_key = stack_.agency_keys("agency-a").public_key;
  text.replace(text.find(old_key), old_key.size(), next_a_.public_key);
  WriteConfig(text);
  Reload();
  Status s = Submit(old_open.get(), "agency-a");
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << s.ToString();
  EXPECT_NE(s.message().find("no longer a key of agency \"agency-a\""), std::string::npos) << s.ToString();
  s = Submit(ClientWithKeys("agency-a", next_a_).get(), "agency-a");
  EXPECT_TRUE(s.ok()) << s.ToString();
  StopAndCheckLog(stack_, acked_);
}

// `refx keys rotate` makes the next pair and prints the lines to paste into
// the agency's entry; with them the new key connects and the old one keeps
// working for the overlap. `refx keys fingerprint` names a key as the
// configuration and the logs do.
TEST_F(KeyLifecycleTest, RefxKeysRotatePrintsLinesThatOpenTheOverlap) {
  auto old_open = stack_.ClientFor("agency-a");
  ASSERT_TRUE(Submit(old_open.get(), "agency-a").ok());
  // The agency's current pair where the command expects it.
  TempDir dir;
  ASSERT_TRUE(SaveCurveKeyPair(dir.path(), "agency-a", stack_.agency_keys("agency-a")).ok());
  CliRun run = RunRefx({"keys", "rotate", "agency-a", "--dir", dir.path(), "--overlap-days", "3"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string old_fingerprint = CurveKeyFingerprint(stack_.agency_keys("agency-a").public_key);
  EXPECT_NE(run.out.find(old_fingerprint), std::string::npos) << run.out;
  std::string lines;
  for (const std::string& line : Lines(run.out)) {
    if (line.rfind("  ", 0) == 0) lines += line + " ";
  }
  ASSERT_NE(lines.find("previous_key_valid_until"), std::string::npos) << run.out;
  const std::smatch file = [&] {
    std::smatch m;
    std::regex_search(lines, m, std::regex("public_key_file: \"([^\"]+)\""));
    return m;
  }();
  ASSERT_FALSE(file.empty()) << run.out;
  const std::string next_pub = file[1];
  const std::string next_name = std::filesystem::path(next_pub).stem().string();
  CurveKeyPair next;
  ASSERT_TRUE(LoadCurveKeyPair(dir.path(), next_name, &next).ok()) << next_name;
  // Asked again the same day, it refuses to overwrite the new pair.
  EXPECT_NE(RunRefx({"keys", "rotate", "agency-a", "--dir", dir.path()}).exit_code, 0);

  CliRun fingerprint = RunRefx({"keys", "fingerprint", next_pub});
  ASSERT_EQ(fingerprint.exit_code, 0) << fingerprint.err;
  EXPECT_EQ(fingerprint.out, CurveKeyFingerprint(next.public_key) + "  " + next_pub + "\n");

  std::string text = original_;
  const std::string old_key = "public_key: \"" + stack_.agency_keys("agency-a").public_key + "\"";
  text.replace(text.find(old_key), old_key.size(), lines);
  WriteConfig(text);
  v1::ReloadResult result = Reload();
  ASSERT_EQ(result.changes_size(), 1) << result.ShortDebugString();
  Status s = Submit(ClientWithKeys("agency-a", next).get(), "agency-a");
  EXPECT_TRUE(s.ok()) << s.ToString();
  s = Submit(old_open.get(), "agency-a");
  EXPECT_TRUE(s.ok()) << "inside the overlap: " << s.ToString();
  StopAndCheckLog(stack_, acked_);
}

}  // namespace
}  // namespace refx::testing
