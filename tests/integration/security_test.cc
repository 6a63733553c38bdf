// Hostile and malformed input at the wire: unknown CURVE keys, clients
// without CURVE, bytes that are not frames, wrong frame types, oversize and
// multipart frames. Each is refused, nothing is written, and the broker keeps
// serving others. Small and sharp, in the manner of libzmq's security tests.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>

#include <httplib.h>
#include <zmq.hpp>

#include "client/curve_keygen.h"
#include "core/frame_codec.h"
#include "log_reader.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(stack_.StartBroker()); }

  // A raw DEALER socket with the given keys (or none for no CURVE).
  zmq::socket_t Dealer(const CurveKeyPair* keys) {
    zmq::socket_t s(ctx_, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    if (keys) {
      s.set(zmq::sockopt::curve_serverkey, stack_.broker_keys().public_key);
      s.set(zmq::sockopt::curve_publickey, keys->public_key);
      s.set(zmq::sockopt::curve_secretkey, keys->secret_key);
    }
    s.connect(stack_.endpoint());
    return s;
  }

  // Waits up to timeout_ms for one single-part reply.
  bool Receive(zmq::socket_t& s, v1::Frame* reply, int timeout_ms = 10000) {
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms)) <= 0) return false;
    zmq::message_t msg;
    if (!s.recv(msg)) return false;
    return reply->ParseFromArray(msg.data(), static_cast<int>(msg.size()));
  }

  // The broker still accepts a good submission, and it gets `expected_seq`.
  void ExpectStillServing(uint64_t expected_seq) {
    auto client = stack_.ClientFor("agency-b");
    v1::Ack ack;
    Status s = client->Submit(SampleReferral("agency-b", "STILL-" + std::to_string(expected_seq)), &ack);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(ack.seq(), expected_seq) << "a refused request must write nothing";
  }

  TestStack stack_;
  zmq::context_t ctx_{1};
};

TEST_F(SecurityTest, UnknownKeyIsRefusedAtHandshake) {
  CurveKeyPair stranger;
  ASSERT_TRUE(GenerateCurveKeyPair(&stranger).ok());
  ClientOptions options = stack_.ClientOptionsFor("agency-a", 10000, 2);
  options.client_keys = stranger;
  BrokerClient client(options);
  v1::Ack ack;
  Status s = client.Submit(SampleReferral("agency-a", "X-1"), &ack);
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << s.ToString();
  ExpectStillServing(1);
}

// A listed public key used with some other secret key: the handshake cannot
// complete (the client cannot prove it holds the key), nothing is served,
// and the broker goes on serving. What the reference client reports is
// documented in proto/README.md §3.3.
TEST_F(SecurityTest, ListedPublicKeyWithTheWrongSecretIsRefused) {
  CurveKeyPair other;
  ASSERT_TRUE(GenerateCurveKeyPair(&other).ok());
  ClientOptions options = stack_.ClientOptionsFor("agency-a", 1000, 2);
  options.client_keys.secret_key = other.secret_key;  // public key still agency-a's
  BrokerClient client(options);
  v1::Ack ack;
  Status s = client.Submit(SampleReferral("agency-a", "X-WRONG-SECRET"), &ack);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("this client's key pair"), std::string::npos) << s.ToString();
  ExpectStillServing(1);
}

TEST_F(SecurityTest, ClientWithoutCurveGetsNothing) {
  zmq::socket_t plain = Dealer(nullptr);
  v1::Frame f;
  f.set_correlation_id(1);
  *f.mutable_submit()->mutable_referral() = SampleReferral("agency-a", "PLAIN-1");
  plain.send(zmq::buffer(EncodeFrame(f)), zmq::send_flags::dontwait);
  v1::Frame reply;
  EXPECT_FALSE(Receive(plain, &reply, 1000)) << "a NULL-mechanism client must not be served";
  ExpectStillServing(1);
}

TEST_F(SecurityTest, ClientKnowingOnlyTheServerKeyIsRefused) {
  // Has the server key but a key pair the partnership does not list: with
  // no ZAP handler libzmq would let it in.
  CurveKeyPair stranger;
  ASSERT_TRUE(GenerateCurveKeyPair(&stranger).ok());
  zmq::socket_t s = Dealer(&stranger);
  v1::Frame f;
  f.set_correlation_id(1);
  f.mutable_heartbeat();
  s.send(zmq::buffer(EncodeFrame(f)), zmq::send_flags::dontwait);
  v1::Frame reply;
  EXPECT_FALSE(Receive(s, &reply, 1000));
}

