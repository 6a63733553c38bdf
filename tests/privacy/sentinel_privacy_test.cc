// The sentinel privacy check (issue 13: "a sentinel search of every log and
// metric after a full run finds no personal data"). The real refx-broker,
// refx-router, refx-delivery, refx-outcomes and refx-notifier binaries
// (services at debug level) handle referrals whose personal fields carry
// unique made-up strings — accepted ones, routed and delivered, and ones
// refused for a bad personal field — then every log file (the components'
// output and RocksDB's own LOG files; not the event log's data files, whose
// contents are issue 13 item 1's concern) and every /metrics and /healthz
// answer is searched for the sentinels, case-insensitively: none may be
// there. Synthetic people only.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <httplib.h>

#include "tests/services/services_stack.h"

namespace refx::testing {
namespace {

namespace fs = std::filesystem;

// Unique, made-up values: no real person, and strings no component would
// print by chance.
const std::vector<std::string>& Sentinels() {
  static const std::vector<std::string> all = {
      "Zorvaxelle",            // given name
      "Quintrabble",           // family name
      "Vexalindra",            // alias
      "Sentinelgrove Lane",    // address
      "07700 900417",          // phone (Ofcom's drama range)
      "Plumwick-narrative",    // narrative
      "Drexworth Kallombie",   // perpetrator
      "Ofeliasentinel",        // referrer's name
      "sentinel.referrer@",    // referrer's e-mail
      "Glimmerfen fears",      // victim's fears (assessment)
  };
  return all;
}

v1::Referral SentinelReferral(const std::string& agency, const std::string& reference) {
  v1::Referral r = DaHighRiskReferral(agency, reference, "Zorvaxelle");
  v1::Person* p = r.mutable_person();
  p->set_family_name("Quintrabble");
  p->add_aliases("Vexalindra");
  p->set_address("17 Sentinelgrove Lane, Sevenoaks");
  p->set_phone("07700 900417");
  r.set_narrative("Plumwick-narrative: seen at the address twice this week.");
  r.mutable_perpetrator()->set_name("Drexworth Kallombie");
  r.mutable_referrer()->set_name("Ofeliasentinel Reed");
  r.mutable_referrer()->set_email("sentinel.referrer@example.org");
  r.mutable_assessment()->set_victim_fears("Glimmerfen fears he will return");
  return r;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The sentinels found in `text` (case-insensitive), each with a little
// context, one per line; "" when none.
std::string Findings(const std::string& where, const std::string& text) {
  const std::string lower = Lower(text);
  std::string out;
  for (const std::string& sentinel : Sentinels()) {
    const size_t at = lower.find(Lower(sentinel));
    if (at == std::string::npos) continue;
    const size_t from = at < 80 ? 0 : at - 80;
    out += where + ": \"" + sentinel + "\" in ..." + text.substr(from, 200) + "...\n";
  }
  return out;
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every log file under `root`: *.log files (the components' output) and
// RocksDB's info logs (LOG, LOG.old.*) — but not RocksDB's write-ahead
// logs (NNNNNN.log inside `data_dir`), which are the event log itself.
std::vector<fs::path> LogFiles(const fs::path& root, const fs::path& data_dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    const fs::path& p = entry.path();
    const std::string name = p.filename().string();
    const bool in_data = p.string().rfind(data_dir.string(), 0) == 0;
    if (name.rfind("LOG", 0) == 0 || (!in_data && p.extension() == ".log")) out.push_back(p);
  }
  return out;
}

TEST(SentinelPrivacyTest, NoPersonalDataReachesAnyLogOrMetric) {
  ServicesStack s;
  ASSERT_TRUE(s.stack().StartBroker());
  std::vector<std::unique_ptr<ServiceProcess>> services;
  for (const auto& [binary, name] : std::vector<std::pair<std::string, std::string>>{
           {REFX_ROUTER_BIN, "refx-router"},
           {REFX_DELIVERY_BIN, "refx-delivery"},
           {REFX_OUTCOMES_BIN, "refx-outcomes"},
           {REFX_NOTIFIER_BIN, "refx-notifier"}}) {
    services.push_back(std::make_unique<ServiceProcess>(s.ServiceArgs(binary, name), s.LogPath(name)));
    services.back()->Start();
  }

  // Accepted referrals, each routed and delivered; one sent twice (a
  // duplicate); and refusals whose bad value is personal data.
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(s.Submit(SentinelReferral("kent-police", "PRIV-" + std::to_string(i))));
  ASSERT_EQ(s.Submit(SentinelReferral("kent-police", "PRIV-0")), ids[0]);
  auto client = s.stack().ClientFor("kent-police");
  // Refused: bad dates whose text is personal data.
  std::vector<v1::Referral> refused;
  refused.push_back(SentinelReferral("kent-police", "BAD-1"));
  refused.back().mutable_person()->set_date_of_birth("Quintrabble born 1980");
  refused.push_back(SentinelReferral("kent-police", "BAD-2"));
  refused.back().mutable_perpetrator()->set_date_of_birth("Drexworth Kallombie\nforged line");
  for (const v1::Referral& r : refused) {
    v1::Ack ack;
    Status st = client->Submit(r, &ack);
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << r.referrer_reference() << ": " << st.ToString();
  }
  // Accepted though odd (these fields are free text): carried, never logged.
  v1::Referral odd = SentinelReferral("kent-police", "ODD-1");
  odd.mutable_person()->set_phone("07700 900417 ext Zorvaxelle\nforged line");
  odd.mutable_person()->set_postcode("Vexalindra");
  ids.push_back(s.Submit(odd));
  // The router and delivery services handle every accepted one.
  auto events = s.WaitFor("every referral delivered", [&](const std::vector<v1::Event>& ev) {
    for (const std::string& id : ids) {
      if (EventsOf(ev, v1::Event::kCaseDelivered, id).size() < 2) return false;
    }
    return true;
  });
  // The sentinels are in the log, so the search below could find them.
  EXPECT_EQ(EventsOf(events, v1::Event::kCaseDelivered, ids[0]).front()->case_delivered().view().person().given_name(),
            "Zorvaxelle");

  std::string found;
  // Every component's metrics and health.
  std::map<std::string, int> ports = {{"refx-broker", s.stack().metrics_port()}};
  for (const char* name : {"refx-router", "refx-delivery", "refx-outcomes", "refx-notifier"}) {
    std::string last;
    ASSERT_TRUE(s.WaitHealthy(name, &last)) << name << ": " << last;
    found += Findings(std::string(name) + "/healthz while not yet following", last);
    ports[name] = s.metrics_port(name);
  }
  for (const auto& [name, port] : ports) {
    httplib::Client http("127.0.0.1", port);
    for (const char* path : {"/metrics", "/healthz"}) {
      auto res = http.Get(path);
      ASSERT_TRUE(res) << name << path;
      EXPECT_EQ(res->status, 200) << name << path << ": " << res->body;
      EXPECT_FALSE(res->body.empty()) << name << path;
      found += Findings(name + path, res->body);
    }
  }
  for (auto& service : services) service->Stop(SIGTERM);
  s.stack().StopBroker(SIGTERM);

  const fs::path root = fs::path(s.stack().config_path()).parent_path();
  std::vector<fs::path> logs = LogFiles(root, s.stack().data_dir());
  // At least the broker's and each service's output, none of them empty.
  ASSERT_GE(logs.size(), 5u);
  for (const fs::path& log : logs) {
    const std::string text = ReadAll(log);
    found += Findings(log.string(), text);
  }
  const std::string broker_log = ReadAll(s.stack().broker_log());
  EXPECT_NE(broker_log.find("refused"), std::string::npos) << "the refusals were logged";
  EXPECT_EQ(found, "") << "personal data in logs or metrics";

  // The search itself finds a sentinel however it is cased.
  EXPECT_NE(Findings("control", "x QUINTRABBLE x"), "");
}

}  // namespace
}  // namespace refx::testing
