// The broker's audit duties over real CURVE connections to the real broker
// binary: audit reads need a purpose and are recorded before any event is
// sent; reads filtered by time and agency; signed checkpoints served and
// verifiable; backups taken while referrals stream in restore and verify.
#include <gtest/gtest.h>
#include <signal.h>

#include <google/protobuf/util/time_util.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "core/frame_codec.h"
#include "eventlog/backup.h"
#include "eventlog/checkpoints.h"
#include "eventlog/verifier.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kDestinations[] = R"(
destinations { code: "DEST_A" name: "A panel" agency_id: "lead-a" need_to_know: [SUBJECT_IDENTITY] purpose: "risk panel" }
)";

std::vector<AgencySpec> Agencies() {
  return {{"agency-a", {"SUBMITTER"}, {}},
          {"lead-a", {"LEAD"}, {}},
          {"router", {"SERVICE"}, {}},
          {"auditor", {"AUDITOR"}, {}},
          {"admin", {"ADMIN"}, {}}};
}

class AuditBrokerTest : public ::testing::Test {
 protected:
  AuditBrokerTest() : stack_(Agencies(), "", kDestinations) {}
  void SetUp() override { ASSERT_TRUE(stack_.StartBroker()); }

  std::string Submit(const std::string& reference) {
    v1::Ack ack;
    EXPECT_TRUE(stack_.ClientFor("agency-a")->Submit(SampleReferral("agency-a", reference), &ack).ok());
    return ack.referral_id();
  }
  // Reads with `request` as `agency`; returns the status, events in *out.
  Status Read(const std::string& agency, v1::ReadRequest request, std::vector<v1::Event>* out) {
    return stack_.ClientFor(agency)->Read(request, [&](const v1::Event& e, const std::string&, const std::string&) {
      out->push_back(e);
      return true;
    });
  }
  // Call with the broker's refusal returned as a Status.
  Status CallAs(const std::string& agency, const v1::Frame& request, v1::Frame* reply, int timeout_ms = 10000) {
    Status s = stack_.ClientFor(agency, timeout_ms, 1)->Call(request, reply);
    if (s.ok() && reply->has_error()) return StatusFromError(reply->error());
    return s;
  }
  uint64_t Head() {
    v1::Frame request, reply;
    request.mutable_heartbeat();
    EXPECT_TRUE(stack_.ClientFor("router")->Call(request, &reply).ok());
    return reply.heartbeat().head_seq();
  }

  TestStack stack_;
};

TEST_F(AuditBrokerTest, AuditReadWithoutPurposeIsRefusedAndWritesNothing) {
  Submit("P-1");
  const uint64_t head = Head();
  std::vector<v1::Event> events;
  Status s = Read("auditor", v1::ReadRequest(), &events);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("purpose"), std::string::npos) << s.message();
  v1::ReadRequest blank;
  blank.set_purpose("   ");
  EXPECT_EQ(Read("auditor", blank, &events).code(), Status::Code::kInvalidArgument);
  v1::QueryRequest query;
  query.set_referral_id("R-0000000001");
  v1::QueryResult result;
  EXPECT_EQ(stack_.ClientFor("auditor")->Query(query, &result).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(Head(), head);
}

