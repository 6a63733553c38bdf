// SubmitBatchRequest through the real broker binary over TCP with CURVE:
// each referral of a batch is taken exactly as a single submission would be
// (own id and seq, own refusal, same idempotency), the reply comes once the
// batch is durable, and a frame refused as a whole writes nothing.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <set>

#include "core/frame_codec.h"
#include "log_reader.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

class SubmitBatchTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(stack_.StartBroker()); }

  // Sends one SubmitBatchRequest of `referrals` as `agency`; the whole reply.
  v1::Frame SendBatch(const std::string& agency, const std::vector<v1::Referral>& referrals) {
    auto client = stack_.ClientFor(agency);
    v1::Frame request, reply;
    v1::SubmitBatchRequest* batch = request.mutable_submit_batch();  // set even when empty
    for (const v1::Referral& r : referrals) *batch->add_referrals() = r;
    Status s = client->Call(request, &reply);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return reply;
  }

  uint64_t HeadSeq() {
    auto client = stack_.ClientFor("agency-b");
    v1::Frame request, reply;
    request.mutable_heartbeat();
    EXPECT_TRUE(client->Call(request, &reply).ok());
    return reply.heartbeat().head_seq();
  }

  TestStack stack_{TestStack::DefaultAgencies(), "max_frame_bytes: 4194304"};
};

std::vector<v1::Referral> Referrals(const std::string& agency, const std::string& prefix, int count) {
  std::vector<v1::Referral> out;
  for (int i = 0; i < count; ++i) out.push_back(SampleReferral(agency, prefix + std::to_string(i)));
  return out;
}

TEST_F(SubmitBatchTest, EachReferralGetsItsOwnDurableAckInOrder) {
  const std::vector<v1::Referral> sent = Referrals("agency-a", "B-", 50);
  v1::Frame reply = SendBatch("agency-a", sent);
  ASSERT_TRUE(reply.has_submit_batch_result()) << reply.ShortDebugString();
  ASSERT_EQ(reply.submit_batch_result().results_size(), 50);
  for (int i = 0; i < 50; ++i) {
    const v1::SubmitBatchItem& item = reply.submit_batch_result().results(i);
    ASSERT_TRUE(item.has_ack()) << i;
    EXPECT_EQ(item.ack().seq(), static_cast<uint64_t>(i + 1));
    EXPECT_FALSE(item.ack().duplicate());
  }
  // Durable: a SIGKILL right after the reply loses nothing.
  ASSERT_TRUE(WIFSIGNALED(stack_.StopBroker(SIGKILL)));
  LogContents log = ReadLog(stack_.data_dir());
  EXPECT_EQ(log.head_seq, 50u);
  EXPECT_TRUE(log.verify.ok) << log.verify.problem;
  for (int i = 0; i < 50; ++i) {
    const auto& seqs = log.submissions[{"agency-a", sent[i].referrer_reference()}];
    ASSERT_EQ(seqs.size(), 1u);
    EXPECT_EQ(seqs[0], reply.submit_batch_result().results(i).ack().seq());
  }
}

TEST_F(SubmitBatchTest, BadReferralsAreRefusedOneByOneAndTheRestWritten) {
  std::vector<v1::Referral> batch = Referrals("agency-a", "M-", 6);
  batch[1].mutable_assessment()->mutable_dash_answers()->RemoveLast();
  batch[3].mutable_referrer()->set_agency_id("nowhere");
  batch[4].mutable_referrer()->set_agency_id("agency-b");  // not the authenticated agency
  batch[5].clear_consent();
  v1::Frame reply = SendBatch("agency-a", batch);
  ASSERT_TRUE(reply.has_submit_batch_result()) << reply.ShortDebugString();
  const auto& results = reply.submit_batch_result().results();
  ASSERT_EQ(results.size(), 6);
  EXPECT_TRUE(results[0].has_ack());
  EXPECT_TRUE(results[2].has_ack());
  EXPECT_EQ(results[0].ack().seq(), 1u);
  EXPECT_EQ(results[2].ack().seq(), 2u) << "refused referrals take no seq";
  ASSERT_TRUE(results[1].has_error());
  EXPECT_EQ(results[1].error().code(), v1::INVALID_ARGUMENT);
  EXPECT_EQ(results[1].error().field_path(), "submit_batch.referrals[1].assessment.dash_answers");
  EXPECT_EQ(results[3].error().code(), v1::UNKNOWN_AGENCY);
  EXPECT_EQ(results[3].error().field_path(), "submit_batch.referrals[3].referrer.agency_id");
  EXPECT_EQ(results[4].error().code(), v1::PERMISSION_DENIED);
  EXPECT_EQ(results[5].error().code(), v1::INVALID_ARGUMENT);
  EXPECT_EQ(results[5].error().field_path(), "submit_batch.referrals[5].consent.position");
  EXPECT_FALSE(results[5].error().message().empty());
  EXPECT_EQ(HeadSeq(), 2u);
}

