// refx-adapter's HTTP intake against the real broker (CURVE, RocksDB in a
// temp folder) and the real adapter binary: every status code
// docs/openapi.yaml lists is produced, every class of bad body is refused
// with its reason and stores nothing, and a referral's status goes from
// spooled to accepted.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "adapter_process.h"
#include "core/json.h"
#include "log_reader.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

using nlohmann::json;

std::string Body(const std::string& agency, const std::string& ref) { return ToJsonLine(SampleReferral(agency, ref)); }

// (METHOD PATH, status) for every response docs/openapi.yaml documents.
std::set<std::pair<std::string, int>> DocumentedStatuses() {
  std::ifstream in(std::string(REFX_SOURCE_DIR) + "/docs/openapi.yaml");
  EXPECT_TRUE(in.good());
  std::set<std::pair<std::string, int>> out;
  std::string line, path, method;
  bool in_paths = false;
  static const std::regex path_re("^  (/\\S*):\\s*$"), method_re("^    (get|post|put|delete|patch):\\s*$"),
      status_re("^        '([1-5][0-9][0-9])':\\s*$");
  std::smatch m;
  while (std::getline(in, line)) {
    if (line.rfind("paths:", 0) == 0) in_paths = true;
    else if (!line.empty() && line[0] != ' ' && line[0] != '#') in_paths = false;
    if (!in_paths) continue;
    if (std::regex_match(line, m, path_re)) path = m[1];
    else if (std::regex_match(line, m, method_re)) method = m[1];
    else if (std::regex_match(line, m, status_re)) out.insert({method + " " + path, std::stoi(m[1])});
  }
  return out;
}

