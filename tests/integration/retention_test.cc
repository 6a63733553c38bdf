// Retention (issue 13 item 3): the broker erases a referral once its
// configured retention period has ended, with a subject_erased event that
// names the rule, and the monitoring report counts what was erased under
// which rule. The broker runs in-process (in_process_broker.h) so that the
// test can move its date.
#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "broker/broker.h"
#include "in_process_broker.h"
#include "core/hex.h"
#include "domain/monitoring/monitoring_report.h"
#include "eventlog/checkpoint_signing.h"
#include "eventlog/sealing.h"
#include "eventlog/verifier.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

constexpr char kConfig[] = R"(
destinations { code: "DEST_A" name: "A panel" agency_id: "lead-a" need_to_know: [SUBJECT_IDENTITY] purpose: "risk panel" }
retention { periods { record_type: MULTI_AGENCY_RECORD months: 2 note: "test: two months" } }
)";

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
  // The sweep's erasures are in the log once their group commit is done,
  // which may be after the heartbeats were answered.
  std::vector<v1::Event> events = read_all();
  for (int i = 0; i < 200 && erasures(events).size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    events = read_all();
  }
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

// The keyed subject hash (issue 13 item 1): sealed under the referral's
// history key, it outlives an erasure of the referral until its own
// ROUTING_HISTORY period ends; then the sweep destroys the key (an event
// naming the rule), the subject index forgets the referral, and no file of
// the data folder holds the hash or the wrapped history key, while the chain
// and the signed checkpoints still verify.
constexpr char kHistoryConfig[] = R"(
destinations { code: "DEST_A" name: "A panel" agency_id: "lead-a" need_to_know: [SUBJECT_IDENTITY] purpose: "risk panel" }
retention {
  periods { record_type: MULTI_AGENCY_RECORD months: 6 note: "test: six months" }
  periods { record_type: ROUTING_HISTORY months: 3 note: "test: three months" }
}
)";