TEST_F(SubmitBatchTest, RepeatsInsideAndAcrossBatchesAreOneReferral) {
  std::vector<v1::Referral> batch = Referrals("agency-a", "D-", 3);
  batch.push_back(batch[0]);  // the same referral twice in one frame
  v1::Referral reused = SampleReferral("agency-a", "D-1");
  reused.set_narrative("a different referral under a reference already used");
  batch.push_back(reused);
  v1::Frame first = SendBatch("agency-a", batch);
  ASSERT_TRUE(first.has_submit_batch_result()) << first.ShortDebugString();
  const auto& r = first.submit_batch_result().results();
  ASSERT_EQ(r.size(), 5);
  EXPECT_TRUE(r[3].ack().duplicate());
  EXPECT_EQ(r[3].ack().seq(), r[0].ack().seq());
  EXPECT_EQ(r[3].ack().referral_id(), r[0].ack().referral_id());
  ASSERT_TRUE(r[4].has_error());
  EXPECT_EQ(r[4].error().code(), v1::IDEMPOTENCY_CONFLICT);
  EXPECT_EQ(r[4].error().field_path(), "submit_batch.referrals[4].referrer_reference");
  EXPECT_EQ(HeadSeq(), 3u);

  // The whole frame again (a retry after a lost reply): the same ids and
  // seqs, all duplicates, nothing written; also after a restart.
  for (int round = 0; round < 2; ++round) {
    v1::Frame again = SendBatch("agency-a", std::vector<v1::Referral>(batch.begin(), batch.begin() + 4));
    ASSERT_TRUE(again.has_submit_batch_result());
    for (int i = 0; i < 4; ++i) {
      EXPECT_TRUE(again.submit_batch_result().results(i).ack().duplicate()) << i;
      EXPECT_EQ(again.submit_batch_result().results(i).ack().seq(), r[i].ack().seq()) << i;
    }
    EXPECT_EQ(HeadSeq(), 3u);
    ASSERT_EQ(stack_.StopBroker(SIGTERM), 0);
    ASSERT_TRUE(stack_.StartBroker());
  }
  // A single SubmitRequest of a batched referral is the same referral.
  auto client = stack_.ClientFor("agency-a");
  v1::Ack ack;
  ASSERT_TRUE(client->Submit(batch[2], &ack).ok());
  EXPECT_TRUE(ack.duplicate());
  EXPECT_EQ(ack.seq(), r[2].ack().seq());
}

TEST_F(SubmitBatchTest, FramesRefusedAsAWholeWriteNothing) {
  // Empty.
  v1::Frame reply = SendBatch("agency-a", {});
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.error().code(), v1::INVALID_ARGUMENT);
  EXPECT_EQ(reply.error().field_path(), "submit_batch.referrals");
  // More referrals than the broker's max_batch (1024 in the test stack).
  reply = SendBatch("agency-a", Referrals("agency-a", "L-", 1025));
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.error().code(), v1::INVALID_ARGUMENT);
  EXPECT_NE(reply.error().message().find("at most 1024"), std::string::npos) << reply.error().message();
  // An identity without the SUBMITTER role.
  reply = SendBatch("lead-only", Referrals("lead-only", "P-", 2));
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.error().code(), v1::PERMISSION_DENIED);
  EXPECT_EQ(HeadSeq(), 0u);
}

// Frames against the default max_frame_bytes (262144).
class SubmitBatchFrameSize : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.StartBroker());
    client_ = stack_.ClientFor("agency-a", 2000, 2);
  }
  // `count` referrals whose narratives are `kib` KiB each.
  static std::vector<v1::Referral> Large(const std::string& prefix, int count, size_t kib) {
    std::vector<v1::Referral> out = Referrals("agency-a", prefix, count);
    for (v1::Referral& r : out) r.set_narrative(std::string(kib * 1024, 'x'));
    return out;
  }
  TestStack stack_;
  std::unique_ptr<BrokerClient> client_;
};

TEST_F(SubmitBatchFrameSize, OversizeBatchIsFrameTooLarge) {
  v1::Frame request, reply;
  for (const v1::Referral& r : Large("O-", 4, 100)) *request.mutable_submit_batch()->add_referrals() = r;
  ASSERT_TRUE(client_->Call(request, &reply).ok());
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.error().code(), v1::FRAME_TOO_LARGE);
  StopAndCheckLog(stack_, 0);
}

TEST_F(SubmitBatchFrameSize, ClientPacksLargeReferralsIntoFramesThatFit) {
  // Four 100 KiB referrals (in one frame they would be 400 KiB) and one of
  // 300 KiB, which no frame can carry.
  std::vector<v1::Referral> batch = Large("P-", 5, 100);
  batch[2].set_narrative(std::string(300 * 1024, 'x'));
  std::vector<Status> results(batch.size(), Status::Internal("no result"));
  ASSERT_TRUE(client_
                  ->SubmitBatches(batch, 64, 2,
                                  [&](size_t i, const Status& s, const v1::Ack&) { results[i] = s; })
                  .ok());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (i == 2) {
      EXPECT_EQ(results[i].code(), Status::Code::kFrameTooLarge) << results[i].ToString();
    } else {
      EXPECT_TRUE(results[i].ok()) << i << ": " << results[i].ToString();
    }
  }
  StopAndCheckLog(stack_, 4);
}

TEST_F(SubmitBatchTest, ClientSubmitsManyFramesWindowed) {
  const std::vector<v1::Referral> sent = Referrals("agency-a", "W-", 1000);
  std::vector<uint64_t> seq(sent.size(), 0);
  auto client = stack_.ClientFor("agency-a");
  ASSERT_TRUE(client
                  ->SubmitBatches(sent, 64, 4,
                                  [&](size_t i, const Status& s, const v1::Ack& ack) {
                                    ASSERT_TRUE(s.ok()) << i << ": " << s.ToString();
                                    EXPECT_EQ(seq[i], 0u) << i << " answered twice";
                                    seq[i] = ack.seq();
                                  })
                  .ok());
  EXPECT_EQ(std::set<uint64_t>(seq.begin(), seq.end()).size(), sent.size()) << "every referral its own seq";
  EXPECT_EQ(std::count(seq.begin(), seq.end(), 0u), 0);

  httplib::Client http("127.0.0.1", stack_.metrics_port());
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("refx_submissions_total 1000\n"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("refx_errors_total 0\n"), std::string::npos);

  StopAndCheckLog(stack_, 1000u);
}

}  // namespace
}  // namespace refx::testing
