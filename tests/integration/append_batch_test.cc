// AppendBatchRequest through the real broker binary over TCP with CURVE:
// each append of a batch is taken exactly as an AppendRequest of its own
// would be (own seq, own refusal, later appends see the state earlier ones
// leave), the reply comes once the batch is durable, a retry of the whole
// frame is answered with the original seqs, and a frame refused as a whole
// writes nothing. Then AppendPipeline (client/append_pipeline.h), which
// sends such frames from background threads: jobs come back in the order
// they were started, each append with its own ack or refusal, everything
// acknowledged is in the log once, a job sent again is answered with the
// first seqs, and a job the broker never answers comes back Unavailable.
#include <gtest/gtest.h>
#include <signal.h>

#include <google/protobuf/util/time_util.h>

#include <set>

#include "client/append_pipeline.h"

#include "core/frame_codec.h"
#include "log_reader.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

constexpr char kDestinations[] = R"(
destinations { code: "DEST_A" name: "A panel" agency_id: "lead-a" need_to_know: [SUBJECT_IDENTITY, ASSESSMENT] purpose: "risk panel" }
destinations { code: "DEST_B" name: "B service" agency_id: "lead-b" need_to_know: [SUBJECT_IDENTITY, SUBJECT_CONTACT] purpose: "support" }
outcome_codes { code: "NFA" }
)";

std::vector<AgencySpec> Agencies() {
  return {{"agency-a", {"SUBMITTER"}, {}},
          {"lead-a", {"LEAD"}, {}},
          {"lead-b", {"LEAD"}, {}},
          {"router", {"SERVICE"}, {}}};
}

// A case_routed append of `referral_id` to `dest`, with its idempotency key.
v1::AppendRequest RoutedAppend(const std::string& referral_id, const std::string& dest) {
  v1::AppendRequest a;
  auto* r = a.mutable_event()->mutable_case_routed();
  r->set_referral_id(referral_id);
  r->set_destination(dest);
  r->set_rule_id("TEST_RULE");
  r->set_reason("test reason");
  *r->mutable_deadline() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1800000000);
  a.set_idempotency_key("route:" + referral_id + ":" + dest);
  return a;
}

class AppendBatchTest : public ::testing::Test {
 protected:
  AppendBatchTest() : stack_(Agencies(), "", kDestinations) {}
  void SetUp() override {
    ASSERT_TRUE(stack_.StartBroker());
    service_ = stack_.ClientFor("router");
    v1::Ack ack;
    ASSERT_TRUE(stack_.ClientFor("agency-a")->Submit(SampleReferral("agency-a", "AB-1"), &ack).ok());
    referral_ = ack.referral_id();
  }

  v1::AppendRequest Routed(const std::string& dest) const { return RoutedAppend(referral_, dest); }
  v1::AppendRequest Delivered(const std::string& dest) const {
    v1::AppendRequest a;
    a.mutable_event()->mutable_case_delivered()->set_referral_id(referral_);
    a.mutable_event()->mutable_case_delivered()->set_destination(dest);
    a.mutable_event()->mutable_case_delivered()->set_attempt(1);
    a.set_idempotency_key("deliver:" + referral_ + ":" + dest + ":1");
    return a;
  }

  // Sends one AppendBatchRequest as the router service; the whole reply.
  v1::Frame Send(const std::vector<v1::AppendRequest>& appends) {
    v1::Frame request, reply;
    v1::AppendBatchRequest* batch = request.mutable_append_batch();  // set even when empty
    for (const v1::AppendRequest& a : appends) *batch->add_appends() = a;
    Status s = service_->Call(request, &reply);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return reply;
  }

  v1::CaseState StateOf(const std::string& dest) {
    v1::QueryRequest q;
    q.set_referral_id(referral_);
    v1::QueryResult result;
    EXPECT_TRUE(service_->Query(q, &result).ok());
    for (const auto& c : result.cases()) {
      if (c.destination() == dest) return c.state();
    }
    return v1::CASE_STATE_UNSPECIFIED;
  }

  uint64_t HeadSeq() {
    v1::Frame request, reply;
    request.mutable_heartbeat();
    EXPECT_TRUE(service_->Call(request, &reply).ok());
    return reply.heartbeat().head_seq();
  }

  TestStack stack_;
  std::unique_ptr<BrokerClient> service_;
  std::string referral_;
};

