// Reloading the partnership configuration while the broker serves (SIGHUP,
// a ReloadRequest, `refx admin reload`): a good file takes effect from the
// next request on, a bad one is refused naming FILE:LINE:COLUMN and the
// running configuration stays, and submissions flowing across reloads are
// neither lost nor doubled. Real broker binary, CURVE on.
#include <gtest/gtest.h>
#include <signal.h>

#include <google/protobuf/util/time_util.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/curve_keygen.h"
#include "cli_child.h"
#include "core/curve_keys.h"
#include "core/event_util.h"
#include "log_reader.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

constexpr char kPartnership[] = R"(
destinations { code: "DEST_A" name: "A panel" agency_id: "lead-a" need_to_know: [SUBJECT_IDENTITY] purpose: "risk panel" }
people { id: "ann" name: "Ann Lead" agency_id: "lead-a" roles: LEAD destinations: "DEST_A" }
)";

std::vector<AgencySpec> Agencies() {
  return {{"agency-a", {"SUBMITTER"}, {}}, {"agency-b", {"SUBMITTER"}, {}}, {"lead-a", {"LEAD"}, {}},
          {"router", {"SERVICE"}, {}},     {"console", {"CONSOLE"}, {}},    {"admin", {"ADMIN"}, {}}};
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteText(const std::string& path, const std::string& text) {
  // Written whole to a temporary name and renamed, as an editor or a
  // deployment tool does, so a reload never reads half a file.
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text;
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);
}

class ReloadTest : public ::testing::Test {
 protected:
  ReloadTest() : stack_(Agencies(), "", kPartnership) {}
  void SetUp() override {
    ASSERT_TRUE(stack_.StartBroker());
    original_ = ReadText(stack_.config_path());
    service_ = stack_.ClientFor("router");
    console_ = stack_.ClientFor("console");
    admin_ = stack_.ClientFor("admin");
  }

