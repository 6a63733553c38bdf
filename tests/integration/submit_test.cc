// Submissions through the real broker binary over TCP with CURVE: success,
// idempotency, validation and authorisation refusals, heartbeats, metrics.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <rocksdb/db.h>

#include "core/event_util.h"
#include "eventlog/sealing.h"
#include "log_reader.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

class SubmitTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(stack_.StartBroker()); }
  TestStack stack_;
};

// A dedupe entry the broker cannot read must refuse the repeat (INTERNAL,
// retryable), never take it for a new referral and write it twice.
TEST_F(SubmitTest, UnreadableDedupeEntryRefusesTheRepeatAndWritesNothing) {
  const v1::Referral sent = SampleReferral("agency-a", "A-DEDUPE");
  v1::Ack ack;
  ASSERT_TRUE(stack_.ClientFor("agency-a")->Submit(sent, &ack).ok());
  ASSERT_EQ(stack_.StopBroker(SIGTERM), 0);
  {
    // Damage the entry: a value that is not an 8-byte seq.
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& name : eventlog::ColumnFamilyNames()) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), stack_.data_dir(), families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    const std::string key = eventlog::EventLog::SubmissionKey("agency-a", "A-DEDUPE");
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), handles[2], key, &value).ok()) << "family 2 is dedupe";
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[2], key, "bad").ok());
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  }
  ASSERT_TRUE(stack_.StartBroker());
  Status s = stack_.ClientFor("agency-a", 10000, 2)->Submit(sent, &ack);
  EXPECT_EQ(s.code(), Status::Code::kInternal) << s.ToString();
  EXPECT_NE(s.message().find("idempotency index"), std::string::npos) << s.ToString();
  ASSERT_EQ(stack_.StopBroker(SIGTERM), 0);
  EXPECT_EQ(ReadLog(stack_.data_dir()).head_seq, 1u) << "the repeat must not be written";
}

TEST_F(SubmitTest, AcknowledgesDurablyAndReadsBack) {
  auto client = stack_.ClientFor("agency-a");
  v1::Ack ack;
  const v1::Referral sent = SampleReferral("agency-a", "A-0001");
  ASSERT_TRUE(client->Submit(sent, &ack).ok());
  EXPECT_EQ(ack.seq(), 1u);
  EXPECT_EQ(ack.referral_id(), "R-0000000001");
  EXPECT_FALSE(ack.duplicate());

  ASSERT_EQ(stack_.StopBroker(SIGTERM), 0) << "clean exit on SIGTERM";
  std::unique_ptr<eventlog::EventLog> log;
  eventlog::OpenOptions options;
  options.path = stack_.data_dir();
  options.read_only = true;
  // Personal fields are stored sealed: opened with the broker's master key.
  ASSERT_TRUE(eventlog::LoadMasterKeyFile(stack_.master_key_path(), &options.master_key).ok());
  ASSERT_TRUE(eventlog::EventLog::Open(options, &log).ok());
  eventlog::StoredEvent stored;
  ASSERT_TRUE(log->Get(1, &stored).ok());
  EXPECT_TRUE(eventlog::EventLog::IsSealed(stored.bytes));
  v1::Event event;
  bool opened = false;
  ASSERT_TRUE(log->OpenStored(stored.bytes, &event, &opened).ok());
  EXPECT_TRUE(opened);
  EXPECT_EQ(event.actor(), "agency-a");  // from the CURVE identity, not the payload
  EXPECT_EQ(event.referral_submitted().referral_id(), ack.referral_id());
  EXPECT_EQ(event.referral_submitted().referral().SerializeAsString(), sent.SerializeAsString());
  EXPECT_TRUE(event.has_time());
  EXPECT_TRUE(log->VerifyChain().ok);
}