TEST_F(AppendBatchTest, EachAppendIsTakenInOrderAndIsDurableWhenAnswered) {
  // The deliveries are legal only after the routes of the same frame.
  v1::Frame reply = Send({Routed("DEST_A"), Delivered("DEST_A"), Routed("DEST_B"), Delivered("DEST_B")});
  ASSERT_TRUE(reply.has_append_batch_result()) << reply.ShortDebugString();
  ASSERT_EQ(reply.append_batch_result().results_size(), 4);
  for (int i = 0; i < 4; ++i) {
    const v1::AppendBatchItem& item = reply.append_batch_result().results(i);
    ASSERT_TRUE(item.has_ack()) << i << ": " << item.ShortDebugString();
    EXPECT_EQ(item.ack().seq(), static_cast<uint64_t>(i + 2)) << "the submission is seq 1";
    EXPECT_EQ(item.ack().referral_id(), referral_);
    EXPECT_FALSE(item.ack().duplicate());
  }
  EXPECT_EQ(StateOf("DEST_A"), v1::DELIVERED);
  EXPECT_EQ(StateOf("DEST_B"), v1::DELIVERED);
  // Durable: a SIGKILL right after the reply loses nothing.
  ASSERT_TRUE(WIFSIGNALED(stack_.StopBroker(SIGKILL)));
  LogContents log = ReadLog(stack_.data_dir());
  EXPECT_EQ(log.head_seq, 5u);
  EXPECT_TRUE(log.verify.ok) << log.verify.problem;
}

TEST_F(AppendBatchTest, ABadAppendIsRefusedOnItsOwnAndTheRestWritten) {
  v1::AppendRequest nowhere = Routed("NOWHERE");
  v1::AppendRequest deliver_b = Delivered("DEST_B");  // DEST_B is never routed
  v1::Frame reply = Send({Routed("DEST_A"), nowhere, deliver_b, Delivered("DEST_A")});
  ASSERT_TRUE(reply.has_append_batch_result()) << reply.ShortDebugString();
  const auto& results = reply.append_batch_result().results();
  ASSERT_EQ(results.size(), 4);
  ASSERT_TRUE(results[0].has_ack());
  ASSERT_TRUE(results[1].has_error());
  EXPECT_EQ(results[1].error().code(), v1::UNKNOWN_AGENCY);
  EXPECT_EQ(results[1].error().field_path(), "append_batch.appends[1].event.destination");
  ASSERT_TRUE(results[2].has_error());
  ASSERT_TRUE(results[3].has_ack());
  EXPECT_EQ(results[3].ack().seq(), results[0].ack().seq() + 1) << "refused appends take no seq";

  // Each refusal is the one the same append gets alone.
  v1::Ack ack;
  Status alone = service_->Append(nowhere.event(), nowhere.idempotency_key(), &ack);
  EXPECT_EQ(static_cast<int>(alone.code()), static_cast<int>(StatusFromError(results[1].error()).code()));
  alone = service_->Append(deliver_b.event(), deliver_b.idempotency_key(), &ack);
  EXPECT_EQ(alone.code(), StatusFromError(results[2].error()).code()) << alone.ToString();
  EXPECT_EQ(alone.message(), results[2].error().message());
  EXPECT_EQ(StateOf("DEST_B"), v1::CASE_STATE_UNSPECIFIED);
  EXPECT_EQ(HeadSeq(), 3u);
}

TEST_F(AppendBatchTest, ARetryOfTheWholeFrameIsAnsweredWithTheOriginalSeqs) {
  const std::vector<v1::AppendRequest> frame = {Routed("DEST_A"), Delivered("DEST_A"), Routed("DEST_B")};
  v1::Frame first = Send(frame);
  ASSERT_TRUE(first.has_append_batch_result()) << first.ShortDebugString();
  const uint64_t head = HeadSeq();
  v1::Frame again = Send(frame);
  ASSERT_TRUE(again.has_append_batch_result()) << again.ShortDebugString();
  ASSERT_EQ(again.append_batch_result().results_size(), 3);
  for (int i = 0; i < 3; ++i) {
    const v1::AppendBatchItem& item = again.append_batch_result().results(i);
    ASSERT_TRUE(item.has_ack()) << i << ": " << item.ShortDebugString();
    EXPECT_TRUE(item.ack().duplicate()) << i;
    EXPECT_EQ(item.ack().seq(), first.append_batch_result().results(i).ack().seq()) << i;
  }
  EXPECT_EQ(HeadSeq(), head) << "the retry wrote nothing";
  // A retry mixing the written with a new append writes only the new one.
  v1::Frame mixed = Send({Routed("DEST_A"), Delivered("DEST_B")});
  ASSERT_TRUE(mixed.has_append_batch_result()) << mixed.ShortDebugString();
  EXPECT_TRUE(mixed.append_batch_result().results(0).ack().duplicate());
  EXPECT_FALSE(mixed.append_batch_result().results(1).ack().duplicate());
  EXPECT_EQ(HeadSeq(), head + 1);
}

