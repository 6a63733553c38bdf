// Exactly-once under failure: lost acknowledgements, a broker that is down
// when the client starts, concurrent clients racing on the same references,
// SIGKILL in the middle of a stream, and a full disk. Real broker binary, real RocksDB,
// CURVE on.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <zmq.hpp>

#include "core/frame_codec.h"
#include "log_reader.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

uint64_t HeadSeq(const TestStack& stack) {
  auto client = stack.ClientFor("agency-b");
  v1::Frame request, reply;
  request.mutable_heartbeat();
  if (!client->Call(request, &reply).ok()) return 0;
  return reply.heartbeat().head_seq();
}

// Submits `referrals` the way a bulk adapter would: one referral per frame
// with `window` frames in flight, or (per_frame > 0) SubmitBatchRequest
// frames of per_frame referrals with `window` frames in flight.
Status SubmitAll(BrokerClient& client, const std::vector<v1::Referral>& referrals, size_t window, size_t per_frame,
                 const BrokerClient::ResultFn& on_result) {
  if (per_frame == 0) return client.SubmitWindowed(referrals, window, on_result);
  return client.SubmitBatches(referrals, per_frame, window, on_result);
}

// Each test of this group runs with single-referral frames (0) and with
// batch frames of 7 and of 64 referrals.
class DurabilityByFrame : public ::testing::TestWithParam<size_t> {};

INSTANTIATE_TEST_SUITE_P(Frames, DurabilityByFrame, ::testing::Values(0, 7, 64),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return info.param == 0 ? std::string("OnePerFrame")
                                                  : "Batch" + std::to_string(info.param);
                         });

TEST(DurabilityTest, RetryAfterLostAckGetsTheSameSeq) {
  TestStack stack;
  ASSERT_TRUE(stack.StartBroker());
  {
    // Send, then go away before the acknowledgement can be read: the ack is lost.
    zmq::context_t ctx(1);
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 10000);  // the request must leave before the socket closes
    s.set(zmq::sockopt::curve_serverkey, stack.broker_keys().public_key);
    s.set(zmq::sockopt::curve_publickey, stack.agency_keys("agency-a").public_key);
    s.set(zmq::sockopt::curve_secretkey, stack.agency_keys("agency-a").secret_key);
    s.connect(stack.endpoint());
    v1::Frame f;
    f.set_correlation_id(1);
    *f.mutable_submit()->mutable_referral() = SampleReferral("agency-a", "LOST-1");
    s.send(zmq::buffer(EncodeFrame(f)));
  }
  for (int i = 0; i < 100 && HeadSeq(stack) < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(HeadSeq(stack), 1u) << "the first attempt should have been written";

  auto client = stack.ClientFor("agency-a");
  v1::Ack ack;
  ASSERT_TRUE(client->Submit(SampleReferral("agency-a", "LOST-1"), &ack).ok());
  EXPECT_TRUE(ack.duplicate());
  EXPECT_EQ(ack.seq(), 1u);
  ASSERT_EQ(stack.StopBroker(SIGTERM), 0);
  LogContents log = ReadLog(stack.data_dir());
  EXPECT_EQ(log.head_seq, 1u);
  EXPECT_EQ((log.submissions[{"agency-a", "LOST-1"}].size()), 1u);
}

TEST(DurabilityTest, ClientRetriesUntilTheBrokerIsBack) {
  TestStack stack;
  ASSERT_TRUE(stack.StartBroker());  // picks the port
  ASSERT_EQ(stack.StopBroker(SIGKILL) & 0x7f, SIGKILL);
  auto client = stack.ClientFor("agency-a", /*timeout_ms=*/300, /*attempts=*/30);
  v1::Ack ack;
  Status s;
  // The client submits on its own thread; the broker is restarted from the
  // test's thread (a child lives only as long as the thread that started it).
  std::thread submitter([&] { s = client->Submit(SampleReferral("agency-a", "LATE-1"), &ack); });
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  const bool restarted = stack.StartBroker();
  submitter.join();
  ASSERT_TRUE(restarted);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ack.seq(), 1u);
}

TEST(DurabilityTest, UnreachableBrokerIsReportedAfterRetries) {
  TestStack stack;
  ASSERT_TRUE(stack.StartBroker());
  stack.StopBroker(SIGKILL);
  auto client = stack.ClientFor("agency-a", /*timeout_ms=*/100, /*attempts=*/3);
  v1::Ack ack;
  EXPECT_EQ(client->Submit(SampleReferral("agency-a", "GONE-1"), &ack).code(), Status::Code::kUnavailable);
}

