// Unit tests for BrokerClient's retry rules (client/broker_client.h): what it
// sends again and what it never sends twice. The broker is replaced, at the
// edge, by a CURVE ROUTER socket in the test that counts the requests it
// gets and answers them as each test says.
#include "client/broker_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "client/curve_keygen.h"
#include "core/curve_keys.h"
#include "core/frame_codec.h"

namespace refx {
namespace {

// A stand-in broker: a CURVE server that answers request n (from 1) with
// answer(n, request), or not at all when that returns nothing.
class FakeBroker {
 public:
  using AnswerFn = std::function<std::optional<v1::Frame>(int n, const v1::Frame& request)>;
  // For requests answered by several frames (a read's event batches).
  using AnswersFn = std::function<std::vector<v1::Frame>(int n, const v1::Frame& request)>;

  explicit FakeBroker(AnswerFn answer)
      : FakeBroker(AnswersFn([answer](int n, const v1::Frame& request) {
          std::optional<v1::Frame> reply = answer(n, request);
          return reply ? std::vector<v1::Frame>{*reply} : std::vector<v1::Frame>{};
        })) {}
  explicit FakeBroker(AnswersFn answers) : answer_(std::move(answers)), socket_(context_, zmq::socket_type::router) {
    EXPECT_TRUE(GenerateCurveKeyPair(&keys_).ok());
    socket_.set(zmq::sockopt::curve_server, 1);
    socket_.set(zmq::sockopt::curve_secretkey, keys_.secret_key);
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind("tcp://127.0.0.1:*");
    endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeBroker() {
    stop_ = true;
    thread_.join();
  }

  ClientOptions Options(int attempts) const {
    ClientOptions o;
    o.endpoint = endpoint_;
    o.server_public_key = keys_.public_key;
    EXPECT_TRUE(GenerateCurveKeyPair(&o.client_keys).ok());
    o.request_timeout_ms = 300;  // how long "no answer" takes, not a measured time
    o.max_attempts = attempts;
    o.initial_backoff_ms = 10;
    o.max_backoff_ms = 20;
    return o;
  }
  int received() const { return received_.load(); }

 private:
  void Serve() {
    while (!stop_) {
      zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 1, std::chrono::milliseconds(20));
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      zmq::message_t routing, payload;
      (void)socket_.recv(routing);
      (void)socket_.recv(payload);
      v1::Frame request;
      if (!request.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) continue;
      for (v1::Frame& reply : answer_(++received_, request)) {
        reply.set_correlation_id(request.correlation_id());
        const std::string bytes = EncodeFrame(reply);
        socket_.send(zmq::buffer(routing.data(), routing.size()), zmq::send_flags::sndmore);
        socket_.send(zmq::buffer(bytes), zmq::send_flags::none);
      }
    }
  }

  AnswersFn answer_;
  CurveKeyPair keys_;
  zmq::context_t context_;
  zmq::socket_t socket_;
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::atomic<int> received_{0};
  std::thread thread_;
};

v1::Frame AckFrame(uint64_t seq) {
  v1::Frame f;
  f.mutable_ack()->set_referral_id("R-0000000001");
  f.mutable_ack()->set_seq(seq);
  return f;
}

v1::Event AcceptedEvent() {
  v1::Event e;
  e.mutable_case_accepted()->set_referral_id("R-0000000001");
  e.mutable_case_accepted()->set_destination("DA_MARAC");
  return e;
}

// An append without an idempotency key that may have reached the broker is
// not sent again: a second copy would be a second event.
TEST(BrokerClientTest, UnansweredKeylessAppendIsNotSentAgain) {
  FakeBroker broker([](int, const v1::Frame&) { return std::nullopt; });
  BrokerClient client(broker.Options(3));
  v1::Ack ack;
  Status s = client.Append(AcceptedEvent(), "", &ack);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("may or may not have been written"), std::string::npos) << s.ToString();
  EXPECT_EQ(broker.received(), 1);
}

TEST(BrokerClientTest, UnansweredAppendWithAKeyIsSentAgain) {
  FakeBroker broker([](int, const v1::Frame&) { return std::nullopt; });
  BrokerClient client(broker.Options(3));
  v1::Ack ack;
  Status s = client.Append(AcceptedEvent(), "accept:1", &ack);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_EQ(broker.received(), 3);
}

// INTERNAL means nothing was written (a failed group commit): the protocol
// says retry, and a retry that then succeeds is a success.
TEST(BrokerClientTest, InternalIsRetriedEvenForAKeylessAppend) {
  FakeBroker broker([](int n, const v1::Frame&) -> std::optional<v1::Frame> {
    if (n < 3) return ErrorFrame(0, Status::Internal("the event log could not be written; retry"));
    return AckFrame(7);
  });
  BrokerClient client(broker.Options(5));
  v1::Ack ack;
  Status s = client.Append(AcceptedEvent(), "", &ack);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ack.seq(), 7u);
  EXPECT_EQ(broker.received(), 3);
}