TEST_F(AppendBatchTest, AFrameWithoutKeysOrWithoutAppendsIsRefusedWholeAndWritesNothing) {
  const uint64_t head = HeadSeq();
  v1::AppendRequest unkeyed = Delivered("DEST_A");
  unkeyed.clear_idempotency_key();
  v1::Frame reply = Send({Routed("DEST_A"), unkeyed});
  ASSERT_TRUE(reply.has_error()) << reply.ShortDebugString();
  EXPECT_EQ(reply.error().code(), v1::INVALID_ARGUMENT);
  EXPECT_EQ(reply.error().field_path(), "append_batch.appends[1].idempotency_key");
  reply = Send({});
  ASSERT_TRUE(reply.has_error()) << reply.ShortDebugString();
  EXPECT_EQ(reply.error().field_path(), "append_batch.appends");
  EXPECT_EQ(HeadSeq(), head);
  EXPECT_EQ(StateOf("DEST_A"), v1::CASE_STATE_UNSPECIFIED);
}

// The client splits appends into frames and hands each its own result.
TEST_F(AppendBatchTest, AppendBatchesGivesEveryAppendItsResultAcrossFrames) {
  std::vector<v1::AppendRequest> appends = {Routed("DEST_A"), Delivered("DEST_A"), Routed("NOWHERE"),
                                            Routed("DEST_B"), Delivered("DEST_B")};
  std::vector<Status> results(appends.size(), Status::Internal("no result"));
  std::vector<uint64_t> seqs(appends.size());
  Status s = service_->AppendBatches(appends, /*per_frame=*/2, /*window=*/1,
                                     [&](size_t i, const Status& st, const v1::Ack& ack) {
                                       results[i] = st;
                                       seqs[i] = ack.seq();
                                     });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(results[0].ok() && results[1].ok() && results[3].ok() && results[4].ok());
  EXPECT_EQ(results[2].code(), Status::Code::kUnknownAgency);
  EXPECT_EQ(seqs[4], seqs[0] + 3);
  EXPECT_EQ(StateOf("DEST_B"), v1::DELIVERED);
  // Without keys nothing is sent.
  appends[1].clear_idempotency_key();
  EXPECT_EQ(service_->AppendBatches(appends, 2, 1, [](size_t, const Status&, const v1::Ack&) {}).code(),
            Status::Code::kInvalidArgument);
}

class AppendPipelineTest : public ::testing::Test {
 protected:
  AppendPipelineTest() : stack_(Agencies(), "", kDestinations) {}
  void SetUp() override {
    ASSERT_TRUE(stack_.StartBroker());
    std::unique_ptr<BrokerClient> agency = stack_.ClientFor("agency-a");
    for (int i = 0; i < 40; ++i) {
      v1::Ack ack;
      ASSERT_TRUE(agency->Submit(SampleReferral("agency-a", "AP-" + std::to_string(i)), &ack).ok());
      referrals_.push_back(ack.referral_id());
    }
  }

  // Job `j` of `jobs`: the routes to both destinations of its share of the referrals.
  std::unique_ptr<AppendPipeline::Job> RoutesJob(size_t j, size_t jobs) {
    auto job = std::make_unique<AppendPipeline::Job>();
    job->tag = 100 + j;
    for (size_t i = j; i < referrals_.size(); i += jobs) {
      job->appends.push_back(RoutedAppend(referrals_[i], "DEST_A"));
      job->appends.push_back(RoutedAppend(referrals_[i], "DEST_B"));
    }
    return job;
  }

  TestStack stack_;
  std::vector<std::string> referrals_;
};