TEST_F(SubmitTest, RepeatIsAnsweredWithOriginalAndWritesNothing) {
  auto client = stack_.ClientFor("agency-a");
  v1::Ack first, again;
  ASSERT_TRUE(client->Submit(SampleReferral("agency-a", "A-0001"), &first).ok());
  ASSERT_TRUE(client->Submit(SampleReferral("agency-a", "A-0002"), &again).ok());
  // Same reference from a new connection: the same referral.
  auto other = stack_.ClientFor("agency-a");
  ASSERT_TRUE(other->Submit(SampleReferral("agency-a", "A-0001"), &again).ok());
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(again.seq(), first.seq());
  EXPECT_EQ(again.referral_id(), first.referral_id());
  // The same reference from another agency is a different referral.
  auto b = stack_.ClientFor("agency-b");
  v1::Ack from_b;
  ASSERT_TRUE(b->Submit(SampleReferral("agency-b", "A-0001"), &from_b).ok());
  EXPECT_FALSE(from_b.duplicate());
  EXPECT_EQ(from_b.seq(), 3u);

  // Idempotency survives a restart.
  ASSERT_EQ(stack_.StopBroker(SIGTERM), 0);
  ASSERT_TRUE(stack_.StartBroker());
  auto after = stack_.ClientFor("agency-a");
  ASSERT_TRUE(after->Submit(SampleReferral("agency-a", "A-0001"), &again).ok());
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(again.seq(), first.seq());
  ASSERT_EQ(stack_.StopBroker(SIGTERM), 0);
  LogContents log = ReadLog(stack_.data_dir());
  EXPECT_EQ(log.head_seq, 3u);
  EXPECT_TRUE(log.verify.ok) << log.verify.problem;
}

TEST_F(SubmitTest, ReusedReferenceWithDifferentContentIsAConflict) {
  auto client = stack_.ClientFor("agency-a");
  v1::Ack first, ack;
  ASSERT_TRUE(client->Submit(SampleReferral("agency-a", "A-0001"), &first).ok());
  v1::Referral other = SampleReferral("agency-a", "A-0001");
  other.mutable_person()->set_given_name("Jordan");  // a different person, same reference
  Status s = client->Submit(other, &ack);
  EXPECT_EQ(s.code(), Status::Code::kIdempotencyConflict) << s.ToString();
  EXPECT_EQ(s.field_path(), "submit.referral.referrer_reference");
  EXPECT_NE(s.message().find(first.referral_id()), std::string::npos) << s.message();
  // Two different referrals under one reference in the same window: one
  // wins, the other is refused, none is silently merged.
  std::vector<v1::Referral> pair = {SampleReferral("agency-a", "A-0002"), SampleReferral("agency-a", "A-0002")};
  pair[1].set_narrative("A different account.");
  int accepted = 0, conflicts = 0;
  ASSERT_TRUE(client->SubmitWindowed(pair, 2, [&](size_t, const Status& st, const v1::Ack&) {
    st.ok() ? ++accepted : (st.code() == Status::Code::kIdempotencyConflict ? ++conflicts : 0);
  }).ok());
  EXPECT_EQ(accepted, 1);
  EXPECT_EQ(conflicts, 1);
  ASSERT_EQ(stack_.StopBroker(SIGTERM), 0);
  EXPECT_EQ(ReadLog(stack_.data_dir()).head_seq, 2u);
}

TEST_F(SubmitTest, OversizeReferralIsReportedToTheClient) {
  auto client = stack_.ClientFor("agency-a");
  v1::Referral big = SampleReferral("agency-a", "BIG-1");
  big.set_narrative(std::string(300 * 1024, 'x'));
  v1::Ack ack;
  Status s = client->Submit(big, &ack);
  EXPECT_EQ(s.code(), Status::Code::kFrameTooLarge) << s.ToString();
}

struct BadReferralCase {
  const char* name;
  void (*mutate)(v1::Referral*);
  Status::Code code;
  const char* field_path;
};

class BadReferralTest : public SubmitTest, public ::testing::WithParamInterface<BadReferralCase> {};