class HistoryRetentionTest : public ::testing::Test {
 protected:
  HistoryRetentionTest()
      : stack_({{"agency-a", {"SUBMITTER"}, {}},
                {"lead-a", {"LEAD"}, {}},
                {"auditor", {"AUDITOR"}, {}},
                {"router", {"SERVICE"}, {}},
                {"refx-admin", {"ADMIN"}, {}}},
               "", kHistoryConfig),
        today_(TodayUtc().ToDays()) {}

  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    broker_ = std::make_unique<InProcessBroker>(stack_, &today_);
    submitter_ = Client("agency-a");
    auditor_ = Client("auditor");
    router_ = Client("router");
    admin_ = Client("refx-admin");
  }

  std::unique_ptr<BrokerClient> Client(const std::string& agency) {
    ClientOptions options = stack_.ClientOptionsFor(agency);
    options.endpoint = broker_->endpoint();
    return std::make_unique<BrokerClient>(options);
  }

  std::string Submit(const std::string& reference, const std::string& given_name) {
    v1::Referral r = SampleReferral("agency-a", reference);
    r.mutable_person()->set_given_name(given_name);
    v1::Ack ack;
    Status s = submitter_->Submit(r, &ack);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return ack.referral_id();
  }

  // What the router appends: the referral's keyed subject hash.
  void Index(const std::string& id, const std::string& subject_key) {
    v1::Event e;
    e.mutable_subject_indexed()->set_referral_id(id);
    e.mutable_subject_indexed()->set_subject_key(subject_key);
    v1::Ack ack;
    Status s = router_->Append(e, "subject:" + id, &ack);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  std::vector<v1::Event> ReadAll() {
    std::vector<v1::Event> events;
    v1::ReadRequest read;
    read.set_purpose("retention test");
    Status s = auditor_->Read(read, [&](const v1::Event& e, const std::string&, const std::string&) {
      events.push_back(e);
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return events;
  }

  // The referrals a subject search finds.
  int Found(const std::string& subject_key) {
    v1::Frame request, reply;
    request.mutable_query()->set_subject_key(subject_key);
    request.mutable_query()->set_purpose("retention test: subject access");
    Status s = auditor_->Call(request, &reply);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(reply.has_query_result()) << reply.DebugString();
    return reply.query_result().referrals_size();
  }

  // One answered heartbeat: the broker's loop has turned at least once
  // since the call began.
  void Turn() {
    v1::Frame ping, pong;
    ping.mutable_heartbeat();
    ASSERT_TRUE(auditor_->Call(ping, &pong).ok());
  }

  // Moves the broker's date on; once two heartbeats are answered a whole
  // turn began after the move (one slice of the sweep: these logs fit one).
  void MoveTo(int64_t days) {
    today_ = days;
    Turn();
    Turn();
  }

  // The wrapped key stored under `name` in data_keys ("" when none).
  std::string Wrapped(const std::string& name) { return StoredWrappedKey(stack_.data_dir(), name); }

  TestStack stack_;
  std::atomic<int64_t> today_;
  std::unique_ptr<InProcessBroker> broker_;
  std::unique_ptr<BrokerClient> submitter_, auditor_, router_, admin_;
};

std::string RandomSubjectKey() {
  std::string bytes(32, '\0');
  randombytes_buf(bytes.data(), bytes.size());
  return ToHex(bytes);
}

TEST_F(HistoryRetentionTest, SubjectHashOutlivesAnErasureUntilRoutingHistoryEndsThenLeavesNoFile) {
  const std::string a = Submit("HIST-A", "Zebhistorix");
  const std::string b = Submit("HIST-B", "Keptrecordia");
  const std::string key_a = RandomSubjectKey(), key_b = RandomSubjectKey();
  Index(a, key_a);
  Index(b, key_b);
  const std::string wrapped_a = Wrapped(eventlog::HistoryKeyId(a));
  const std::string wrapped_b = Wrapped(eventlog::HistoryKeyId(b));
  ASSERT_EQ(wrapped_a.size(), 72u);
  ASSERT_EQ(wrapped_b.size(), 72u);
  // Before: the index holds A's hash and data_keys its wrapped history key
  // (so finding neither afterwards means something).
  EXPECT_NE(FilesHolding(stack_.data_dir(), key_a), "");
  EXPECT_NE(FilesHolding(stack_.data_dir(), wrapped_a), "");
  EXPECT_EQ(Found(key_b), 1);

  // A is erased on request (overriding its six months): its data key goes,
  // its history key stays, as the routing history's three months say.
  v1::Frame request, reply;
  request.mutable_erase()->set_referral_id(a);
  request.mutable_erase()->set_reason("referral made in error");
  request.mutable_erase()->set_override_retention(true);
  ASSERT_TRUE(admin_->Call(request, &reply).ok());
  ASSERT_TRUE(reply.has_erase_result()) << reply.DebugString();
  auto subject_of = [](const std::vector<v1::Event>& events, const std::string& id) {
    for (const auto& e : events) {
      if (e.has_subject_indexed() && e.subject_indexed().referral_id() == id) return e;
    }
    return v1::Event();
  };
  auto history_erasures = [](const std::vector<v1::Event>& events) {
    std::vector<v1::Event> out;
    for (const auto& e : events) {
      if (e.has_subject_erased() && e.subject_erased().history_key()) out.push_back(e);
    }
    return out;
  };
  std::vector<v1::Event> events = ReadAll();
  EXPECT_EQ(subject_of(events, a).subject_indexed().subject_key(), key_a);
  EXPECT_TRUE(history_erasures(events).empty());
  EXPECT_EQ(Wrapped(eventlog::HistoryKeyId(a)), wrapped_a);

  // Two months on: the routing history is still kept.
  MoveTo(TodayUtc().ToDays() + 62);
  EXPECT_TRUE(history_erasures(ReadAll()).empty());

  // Four months on: ROUTING_HISTORY has ended for both; B's record (six
  // months) is kept, but its hash goes too.
  MoveTo(TodayUtc().ToDays() + 124);
  events = ReadAll();
  const auto erased = history_erasures(events);
  ASSERT_EQ(erased.size(), 2u);
  for (const auto& e : erased) {
    EXPECT_EQ(e.subject_erased().rule(), "ROUTING_HISTORY");
    EXPECT_EQ(e.actor(), "refx-broker");
    EXPECT_NE(e.subject_erased().reason().find("retention period ROUTING_HISTORY (3 months"), std::string::npos)
        << e.subject_erased().reason();
  }
  for (const std::string& id : {a, b}) {
    const v1::Event indexed = subject_of(events, id);
    EXPECT_TRUE(indexed.erased()) << id;
    EXPECT_TRUE(indexed.subject_indexed().subject_key().empty()) << id;
  }
  for (const auto& e : events) {
    if (e.has_referral_submitted() && e.referral_submitted().referral_id() == b) {
      EXPECT_FALSE(e.erased());
      EXPECT_EQ(e.referral_submitted().referral().person().given_name(), "Keptrecordia");
    }
  }
  EXPECT_EQ(Found(key_b), 0);

  // Raw files, while the broker runs and after it stops: neither A's hash
  // (never searched for: a search's record keeps the hash searched for, see
  // docs/SECURITY.md) nor either wrapped history key, nor A's name.
  for (int pass = 0; pass < 2; ++pass) {
    EXPECT_EQ(FilesHolding(stack_.data_dir(), key_a), "") << "pass " << pass;
    EXPECT_EQ(FilesHolding(stack_.data_dir(), wrapped_a), "") << "pass " << pass;
    EXPECT_EQ(FilesHolding(stack_.data_dir(), wrapped_b), "") << "pass " << pass;
    EXPECT_EQ(FilesHolding(stack_.data_dir(), "Zebhistorix"), "") << "pass " << pass;
    if (pass == 0) broker_.reset();
  }
  // The chain and the signed checkpoints verify over what is stored.
  ExpectLogAndCheckpointsVerify(stack_);

  // The monitoring report counts them under their rule.
  outcomes::ReportOptions options;
  options.from = CivilDate::FromDays(TodayUtc().ToDays() - 1);
  options.to = CivilDate::FromDays(TodayUtc().ToDays() + 1);
  outcomes::MonitoringReport monitoring(options);
  for (const auto& e : events) monitoring.Add(e);
  std::map<std::string, uint64_t> by_rule;
  const v1::MonitoringFigures figures = monitoring.Figures();
  for (const auto& row : figures.erased_by_rule()) by_rule[row.key()] = row.count();
  EXPECT_EQ(by_rule["ROUTING_HISTORY"], 2u);
  EXPECT_EQ(by_rule["ON_REQUEST"], 1u);
}

// The sweep (issue 13 item 3) is incremental: a slice of referrals per loop
// turn, so the broker answers requests while a sweep over many referrals is
// in progress. The test holds the sweep after its first slice (the gate),
// so the submission is taken while the sweep is observed in progress, and
// its seq falls between the sweep's erasures.
TEST(RetentionSweepTest, RequestsAreAnsweredWhileASweepOverManyReferralsIsInProgress) {
  TestStack stack({{"agency-a", {"SUBMITTER"}, {}}, {"lead-a", {"LEAD"}, {}}, {"auditor", {"AUDITOR"}, {}}}, "",
                  kConfig);
  constexpr size_t kReferrals = 40, kSlice = 3;
  std::atomic<int64_t> today(TodayUtc().ToDays());
  std::atomic<bool> asked(false), release(false);
  InProcessBroker broker(stack, &today, [&](broker::BrokerOptions* o) {
    o->retention_slice = kSlice;
    o->retention_slice_gate = [&] {
      asked = true;
      return release.load();
    };
  });
  auto client = [&](const std::string& agency) {
    ClientOptions options = stack.ClientOptionsFor(agency);
    options.endpoint = broker.endpoint();
    return std::make_unique<BrokerClient>(options);
  };
  auto submitter = client("agency-a");
  auto auditor = client("auditor");
  std::vector<v1::Referral> batch;
  for (size_t i = 0; i < kReferrals; ++i) batch.push_back(SampleReferral("agency-a", "SWEEP-" + std::to_string(i)));
  for (const auto& r : batch) {
    v1::Ack ack;
    ASSERT_TRUE(submitter->Submit(r, &ack).ok());
  }
  auto turn = [&]() {
    v1::Frame ping, pong;
    ping.mutable_heartbeat();
    ASSERT_TRUE(auditor->Call(ping, &pong).ok());
  };
  auto erasure_seqs = [&]() {
    std::vector<uint64_t> seqs;
    v1::ReadRequest read;
    read.set_purpose("retention sweep test");
    EXPECT_TRUE(auditor->Read(read, [&](const v1::Event& e, const std::string&, const std::string&) {
      if (e.has_subject_erased()) seqs.push_back(e.seq());
      return true;
    }).ok());
    return seqs;
  };

  // Three months on: every referral's period has ended. The sweep's first
  // slice runs; the gate then holds the rest.
  today = TodayUtc().ToDays() + 92;
  for (int i = 0; i < 1000 && !asked.load(); ++i) turn();
  ASSERT_TRUE(asked.load());
  EXPECT_EQ(erasure_seqs().size(), kSlice);  // in progress: one slice done

  v1::Ack ack;
  ASSERT_TRUE(submitter->Submit(SampleReferral("agency-a", "DURING-THE-SWEEP"), &ack).ok());
  EXPECT_FALSE(ack.duplicate());

  release = true;
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 1000; ++i) {
    turn();
    seqs = erasure_seqs();
    if (seqs.size() > kReferrals) break;
  }
  // Every referral erased once (the one submitted during the sweep too: its
  // period has also ended by the moved date), in slices around it.
  ASSERT_EQ(seqs.size(), kReferrals + 1);
  EXPECT_EQ(std::count_if(seqs.begin(), seqs.end(), [&](uint64_t s) { return s < ack.seq(); }),
            static_cast<long>(kSlice));
  EXPECT_GT(seqs.back(), ack.seq());
}

}  // namespace
}  // namespace refx::testing