TEST_F(AuditBrokerTest, AuditReadIsRecordedDurablyAndShowsInLaterReadsOfTheReferral) {
  const std::string referral = Submit("P-2");
  Submit("P-3");
  v1::ReadRequest request;
  request.set_referral_id(referral);
  request.set_purpose("case review 2026/14");
  std::vector<v1::Event> first;
  ASSERT_TRUE(Read("auditor", request, &first).ok());
  // The submission, then the record of this very read (written before it was served).
  ASSERT_EQ(first.size(), 2u);
  EXPECT_TRUE(first[0].has_referral_submitted());
  ASSERT_TRUE(first[1].has_record_accessed());
  EXPECT_EQ(first[1].actor(), "auditor");
  EXPECT_EQ(first[1].record_accessed().purpose(), "case review 2026/14");
  ASSERT_EQ(first[1].record_accessed().referral_ids_size(), 1);
  EXPECT_EQ(first[1].record_accessed().referral_ids(0), referral);
  EXPECT_NE(first[1].record_accessed().what().find(referral), std::string::npos);

  // An auditor's query is recorded too, and both survive a restart.
  v1::QueryRequest query;
  query.set_referral_id(referral);
  query.set_purpose("case review 2026/14");
  v1::QueryResult result;
  ASSERT_TRUE(stack_.ClientFor("auditor")->Query(query, &result).ok());
  stack_.StopBroker(SIGKILL);
  ASSERT_TRUE(stack_.StartBroker());
  std::vector<v1::Event> second;
  request.set_purpose("second look");
  ASSERT_TRUE(Read("auditor", request, &second).ok());
  ASSERT_EQ(second.size(), 4u);
  EXPECT_TRUE(second[2].has_record_accessed());
  EXPECT_NE(second[2].record_accessed().what().find("query"), std::string::npos);
  EXPECT_EQ(second[3].record_accessed().purpose(), "second look");

  // Services read for their work: not audit reads, nothing recorded.
  const uint64_t head = Head();
  std::vector<v1::Event> service_read;
  ASSERT_TRUE(Read("router", v1::ReadRequest(), &service_read).ok());
  EXPECT_EQ(Head(), head);
  // A lead sees neither raw submissions nor auditors' records.
  std::vector<v1::Event> lead_read;
  ASSERT_TRUE(Read("lead-a", request, &lead_read).ok());
  EXPECT_TRUE(lead_read.empty());
}

// A referral read with to_seq ends at to_seq even though the referral has
// later events (its index lists seqs past to_seq): it used to wait forever.
TEST_F(AuditBrokerTest, AReferralReadUpToASeqEndsThereThoughTheReferralHasLaterEvents) {
  const std::string referral = Submit("P-4");
  const uint64_t submitted = Head();
  v1::ReadRequest request;
  request.set_referral_id(referral);
  request.set_purpose("case review 2026/15");
  std::vector<v1::Event> all;
  ASSERT_TRUE(Read("auditor", request, &all).ok());  // records a read: a later event of the referral
  request.set_to_seq(submitted);
  std::vector<v1::Event> upto;
  ASSERT_TRUE(stack_.ClientFor("auditor", 10000, 1)
                  ->Read(request, [&](const v1::Event& e, const std::string&, const std::string&) {
                    upto.push_back(e);
                    return true;
                  }).ok());
  ASSERT_EQ(upto.size(), 1u);
  EXPECT_TRUE(upto[0].has_referral_submitted());
}

TEST_F(AuditBrokerTest, ReadsFilterByTimeAndAgency) {
  const std::string referral = Submit("P-4");
  v1::Event routed;
  routed.mutable_case_routed()->set_referral_id(referral);
  routed.mutable_case_routed()->set_destination("DEST_A");
  routed.mutable_case_routed()->set_rule_id("TEST_RULE");
  v1::Ack ack;
  ASSERT_TRUE(stack_.ClientFor("router")->Append(routed, "route:1", &ack).ok());

  v1::ReadRequest by_agency;
  by_agency.set_agency("router");
  std::vector<v1::Event> events;
  ASSERT_TRUE(Read("router", by_agency, &events).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].has_case_routed());
  // The lead's agency is involved through its destination.
  by_agency.set_agency("lead-a");
  events.clear();
  ASSERT_TRUE(Read("router", by_agency, &events).ok());
  ASSERT_EQ(events.size(), 1u);
  by_agency.set_agency("nobody");
  EXPECT_EQ(Read("router", by_agency, &events).code(), Status::Code::kUnknownAgency);

  v1::ReadRequest future;
  *future.mutable_since() = TimeUtil::GetCurrentTime() + TimeUtil::SecondsToDuration(3600);
  events.clear();
  ASSERT_TRUE(Read("router", future, &events).ok());
  EXPECT_TRUE(events.empty());
  v1::ReadRequest past;
  *past.mutable_until() = TimeUtil::GetCurrentTime() + TimeUtil::SecondsToDuration(3600);
  *past.mutable_since() = TimeUtil::GetCurrentTime() - TimeUtil::SecondsToDuration(3600);
  events.clear();
  ASSERT_TRUE(Read("router", past, &events).ok());
  EXPECT_EQ(events.size(), 2u);
}