TEST(AdapterHttpTest, OpenApiStatusCodesAreProduced) {
  TestStack stack;
  ASSERT_TRUE(stack.StartBroker());
  AdapterProcess adapter(stack, "agency-a", "rate_limit_per_minute: 20 max_body_bytes: 65536");
  ASSERT_TRUE(adapter.Start());
  std::set<std::pair<std::string, int>> produced;
  const std::string post = "post /v1/referrals", get = "get /v1/referrals/{referrerReference}";
  auto c = adapter.Client();

  auto r = c->Post("/v1/referrals", Body("agency-a", "OA-1"), "application/json");
  ASSERT_TRUE(r);
  produced.insert({post, r->status});
  EXPECT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(r->get_header_value("Location"), "/v1/referrals/OA-1");

  r = c->Post("/v1/referrals?wait=durable", Body("agency-a", "OA-2"), "application/json");
  ASSERT_TRUE(r);
  produced.insert({post, r->status});
  ASSERT_EQ(r->status, 201) << r->body;
  json accepted = json::parse(r->body);
  EXPECT_FALSE(accepted["referralId"].get<std::string>().empty());
  EXPECT_GT(accepted["seq"].get<uint64_t>(), 0u);

  r = c->Post("/v1/referrals", "{\"referrerReference\": \"OA-3\"}", "application/json");
  produced.insert({post, r->status});
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/problem+json");

  auto anonymous = adapter.Client("");
  r = anonymous->Post("/v1/referrals", Body("agency-a", "OA-4"), "application/json");
  produced.insert({post, r->status});
  EXPECT_EQ(r->status, 401);
  EXPECT_NE(r->get_header_value("WWW-Authenticate").find("Bearer"), std::string::npos);
  auto wrong = adapter.Client(std::string(64, 'a'));
  r = wrong->Get("/v1/referrals/OA-1");
  produced.insert({get, r->status});
  EXPECT_EQ(r->status, 401);

  r = c->Post("/v1/referrals", Body("agency-b", "OA-5"), "application/json");
  produced.insert({post, r->status});
  EXPECT_EQ(r->status, 403);

  v1::Referral changed = SampleReferral("agency-a", "OA-2");
  changed.set_narrative("A different synthetic narrative.");
  r = c->Post("/v1/referrals?wait=durable", ToJsonLine(changed), "application/json");
  produced.insert({post, r->status});
  EXPECT_EQ(r->status, 409) << r->body;
  // The conflicting resend does not undo the acceptance.
  json after = json::parse(c->Get("/v1/referrals/OA-2")->body);
  EXPECT_EQ(after["seq"], accepted["seq"]) << after.dump();
  EXPECT_EQ(after["resubmissionRefused"]["code"], "IDEMPOTENCY_CONFLICT") << after.dump();

  r = c->Post("/v1/referrals", std::string(70000, ' '), "application/json");
  produced.insert({post, r->status});
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/problem+json");

  r = c->Post("/v1/referrals", Body("agency-a", "OA-6"), "text/plain");
  produced.insert({post, r->status});
  EXPECT_EQ(r->status, 415);

  r = c->Get("/v1/referrals/OA-2");
  produced.insert({get, r->status});
  EXPECT_EQ(r->status, 200);
  r = c->Get("/v1/referrals/NEVER-SENT");
  produced.insert({get, r->status});
  EXPECT_EQ(r->status, 404);

  // 429 is per caller: a second calling system floods; the first is not hurt.
  const std::string flooder_token = adapter.IssueToken("flooder");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the verifier rereads the file each second
  auto flooder = adapter.Client(flooder_token);
  int last = 0;
  for (int i = 0; i < 40 && last != 429; ++i) last = flooder->Get("/v1/referrals/OA-1")->status;
  produced.insert({get, last});
  EXPECT_EQ(last, 429);
  for (int i = 0; i < 40 && last != 429; ++i) {
    last = flooder->Post("/v1/referrals", Body("agency-a", "OA-F"), "application/json")->status;
  }
  r = flooder->Post("/v1/referrals", Body("agency-a", "OA-F"), "application/json");
  produced.insert({post, r->status});
  EXPECT_EQ(r->status, 429);
  EXPECT_FALSE(r->get_header_value("Retry-After").empty());

  httplib::Client metrics("127.0.0.1", adapter.metrics_port());
  auto m = metrics.Get("/metrics");
  produced.insert({"get /metrics", m->status});
  EXPECT_NE(m->body.find("refx_adapter_spool_depth"), std::string::npos);
  EXPECT_NE(m->body.find("refx_adapter_forward_failures_total"), std::string::npos);
  EXPECT_NE(m->body.find("refx_adapter_spool_oldest_age_seconds"), std::string::npos);
  ASSERT_TRUE(adapter.WaitForEmptySpool(60));
  auto h = metrics.Get("/healthz");
  produced.insert({"get /healthz", h->status});
  EXPECT_EQ(h->status, 200);

  // Broker down and a referral waiting: unhealthy.
  stack.StopBroker(SIGTERM);
  EXPECT_EQ(c->Post("/v1/referrals", Body("agency-a", "OA-7"), "application/json")->status, 202);
  for (int i = 0; i < 300 && h->status != 503; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    h = metrics.Get("/healthz");
  }
  produced.insert({"get /healthz", h->status});
  EXPECT_EQ(h->status, 503);
  r = c->Get("/v1/referrals/OA-7");
  EXPECT_EQ(json::parse(r->body)["state"], "spooled");

  // A spool that cannot be written (a full disk: RLIMIT_FSIZE) answers 503
  // and stores nothing.
  adapter.Stop(SIGTERM);
  ASSERT_TRUE(adapter.Start(/*file_size_limit=*/64));
  c = adapter.Client();
  r = c->Post("/v1/referrals", Body("agency-a", "OA-8"), "application/json");
  produced.insert({post, r->status});
  EXPECT_EQ(r->status, 503) << r->body;
  // Not spooled (that would be 200 "spooled"); whether the broker holds an
  // older referral under it cannot be told while the broker is down.
  r = c->Get("/v1/referrals/OA-8");
  produced.insert({get, r->status});
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/problem+json");

  for (const auto& documented : DocumentedStatuses()) {
    EXPECT_TRUE(produced.count(documented)) << documented.first << " " << documented.second
                                            << " is documented but was not produced";
  }
  EXPECT_GE(DocumentedStatuses().size(), 16u);
}

struct BadBody {
  std::string name, body, expect;  // expect: text the problem must contain
};

// Found by fuzz/fuzz_http_intake.cc: the 415 problem quotes the caller's
// Content-Type, and bytes in it that are not UTF-8 made the JSON writer
// throw, which cpp-httplib answered with a bare 500 and no problem body.
TEST(AdapterHttpTest, ContentTypeThatIsNotUtf8GetsAProblemNot500) {
  TestStack stack;
  ASSERT_TRUE(stack.StartBroker());
  AdapterProcess adapter(stack, "agency-a");
  ASSERT_TRUE(adapter.Start());
  auto r = adapter.Client()->Post("/v1/referrals", Body("agency-a", "U8-1"), "application/\x96\x8c\x90");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/problem+json");
  ASSERT_TRUE(json::accept(r->body)) << r->body;
  EXPECT_EQ(json::parse(r->body)["type"], "urn:refx:problem:unsupported-media-type");
}