TEST_F(SecurityTest, GarbageBytesAreMalformed) {
  zmq::socket_t s = Dealer(&stack_.agency_keys("agency-a"));
  s.send(zmq::str_buffer("\xff\xff\xff\xff not a protobuf"));
  v1::Frame reply;
  ASSERT_TRUE(Receive(s, &reply));
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.error().code(), v1::MALFORMED_FRAME);
  ExpectStillServing(1);
}

TEST_F(SecurityTest, WrongFrameTypeIsUnsupported) {
  zmq::socket_t s = Dealer(&stack_.agency_keys("agency-a"));
  v1::Frame f;
  f.set_correlation_id(42);
  f.mutable_ack()->set_seq(7);  // replies are not requests
  s.send(zmq::buffer(EncodeFrame(f)));
  v1::Frame reply;
  ASSERT_TRUE(Receive(s, &reply));
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.correlation_id(), 42u);
  EXPECT_EQ(reply.error().code(), v1::UNSUPPORTED_FRAME);
  // An empty frame has no body at all.
  s.send(zmq::message_t(), zmq::send_flags::none);
  ASSERT_TRUE(Receive(s, &reply));
  EXPECT_EQ(reply.error().code(), v1::UNSUPPORTED_FRAME);
  ExpectStillServing(1);
}

TEST_F(SecurityTest, OversizeFrameIsRefused) {
  zmq::socket_t s = Dealer(&stack_.agency_keys("agency-a"));
  v1::Frame f;
  f.set_correlation_id(9);
  v1::Referral r = SampleReferral("agency-a", "BIG-1");
  r.set_narrative(std::string(300 * 1024, 'x'));  // over the default 256 KiB
  *f.mutable_submit()->mutable_referral() = r;
  s.send(zmq::buffer(EncodeFrame(f)));
  v1::Frame reply;
  ASSERT_TRUE(Receive(s, &reply));
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.error().code(), v1::FRAME_TOO_LARGE);
  EXPECT_NE(reply.error().message().find("262144"), std::string::npos) << reply.error().message();
  ExpectStillServing(1);
}

TEST_F(SecurityTest, MultipartRequestIsMalformed) {
  zmq::socket_t s = Dealer(&stack_.agency_keys("agency-a"));
  v1::Frame f;
  f.set_correlation_id(5);
  f.mutable_heartbeat();
  s.send(zmq::buffer(EncodeFrame(f)), zmq::send_flags::sndmore);
  s.send(zmq::buffer(EncodeFrame(f)));
  v1::Frame reply;
  ASSERT_TRUE(Receive(s, &reply));
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.error().code(), v1::MALFORMED_FRAME);
  ExpectStillServing(1);
}

TEST_F(SecurityTest, ReqSocketClientsAreServedToo) {
  zmq::socket_t s(ctx_, zmq::socket_type::req);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::curve_serverkey, stack_.broker_keys().public_key);
  s.set(zmq::sockopt::curve_publickey, stack_.agency_keys("agency-a").public_key);
  s.set(zmq::sockopt::curve_secretkey, stack_.agency_keys("agency-a").secret_key);
  s.connect(stack_.endpoint());
  v1::Frame f;
  f.set_correlation_id(3);
  *f.mutable_submit()->mutable_referral() = SampleReferral("agency-a", "REQ-1");
  s.send(zmq::buffer(EncodeFrame(f)));
  v1::Frame reply;
  ASSERT_TRUE(Receive(s, &reply));
  ASSERT_TRUE(reply.has_ack()) << reply.DebugString();
  EXPECT_EQ(reply.ack().seq(), 1u);
}

