// The outbound webhook end to end: the real refx-broker (CURVE, RocksDB),
// the router and delivery services and the WebhookSender of the DA MARAC
// coordinator's adapter hosted in-process, posting to a cpp-httplib server
// in this test that first fails (500), then hangs past the timeout, then
// recovers. Each case reaches the receiver with a valid signature; the log
// shows one case_received_by_system per attempt received and a
// case_transfer_failed for the attempt that never got through, after which
// the delivery service redelivers (its interval is an hour: only the
// failure can make it redeliver). A restart whose cursor was lost re-POSTs
// nothing already recorded.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <signal.h>
#include <sys/stat.h>

#include "adapter_process.h"
#include "adapters/webhook/webhook_sender.h"
#include "adapters/webhook/webhook_signature.h"
#include "core/http_listen_thread.h"
#include "hosted_services.h"

namespace refx::testing {
namespace {

using adapters::WebhookSender;

const std::string kSecret = "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed";

// What the receiver got: each request's delivery header, the signature
// check's result, and the body.
struct Received {
  std::string delivery;
  Status signature;
  std::string body;
  int answered = 0;
};

class CaseSystem {
 public:
  // Answers request 1 with 500, hangs past the sender's timeout on request
  // 2, and accepts every later one with 201.
  explicit CaseSystem(int hang_ms) {
    server_.Post("/cases", [this, hang_ms](const httplib::Request& req, httplib::Response& res) {
      Received r;
      r.delivery = req.get_header_value(adapters::kDeliveryHeader);
      const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();
      r.signature = adapters::VerifyWebhookSignature(kSecret, req.get_header_value(adapters::kTimestampHeader),
                                                     req.get_header_value(adapters::kSignatureHeader), req.body, now);
      r.body = req.body;
      const int n = ++arrivals_;
      // 200 on the hung request comes too late: the sender has given up on that try.
      r.answered = n == 1 ? 500 : n == 2 ? 200 : 201;
      res.status = r.answered;
      res.set_content("{}", "application/json");
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(r);
      }
      if (n == 2) std::this_thread::sleep_for(std::chrono::milliseconds(hang_ms));
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    listener_.Start(&server_);
    // Bound and listening: connections wait in the backlog until the thread accepts.
  }
  ~CaseSystem() { listener_.Stop(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/cases"; }
  std::vector<Received> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  HttpListenThread listener_;
  std::atomic<int> arrivals_{0};
  std::mutex mu_;
  std::vector<Received> requests_;
};

std::unique_ptr<WebhookSender> MakeSender(ServicesStack& s, const std::string& url) {
  adapters::WebhookOptions o;
  o.webhook.set_name("marac-case-system");
  o.webhook.set_destination("DA_MARAC");
  o.webhook.set_url(url);
  o.webhook.set_timeout_ms(500);
  o.webhook.set_max_tries(2);
  o.secret = kSecret;
  o.client = s.stack().ClientOptionsFor("da-marac-coordinator");
  o.state_dir = s.StateDir("adapter");
  o.backoff_initial_ms = 50;
  o.retry_delay_ms = 200;
  std::unique_ptr<WebhookSender> sender;
  Status st = WebhookSender::Create(std::move(o), &sender);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return sender;
}

std::string Attempt(const std::string& ref, uint32_t attempt) {
  return ref + "/DA_MARAC/" + std::to_string(attempt);
}

TEST(WebhookTest, FailingHangingThenRecoveringEndpointGetsEachCaseSignedAndTheLogShowsItOncePerAttempt) {
  ServicesStack s([](v1::PartnershipConfig* c) {
    // Redelivery only an hour later and no giving up: within this test only
    // a recorded transfer failure can make the delivery service redeliver.
    c->mutable_delivery()->set_redelivery_interval_seconds(3600);
    c->mutable_delivery()->set_undeliverable_after_seconds(0);
  });
  ASSERT_TRUE(s.stack().StartBroker());
  CaseSystem system(/*hang_ms=*/1500);

  auto router = MakeHostedRouter(s);
  auto delivery = MakeHostedDelivery(s);
  ASSERT_TRUE(router && delivery);
  auto sender = MakeSender(s, system.url());
  ASSERT_TRUE(sender);

  const std::string first = s.Submit(DaHighRiskReferral("kent-police", "T-WH-1", "Alex"));
  const std::string second = s.Submit(DaHighRiskReferral("kent-police", "T-WH-2", "Sam"));
  HostedService r, d, w;
  r.Start([&](const std::function<bool()>& stop) { return router->Run(stop); });
  d.Start([&](const std::function<bool()>& stop) { return delivery->Run(stop); });
  w.Start([&](const std::function<bool()>& stop) { return sender->Run(stop); });

  auto received_at = [](const std::vector<v1::Event>& ev, const std::string& ref) {
    return !EventsOf(ev, v1::Event::kCaseReceivedBySystem, ref, "DA_MARAC").empty();
  };
  auto events = s.WaitFor("both DA MARAC cases received by the case system", [&](const std::vector<v1::Event>& ev) {
    return received_at(ev, first) && received_at(ev, second);
  });
  Status stopped = w.Stop();
  EXPECT_TRUE(stopped.ok()) << stopped.ToString();
  EXPECT_TRUE(r.Stop().ok());
  EXPECT_TRUE(d.Stop().ok());

  // The case POSTed first, attempt 1: 500, then no answer in time -> one
  // failure recorded, then attempt 2 (redelivered because of it) received.
  std::vector<const v1::Event*> failed;
  for (const v1::Event& e : events) {
    if (e.has_case_transfer_failed()) failed.push_back(&e);
  }
  ASSERT_EQ(failed.size(), 1u);
  const std::string unlucky = failed[0]->case_transfer_failed().referral_id();
  const std::string lucky = unlucky == first ? second : first;
  ASSERT_TRUE(unlucky == first || unlucky == second) << unlucky;
  const v1::CaseTransferFailed& f = failed[0]->case_transfer_failed();
  EXPECT_EQ(failed[0]->actor(), "da-marac-coordinator");
  EXPECT_EQ(f.attempt(), 1u);
  EXPECT_EQ(f.tries(), 2u);
  EXPECT_EQ(f.receiver(), "marac-case-system");
  EXPECT_NE(f.reason().find("no answer within 500 ms"), std::string::npos) << f.reason();
  EXPECT_EQ(EventsOf(events, v1::Event::kCaseDelivered, unlucky, "DA_MARAC").size(), 2u) << "redelivered once";
  EXPECT_EQ(EventsOf(events, v1::Event::kCaseDelivered, lucky, "DA_MARAC").size(), 1u);

  // Every attempt settled exactly once: received or failed, never both,
  // never twice; and a receipt is not an acknowledgement.
  std::map<std::string, int> records;
  for (const v1::Event& e : events) {
    if (e.has_case_received_by_system()) {
      const auto& x = e.case_received_by_system();
      EXPECT_EQ(x.http_status(), 201u);
      EXPECT_EQ(e.actor(), "da-marac-coordinator");
      ++records[x.referral_id() + "/" + x.destination() + "/" + std::to_string(x.attempt())];
    }
    if (e.has_case_transfer_failed()) {
      const auto& x = e.case_transfer_failed();
      ++records[x.referral_id() + "/" + x.destination() + "/" + std::to_string(x.attempt())];
    }
    EXPECT_FALSE(e.has_case_acknowledged());
  }
  std::map<std::string, int> expected = {{Attempt(unlucky, 1), 1}, {Attempt(unlucky, 2), 1}, {Attempt(lucky, 1), 1}};
  EXPECT_EQ(records, expected);

  // What the receiver saw: every request validly signed; the bodies are the
  // delivered events in protobuf JSON, the need-to-know view included.
  const std::vector<Received> got = system.requests();
  std::map<std::string, int> tries;
  for (const Received& r : got) {
    EXPECT_TRUE(r.signature.ok()) << r.delivery << ": " << r.signature.ToString();
    ++tries[r.delivery];
    v1::Event body;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &body).ok()) << r.body;
    ASSERT_TRUE(body.has_case_delivered());
    const v1::CaseDelivered& d = body.case_delivered();
    EXPECT_EQ(Attempt(d.referral_id(), d.attempt()), r.delivery);
    EXPECT_EQ(d.recipient_agency(), "da-marac-coordinator");
    EXPECT_EQ(d.view().assessment().score(), 15u);
  }
  expected = {{Attempt(unlucky, 1), 2}, {Attempt(unlucky, 2), 1}, {Attempt(lucky, 1), 1}};
  EXPECT_EQ(tries, expected);

  // A restart that lost its cursor (a crash after recording, before the
  // cursor moved) re-reads the log from the start and POSTs nothing again.
  const uint64_t settled_to = sender->cursor();
  ASSERT_GT(settled_to, 0u);
  sender.reset();
  ASSERT_TRUE(std::filesystem::remove(s.StateDir("adapter") + "/webhook-marac-case-system.cursor"));
  sender = MakeSender(s, system.url());
  ASSERT_EQ(sender->cursor(), 0u);
  w.Start([&](const std::function<bool()>& stop) { return sender->Run(stop); });
  for (int i = 0; i < 600 && sender->cursor() < settled_to; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(sender->cursor(), settled_to);
  EXPECT_TRUE(w.Stop().ok());
  EXPECT_EQ(system.requests().size(), got.size()) << "nothing POSTed again";
  const auto after = s.ReadLog();
  size_t receipts = 0;
  for (const v1::Event& e : after) receipts += e.has_case_received_by_system() ? 1 : 0;
  EXPECT_EQ(receipts, 2u);
}

// The same through the real refx-adapter process (its configuration's
// webhooks block), SIGKILLed and restarted between cases: each case arrives,
// validly signed, and no attempt recorded as received is POSTed again.
TEST(WebhookTest, RefxAdapterProcessPassesCasesOnAndResumesAfterSigkill) {
  ServicesStack s([](v1::PartnershipConfig* c) {
    c->mutable_delivery()->set_redelivery_interval_seconds(3600);
    c->mutable_delivery()->set_undeliverable_after_seconds(0);
  });
  ASSERT_TRUE(s.stack().StartBroker());
  CaseSystem system(/*hang_ms=*/1500);
  const std::string secret_file = s.StateDir("secrets") + "/marac.secret";
  std::ofstream(secret_file) << kSecret << "\n";
  ASSERT_EQ(::chmod(secret_file.c_str(), 0600), 0);
  AdapterProcess adapter(s.stack(), "da-marac-coordinator", "",
                         "webhooks { name: \"marac-case-system\" destination: \"DA_MARAC\" url: \"" + system.url() +
                             "\" secret_file: \"" + secret_file + "\" timeout_ms: 500 max_tries: 2 }\n");
  auto router = MakeHostedRouter(s);
  auto delivery = MakeHostedDelivery(s);
  ASSERT_TRUE(router && delivery);
  HostedService r, d;
  r.Start([&](const std::function<bool()>& stop) { return router->Run(stop); });
  d.Start([&](const std::function<bool()>& stop) { return delivery->Run(stop); });
  ASSERT_TRUE(adapter.Start());

  auto received = [&](const std::string& ref) {
    s.WaitFor("the case system received " + ref, [&](const std::vector<v1::Event>& ev) {
      return !EventsOf(ev, v1::Event::kCaseReceivedBySystem, ref, "DA_MARAC").empty();
    });
  };
  const std::string first = s.Submit(DaHighRiskReferral("kent-police", "T-WHP-1", "Alex"));
  const std::string second = s.Submit(DaHighRiskReferral("kent-police", "T-WHP-2", "Sam"));
  received(first);
  received(second);
  adapter.Stop(SIGKILL);
  const std::string third = s.Submit(DaHighRiskReferral("kent-police", "T-WHP-3", "Kim"));
  s.WaitFor("the third case delivered", [&](const std::vector<v1::Event>& ev) {
    return HasEvent(ev, v1::Event::kCaseDelivered, third, "DA_MARAC");
  });
  ASSERT_TRUE(adapter.Start());
  received(third);
  adapter.Stop(SIGTERM);
  EXPECT_TRUE(r.Stop().ok());
  EXPECT_TRUE(d.Stop().ok());

  const auto events = s.ReadLog();
  std::map<std::string, int> receipts, successes;
  for (const v1::Event& e : events) {
    if (!e.has_case_received_by_system()) continue;
    const auto& x = e.case_received_by_system();
    EXPECT_EQ(e.actor(), "da-marac-coordinator");
    ++receipts[Attempt(x.referral_id(), x.attempt())];
  }
  for (const auto& [attempt, n] : receipts) EXPECT_EQ(n, 1) << attempt << " recorded once";
  for (const Received& got : system.requests()) {
    EXPECT_TRUE(got.signature.ok()) << got.delivery << ": " << got.signature.ToString();
    if (got.answered == 201) ++successes[got.delivery];
  }
  for (const auto& [attempt, n] : successes) EXPECT_EQ(n, 1) << attempt << " taken once, not re-POSTed";
  EXPECT_EQ(successes.size(), receipts.size());
  for (const std::string& ref : {first, second, third}) {
    EXPECT_FALSE(EventsOf(events, v1::Event::kCaseReceivedBySystem, ref, "DA_MARAC").empty()) << ref;
  }
}

}  // namespace
}  // namespace refx::testing