TEST(AdapterHttpTest, EveryBadBodyClassIsRefusedWithItsReason) {
  TestStack stack;
  ASSERT_TRUE(stack.StartBroker());
  AdapterProcess adapter(stack, "agency-a");
  ASSERT_TRUE(adapter.Start());
  auto c = adapter.Client();

  json good = json::parse(Body("agency-a", "BB-GOOD"));
  json missing = good;
  missing.erase("category");
  missing.erase("lawfulBasis");
  missing["consent"].erase("position");
  json bad_date = good;
  bad_date["person"]["dateOfBirth"] = "1990-02-30";
  json bad_dash = good;
  bad_dash["assessment"]["dashAnswers"].erase(0);
  json unknown = good;
  unknown["favouriteColour"] = "blue";
  json wrong_type = good;
  wrong_type["category"] = 12.5;
  json bad_enum = good;
  bad_enum["category"] = "NOT_A_CATEGORY";
  json no_ref = good;
  no_ref.erase("referrerReference");

  const std::vector<BadBody> bad = {
      {"not JSON", "{\"referrerReference\": ", "at 1:23"},
      {"trailing comma", "{\"referrerReference\": \"X\",}", ""},
      {"empty", "", ""},
      {"an array", "[1,2]", ""},
      {"unknown field", unknown.dump(), "favouriteColour"},
      {"wrong type", wrong_type.dump(), "category"},
      {"unknown enum", bad_enum.dump(), "category"},
      {"missing reference", no_ref.dump(), "referrer_reference"},
      {"impossible date", bad_date.dump(), "date_of_birth"},
      {"23 DASH answers", bad_dash.dump(), "dash_answers"},
  };
  for (const BadBody& b : bad) {
    auto r = c->Post("/v1/referrals", b.body, "application/json");
    ASSERT_TRUE(r) << b.name;
    EXPECT_EQ(r->status, 400) << b.name << ": " << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/problem+json") << b.name;
    json problem = json::parse(r->body);
    EXPECT_EQ(problem["status"], 400);
    EXPECT_NE(problem.dump().find(b.expect), std::string::npos) << b.name << ": " << r->body;
  }
  // Several fields wrong at once: every one is named.
  auto r = c->Post("/v1/referrals", missing.dump(), "application/json");
  ASSERT_EQ(r->status, 400);
  json problem = json::parse(r->body);
  std::set<std::string> pointers;
  for (const auto& e : problem["errors"]) pointers.insert(e["pointer"].get<std::string>());
  EXPECT_TRUE(pointers.count("/category")) << r->body;
  EXPECT_TRUE(pointers.count("/lawfulBasis")) << r->body;
  EXPECT_TRUE(pointers.count("/consent/position")) << r->body;

  // The good one passes between them; nothing else was stored or forwarded.
  r = c->Post("/v1/referrals?wait=durable", good.dump(), "application/json");
  EXPECT_EQ(r->status, 201) << r->body;
  EXPECT_TRUE(adapter.WaitForEmptySpool(30));
  adapter.Stop(SIGTERM);
  LogContents log = StopAndCheckLog(stack, 1);
  ASSERT_EQ(log.submissions.size(), 1u);
  EXPECT_EQ(log.submissions.begin()->first.second, "BB-GOOD");
}