TEST(BrokerClientTest, InternalOnEveryAttemptIsReturnedAsTheRefusal) {
  FakeBroker broker([](int, const v1::Frame&) -> std::optional<v1::Frame> {
    return ErrorFrame(0, Status::Internal("the event log could not be written; retry"));
  });
  BrokerClient client(broker.Options(3));
  v1::Ack ack;
  Status s = client.Submit(v1::Referral(), &ack);
  EXPECT_EQ(s.code(), Status::Code::kInternal) << s.ToString();
  EXPECT_EQ(broker.received(), 3);
}

TEST(BrokerClientTest, OtherRefusalsAreNotRetried) {
  FakeBroker broker([](int, const v1::Frame&) -> std::optional<v1::Frame> {
    return ErrorFrame(0, Status::IllegalTransition("the case is already accepted"));
  });
  BrokerClient client(broker.Options(3));
  v1::Ack ack;
  EXPECT_EQ(client.Append(AcceptedEvent(), "accept:1", &ack).code(), Status::Code::kIllegalTransition);
  EXPECT_EQ(broker.received(), 1);
}

// `refx submit` sends batch frames: a frame answered INTERNAL (its group
// commit failed) is sent again rather than reported as refused.
TEST(BrokerClientTest, BatchFrameAnsweredInternalIsSentAgain) {
  FakeBroker broker([](int n, const v1::Frame& request) -> std::optional<v1::Frame> {
    if (n == 1) return ErrorFrame(0, Status::Internal("the event log could not be written; retry"));
    v1::Frame reply;
    for (int i = 0; i < request.submit_batch().referrals_size(); ++i) {
      v1::Ack* ack = reply.mutable_submit_batch_result()->add_results()->mutable_ack();
      ack->set_seq(static_cast<uint64_t>(i) + 1);
    }
    return reply;
  });
  BrokerClient client(broker.Options(3));
  std::vector<v1::Referral> referrals(3);
  std::vector<Status> results(3, Status::Internal("no result"));
  Status s = client.SubmitBatches(referrals, 64, 1, [&](size_t i, const Status& st, const v1::Ack&) { results[i] = st; });
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (const Status& r : results) EXPECT_TRUE(r.ok()) << r.ToString();
  EXPECT_EQ(broker.received(), 2);
}

// A batch frame may be sent again whole, so every append in it needs a key:
// one without refuses the call before anything is sent.
TEST(BrokerClientTest, BatchRefusesKeylessAppends) {
  FakeBroker broker([](int, const v1::Frame&) -> std::optional<v1::Frame> { return AckFrame(1); });
  BrokerClient client(broker.Options(3));
  std::vector<v1::AppendRequest> appends(2);
  for (v1::AppendRequest& a : appends) *a.mutable_event() = AcceptedEvent();
  appends[0].set_idempotency_key("first");
  int results = 0;
  Status s = client.AppendBatches(appends, 2, 2, [&](size_t, const Status&, const v1::Ack&) { ++results; });
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.ToString().find("append 1"), std::string::npos) << s.ToString();
  EXPECT_EQ(results, 0);
  EXPECT_EQ(broker.received(), 0);
}

}  // namespace
}  // namespace refx

namespace refx {
namespace {

// Event batches that have all arrived are one burst: should_stop (where a
// service appends what the read asked of it) runs after the burst, not
// between its batches, so a service pays its appends' round trip once per
// burst instead of once per broker batch.
TEST(BrokerClientTest, ReadCallsShouldStopOncePerBurstOfBatches) {
  constexpr int kBatches = 4, kPerBatch = 3;
  FakeBroker broker(FakeBroker::AnswersFn([&](int, const v1::Frame& request) {
    std::vector<v1::Frame> replies;
    if (!request.has_read()) return replies;
    uint64_t seq = 0;
    for (int b = 0; b < kBatches; ++b) {
      v1::Frame f;
      for (int i = 0; i < kPerBatch; ++i) {
        v1::Event e = AcceptedEvent();
        e.set_seq(++seq);
        f.mutable_events()->add_events(e.SerializeAsString());
      }
      f.mutable_events()->set_head_seq(kBatches * kPerBatch);
      f.mutable_events()->set_end_of_log(b == kBatches - 1);
      replies.push_back(f);
    }
    return replies;
  }));
  BrokerClient client(broker.Options(3));
  uint64_t last_seq = 0;
  std::vector<uint64_t> stop_checks;  // the last seq delivered at each should_stop call
  v1::ReadRequest read;
  Status s = client.Read(
      read,
      [&](const v1::Event& e, const std::string&, const std::string&) {
        // Let every batch arrive before the first is taken apart (not a
        // measured time: it only makes the four batches one burst).
        if (e.seq() == 1) std::this_thread::sleep_for(std::chrono::milliseconds(300));
        last_seq = e.seq();
        return true;
      },
      [&] {
        stop_checks.push_back(last_seq);
        return false;
      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(last_seq, static_cast<uint64_t>(kBatches * kPerBatch));
  for (uint64_t at : stop_checks) {
    EXPECT_TRUE(at == 0 || at == kBatches * kPerBatch) << "should_stop ran inside the burst, after seq " << at;
  }
}

}  // namespace
}  // namespace refx
