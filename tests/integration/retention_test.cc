// Retention (issue 13 item 3): the broker erases a referral once its
// configured retention period has ended, with a subject_erased event that
// names the rule, and the monitoring report counts what was erased under
// which rule. The broker runs in-process (real ZeroMQ with CURVE, real
// RocksDB) so that the test can move its date: its `today` is a clock the
// test sets.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "broker/broker.h"
#include "domain/monitoring/monitoring_report.h"
#include "eventlog/sealing.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

constexpr char kConfig[] = R"(
destinations { code: "DEST_A" name: "A panel" agency_id: "lead-a" need_to_know: [SUBJECT_IDENTITY] purpose: "risk panel" }
retention { periods { record_type: MULTI_AGENCY_RECORD months: 2 note: "test: two months" } }
)";

class InProcessBroker {
 public:
  InProcessBroker(const TestStack& stack, std::atomic<int64_t>* today_days) {
    EXPECT_TRUE(PartnershipConfig::Load(stack.config_path(), &config_).ok());
    broker::BrokerOptions options;
    options.server_keys = stack.broker_keys();
    options.frontend_endpoint = "tcp://127.0.0.1:*";
    options.metrics_address = "off";
    options.today = [today_days] { return CivilDate::FromDays(today_days->load()); };
    eventlog::OpenOptions open;
    open.path = stack.data_dir();
    EXPECT_TRUE(eventlog::LoadMasterKeyFile(stack.master_key_path(), &open.master_key).ok());
    std::unique_ptr<eventlog::EventLog> log;
    EXPECT_TRUE(eventlog::EventLog::Open(open, &log).ok());
    broker_ = std::make_unique<broker::Broker>(std::move(options), config_.get(), std::move(log));
    EXPECT_TRUE(broker_->Start().ok());
    thread_ = std::thread([this] { result_ = broker_->Run(); });
  }
  ~InProcessBroker() {
    broker_->RequestStop();
    thread_.join();
    EXPECT_TRUE(result_.ok()) << result_.ToString();
  }
  const std::string& endpoint() const { return broker_->frontend_endpoint(); }

 private:
  std::unique_ptr<PartnershipConfig> config_;
  std::unique_ptr<broker::Broker> broker_;
  std::thread thread_;
  Status result_;
};

TEST(RetentionTest, ErasesWhenThePeriodEndsNamingTheRuleAndTheReportCountsIt) {
  TestStack stack({{"agency-a", {"SUBMITTER"}, {}}, {"lead-a", {"LEAD"}, {}}, {"auditor", {"AUDITOR"}, {}}}, "",
                  kConfig);
  std::atomic<int64_t> today(TodayUtc().ToDays());
  InProcessBroker broker(stack, &today);
  auto client = [&](const std::string& agency) {
    ClientOptions options = stack.ClientOptionsFor(agency);
    options.endpoint = broker.endpoint();
    return std::make_unique<BrokerClient>(options);
  };
  auto submitter = client("agency-a");
  std::vector<std::string> ids;
  for (const char* reference : {"RET-A", "RET-B"}) {
    v1::Ack ack;
    ASSERT_TRUE(submitter->Submit(SampleReferral("agency-a", reference), &ack).ok());
    ids.push_back(ack.referral_id());
  }
  auto auditor = client("auditor");
  // Every event of the log, as the auditor reads them.
  auto read_all = [&]() {
    std::vector<v1::Event> events;
    v1::ReadRequest read;
    read.set_purpose("retention test");
    EXPECT_TRUE(auditor->Read(read, [&](const v1::Event& e, const std::string&, const std::string&) {
      events.push_back(e);
      return true;
    }).ok());
    return events;
  };
  auto erasures = [&](const std::vector<v1::Event>& events) {
    std::vector<v1::SubjectErased> out;
    for (const auto& e : events) {
      if (e.has_subject_erased()) out.push_back(e.subject_erased());
    }
    return out;
  };

  // Moves the broker's date on and waits until its loop has swept: the
  // loop sweeps at the top of each turn, so once a heartbeat sent after the
  // first one's answer is answered, a whole turn began after the move.
  auto move_to = [&](int64_t days) {
    today = days;
    for (int i = 0; i < 2; ++i) {
      v1::Frame ping, pong;
      ping.mutable_heartbeat();
      ASSERT_TRUE(auditor->Call(ping, &pong).ok());
      ASSERT_TRUE(pong.has_heartbeat());
    }
  };

  // A month on: still within the period.
  move_to(TodayUtc().ToDays() + 31);
  EXPECT_TRUE(erasures(read_all()).empty());

  // Three months on: the period has ended for both.
  move_to(TodayUtc().ToDays() + 92);
  const std::vector<v1::Event> events = read_all();
  const auto erased = erasures(events);
  ASSERT_EQ(erased.size(), 2u);
  for (const auto& x : erased) {
    EXPECT_EQ(x.rule(), "MULTI_AGENCY_RECORD");
    EXPECT_FALSE(x.override_retention());
    EXPECT_NE(x.reason().find("retention period MULTI_AGENCY_RECORD"), std::string::npos) << x.reason();
  }
  for (const auto& e : events) {
    if (e.has_referral_submitted()) {
      EXPECT_TRUE(e.erased());
      EXPECT_TRUE(e.referral_submitted().referral().person().given_name().empty());
    }
    if (e.has_subject_erased()) {
      EXPECT_EQ(e.actor(), "refx-broker");
    }
  }

  // The monitoring report for the period the erasures fall in.
  outcomes::ReportOptions options;
  options.from = CivilDate::FromDays(TodayUtc().ToDays() - 1);
  options.to = CivilDate::FromDays(TodayUtc().ToDays() + 1);
  outcomes::MonitoringReport report(options);
  for (const auto& e : events) report.Add(e);
  const v1::MonitoringFigures figures = report.Figures();
  ASSERT_EQ(figures.erased_by_rule_size(), 1);
  EXPECT_EQ(figures.erased_by_rule(0).key(), "MULTI_AGENCY_RECORD");
  EXPECT_EQ(figures.erased_by_rule(0).count(), 2u);
}

}  // namespace
}  // namespace refx::testing