TEST_F(AppendPipelineTest, JobsComeBackInOrderWithEveryAppendAcknowledgedOnce) {
  constexpr size_t kJobs = 8;
  std::vector<std::unique_ptr<AppendPipeline::Job>> back;
  {
    // Frames of 3 appends, 2 in flight, 2 jobs at once: each job takes
    // several round trips, so jobs overlap.
    AppendPipeline pipeline(stack_.ClientOptionsFor("router"), 3, 2, 2);
    for (size_t j = 0; j < kJobs; ++j) {
      pipeline.Start(RoutesJob(j, kJobs));
      for (auto& done : pipeline.TakeFinished()) back.push_back(std::move(done));
    }
    for (auto& done : pipeline.WaitAll()) back.push_back(std::move(done));
    EXPECT_EQ(pipeline.pending(), 0u);
  }
  ASSERT_EQ(back.size(), kJobs);
  std::set<uint64_t> seqs;
  for (size_t j = 0; j < kJobs; ++j) {
    const AppendPipeline::Job& job = *back[j];
    EXPECT_EQ(job.tag, 100 + j) << "jobs are handed back in the order they were started";
    ASSERT_TRUE(job.status.ok()) << job.status.ToString();
    ASSERT_EQ(job.results.size(), job.appends.size());
    ASSERT_EQ(job.acks.size(), job.appends.size());
    for (size_t i = 0; i < job.appends.size(); ++i) {
      ASSERT_TRUE(job.results[i].ok()) << j << "/" << i << ": " << job.results[i].ToString();
      EXPECT_FALSE(job.acks[i].duplicate());
      EXPECT_EQ(job.acks[i].referral_id(), job.appends[i].event().case_routed().referral_id());
      EXPECT_TRUE(seqs.insert(job.acks[i].seq()).second) << "seq " << job.acks[i].seq() << " answered twice";
    }
  }
  EXPECT_EQ(seqs.size(), referrals_.size() * 2);

  // Everything acknowledged is durable, once: a SIGKILL loses nothing.
  ASSERT_TRUE(WIFSIGNALED(stack_.StopBroker(SIGKILL)));
  LogContents log = ReadLog(stack_.data_dir());
  EXPECT_TRUE(log.verify.ok) << log.verify.problem;
  EXPECT_EQ(log.head_seq, referrals_.size() * 3);
  std::unique_ptr<eventlog::EventLog> opened;
  eventlog::OpenOptions options;
  options.path = stack_.data_dir();
  options.read_only = true;
  options.create_if_missing = false;
  ASSERT_TRUE(eventlog::EventLog::Open(options, &opened).ok());
  std::set<std::string> cases;
  ASSERT_TRUE(opened->Scan(1, 0, [&](const eventlog::StoredEvent& stored) {
                      v1::Event e;
                      EXPECT_TRUE(e.ParseFromString(stored.bytes));
                      if (!e.has_case_routed()) return true;
                      EXPECT_TRUE(seqs.count(stored.seq)) << "seq " << stored.seq << " written but not acknowledged";
                      EXPECT_TRUE(cases.insert(e.case_routed().referral_id() + "/" + e.case_routed().destination()).second)
                          << e.case_routed().referral_id() << " routed twice to " << e.case_routed().destination();
                      return true;
                    }).ok());
  EXPECT_EQ(cases.size(), referrals_.size() * 2);
}

TEST_F(AppendPipelineTest, ARefusedAppendComesBackOnItsOwnAndAJobSentAgainGetsTheFirstSeqs) {
  AppendPipeline pipeline(stack_.ClientOptionsFor("router"), 4, 2, 2);
  auto job = std::make_unique<AppendPipeline::Job>();
  job->appends = {RoutedAppend(referrals_[0], "DEST_A"), RoutedAppend(referrals_[0], "NOWHERE"), RoutedAppend(referrals_[1], "DEST_B")};
  auto again = std::make_unique<AppendPipeline::Job>();
  again->appends = job->appends;
  pipeline.Start(std::move(job));
  std::vector<std::unique_ptr<AppendPipeline::Job>> first = pipeline.WaitAll();
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(first[0]->status.ok()) << first[0]->status.ToString();
  EXPECT_TRUE(first[0]->results[0].ok()) << first[0]->results[0].ToString();
  EXPECT_EQ(first[0]->results[1].code(), Status::Code::kUnknownAgency) << first[0]->results[1].ToString();
  EXPECT_TRUE(first[0]->results[2].ok()) << first[0]->results[2].ToString();

  pipeline.Start(std::move(again));
  std::vector<std::unique_ptr<AppendPipeline::Job>> second = pipeline.WaitAll();
  ASSERT_EQ(second.size(), 1u);
  ASSERT_TRUE(second[0]->status.ok());
  for (size_t i : {0u, 2u}) {
    ASSERT_TRUE(second[0]->results[i].ok()) << second[0]->results[i].ToString();
    EXPECT_TRUE(second[0]->acks[i].duplicate());
    EXPECT_EQ(second[0]->acks[i].seq(), first[0]->acks[i].seq());
  }
  EXPECT_EQ(second[0]->results[1].code(), Status::Code::kUnknownAgency);
}

TEST_F(AppendPipelineTest, AJobTheBrokerNeverAnswersComesBackUnavailable) {
  ASSERT_EQ(kill(stack_.broker_pid(), SIGSTOP), 0);
  {
    AppendPipeline pipeline(stack_.ClientOptionsFor("router", /*timeout_ms=*/200, /*attempts=*/2), 4, 2, 1);
    auto job = std::make_unique<AppendPipeline::Job>();
    job->appends = {RoutedAppend(referrals_[0], "DEST_A")};
    pipeline.Start(std::move(job));
    std::vector<std::unique_ptr<AppendPipeline::Job>> back = pipeline.WaitAll();
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0]->status.code(), Status::Code::kUnavailable) << back[0]->status.ToString();
    EXPECT_EQ(back[0]->results[0].code(), Status::Code::kUnavailable) << "an append never answered is not OK";
    EXPECT_EQ(back[0]->results[0].message(), back[0]->status.message()) << "it carries the call's reason";
  }
  ASSERT_EQ(kill(stack_.broker_pid(), SIGCONT), 0);
}

}  // namespace
}  // namespace refx::testing