TEST(AdapterHttpTest, StatusGoesFromSpooledToAccepted) {
  TestStack stack;
  ASSERT_TRUE(stack.StartBroker());  // picks the broker's port
  stack.StopBroker(SIGTERM);
  AdapterProcess adapter(stack, "agency-a");
  ASSERT_TRUE(adapter.Start());  // the broker is not running
  auto c = adapter.Client();
  // A reference with characters that need escaping in a URL.
  const std::string ref = "ST/1?x#y%";
  auto r = c->Post("/v1/referrals", Body("agency-a", ref), "application/json");
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string url = json::parse(r->body)["statusUrl"];
  EXPECT_EQ(url, "/v1/referrals/ST%2F1%3Fx%23y%25");
  r = c->Get(url.c_str());
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["state"], "spooled");
  EXPECT_EQ(json::parse(r->body)["referrerReference"], ref);
  ASSERT_TRUE(stack.StartBroker());
  ASSERT_TRUE(adapter.WaitForEmptySpool(60));
  r = c->Get(url.c_str());
  ASSERT_EQ(r->status, 200);
  json status = json::parse(r->body);
  EXPECT_EQ(status["state"], "accepted") << r->body;
  EXPECT_FALSE(status["referralId"].get<std::string>().empty());
  EXPECT_EQ(status["seq"], 1);
  // The outcome survives a restart of the adapter.
  adapter.Stop(SIGKILL);
  ASSERT_TRUE(adapter.Start());
  c = adapter.Client();
  r = c->Get(url.c_str());
  EXPECT_EQ(json::parse(r->body)["seq"], 1) << r->body;
}

// The adapter keeps the broker's answers for forward.outcomes_keep_days; an
// older acceptance is answered from the broker's log (looked up by the
// agency's own reference), with the same id and seq, and a refused
// resubmission of it still shows the acceptance.
TEST(AdapterHttpTest, AnAcceptanceOlderThanTheAdapterKeepsIsAnsweredFromTheBroker) {
  TestStack stack;
  ASSERT_TRUE(stack.StartBroker());
  AdapterProcess adapter(stack, "agency-a");
  adapter.set_forward_extra("outcomes_keep_days: 7");
  ASSERT_TRUE(adapter.Start());
  auto c = adapter.Client();
  auto r = c->Post("/v1/referrals?wait=durable", Body("agency-a", "OLD-1"), "application/json");
  ASSERT_EQ(r->status, 201) << r->body;
  const json accepted = json::parse(r->body);

  // Eight days pass: the answer's line is dated back.
  adapter.Stop(SIGTERM);
  const std::string path = adapter.dir() + "/spool/outcomes.log";
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << path;
  std::string line, dated;
  const int64_t eight_days_ago =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() -
      8 * 24 * 3600;
  while (std::getline(in, line)) {
    ASSERT_EQ(std::count(line.begin(), line.end(), '\t'), 4) << line;
    dated += line.substr(0, line.rfind('\t') + 1) + std::to_string(eight_days_ago) + "\n";
  }
  in.close();
  std::ofstream(path, std::ios::trunc) << dated;
  ASSERT_TRUE(adapter.Start());
  c = adapter.Client();

  r = c->Get("/v1/referrals/OLD-1");
  ASSERT_EQ(r->status, 200) << r->body;
  json status = json::parse(r->body);
  EXPECT_EQ(status["state"], "accepted") << r->body;
  EXPECT_EQ(status["referralId"], accepted["referralId"]) << r->body;
  EXPECT_EQ(status["seq"], accepted["seq"]) << r->body;
  EXPECT_TRUE(status["destinations"].empty()) << "no router here: no cases yet";

  // A different referral under the same reference is refused; the status
  // still shows the acceptance, now from the broker, beside the refusal.
  v1::Referral changed = SampleReferral("agency-a", "OLD-1");
  changed.set_narrative("A different synthetic narrative.");
  r = c->Post("/v1/referrals?wait=durable", ToJsonLine(changed), "application/json");
  EXPECT_EQ(r->status, 409) << r->body;
  r = c->Get("/v1/referrals/OLD-1");
  ASSERT_EQ(r->status, 200) << r->body;
  status = json::parse(r->body);
  EXPECT_EQ(status["state"], "accepted") << r->body;
  EXPECT_EQ(status["seq"], accepted["seq"]) << r->body;
  EXPECT_EQ(status["resubmissionRefused"]["code"], "IDEMPOTENCY_CONFLICT") << r->body;

  // Another agency's reference is not found through this one's adapter.
  AdapterProcess other(stack, "agency-b");
  ASSERT_TRUE(other.Start());
  r = other.Client()->Post("/v1/referrals?wait=durable", Body("agency-b", "B-ONLY"), "application/json");
  ASSERT_EQ(r->status, 201) << r->body;
  r = c->Get("/v1/referrals/B-ONLY");
  EXPECT_EQ(r->status, 404) << r->body;
  EXPECT_NE(r->body.find("7 days"), std::string::npos) << r->body;
}

}  // namespace
}  // namespace refx::testing