  // A referral routed and delivered to DEST_A; returns its id.
  std::string DeliveredCase(const std::string& reference) {
    auto submitter = stack_.ClientFor("agency-a");
    v1::Ack ack;
    EXPECT_TRUE(submitter->Submit(SampleReferral("agency-a", reference), &ack).ok());
    const std::string id = ack.referral_id();
    v1::Event routed;
    routed.mutable_case_routed()->set_referral_id(id);
    routed.mutable_case_routed()->set_destination("DEST_A");
    routed.mutable_case_routed()->set_rule_id("TEST_RULE");
    EXPECT_TRUE(service_->Append(routed, "", &ack).ok());
    v1::Event delivered;
    delivered.mutable_case_delivered()->set_referral_id(id);
    delivered.mutable_case_delivered()->set_destination("DEST_A");
    EXPECT_TRUE(service_->Append(delivered, "", &ack).ok());
    return id;
  }
  v1::Frame AckFor(const std::string& person, const std::string& referral_id) {
    v1::Frame request, reply;
    request.set_on_behalf_of(person);
    auto* ack = request.mutable_append()->mutable_event()->mutable_case_acknowledged();
    ack->set_referral_id(referral_id);
    ack->set_destination("DEST_A");
    Status s = console_->Call(request, &reply);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return reply;
  }
  v1::Frame Reload(BrokerClient* client) {
    v1::Frame request, reply;
    request.mutable_reload();
    Status s = client->Call(request, &reply);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return reply;
  }
  // Waits until `done` holds, asking again after each SIGHUP has had its
  // turn (a hang guard of 30 s, not a timing check).
  template <typename Done>
  bool Eventually(const Done& done) {
    for (int i = 0; i < 300; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // Follows the log as `client` on a thread until the read ends (or a hang
  // guard of 60 s), counting events in *seen; *status is how it ended.
  static std::thread Follow(BrokerClient* client, std::atomic<int>* seen, Status* status) {
    return std::thread([client, seen, status] {
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      v1::ReadRequest r;
      r.set_follow(true);
      *status = client->Read(
          r,
          [seen](const v1::Event&, const std::string&, const std::string&) {
            ++*seen;
            return true;
          },
          [give_up] { return std::chrono::steady_clock::now() > give_up; });
    });
  }

  TestStack stack_;
  std::string original_;
  std::unique_ptr<BrokerClient> service_, console_, admin_;
};

constexpr char kEve[] = "people { id: \"eve\" name: \"Eve Lead\" agency_id: \"lead-a\" roles: LEAD destinations: \"DEST_A\" }\n";

TEST_F(ReloadTest, AReloadAddsAPersonWhoCanActAtOnceWithoutARestart) {
  const std::string id = DeliveredCase("R-1");
  v1::Frame refused = AckFor("eve", id);
  ASSERT_TRUE(refused.has_error());
  EXPECT_EQ(refused.error().code(), v1::PERMISSION_DENIED);

  WriteText(stack_.config_path(), original_ + kEve);
  // Only an ADMIN identity may ask.
  v1::Frame reply = Reload(console_.get());
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.error().code(), v1::PERMISSION_DENIED);
  reply = Reload(admin_.get());
  ASSERT_TRUE(reply.has_reload_result()) << reply.ShortDebugString();
  EXPECT_EQ(reply.reload_result().people(), 2u);
  EXPECT_EQ(reply.reload_result().config_file(), stack_.config_path());
  ASSERT_EQ(reply.reload_result().changes_size(), 1);
  EXPECT_EQ(reply.reload_result().changes(0), "person added: eve");

  const pid_t pid = stack_.broker_pid();
  v1::Frame acked = AckFor("eve", id);
  ASSERT_TRUE(acked.has_ack()) << acked.ShortDebugString();
  EXPECT_EQ(stack_.broker_pid(), pid) << "no restart";

  // Disabling her by SIGHUP stops her at once too.
  std::string disabled = original_ + kEve;
  disabled.insert(disabled.size() - 2, " disabled: true");
  WriteText(stack_.config_path(), disabled);
  ASSERT_EQ(kill(stack_.broker_pid(), SIGHUP), 0);
  const std::string second = DeliveredCase("R-2");
  ASSERT_TRUE(Eventually([&] {
    v1::Frame r = AckFor("eve", second);
    return r.has_error() && r.error().message().find("disabled") != std::string::npos;
  }));
  EXPECT_TRUE(AckFor("ann", second).has_ack());
  StopAndCheckLog(stack_, 8);
}

TEST_F(ReloadTest, DisablingAPersonEndsTheirFollowReadInProgress) {
  DeliveredCase("R-1");
  ClientOptions options = stack_.ClientOptionsFor("console");
  options.on_behalf_of = "ann";
  BrokerClient ann(options);
  std::atomic<int> seen{0};
  Status read_status;
  std::thread reader = Follow(&ann, &seen, &read_status);
  ASSERT_TRUE(Eventually([&] { return seen.load() > 0; }));
  std::string disabled = original_;
  disabled.replace(disabled.find("destinations: \"DEST_A\" }"), 24, "destinations: \"DEST_A\" disabled: true }");
  WriteText(stack_.config_path(), disabled);
  ASSERT_EQ(kill(stack_.broker_pid(), SIGHUP), 0);
  reader.join();
  EXPECT_EQ(read_status.code(), Status::Code::kPermissionDenied) << read_status.ToString();
  EXPECT_NE(read_status.message().find("disabled"), std::string::npos) << read_status.ToString();
}

// A read that follows the log is one request; its connection's key is
// checked again each time the broker serves it, so revoking the key
// (key_lifecycle_test.cc) ends it.
TEST_F(ReloadTest, RevokingAKeyEndsItsFollowReadInProgress) {
  auto submitter = stack_.ClientFor("agency-a");
  v1::Ack ack;
  ASSERT_TRUE(submitter->Submit(SampleReferral("agency-a", "F-0"), &ack).ok());
  std::atomic<int> seen{0};
  Status read_status;
  std::thread reader = Follow(service_.get(), &seen, &read_status);
  ASSERT_TRUE(Eventually([&] { return seen.load() > 0; }));
  const std::string fingerprint = CurveKeyFingerprint(stack_.agency_keys("router").public_key);
  WriteText(stack_.config_path(), original_ + "revoked_keys: \"" + fingerprint + "\"\n");
  ASSERT_EQ(kill(stack_.broker_pid(), SIGHUP), 0);
  ASSERT_TRUE(Eventually([&] { return ReadText(stack_.broker_log()).find("key revoked: " + fingerprint) != std::string::npos; }));
  // Events appended after the revocation are not sent to it.
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(submitter->Submit(SampleReferral("agency-a", "F-" + std::to_string(i)), &ack).ok());
  reader.join();
  EXPECT_EQ(read_status.code(), Status::Code::kPermissionDenied) << read_status.ToString();
  EXPECT_NE(read_status.message().find("revoked"), std::string::npos) << read_status.ToString();
  EXPECT_EQ(seen.load(), 1) << "nothing after the revocation";
}

TEST_F(ReloadTest, ABadFileKeepsTheRunningConfigurationAndNamesFileLineColumn) {
  // An unknown field on the last line, and a person of an unknown agency:
  // each refused with FILE:LINE:COLUMN, in the reply and in the log.
  const std::string bad = original_ + kEve + "people { id: \"fay\" name: \"Fay\" agency_id: \"lead-a\" wings: 2 }\n";
  const int bad_line = 1 + static_cast<int>(std::count(original_.begin(), original_.end(), '\n')) + 1;
  WriteText(stack_.config_path(), bad);
  v1::Frame reply = Reload(admin_.get());
  ASSERT_TRUE(reply.has_error()) << reply.ShortDebugString();
  EXPECT_EQ(reply.error().code(), v1::INVALID_ARGUMENT);
  const std::string where = stack_.config_path() + ":" + std::to_string(bad_line) + ":";
  EXPECT_EQ(reply.error().message().rfind(where, 0), 0u) << reply.error().message();
  EXPECT_TRUE(std::regex_search(reply.error().message(), std::regex(":[0-9]+:[0-9]+: .*wings")))
      << reply.error().message();

  const std::string unknown_agency =
      original_ + "people { id: \"gus\" name: \"Gus\" agency_id: \"nobody\" roles: LEAD }\n";
  WriteText(stack_.config_path(), unknown_agency);
  reply = Reload(admin_.get());
  ASSERT_TRUE(reply.has_error());
  EXPECT_NE(reply.error().message().find(stack_.config_path() + ":" + std::to_string(bad_line - 1) + ":"),
            std::string::npos)
      << reply.error().message();
  EXPECT_NE(reply.error().message().find("unknown agency"), std::string::npos) << reply.error().message();

  // By SIGHUP: logged, and the broker serves on.
  ASSERT_EQ(kill(stack_.broker_pid(), SIGHUP), 0);
  ASSERT_TRUE(Eventually([&] {
    return ReadText(stack_.broker_log()).find("reload refused, the running configuration stays: " +
                                              stack_.config_path() + ":") != std::string::npos;
  }));
  // Still the configuration it had: ann acts, eve (only in the bad file) not.
  const std::string id = DeliveredCase("R-1");
  EXPECT_TRUE(AckFor("eve", id).has_error());
  EXPECT_TRUE(AckFor("ann", id).has_ack());
  EXPECT_NE(ReadText(stack_.broker_log()).find(where), std::string::npos) << "the log names FILE:LINE:COLUMN";
}

TEST_F(ReloadTest, AgenciesAddedAndRemovedTakeEffectForTheirConnections) {
  CurveKeyPair fresh;
  ASSERT_TRUE(GenerateCurveKeyPair(&fresh).ok());
  ClientOptions options = stack_.ClientOptionsFor("agency-a", /*timeout_ms=*/2000, /*attempts=*/2);
  options.client_keys = fresh;
  auto newcomer = std::make_unique<BrokerClient>(options);
  v1::Ack ack;
  EXPECT_EQ(newcomer->Submit(SampleReferral("agency-new", "N-1"), &ack).code(), Status::Code::kPermissionDenied);

  auto agency_b = stack_.ClientFor("agency-b");
  ASSERT_TRUE(agency_b->Submit(SampleReferral("agency-b", "B-1"), &ack).ok());
  // agency-b leaves; agency-new joins with its key.
  std::string text = original_;
  text = std::regex_replace(text, std::regex("agencies \\{ id: \"agency-b\"[^\\n]*\\n"), "");
  text += "agencies { id: \"agency-new\" name: \"New\" public_key: \"" + fresh.public_key + "\" roles: SUBMITTER }\n";
  WriteText(stack_.config_path(), text);
  v1::Frame reply = Reload(admin_.get());
  ASSERT_TRUE(reply.has_reload_result()) << reply.ShortDebugString();
  std::vector<std::string> changes(reply.reload_result().changes().begin(), reply.reload_result().changes().end());
  EXPECT_EQ(changes, (std::vector<std::string>{"agency added: agency-new", "agency removed: agency-b"}));

  newcomer = std::make_unique<BrokerClient>(options);
  ASSERT_TRUE(newcomer->Submit(SampleReferral("agency-new", "N-1"), &ack).ok());
  // agency-b's open connection is refused from now on.
  Status s = agency_b->Submit(SampleReferral("agency-b", "B-2"), &ack);
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << s.ToString();
  EXPECT_NE(s.message().find("no longer configured"), std::string::npos) << s.ToString();
  LogContents log = StopAndCheckLog(stack_, 2);
  EXPECT_EQ(log.submissions.size(), 2u);
}

TEST_F(ReloadTest, RefxAdminReloadPrintsTheChangesOrTheRefusal) {
  TempDir home;
  WriteCliHome(stack_, Agencies(), home.path());
  auto refx = [&](std::vector<std::string> args) {
    std::vector<std::string> all = {"--home", home.path(), "--broker", stack_.endpoint(), "--attempts", "3"};
    all.insert(all.end(), args.begin(), args.end());
    return RunRefx(all);
  };
  WriteText(stack_.config_path(), original_ + kEve);
  CliRun run = refx({"admin", "reload", "--as", "admin"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("2 people"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("person added: eve"), std::string::npos) << run.out;

  WriteText(stack_.config_path(), original_ + "people {\n");
  run = refx({"admin", "reload", "--as", "admin"});
  EXPECT_EQ(run.exit_code, 2) << run.out;
  EXPECT_TRUE(std::regex_search(run.err, std::regex(std::regex_replace(stack_.config_path(), std::regex("[.]"), "\\.") +
                                                    ":[0-9]+:[0-9]+: ")))
      << run.err;
  run = refx({"admin", "reload", "--as", "console"});
  EXPECT_EQ(run.exit_code, 2) << run.out;
  EXPECT_NE(run.err.find("needs ADMIN"), std::string::npos) << run.err;
}

TEST_F(ReloadTest, ReloadsUnderLoadLoseNothing) {
  constexpr int kTotal = 6000;
  std::vector<v1::Referral> referrals;
  for (int i = 0; i < kTotal; ++i) referrals.push_back(SampleReferral("agency-a", "L-" + std::to_string(i)));
  std::vector<uint64_t> acked_seq(kTotal, 0);
  std::atomic<int> acked{0}, failures{0};
  // A third of the way through, the streamer waits (its window of requests
  // still in flight) until ten reloads have been made, so they land
  // mid-stream whatever the machine's speed; more follow while it goes on.
  std::mutex mu;
  std::condition_variable cv;
  bool paused = false, resume = false;
  Status stream_status;
  std::thread streamer([&] {
    auto client = stack_.ClientFor("agency-a");
    stream_status = client->SubmitWindowed(referrals, 64, [&](size_t i, const Status& s, const v1::Ack& ack) {
      if (!s.ok()) {
        ++failures;
        return;
      }
      acked_seq[i] = ack.seq();
      if (++acked == kTotal / 3) {
        std::unique_lock<std::mutex> lock(mu);
        paused = true;
        cv.notify_all();
        cv.wait(lock, [&] { return resume; });
      }
    });
  });
  // Reloads alternately by SIGHUP and by request, each time with one more
  // person; each also rotates the streaming agency's own key (its open
  // connection, on the old key, is inside the overlap) and revokes
  // agency-b's key (key_lifecycle_test.cc).
  int reloads = 0;
  std::string text = original_;
  CurveKeyPair next_a;
  ASSERT_TRUE(GenerateCurveKeyPair(&next_a).ok());
  const std::string old_a = "public_key: \"" + stack_.agency_keys("agency-a").public_key + "\"";
  text.replace(text.find(old_a), old_a.size(),
               "public_key: \"" + next_a.public_key + "\" previous_" + old_a + " previous_key_valid_until: \"" +
                   google::protobuf::util::TimeUtil::ToString(
                       google::protobuf::util::TimeUtil::SecondsToTimestamp(std::time(nullptr) + 3600)) +
                   "\"");
  text += "revoked_keys: \"" + CurveKeyFingerprint(stack_.agency_keys("agency-b").public_key) + "\"\n";
  auto reload = [&] {
    text += "people { id: \"p" + std::to_string(reloads) +
            "\" name: \"Person\" agency_id: \"lead-a\" roles: LEAD destinations: \"DEST_A\" }\n";
    WriteText(stack_.config_path(), text);
    if (reloads % 2 == 0) {
      ASSERT_EQ(kill(stack_.broker_pid(), SIGHUP), 0);
    } else {
      EXPECT_TRUE(Reload(admin_.get()).has_reload_result());
    }
    ++reloads;
  };
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return paused; });
  }
  for (int i = 0; i < 10; ++i) reload();
  {
    std::lock_guard<std::mutex> lock(mu);
    resume = true;
  }
  cv.notify_all();
  while (acked.load() < kTotal && reloads < 40) {
    reload();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  streamer.join();
  ASSERT_TRUE(stream_status.ok()) << stream_status.ToString();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(acked.load(), kTotal);
  const std::string log_text = ReadText(stack_.broker_log());
  EXPECT_NE(log_text.find("configuration reloaded"), std::string::npos);

  LogContents log = StopAndCheckLog(stack_, kTotal);
  for (int i = 0; i < kTotal; ++i) {
    const auto& seqs = log.submissions[{"agency-a", referrals[i].referrer_reference()}];
    ASSERT_EQ(seqs.size(), 1u) << referrals[i].referrer_reference();
    ASSERT_EQ(seqs[0], acked_seq[i]) << "acknowledged seq must be the logged one";
  }
}

}  // namespace
}  // namespace refx::testing
