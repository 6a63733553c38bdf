// Encryption at rest and erasure by crypto-shredding, on the real broker
// binary (CURVE on, RocksDB in a temp folder): personal fields never reach
// the data folder in plaintext; readers get them opened; an erasure destroys
// the referral's data key so that no file of the data folder (WAL, SST,
// MANIFEST, LOG, ...) holds the wrapped key afterwards, reads show the
// fields as erased, and the chain and the signed checkpoints still verify;
// another referral about another person still opens.
#include <gtest/gtest.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.h"
#include "sentinel_files.h"
#include "eventlog/checkpoint_signing.h"
#include "eventlog/event_log.h"
#include "eventlog/verifier.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

constexpr char kPartnership[] = R"(
destinations { code: "DEST_A" name: "A panel" agency_id: "lead-a" need_to_know: [SUBJECT_IDENTITY, SUBJECT_CONTACT, NARRATIVE] purpose: "risk panel" }
)";

constexpr char kRetention[] = R"(
retention { periods { record_type: MULTI_AGENCY_RECORD months: 72 note: "six years" } }
)";

std::vector<AgencySpec> Agencies() {
  return {{"agency-a", {"SUBMITTER"}, {}}, {"lead-a", {"LEAD"}, {}}, {"router", {"SERVICE"}, {}},
          {"refx-admin", {"ADMIN"}, {}}};
}

// Sentinel strings of the first person (erased) and the second (kept).
const std::vector<std::string> kErased = {"Zebulonyx", "Quoxleywick", "77 Sentinelwick Lane", "07700 900771",
                                          "SENTINEL-NARRATIVE-8f3a1c"};
const std::vector<std::string> kKept = {"Yolandrith", "Prenticeworthy", "12 Keptsafe Close", "07700 900412",
                                        "KEPT-NARRATIVE-51d0e2"};

v1::Referral PersonReferral(const std::string& reference, const std::vector<std::string>& s) {
  return SentinelReferral("agency-a", reference, s);
}

class ErasureTest : public ::testing::Test {
 protected:
  explicit ErasureTest(const std::string& extra = kPartnership) : stack_(Agencies(), "", extra) {}
  void SetUp() override {
    ASSERT_TRUE(stack_.StartBroker());
    router_ = stack_.ClientFor("router");
    admin_ = stack_.ClientFor("refx-admin");
  }

  // Submits, routes and delivers a referral to DEST_A; returns its id.
  std::string Delivered(const v1::Referral& referral) {
    auto submitter = stack_.ClientFor("agency-a");
    v1::Ack ack;
    Status s = submitter->Submit(referral, &ack);
    EXPECT_TRUE(s.ok()) << s.ToString();
    const std::string id = ack.referral_id();
    v1::Event routed;
    routed.mutable_case_routed()->set_referral_id(id);
    routed.mutable_case_routed()->set_destination("DEST_A");
    routed.mutable_case_routed()->set_rule_id("TEST_RULE");
    EXPECT_TRUE(router_->Append(routed, "", &ack).ok());
    v1::Event delivered;
    delivered.mutable_case_delivered()->set_referral_id(id);
    delivered.mutable_case_delivered()->set_destination("DEST_A");
    EXPECT_TRUE(router_->Append(delivered, "", &ack).ok());
    return id;
  }