TEST_P(DurabilityByFrame, ConcurrentClientsRacingOnTheSameReferences) {
  TestStack stack;
  ASSERT_TRUE(stack.StartBroker());
  constexpr int kPerAgency = 300;
  // Two connections per agency submit the same references at the same time.
  std::mutex mu;
  std::map<std::pair<std::string, std::string>, std::set<uint64_t>> acked;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (const std::string agency : {"agency-a", "agency-b"}) {
    for (int copy = 0; copy < 2; ++copy) {
      threads.emplace_back([&, agency] {
        auto client = stack.ClientFor(agency);
        std::vector<v1::Referral> batch;
        for (int i = 0; i < kPerAgency; ++i) batch.push_back(SampleReferral(agency, "C-" + std::to_string(i)));
        Status s = SubmitAll(*client, batch, 16, GetParam(), [&](size_t i, const Status& st, const v1::Ack& ack) {
          if (!st.ok()) {
            ++failures;
            return;
          }
          std::lock_guard<std::mutex> lock(mu);
          acked[{agency, batch[i].referrer_reference()}].insert(ack.seq());
        });
        if (!s.ok()) ++failures;
      });
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_EQ(acked.size(), 2u * kPerAgency);
  for (const auto& [key, seqs] : acked) EXPECT_EQ(seqs.size(), 1u) << key.second << " got two different seqs";
  ASSERT_EQ(stack.StopBroker(SIGTERM), 0);
  LogContents log = ReadLog(stack.data_dir());
  EXPECT_EQ(log.head_seq, 2u * kPerAgency);
  for (const auto& [key, seqs] : log.submissions) {
    ASSERT_EQ(seqs.size(), 1u) << key.second << " written twice";
    EXPECT_EQ(*acked[key].begin(), seqs[0]);
  }
  EXPECT_TRUE(log.verify.ok) << log.verify.problem;
}

TEST_P(DurabilityByFrame, SigkillMidStreamLosesAndDuplicatesNothing) {
  TestStack stack;
  ASSERT_TRUE(stack.StartBroker());
  constexpr int kTotal = 20000;
  std::vector<v1::Referral> referrals;
  for (int i = 0; i < kTotal; ++i) referrals.push_back(SampleReferral("agency-a", "K-" + std::to_string(i)));
  std::vector<uint64_t> acked_seq(kTotal, 0);
  std::atomic<int> acked{0};
  std::atomic<int> failures{0};
  Status stream_status;
  std::thread streamer([&] {
    // A ten-minute request timeout: what the kill cut off is sent again
    // when its connection drops, not when the timeout passes (the test's
    // own limit is five minutes).
    auto client = stack.ClientFor("agency-a", /*timeout_ms=*/600000, /*attempts=*/40);
    const size_t window = GetParam() == 0 ? 64 : 4;
    stream_status = SubmitAll(*client, referrals, window, GetParam(), [&](size_t i, const Status& s, const v1::Ack& ack) {
      if (!s.ok()) {
        ++failures;
        return;
      }
      acked_seq[i] = ack.seq();
      ++acked;
    });
  });
  // Kill the broker while acknowledgements are flowing, then bring it back.
  while (acked.load() < kTotal / 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const int status = stack.StopBroker(SIGKILL);
  EXPECT_TRUE(WIFSIGNALED(status));
  const int acked_before_kill = acked.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(stack.StartBroker());
  streamer.join();
  ASSERT_TRUE(stream_status.ok()) << stream_status.ToString();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(acked.load(), kTotal);
  EXPECT_LT(acked_before_kill, kTotal) << "the kill should land mid-stream";

  ASSERT_EQ(stack.StopBroker(SIGTERM), 0);
  LogContents log = ReadLog(stack.data_dir());
  EXPECT_TRUE(log.verify.ok) << "seq " << log.verify.first_bad_seq << ": " << log.verify.problem;
  EXPECT_EQ(log.head_seq, static_cast<uint64_t>(kTotal)) << "every referral exactly once, no gaps";
  for (int i = 0; i < kTotal; ++i) {
    const auto& seqs = log.submissions[{"agency-a", referrals[i].referrer_reference()}];
    ASSERT_EQ(seqs.size(), 1u) << referrals[i].referrer_reference();
    ASSERT_EQ(seqs[0], acked_seq[i]) << "acknowledged seq must be the logged one";
  }
}

// A full disk under a stream: the batch whose write fails, and the one
// built behind it, are answered with errors (INTERNAL, "retry"); the broker
// exits. Every
// acknowledged referral is in the log once under its acknowledged seq, no
// refused one is, and once there is room again a re-run of everything not
// acknowledged leaves each referral in the log exactly once.
TEST_P(DurabilityByFrame, FullDiskMidStreamKeepsEveryAcknowledgedReferralOnce) {
  TestStack stack;
  stack.set_broker_file_size_limit(512 * 1024);
  ASSERT_TRUE(stack.StartBroker());
  constexpr size_t kTotal = 4000;  // several times what fits
  std::vector<v1::Referral> referrals;
  for (size_t i = 0; i < kTotal; ++i) referrals.push_back(SampleReferral("agency-a", "D-" + std::to_string(i)));
  std::vector<uint64_t> acked_seq(kTotal, 0);
  std::vector<bool> refused(kTotal, false);
  {
    auto client = stack.ClientFor("agency-a", /*timeout_ms=*/2000, /*attempts=*/1);
    const size_t window = GetParam() == 0 ? 16 : 4;
    (void)SubmitAll(*client, referrals, window, GetParam(), [&](size_t i, const Status& s, const v1::Ack& ack) {
      if (s.ok()) {
        acked_seq[i] = ack.seq();
      } else {
        refused[i] = s.code() == Status::Code::kInternal;  // the broker's own refusal
      }
    });
  }
  const size_t acked = kTotal - std::count(acked_seq.begin(), acked_seq.end(), 0u);
  ASSERT_GT(acked, 0u);
  ASSERT_LT(acked, kTotal) << "the file size limit was never reached";
  ASSERT_GT(std::count(refused.begin(), refused.end(), true), 0)
      << "no batch was refused; the broker's log:\n"
      << std::ifstream(stack.broker_log()).rdbuf();
  // The broker does not serve on a log it cannot write: it exits with 1
  // (README) after logging the failed group commit.
  const int status = stack.WaitForBrokerExit(std::chrono::seconds(30));
  ASSERT_NE(status, -1) << "the broker kept running after its log failed";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << "wait status " << status;
  std::stringstream broker_log;
  broker_log << std::ifstream(stack.broker_log()).rdbuf();
  EXPECT_NE(broker_log.str().find("broker: group commit of"), std::string::npos) << broker_log.str();

  LogContents log = ReadLog(stack.data_dir());
  EXPECT_TRUE(log.verify.ok) << "seq " << log.verify.first_bad_seq << ": " << log.verify.problem;
  EXPECT_EQ(log.head_seq, log.submissions.size()) << "each referral in the log once";
  for (size_t i = 0; i < kTotal; ++i) {
    const auto it = log.submissions.find({"agency-a", referrals[i].referrer_reference()});
    if (acked_seq[i] != 0) {
      ASSERT_NE(it, log.submissions.end()) << "acknowledged but lost: " << i;
      ASSERT_EQ(it->second, std::vector<uint64_t>{acked_seq[i]}) << i;
    }
    if (refused[i]) {
      EXPECT_EQ(it, log.submissions.end()) << "refused but in the log: " << i;
    }
  }

  // Room again: the adapter re-runs everything not acknowledged.
  stack.set_broker_file_size_limit(0);
  ASSERT_TRUE(stack.StartBroker());
  std::vector<v1::Referral> rerun;
  for (size_t i = 0; i < kTotal; ++i) {
    if (acked_seq[i] == 0) rerun.push_back(referrals[i]);
  }
  auto client = stack.ClientFor("agency-a");
  std::atomic<int> failures{0};
  ASSERT_TRUE(SubmitAll(*client, rerun, 16, GetParam(), [&](size_t, const Status& s, const v1::Ack&) {
                if (!s.ok()) ++failures;
              }).ok());
  EXPECT_EQ(failures.load(), 0);
  LogContents after = StopAndCheckLog(stack, kTotal);
  EXPECT_EQ(after.submissions.size(), kTotal);
  for (size_t i = 0; i < kTotal; ++i) {
    const auto& seqs = after.submissions[{"agency-a", referrals[i].referrer_reference()}];
    ASSERT_EQ(seqs.size(), 1u) << i;
    if (acked_seq[i] != 0) {
      EXPECT_EQ(seqs[0], acked_seq[i]) << i;
    }
  }
}

TEST(DurabilityTest, SigtermFinishesAndExitsCleanly) {
  TestStack stack;
  ASSERT_TRUE(stack.StartBroker());
  auto client = stack.ClientFor("agency-a");
  v1::Ack ack;
  ASSERT_TRUE(client->Submit(SampleReferral("agency-a", "T-1"), &ack).ok());
  const int status = stack.StopBroker(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // Reopens with the head intact.
  ASSERT_TRUE(stack.StartBroker());
  EXPECT_EQ(HeadSeq(stack), 1u);
}

}  // namespace
}  // namespace refx::testing