// A configured agency cannot forge log lines: what it puts in a referral
// reaches the broker's log (refusal messages quote referrer.agency_id)
// only escaped, so no line of the log begins with the injected text.
TEST_F(SecurityTest, ClientStringsCannotForgeLogLines) {
  const std::string forged = "\n[error] forged";
  auto client = stack_.ClientFor("agency-a");
  v1::Ack ack;
  v1::Referral by_agency = SampleReferral("agency-a", "FORGE-1");
  by_agency.mutable_referrer()->set_agency_id("agency-a" + forged);
  Status s = client->Submit(by_agency, &ack);
  EXPECT_EQ(s.code(), Status::Code::kUnknownAgency) << s.ToString();
  v1::Referral by_reference = SampleReferral("agency-a", "FORGE-2" + forged);
  s = client->Submit(by_reference, &ack);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  // The same through a batch frame (refusals logged per item).
  std::vector<Status> results(2);
  s = client->SubmitBatches({by_agency, by_reference}, 2, 1,
                            [&](size_t i, const Status& st, const v1::Ack&) { results[i] = st; });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(results[0].code(), Status::Code::kUnknownAgency) << results[0].ToString();
  EXPECT_EQ(results[1].code(), Status::Code::kInvalidArgument) << results[1].ToString();
  ExpectStillServing(1);
  ASSERT_EQ(stack_.StopBroker(SIGTERM), 0);

  std::ifstream in(stack_.broker_log());
  ASSERT_TRUE(in.good()) << stack_.broker_log();
  std::string line;
  int refusals = 0, escaped = 0;
  while (std::getline(in, line)) {
    EXPECT_NE(line.rfind("[error] forged", 0), 0u) << "a forged line: " << line;
    if (line.find("refused request") != std::string::npos) ++refusals;
    if (line.find("agency-a\\x0a[error] forged") != std::string::npos) ++escaped;
  }
  EXPECT_EQ(refusals, 4) << "each refusal is logged once, on one line";
  EXPECT_EQ(escaped, 2) << "the agency id is shown escaped in both refusals that quote it";
}

// A flood of refusals does not flood the log: refusal lines name the
// agency, at most 20 per agency per second are written (the broker handles
// these 200 in far less than the 10 s that would allow 200 lines), the
// metric counts every one, and another agency's refusal is still logged.
TEST_F(SecurityTest, RefusalLinesNameTheAgencyAndAreRateLimited) {
  std::vector<v1::Referral> bad;
  for (int i = 0; i < 200; ++i) bad.push_back(SampleReferral("agency-a", "BAD REF " + std::to_string(i)));
  auto client = stack_.ClientFor("agency-a");
  int refused = 0;
  ASSERT_TRUE(client
                  ->SubmitBatches(bad, 100, 2,
                                  [&](size_t, const Status& st, const v1::Ack&) {
                                    if (st.code() == Status::Code::kInvalidArgument) ++refused;
                                  })
                  .ok());
  EXPECT_EQ(refused, 200);
  v1::Ack ack;
  EXPECT_EQ(stack_.ClientFor("agency-b")->Submit(SampleReferral("agency-b", "BAD REF b"), &ack).code(),
            Status::Code::kInvalidArgument);
  httplib::Client http("127.0.0.1", stack_.metrics_port());
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("refx_agency_refusals_total{agency=\"agency-a\"} 200\n"), std::string::npos)
      << metrics->body;
  ASSERT_EQ(stack_.StopBroker(SIGTERM), 0);

  std::ifstream in(stack_.broker_log());
  std::string line;
  int lines_a = 0, lines_b = 0;
  while (std::getline(in, line)) {
    if (line.find("refused request") == std::string::npos) continue;
    if (line.find(" from agency-a: ") != std::string::npos) ++lines_a;
    if (line.find(" from agency-b: ") != std::string::npos) ++lines_b;
    if (line.find(" suppressed)") != std::string::npos) {
      EXPECT_NE(line.find("earlier refusals of agency-a suppressed)"), std::string::npos) << line;
    }
  }
  EXPECT_GE(lines_a, 20);
  EXPECT_LT(lines_a, 200) << "refusal lines are rate-limited per agency";
  EXPECT_EQ(lines_b, 1) << "agency-b has its own allowance";
}

TEST(BrokerConfigTest, BadConfigurationIsRefusedWithFileAndLine) {
  TestStack stack;
  {
    std::ofstream out(stack.config_path(), std::ios::app);
    out << "agencies { id: \"Bad Id\" public_key: \"nope\" roles: SUBMITTER }\n";
  }
  const std::string cmd = BrokerBinary() + " --config " + stack.config_path() + " --data " + stack.data_dir() +
                          " --key-dir " + stack.config_path() + ".nokeys 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) output += buf;
  const int status = pclose(p);
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(output.find(stack.config_path() + ":"), std::string::npos) << output;
  EXPECT_NE(output.find("Bad Id"), std::string::npos) << output;
}

}  // namespace
}  // namespace refx::testing