TEST_F(AuditBrokerTest, SignedCheckpointsAreServedAndVouchForTheChain) {
  for (int i = 0; i < 5; ++i) Submit("C-" + std::to_string(i));
  // A clean stop signs the final head.
  stack_.StopBroker(SIGTERM);
  ASSERT_TRUE(stack_.StartBroker());
  v1::Frame request, reply;
  request.mutable_checkpoints();
  ASSERT_TRUE(stack_.ClientFor("auditor")->Call(request, &reply).ok());
  ASSERT_TRUE(reply.has_checkpoint_list()) << reply.DebugString();
  ASSERT_GE(reply.checkpoint_list().checkpoints_size(), 1);
  const v1::Checkpoint& last = *reply.checkpoint_list().checkpoints().rbegin();
  EXPECT_EQ(last.seq(), 5u);
  std::string public_key;
  ASSERT_TRUE(eventlog::LoadSigningPublicKey(stack_.signing_public_key_path(), &public_key).ok());
  EXPECT_TRUE(eventlog::VerifyCheckpoint(last, public_key).ok());
  // Leads and submitters have no business with them.
  EXPECT_EQ(CallAs("lead-a", request, &reply).code(), Status::Code::kPermissionDenied);

  stack_.StopBroker(SIGTERM);
  std::unique_ptr<eventlog::EventLog> log;
  eventlog::OpenOptions open;
  open.path = stack_.data_dir();
  open.read_only = true;
  open.skip_head_check = true;
  ASSERT_TRUE(eventlog::EventLog::Open(open, &log).ok());
  eventlog::VerifyOptions options;
  options.signing_public_keys = {public_key};
  const eventlog::LogVerifyReport report = eventlog::VerifyLog(*log, options);
  EXPECT_TRUE(report.ok()) << report.detail;
  EXPECT_TRUE(report.checkpoints_authenticated);
  EXPECT_EQ(report.last_checkpoint_seq, 5u);
}

TEST_F(AuditBrokerTest, BackupUnderLoadRestoresAndVerifies) {
  TempDir backups;
  const std::string backup_dir = backups.path() + "/b";
  v1::Frame request, reply;
  request.mutable_backup()->set_dir(backup_dir);
  // Only an administrator, and only to an absolute path.
  EXPECT_EQ(CallAs("auditor", request, &reply).code(), Status::Code::kPermissionDenied);
  v1::Frame relative;
  relative.mutable_backup()->set_dir("relative/dir");
  EXPECT_EQ(CallAs("admin", relative, &reply).code(), Status::Code::kInvalidArgument);

  std::atomic<bool> stop{false};
  std::atomic<int> submitted{0};
  std::thread load([&] {
    auto client = stack_.ClientFor("agency-a");
    for (int i = 0; !stop.load() && i < 2000; ++i) {
      v1::Ack ack;
      if (client->Submit(SampleReferral("agency-a", "L-" + std::to_string(i)), &ack).ok()) ++submitted;
    }
  });
  while (submitted.load() < 50) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  Status s = CallAs("admin", request, &reply, 30000);
  stop = true;
  load.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(reply.has_backup_result()) << reply.DebugString();
  const v1::BackupResult& result = reply.backup_result();
  EXPECT_TRUE(result.verified());
  EXPECT_GE(result.head_seq(), 50u);
  EXPECT_GT(result.file_count(), 0u);

  TempDir restore_root;
  const std::string restored = restore_root.path() + "/data";
  eventlog::BackupReport restore_report;
  ASSERT_TRUE(eventlog::RestoreLatestBackup(backup_dir, restored, &restore_report).ok());
  EXPECT_EQ(restore_report.backup_id, result.backup_id());
  // A restore never overwrites a log.
  EXPECT_EQ(eventlog::RestoreLatestBackup(backup_dir, restored, &restore_report).code(),
            Status::Code::kInvalidArgument);

  std::unique_ptr<eventlog::EventLog> log;
  eventlog::OpenOptions open;
  open.path = restored;
  open.read_only = true;
  open.skip_head_check = true;
  ASSERT_TRUE(eventlog::EventLog::Open(open, &log).ok());
  EXPECT_GE(log->head_seq(), result.head_seq());
  std::string public_key;
  ASSERT_TRUE(eventlog::LoadSigningPublicKey(stack_.signing_public_key_path(), &public_key).ok());
  eventlog::VerifyOptions options;
  options.signing_public_keys = {public_key};
  const eventlog::LogVerifyReport report = eventlog::VerifyLog(*log, options);
  EXPECT_TRUE(report.ok()) << eventlog::LogProblemName(report.problem) << " " << report.detail;
  EXPECT_EQ(report.events_checked, log->head_seq());
}

}  // namespace
}  // namespace refx::testing