  // The events of one referral as the router reads them, and their stored bytes.
  std::vector<std::pair<v1::Event, std::string>> Events(const std::string& id) {
    std::vector<std::pair<v1::Event, std::string>> out;
    v1::ReadRequest read;
    read.set_referral_id(id);
    Status s = router_->Read(read, [&](const v1::Event& e, const std::string& bytes, const std::string&) {
      out.emplace_back(e, bytes);
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  v1::Frame Erase(const std::string& id, const std::string& reason, bool override_retention = false) {
    v1::Frame request, reply;
    request.mutable_erase()->set_referral_id(id);
    request.mutable_erase()->set_reason(reason);
    request.mutable_erase()->set_override_retention(override_retention);
    Status s = admin_->Call(request, &reply);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return reply;
  }

  // The wrapped data key of `id` as stored (read-only open beside the broker).
  std::string WrappedKey(const std::string& id) { return StoredWrappedKey(stack_.data_dir(), id); }

  TestStack stack_;
  std::unique_ptr<BrokerClient> router_, admin_;
};

TEST_F(ErasureTest, PersonalFieldsAreSealedAtRestAndOpenedForReaders) {
  const std::string id = Delivered(PersonReferral("ENC-1", kErased));
  const auto events = Events(id);
  ASSERT_GE(events.size(), 3u);
  // The router reads the submission and the delivery view as they were sent.
  ASSERT_TRUE(events[0].first.has_referral_submitted());
  EXPECT_EQ(events[0].first.referral_submitted().referral().person().given_name(), kErased[0]);
  EXPECT_EQ(events[0].first.referral_submitted().referral().narrative(), kErased[4]);
  EXPECT_FALSE(events[0].first.has_sealed());
  EXPECT_FALSE(events[0].first.erased());
  const v1::Event& delivered = events.back().first;
  ASSERT_TRUE(delivered.has_case_delivered());
  EXPECT_EQ(delivered.case_delivered().view().person().address(), kErased[2]);
  // The stored bytes (what the chain covers) hold them only sealed.
  v1::Event stored;
  ASSERT_TRUE(stored.ParseFromString(events[0].second));
  EXPECT_TRUE(stored.has_sealed());
  EXPECT_EQ(stored.sealed().key_id(), id);
  EXPECT_TRUE(stored.referral_submitted().referral().person().given_name().empty());
  EXPECT_EQ(stored.referral_submitted().referral().category(), v1::DOMESTIC_ABUSE);  // the envelope stays clear
  // No file of the data folder holds a sentinel.
  for (const auto& sentinel : kErased) {
    EXPECT_TRUE(FilesHolding(stack_.data_dir(), sentinel).empty()) << sentinel;
  }
}

TEST_F(ErasureTest, ErasureLeavesNoSentinelNorKeyOnDiskAndTheChainVerifies) {
  const std::string erased_id = Delivered(PersonReferral("ERASE-1", kErased));
  const std::string kept_id = Delivered(PersonReferral("KEEP-1", kKept));
  const std::string wrapped = WrappedKey(erased_id);
  ASSERT_EQ(wrapped.size(), 72u);
  // The search sees the wrapped key before the erasure (so finding nothing
  // afterwards means something).
  EXPECT_FALSE(FilesHolding(stack_.data_dir(), wrapped).empty());

  const v1::Frame reply = Erase(erased_id, "referral made in error");
  ASSERT_TRUE(reply.has_erase_result()) << reply.DebugString();
  EXPECT_EQ(reply.erase_result().referral_id(), erased_id);

  // Raw files, while the broker runs and after it stops.
  for (int pass = 0; pass < 2; ++pass) {
    EXPECT_EQ(FilesHolding(stack_.data_dir(), wrapped), "") << "pass " << pass;
    for (const auto& sentinel : kErased) {
      EXPECT_EQ(FilesHolding(stack_.data_dir(), sentinel), "") << sentinel;
    }
    if (pass == 0) {
      // Reads: the erased referral's fields are gone and marked; the other
      // person's still open.
      const auto events = Events(erased_id);
      ASSERT_GE(events.size(), 4u);
      EXPECT_TRUE(events[0].first.erased());
      EXPECT_TRUE(events[0].first.referral_submitted().referral().person().given_name().empty());
      EXPECT_EQ(events[0].first.referral_submitted().referral().referrer_reference(), "ERASE-1");
      EXPECT_TRUE(events.back().first.has_subject_erased());
      EXPECT_EQ(events.back().first.subject_erased().reason(), "referral made in error");
      const auto kept = Events(kept_id);
      ASSERT_FALSE(kept.empty());
      EXPECT_FALSE(kept[0].first.erased());
      EXPECT_EQ(kept[0].first.referral_submitted().referral().person().given_name(), kKept[0]);
      EXPECT_EQ(kept.back().first.case_delivered().view().narrative(), kKept[4]);
      ASSERT_EQ(stack_.StopBroker(SIGTERM), 0);
    }
  }
  // The chain and the signed checkpoints verify over what is stored.
  ExpectLogAndCheckpointsVerify(stack_);
}

TEST_F(ErasureTest, RefusesWithoutAReasonTwiceAndForUnknownReferrals) {
  const std::string id = Delivered(PersonReferral("ERASE-2", kErased));
  v1::Frame reply = Erase(id, "  ");
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.error().field_path(), "erase.reason");
  reply = Erase("R-0000009999", "no such");
  ASSERT_TRUE(reply.has_error());
  EXPECT_NE(reply.error().message().find("no referral"), std::string::npos);
  // Not an ADMIN identity.
  v1::Frame request;
  request.mutable_erase()->set_referral_id(id);
  request.mutable_erase()->set_reason("x");
  ASSERT_TRUE(router_->Call(request, &reply).ok());
  ASSERT_TRUE(reply.has_error());
  EXPECT_NE(reply.error().message().find("needs ADMIN"), std::string::npos);
  // An erasure cannot be appended without destroying the key.
  v1::Event fake;
  fake.mutable_subject_erased()->set_referral_id(id);
  fake.mutable_subject_erased()->set_reason("x");
  v1::Ack ack;
  EXPECT_FALSE(admin_->Append(fake, "", &ack).ok());
  // Once erased, a second erasure is refused.
  ASSERT_TRUE(Erase(id, "made in error").has_erase_result());
  reply = Erase(id, "again");
  ASSERT_TRUE(reply.has_error());
  EXPECT_NE(reply.error().message().find("already erased"), std::string::npos);
}

class RetentionErasureTest : public ErasureTest {
 protected:
  RetentionErasureTest() : ErasureTest(std::string(kPartnership) + kRetention) {}
};

TEST_F(RetentionErasureTest, RetentionRefusesUnlessOverriddenAndTheCliSaysSo) {
  const std::string id = Delivered(PersonReferral("RET-1", kErased));
  v1::Frame reply = Erase(id, "asked by the subject");
  ASSERT_TRUE(reply.has_error());
  EXPECT_NE(reply.error().message().find("MULTI_AGENCY_RECORD"), std::string::npos) << reply.error().message();
  EXPECT_NE(reply.error().message().find("--override-retention"), std::string::npos);
  // Nothing was written: the fields still open.
  EXPECT_FALSE(Events(id)[0].first.erased());

  reply = Erase(id, "consent withdrawn for a voluntary service", /*override_retention=*/true);
  ASSERT_TRUE(reply.has_erase_result()) << reply.DebugString();
  const auto events = Events(id);
  ASSERT_TRUE(events.back().first.has_subject_erased());
  const v1::SubjectErased& e = events.back().first.subject_erased();
  EXPECT_TRUE(e.override_retention());
  EXPECT_EQ(e.retention_record_type(), "MULTI_AGENCY_RECORD");
  EXPECT_EQ(e.reason(), "consent withdrawn for a voluntary service");
  EXPECT_FALSE(e.retention_ends().empty());
}

TEST(MasterKeyTest, BrokerRefusesAKeyOthersMayRead) {
  TestStack stack(Agencies(), "", kPartnership);
  ASSERT_EQ(::chmod(stack.master_key_path().c_str(), 0640), 0);
  // The broker exits at once (status 2) with the reason on stderr, and
  // writes no log.
  const std::string err_path = stack.broker_log() + ".err";
  const int fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ChildOptions options;
  options.stderr_fd = fd;
  const pid_t pid = StartChild({BrokerBinary(), "--config", stack.config_path(), "--data", stack.data_dir(),
                                "--key-dir", stack.key_dir(), "--endpoint", "tcp://127.0.0.1:0", "--metrics", "off"},
                               options);
  ::close(fd);
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  std::ifstream in(err_path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find("mode 0640"), std::string::npos) << ss.str();
  EXPECT_NE(ss.str().find("chmod 600"), std::string::npos) << ss.str();
  EXPECT_FALSE(std::filesystem::exists(stack.data_dir() + "/CURRENT"));
}

}  // namespace
}  // namespace refx::testing