TEST_P(BadReferralTest, IsRefusedWithFieldPathAndNothingWritten) {
  auto client = stack_.ClientFor("agency-a");
  v1::Referral r = SampleReferral("agency-a", "BAD-1");
  GetParam().mutate(&r);
  v1::Ack ack;
  Status s = client->Submit(r, &ack);
  EXPECT_EQ(s.code(), GetParam().code) << s.ToString();
  EXPECT_EQ(s.field_path(), GetParam().field_path) << s.ToString();
  EXPECT_FALSE(s.message().empty());
  // The broker keeps serving, and nothing was written.
  ASSERT_TRUE(client->Submit(SampleReferral("agency-a", "GOOD-1"), &ack).ok());
  EXPECT_EQ(ack.seq(), 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadReferralTest,
    ::testing::Values(
        BadReferralCase{"DashWrongLength", [](v1::Referral* r) { r->mutable_assessment()->mutable_dash_answers()->RemoveLast(); },
                        Status::Code::kInvalidArgument, "submit.referral.assessment.dash_answers"},
        BadReferralCase{"FutureDateOfBirth", [](v1::Referral* r) { r->mutable_person()->set_date_of_birth("2999-01-01"); },
                        Status::Code::kInvalidArgument, "submit.referral.person.date_of_birth"},
        BadReferralCase{"ImpossibleDate", [](v1::Referral* r) { r->mutable_person()->set_date_of_birth("2001-02-30"); },
                        Status::Code::kInvalidArgument, "submit.referral.person.date_of_birth"},
        BadReferralCase{"NoReference", [](v1::Referral* r) { r->clear_referrer_reference(); },
                        Status::Code::kInvalidArgument, "submit.referral.referrer_reference"},
        BadReferralCase{"NoConsent", [](v1::Referral* r) { r->clear_consent(); },
                        Status::Code::kInvalidArgument, "submit.referral.consent.position"},
        BadReferralCase{"NoSubject", [](v1::Referral* r) { r->clear_person(); },
                        Status::Code::kInvalidArgument, "submit.referral.person"},
        BadReferralCase{"ScoreMismatch", [](v1::Referral* r) { r->mutable_assessment()->set_score(3); },
                        Status::Code::kInvalidArgument, "submit.referral.assessment.score"},
        BadReferralCase{"UnknownCategoryValue",
                        [](v1::Referral* r) { r->set_category(static_cast<v1::Category>(77)); },
                        Status::Code::kInvalidArgument, "submit.referral.category"},
        BadReferralCase{"UnknownReferrerAgency", [](v1::Referral* r) { r->mutable_referrer()->set_agency_id("nowhere"); },
                        Status::Code::kUnknownAgency, "submit.referral.referrer.agency_id"},
        BadReferralCase{"OtherAgencyInPayload", [](v1::Referral* r) { r->mutable_referrer()->set_agency_id("agency-b"); },
                        Status::Code::kPermissionDenied, ""}),
    [](const ::testing::TestParamInfo<BadReferralCase>& info) { return info.param.name; });

TEST_F(SubmitTest, AgencyMaySubmitOnlyItsCategoriesAndRoles) {
  v1::Ack ack;
  auto schools = stack_.ClientFor("schools-only");
  v1::Referral r = SampleReferral("schools-only", "S-1");
  EXPECT_EQ(schools->Submit(r, &ack).code(), Status::Code::kPermissionDenied);
  r.set_category(v1::CHILD_AT_RISK);
  EXPECT_TRUE(schools->Submit(r, &ack).ok());
  auto lead = stack_.ClientFor("lead-only");
  EXPECT_EQ(lead->Submit(SampleReferral("lead-only", "L-1"), &ack).code(), Status::Code::kPermissionDenied);
}

TEST_F(SubmitTest, HeartbeatReportsHead) {
  auto client = stack_.ClientFor("agency-a");
  v1::Ack ack;
  ASSERT_TRUE(client->Submit(SampleReferral("agency-a", "H-1"), &ack).ok());
  v1::Frame request, reply;
  request.mutable_heartbeat();
  ASSERT_TRUE(client->Call(request, &reply).ok());
  ASSERT_TRUE(reply.has_heartbeat());
  EXPECT_EQ(reply.heartbeat().head_seq(), 1u);
}

TEST_F(SubmitTest, MetricsAndHealthEndpoints) {
  auto client = stack_.ClientFor("agency-a");
  v1::Ack ack;
  ASSERT_TRUE(client->Submit(SampleReferral("agency-a", "M-1"), &ack).ok());
  ASSERT_TRUE(client->Submit(SampleReferral("agency-a", "M-1"), &ack).ok());
  v1::Referral bad = SampleReferral("agency-a", "M-2");
  bad.clear_consent();
  EXPECT_FALSE(client->Submit(bad, &ack).ok());
  httplib::Client http("127.0.0.1", stack_.metrics_port());
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("refx_submissions_total 1\n"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("refx_duplicates_total 1\n"), std::string::npos);
  EXPECT_NE(metrics->body.find("refx_errors_total 1\n"), std::string::npos);
  EXPECT_NE(metrics->body.find("refx_log_head_seq 1\n"), std::string::npos);
  EXPECT_NE(metrics->body.find("refx_fsync_seconds_count"), std::string::npos);
  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_NE(health->body.find("\"head_seq\":1"), std::string::npos);
}

// Submissions and refusals are also counted per agency (issue 9 item 13):
// each agency's series says only what that agency's connections did.
TEST_F(SubmitTest, MetricsCountSubmissionsAndRefusalsPerAgency) {
  v1::Ack ack;
  auto a = stack_.ClientFor("agency-a");
  auto b = stack_.ClientFor("agency-b");
  ASSERT_TRUE(a->Submit(SampleReferral("agency-a", "PA-1"), &ack).ok());
  ASSERT_TRUE(a->Submit(SampleReferral("agency-a", "PA-2"), &ack).ok());
  ASSERT_TRUE(a->Submit(SampleReferral("agency-a", "PA-2"), &ack).ok());  // a duplicate is no new submission
  ASSERT_TRUE(b->Submit(SampleReferral("agency-b", "PB-1"), &ack).ok());
  v1::Referral bad = SampleReferral("agency-b", "PB-2");
  bad.clear_consent();
  EXPECT_FALSE(b->Submit(bad, &ack).ok());
  EXPECT_FALSE(b->Submit(bad, &ack).ok());
  // A batch: one good referral, one refused item.
  v1::Frame batch, reply;
  *batch.mutable_submit_batch()->add_referrals() = SampleReferral("agency-b", "PB-3");
  *batch.mutable_submit_batch()->add_referrals() = bad;
  ASSERT_TRUE(b->Call(batch, &reply).ok());
  ASSERT_TRUE(reply.has_submit_batch_result()) << reply.DebugString();

  httplib::Client http("127.0.0.1", stack_.metrics_port());
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  const std::string& body = metrics->body;
  EXPECT_NE(body.find("# TYPE refx_agency_submissions_total counter\n"), std::string::npos) << body;
  EXPECT_NE(body.find("refx_agency_submissions_total{agency=\"agency-a\"} 2\n"), std::string::npos) << body;
  EXPECT_NE(body.find("refx_agency_submissions_total{agency=\"agency-b\"} 2\n"), std::string::npos) << body;
  EXPECT_NE(body.find("refx_agency_refusals_total{agency=\"agency-b\"} 3\n"), std::string::npos) << body;
  EXPECT_EQ(body.find("refx_agency_refusals_total{agency=\"agency-a\"}"), std::string::npos) << body;
  EXPECT_NE(body.find("refx_submissions_total 4\n"), std::string::npos) << body;
  EXPECT_NE(body.find("refx_errors_total 3\n"), std::string::npos) << body;
}

}  // namespace
}  // namespace refx::testing
