// The outcomes service against the real broker binary (CURVE on, RocksDB in
// a temporary folder), hosted in-process with a clock the test moves, and
// `refx report` run as a child process against the same broker. Synthetic
// people only.
#include "services/outcomes/outcomes_service.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <google/protobuf/util/time_util.h>
#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <tuple>

#include "core/civil_date.h"
#include "core/curve_keys.h"
#include "core/event_util.h"
#include "core/metrics_http.h"
#include "core/subject_key.h"
#include "child_process.h"
#include "test_stack.h"
#include "tests/render/csv_reader.h"

namespace refx::outcomes {
namespace {

namespace fs = std::filesystem;
using google::protobuf::util::TimeUtil;
using refx::testing::AgencySpec;
using refx::testing::ChildOptions;
using refx::testing::StartChild;
using refx::testing::TestStack;
using Clock = std::chrono::system_clock;

constexpr const char* kExtraConfig = R"(
destinations { code: "DEST_A" name: "Destination A" agency_id: "lead-a" ack_deadline_working_days: 1 purpose: "test" }
destinations { code: "TRIAGE" name: "Triage" agency_id: "triage-lead" purpose: "test" }
fallback_destination: "TRIAGE"
delivery { redelivery_interval_seconds: 300 undeliverable_after_seconds: 86400 escalate_to: "TRIAGE" }
outcome_codes { code: "SAFETY_PLAN" description: "A safety plan is in place." }
subject_key_file: "subject.hmac"
)";

std::vector<AgencySpec> Agencies() {
  return {{"agency-a", {"SUBMITTER"}, {}},       {"agency-b", {"SUBMITTER"}, {}},
          {"lead-a", {"LEAD"}, {}},              {"triage-lead", {"LEAD"}, {}},
          {"refx-router", {"SERVICE"}, {}},      {"refx-outcomes", {"SERVICE"}, {}},
          {"ig-auditor", {"AUDITOR"}, {}}};
}

// Polls `done` every 10 ms for up to 30 s (no timing assertion: the bound
// only stops a broken test from hanging).
bool WaitFor(const std::function<bool()>& done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// The outcomes service on its own thread, with a clock the test sets.
class HostedService {
 public:
  HostedService(const TestStack& stack, const PartnershipConfig* config, std::atomic<int64_t>* now_micros)
      : service_(config, Options(stack, now_micros)) {
    thread_ = std::thread([this] { result_ = service_.Run(); });
  }
  ~HostedService() { (void)Stop(); }  // a test that checks the result calls Stop() itself

  // Waits until the view is rebuilt and `n` more deadline checks ran.
  bool SettleFor(uint64_t n) {
    if (!WaitFor([&] { return service_.caught_up(); })) return false;
    const uint64_t target = service_.checks() + n;
    return WaitFor([&] { return service_.checks() >= target; });
  }
  Status Stop() {
    if (thread_.joinable()) {
      service_.RequestStop();
      thread_.join();
    }
    return result_;
  }
  OutcomesService& service() { return service_; }

 private:
  static OutcomesOptions Options(const TestStack& stack, std::atomic<int64_t>* now_micros) {
    OutcomesOptions o;
    o.client = stack.ClientOptionsFor("refx-outcomes");
    o.identity = "refx-outcomes";
    o.clock = [now_micros] { return Clock::time_point(std::chrono::microseconds(now_micros->load())); };
    o.check_interval = std::chrono::milliseconds(50);
    o.retry_interval = std::chrono::milliseconds(100);
    return o;
  }

  OutcomesService service_;
  std::thread thread_;
  Status result_;
};

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

class OutcomesServiceTest : public ::testing::Test {
 protected:
  OutcomesServiceTest() : stack_(Agencies(), "", kExtraConfig) {}

  void SetUp() override {
    home_ = fs::path(stack_.config_path()).parent_path().string();
    ASSERT_TRUE(GenerateSubjectKeyFile(home_ + "/subject.hmac").ok());
    ASSERT_TRUE(stack_.StartBroker());
    ASSERT_TRUE(PartnershipConfig::Load(stack_.config_path(), &config_).ok());
    router_ = stack_.ClientFor("refx-router");
    lead_ = stack_.ClientFor("lead-a");
    now_ = TimeUtil::TimestampToMicroseconds(TimeUtil::GetCurrentTime());
    clock_.store(now_);
  }

  static constexpr int64_t kHour = 3600LL * 1000000LL;

  std::string Submit(const std::string& agency, const std::string& reference, const std::string& given,
                     const std::string& family, const std::string& dob) {
    v1::Referral r = testing::SampleReferral(agency, reference);
    r.mutable_person()->set_given_name(given);
    r.mutable_person()->set_family_name(family);
    r.mutable_person()->set_date_of_birth(dob);
    v1::Ack ack;
    Status s = stack_.ClientFor(agency)->Submit(r, &ack);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return ack.referral_id();
  }

  void Append(BrokerClient* client, const v1::Event& e, const std::string& key = "") {
    v1::Ack ack;
    Status s = client->Append(e, key, &ack);
    EXPECT_TRUE(s.ok()) << EventTypeName(e) << ": " << s.ToString();
  }

  // Routes (with the deadline) and delivers a case, as router and delivery would.
  void RouteAndDeliver(const std::string& ref, int64_t deadline_micros) {
    v1::Event routed;
    routed.mutable_case_routed()->set_referral_id(ref);
    routed.mutable_case_routed()->set_destination("DEST_A");
    routed.mutable_case_routed()->set_rule_id("R_TEST");
    routed.mutable_case_routed()->set_reason("test rule");
    *routed.mutable_case_routed()->mutable_deadline() = TimeUtil::MicrosecondsToTimestamp(deadline_micros);
    Append(router_.get(), routed);
    v1::Event delivered;
    delivered.mutable_case_delivered()->set_referral_id(ref);
    delivered.mutable_case_delivered()->set_destination("DEST_A");
    Append(router_.get(), delivered);
  }

  template <typename Body>
  v1::Event LeadEvent(Body* (v1::Event::*mutable_body)(), const std::string& ref) {
    v1::Event e;
    Body* b = (e.*mutable_body)();
    b->set_referral_id(ref);
    b->set_destination("DEST_A");
    return e;
  }

  // Four referrals at DEST_A: r1 (Alex) and r4 (Sam) overdue at +1 h and
  // unacknowledged / declined, r2 (Alex again: a repeat) acknowledged,
  // accepted with an outcome, r3 (Jo) due only at +30 h.
  void BuildScenario() {
    r1_ = Submit("agency-a", "r1", "Alex", "Example", "1990-04-01");
    RouteAndDeliver(r1_, now_ + kHour);

    r2_ = Submit("agency-a", "r2", "Alex", "Example", "1990-04-01");
    RouteAndDeliver(r2_, now_ + kHour);
    Append(lead_.get(), LeadEvent(&v1::Event::mutable_case_acknowledged, r2_));
    Append(lead_.get(), LeadEvent(&v1::Event::mutable_case_accepted, r2_));
    v1::Event outcome = LeadEvent(&v1::Event::mutable_outcome_recorded, r2_);
    outcome.mutable_outcome_recorded()->set_code("SAFETY_PLAN");
    Append(lead_.get(), outcome);

    r3_ = Submit("agency-b", "r3", "Jo", "Sample", "1985-01-01");
    RouteAndDeliver(r3_, now_ + 30 * kHour);

    r4_ = Submit("agency-b", "r4", "Sam", "Test", "1970-01-01");
    RouteAndDeliver(r4_, now_ + kHour);
    Append(lead_.get(), LeadEvent(&v1::Event::mutable_case_acknowledged, r4_));
    v1::Event declined = LeadEvent(&v1::Event::mutable_case_declined, r4_);
    declined.mutable_case_declined()->set_reason("Not known to service");
    Append(lead_.get(), declined);
  }

  // Every event in the log, read as the auditor.
  std::vector<v1::Event> ReadAll() {
    std::vector<v1::Event> out;
    v1::ReadRequest request;
    request.set_purpose("test");
    Status s = stack_.ClientFor("ig-auditor")->Read(request, [&](const v1::Event& e, const std::string&, const std::string&) {
      out.push_back(e);
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  // "<type> <referral>" -> how many such events the log holds.
  std::map<std::string, int> Counts() {
    std::map<std::string, int> out;
    for (const v1::Event& e : ReadAll()) ++out[std::string(EventTypeName(e)) + " " + ReferralIdOf(e)];
    return out;
  }

  // Runs the refx binary with `args`, stdout and stderr to files.
  CliResult RunCli(const std::vector<std::string>& args) {
    const std::string out_path = home_ + "/cli.out", err_path = home_ + "/cli.err";
    std::vector<std::string> argv_s = {REFX_CLI_BIN};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    ChildOptions child;
    child.stdout_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    child.stderr_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const pid_t pid = StartChild(argv_s, child);
    ::close(child.stdout_fd);
    ::close(child.stderr_fd);
    CliResult result;
    int status = 0;
    waitpid(pid, &status, 0);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::stringstream out, err;
    out << std::ifstream(out_path).rdbuf();
    err << std::ifstream(err_path).rdbuf();
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  std::vector<std::string> ReportArgs(const std::string& format) {
    const int64_t today = TodayUtc().ToDays();
    return {"--home", home_, "--broker", stack_.endpoint(), "report", "--from", CivilDate::FromDays(today - 1).ToString(),
            "--to", CivilDate::FromDays(today + 1).ToString(), "--format", format};
  }

  TestStack stack_;
  std::string home_;
  std::unique_ptr<PartnershipConfig> config_;
  std::unique_ptr<BrokerClient> router_, lead_;
  int64_t now_ = 0;
  std::atomic<int64_t> clock_{0};
  std::string r1_, r2_, r3_, r4_;
};

TEST_F(OutcomesServiceTest, BreachesAndEscalatesAnOverdueCaseOnceAcrossRestarts) {
  BuildScenario();
  {
    HostedService hosted(stack_, config_.get(), &clock_);
    ASSERT_TRUE(hosted.SettleFor(2));
    EXPECT_EQ(hosted.service().breaches_appended(), 0u) << "no deadline has passed yet";
    EXPECT_EQ(hosted.service().escalations_appended(), 0u);

    clock_.store(now_ + 2 * kHour);  // past r1's, r2's and r4's deadlines, not r3's
    ASSERT_TRUE(WaitFor([&] { return hosted.service().escalations_appended() >= 1; }));
    ASSERT_TRUE(hosted.SettleFor(3));
    EXPECT_EQ(hosted.service().breaches_appended(), 1u);
    EXPECT_EQ(hosted.service().escalations_appended(), 1u);
    EXPECT_TRUE(hosted.Stop().ok());
  }
  // The auditor's read is itself logged (record_accessed), so the head is
  // taken before the restart: nothing else writes after this point.
  const uint64_t head = ReadAll().back().seq();
  {
    // A restart rebuilds the view from the log and writes nothing new.
    HostedService hosted(stack_, config_.get(), &clock_);
    ASSERT_TRUE(hosted.SettleFor(3));
    EXPECT_EQ(hosted.service().breaches_appended(), 0u);
    EXPECT_EQ(hosted.service().escalations_appended(), 0u);
    EXPECT_EQ(hosted.service().applied_seq(), head);
    EXPECT_TRUE(hosted.Stop().ok());
  }

  std::map<std::string, int> counts = Counts();
  EXPECT_EQ(counts["deadline_breached " + r1_], 1);
  EXPECT_EQ(counts["case_escalated " + r1_], 1);
  for (const std::string& r : {r2_, r3_, r4_}) {
    EXPECT_EQ(counts["deadline_breached " + r], 0) << r;
    EXPECT_EQ(counts["case_escalated " + r], 0) << r;
  }
  for (const v1::Event& e : ReadAll()) {
    if (e.has_deadline_breached()) {
      EXPECT_EQ(e.actor(), "refx-outcomes");
      EXPECT_EQ(e.deadline_breached().destination(), "DEST_A");
      EXPECT_EQ(e.deadline_breached().deadline_kind(), "acknowledge");
      EXPECT_EQ(TimeUtil::TimestampToMicroseconds(e.deadline_breached().deadline()), now_ + kHour);
    }
    if (e.has_case_escalated()) {
      EXPECT_EQ(e.case_escalated().destination(), "DEST_A");
      EXPECT_EQ(e.case_escalated().escalated_to(), "TRIAGE");
      EXPECT_FALSE(e.case_escalated().reason().empty());
    }
  }
}

// The service's own figures over real HTTP (issue 9 item 13): the log
// position and lag, and the open / overdue / undeliverable cases, before
// and after the clock passes the deadlines. The scenario's cases: r1 and r3
// delivered (deadlines in 1 h and 30 h), r2 with an outcome recorded (open),
// r4 declined (not open).
TEST_F(OutcomesServiceTest, ExportsItsFiguresOverHttp) {
  BuildScenario();
  HostedService hosted(stack_, config_.get(), &clock_);
  MetricsHttpServer http([&] { return hosted.service().RenderMetrics(); },
                         [&](std::string* fields) { return hosted.service().Healthy(fields); });
  ASSERT_TRUE(http.Start("127.0.0.1:0").ok());
  httplib::Client client("127.0.0.1", http.port());
  ASSERT_TRUE(hosted.SettleFor(2));
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  const uint64_t applied = hosted.service().applied_seq();
  ASSERT_GT(applied, 0u);
  EXPECT_NE(metrics->body.find("refx_outcomes_applied_seq " + std::to_string(applied) + "\n"), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("refx_outcomes_cursor_lag 0\n"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("refx_outcomes_open_cases 3\n"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("refx_outcomes_overdue_cases 0\n"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("refx_outcomes_undeliverable_cases 0\n"), std::string::npos) << metrics->body;
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_NE(health->body.find("\"caught_up\":true"), std::string::npos) << health->body;

  clock_.store(now_ + 2 * kHour);  // past r1's deadline, not r3's
  ASSERT_TRUE(WaitFor([&] { return hosted.service().escalations_appended() >= 1; }));
  ASSERT_TRUE(hosted.SettleFor(2));
  metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  // r1 stays overdue until its lead acknowledges it, breach or not.
  EXPECT_NE(metrics->body.find("refx_outcomes_overdue_cases 1\n"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("refx_outcomes_breaches_total 1\n"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("refx_outcomes_escalations_total 1\n"), std::string::npos) << metrics->body;
  EXPECT_TRUE(hosted.Stop().ok());
}

TEST_F(OutcomesServiceTest, FinishesAnEscalationACrashInterrupted) {
  r1_ = Submit("agency-a", "r1", "Alex", "Example", "1990-04-01");
  RouteAndDeliver(r1_, now_ + kHour);
  // The breach made it to the log before the crash; the escalation did not.
  v1::Event breach;
  auto* b = breach.mutable_deadline_breached();
  b->set_referral_id(r1_);
  b->set_destination("DEST_A");
  b->set_deadline_kind("acknowledge");
  *b->mutable_deadline() = TimeUtil::MicrosecondsToTimestamp(now_ + kHour);
  Append(stack_.ClientFor("refx-outcomes").get(), breach, "breach:" + r1_ + ":DEST_A:acknowledge");

  clock_.store(now_ + 2 * kHour);
  HostedService hosted(stack_, config_.get(), &clock_);
  ASSERT_TRUE(WaitFor([&] { return hosted.service().escalations_appended() >= 1; }));
  ASSERT_TRUE(hosted.SettleFor(3));
  EXPECT_EQ(hosted.service().breaches_appended(), 0u);
  EXPECT_TRUE(hosted.Stop().ok());
  std::map<std::string, int> counts = Counts();
  EXPECT_EQ(counts["deadline_breached " + r1_], 1);
  EXPECT_EQ(counts["case_escalated " + r1_], 1);
}

TEST_F(OutcomesServiceTest, ReportFromTheCommandLine) {
  BuildScenario();
  clock_.store(now_ + 2 * kHour);
  {
    HostedService hosted(stack_, config_.get(), &clock_);
    ASSERT_TRUE(WaitFor([&] { return hosted.service().escalations_appended() >= 1; }));
    EXPECT_TRUE(hosted.Stop().ok());
  }
  CurveKeyPair auditor = stack_.agency_keys("ig-auditor");
  ASSERT_TRUE(SaveCurveKeyPair(home_ + "/keys", "ig-auditor", auditor).ok());

  CliResult csv = RunCli(ReportArgs("csv"));
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  // One wide table: a row per breakdown key, the previous period beside.
  auto table = testing::CsvTable(csv.out);
  auto cell = [&](const std::string& row, const std::string& column) {
    auto r = table.find(row);
    if (r == table.end()) return std::string("NO ROW ") + row;
    auto c = r->second.find(column);
    return c == r->second.end() ? std::string("NO COLUMN ") + column : c->second;
  };
  for (const auto& [row, column, value] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"all/all referrals", "referrals", "4"},
           {"all/all referrals", "referrals_previous", "0"},
           {"all/all referrals", "cases", "4"},
           {"all/all referrals", "open", "3"},
           {"all/all referrals", "repeat_rate_pct", "25.0"},
           {"all/all referrals", "breaches", "1"},
           {"all/all referrals", "escalations", "1"},
           {"destination/DEST_A", "name", "Destination A"},
           {"destination/DEST_A", "cases", "4"},
           {"destination/DEST_A", "breaches", "1"},
           {"destination/DEST_A", "escalations", "1"},
           {"destination/DEST_A", "open", "3"},
           {"source_agency/agency-a", "referrals", "2"},
           {"source_agency/agency-b", "referrals", "2"},
           {"decline_reason/Not known to service", "count", "1"},
           {"outcome/SAFETY_PLAN", "count", "1"},
           {"open_state/DELIVERED", "count", "2"},
           {"open_state/OUTCOME_RECORDED", "count", "1"}}) {
    EXPECT_EQ(cell(row, column), value) << row << " " << column << "\n" << csv.out;
  }
  for (const auto& [key, row] : table) EXPECT_NE(key.rfind("BAD ROW", 0), 0u) << key;
  // No personal data in the report.
  for (const char* personal : {"Alex", "Example", "1990-04-01", "Testtown", "Synthetic test narrative"}) {
    EXPECT_EQ(csv.out.find(personal), std::string::npos) << personal;
  }

  // HTML to a file.
  std::vector<std::string> html_args = ReportArgs("html");
  html_args.insert(html_args.end(), {"--out", home_ + "/report.html"});
  CliResult html = RunCli(html_args);
  ASSERT_EQ(html.exit_code, 0) << html.err;
  std::stringstream page;
  page << std::ifstream(home_ + "/report.html").rdbuf();
  EXPECT_EQ(page.str().rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.str().find("<svg"), std::string::npos);
  EXPECT_NE(page.str().find("Destination A"), std::string::npos) << "destinations by configured name";

  // Without the subject key the repeat rate is unavailable, not guessed.
  fs::remove(home_ + "/subject.hmac");
  csv = RunCli(ReportArgs("csv"));
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  table = testing::CsvTable(csv.out);
  EXPECT_EQ(cell("all/all referrals", "repeat_rate_pct"), "") << csv.out;
  EXPECT_EQ(cell("all/all referrals", "referrals"), "4");
  CliResult md = RunCli(ReportArgs("md"));
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("unavailable: the subject key file"), std::string::npos) << md.out;

  // A month or a quarter instead of dates; a malformed one is refused.
  const CivilDate today = TodayUtc();
  char month[16];
  std::snprintf(month, sizeof month, "%04d-%02d", today.year, today.month);
  CliResult by_month = RunCli({"--home", home_, "--broker", stack_.endpoint(), "report", "--month", month, "--format", "csv"});
  ASSERT_EQ(by_month.exit_code, 0) << by_month.err;
  table = testing::CsvTable(by_month.out);
  EXPECT_EQ(cell("all/all referrals", "period"), month);
  CliResult bad_quarter = RunCli({"--home", home_, "--broker", stack_.endpoint(), "report", "--quarter", "2026-Q5"});
  EXPECT_EQ(bad_quarter.exit_code, 2);
  EXPECT_NE(bad_quarter.err.find("--quarter"), std::string::npos) << bad_quarter.err;
  CliResult two_periods = RunCli({"--home", home_, "--broker", stack_.endpoint(), "report", "--month", month,
                                  "--from", "2026-01-01", "--to", "2026-01-31"});
  EXPECT_EQ(two_periods.exit_code, 2);

  // An agency that may not see the whole log is refused (its figures would be partial).
  std::vector<std::string> as_lead = ReportArgs("csv");
  as_lead.insert(as_lead.end(), {"--as", "lead-a"});
  EXPECT_EQ(RunCli(as_lead).exit_code, 2);
  // Bad dates.
  CliResult bad = RunCli({"--home", home_, "--broker", stack_.endpoint(), "report", "--from", "2026-02-30", "--to",
                          "2026-03-01"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--from"), std::string::npos) << bad.err;
}

// With no broker listening, `refx report` says so before any retry (whatever
// the retry settings), with the exit code for an unreachable broker, as the
// other commands do.
TEST_F(OutcomesServiceTest, ReportAgainstAStoppedBrokerSaysSoAtOnce) {
  ASSERT_TRUE(SaveCurveKeyPair(home_ + "/keys", "ig-auditor", stack_.agency_keys("ig-auditor")).ok());
  ASSERT_EQ(stack_.StopBroker(SIGTERM), 0);
  std::vector<std::string> args = ReportArgs("csv");
  args.insert(args.begin(), {"--attempts", "20", "--timeout-ms", "60000"});
  CliResult stopped = RunCli(args);
  EXPECT_EQ(stopped.exit_code, 3) << stopped.err;
  EXPECT_NE(stopped.err.find("no broker listening at " + stack_.endpoint()), std::string::npos) << stopped.err;
}

}  // namespace
}  // namespace refx::outcomes
