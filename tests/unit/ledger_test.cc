// Unit tests for refx::broker::Ledger, the broker's decisions without
// sockets: submissions, duplicates and idempotency conflicts, lifecycle
// transitions, the disclosed view of a delivery, and state lookups across
// the batch being built, the batch in flight and the log. A real EventLog
// (RocksDB) in a temporary directory; the tests play the broker's loop:
// BeginCommit, write the in-flight batch, CommitSucceeded/CommitFailed.

#include "broker/ledger.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "client/curve_keygen.h"
#include "core/curve_keys.h"
#include "core/event_util.h"
#include "core/partnership_config.h"
#include "eventlog/event_log.h"
#include "test_stack.h"  // SampleReferral (nothing of the stack is started)

namespace refx::broker {
namespace {

using refx::testing::SampleReferral;
using refx::testing::TempDir;

constexpr char kDestinations[] = R"(
destinations { code: "DEST_A" name: "A panel" agency_id: "lead-a" need_to_know: [SUBJECT_IDENTITY, ASSESSMENT] purpose: "risk panel" }
destinations { code: "DEST_B" name: "B service" agency_id: "lead-b" need_to_know: [SUBJECT_IDENTITY, SUBJECT_CONTACT] purpose: "support" }
)";

const CivilDate kToday{2026, 12, 4};

std::unique_ptr<PartnershipConfig> TestConfig() {
  std::string text = "name: \"Test partnership\"\nbroker { max_batch: 1024 }\n";
  const std::vector<std::pair<std::string, std::string>> agencies = {
      {"agency-a", "SUBMITTER"}, {"agency-b", "SUBMITTER"}, {"lead-a", "LEAD"},
      {"lead-b", "LEAD"},        {"router", "SERVICE"},     {"auditor", "AUDITOR"}};
  for (const auto& [id, role] : agencies) {
    CurveKeyPair pair;
    if (!GenerateCurveKeyPair(&pair).ok()) return nullptr;
    text += "agencies { id: \"" + id + "\" name: \"" + id + "\" public_key: \"" + pair.public_key + "\" roles: [" +
            role + "] }\n";
  }
  text += kDestinations;
  std::unique_ptr<PartnershipConfig> config;
  Status s = PartnershipConfig::Parse(text, "test", "/", &config);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return config;
}

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = TestConfig();
    ASSERT_NE(config_, nullptr);
    eventlog::OpenOptions options;
    options.path = dir_.path() + "/log";
    Status s = eventlog::EventLog::Open(options, &log_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ledger_ = std::make_unique<Ledger>(config_.get(), log_.get());
  }

  const v1::Agency& Agency(const std::string& id) { return *config_->AgencyById(id); }

  Staged Submit(const std::string& agency, const std::string& reference) {
    v1::Referral referral = SampleReferral(agency, reference);
    return ledger_->TakeReferral(Agency(agency), &referral, kToday);
  }

  Staged Append(const std::string& actor, const v1::Event& event, const std::string& key = "") {
    v1::AppendRequest request;
    *request.mutable_event() = event;
    request.set_idempotency_key(key);
    return ledger_->Append(Agency(actor), request);
  }

  static v1::Event Routed(const std::string& referral_id, const std::string& dest) {
    v1::Event e;
    auto* r = e.mutable_case_routed();
    r->set_referral_id(referral_id);
    r->set_destination(dest);
    r->set_rule_id("TEST_RULE");
    r->set_reason("test reason");
    return e;
  }
  static v1::Event Delivered(const std::string& referral_id, const std::string& dest) {
    v1::Event e;
    e.mutable_case_delivered()->set_referral_id(referral_id);
    e.mutable_case_delivered()->set_destination(dest);
    return e;
  }

  // Plays the broker's loop for one group commit: the built batch goes in
  // flight, is written to the log and reported durable.
  void CommitBuilt() {
    ASSERT_TRUE(ledger_->BeginCommit());
    WriteInFlight();
  }
  void WriteInFlight() {
    Status s = log_->AppendBatch(ledger_->in_flight().events);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ledger_->CommitSucceeded();
  }

  TempDir dir_;
  std::unique_ptr<PartnershipConfig> config_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<Ledger> ledger_;
};

TEST_F(LedgerTest, NewReferralIsStagedInTheBatchBeingBuilt) {
  Staged taken = Submit("agency-a", "REF-1");
  ASSERT_TRUE(taken.status.ok()) << taken.status.ToString();
  EXPECT_FALSE(taken.duplicate);
  EXPECT_EQ(taken.seq, 1u);
  EXPECT_EQ(taken.referral_id, ReferralIdForSeq(1));
  EXPECT_EQ(taken.wait_list, &ledger_->building().waiters);
  EXPECT_EQ(taken.pending_index, 0u);
  ASSERT_EQ(ledger_->building().events.size(), 1u);
  const v1::Event& event = ledger_->building().events[0].event;
  EXPECT_EQ(event.actor(), "agency-a");
  EXPECT_EQ(event.referral_submitted().referral().referrer_reference(), "REF-1");
  EXPECT_EQ(ledger_->NextSeq(), 2u);
  EXPECT_EQ(log_->head_seq(), 0u);  // the ledger never writes
}

TEST_F(LedgerTest, RefusalsStageNothing) {
  v1::Referral invalid = SampleReferral("agency-a", "REF-1");
  invalid.clear_referrer_reference();
  EXPECT_EQ(ledger_->TakeReferral(Agency("agency-a"), &invalid, kToday).status.code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(Submit("agency-b", "REF-1").status.ok());
  // Submitting in another agency's name.
  v1::Referral as_b = SampleReferral("agency-b", "REF-2");
  EXPECT_EQ(ledger_->TakeReferral(Agency("agency-a"), &as_b, kToday).status.code(),
            Status::Code::kPermissionDenied);
  EXPECT_EQ(ledger_->building().events.size(), 1u);
  EXPECT_EQ(ledger_->NextSeq(), 2u);
}

TEST_F(LedgerTest, RepeatedReferralWaitsForTheFirstWhereverItIs) {
  ASSERT_TRUE(Submit("agency-a", "REF-1").status.ok());
  // In the batch being built.
  Staged again = Submit("agency-a", "REF-1");
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.seq, 1u);
  EXPECT_EQ(again.wait_list, &ledger_->building().waiters);
  EXPECT_EQ(ledger_->building().events.size(), 1u);
  // In the batch in flight.
  ASSERT_TRUE(ledger_->BeginCommit());
  again = Submit("agency-a", "REF-1");
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.wait_list, &ledger_->in_flight().waiters);
  EXPECT_TRUE(ledger_->building().events.empty());
  // In the log: durable already, nothing to wait for.
  WriteInFlight();
  again = Submit("agency-a", "REF-1");
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.seq, 1u);
  EXPECT_EQ(again.referral_id, ReferralIdForSeq(1));
  EXPECT_EQ(again.wait_list, nullptr);
  EXPECT_TRUE(ledger_->building().events.empty());
  // The same reference from another agency is another referral.
  Staged other = Submit("agency-b", "REF-1");
  ASSERT_TRUE(other.status.ok());
  EXPECT_FALSE(other.duplicate);
  EXPECT_EQ(other.seq, 2u);
}

TEST_F(LedgerTest, DifferentReferralUnderAUsedReferenceIsAConflictEverywhere) {
  auto different = [this] {
    v1::Referral r = SampleReferral("agency-a", "REF-1");
    r.set_narrative("Another synthetic narrative.");
    return ledger_->TakeReferral(Agency("agency-a"), &r, kToday);
  };
  ASSERT_TRUE(Submit("agency-a", "REF-1").status.ok());
  Staged refused = different();
  EXPECT_EQ(refused.status.code(), Status::Code::kIdempotencyConflict);
  EXPECT_EQ(refused.status.field_path(), "referral.referrer_reference");
  EXPECT_FALSE(refused.state_unreadable);
  ASSERT_TRUE(ledger_->BeginCommit());
  EXPECT_EQ(different().status.code(), Status::Code::kIdempotencyConflict);
  WriteInFlight();
  EXPECT_EQ(different().status.code(), Status::Code::kIdempotencyConflict);
  EXPECT_TRUE(ledger_->building().events.empty());
  EXPECT_EQ(ledger_->NextSeq(), 2u);
}

TEST_F(LedgerTest, IllegalTransitionsAreRefusedAndStageNothing) {
  const std::string id = Submit("agency-a", "REF-1").referral_id;
  // Only a SERVICE routes.
  EXPECT_EQ(Append("lead-a", Routed(id, "DEST_A")).status.code(), Status::Code::kPermissionDenied);
  ASSERT_TRUE(Append("router", Routed(id, "DEST_A")).status.ok());
  // Routed twice, and accepted before it was delivered and acknowledged.
  EXPECT_EQ(Append("router", Routed(id, "DEST_A")).status.code(), Status::Code::kIllegalTransition);
  v1::Event accepted;
  accepted.mutable_case_accepted()->set_referral_id(id);
  accepted.mutable_case_accepted()->set_destination("DEST_A");
  EXPECT_EQ(Append("lead-a", accepted).status.code(), Status::Code::kIllegalTransition);
  // An unknown referral.
  EXPECT_EQ(Append("router", Routed(ReferralIdForSeq(99), "DEST_A")).status.code(), Status::Code::kNotFound);
  EXPECT_EQ(ledger_->building().events.size(), 2u);
  EXPECT_EQ(ledger_->NextSeq(), 3u);
}

TEST_F(LedgerTest, SystemReceiptsOnlyFromTheOwnerForADeliveredAttemptAndChangeNothing) {
  const std::string id = Submit("agency-a", "REF-1").referral_id;
  ASSERT_TRUE(Append("router", Routed(id, "DEST_A")).status.ok());
  v1::Event received;
  auto* r = received.mutable_case_received_by_system();
  r->set_referral_id(id);
  r->set_destination("DEST_A");
  r->set_attempt(1);
  r->set_receiver("case-system");
  r->set_http_status(200);
  v1::Event failed;
  auto* f = failed.mutable_case_transfer_failed();
  f->set_referral_id(id);
  f->set_destination("DEST_A");
  f->set_attempt(1);
  f->set_receiver("case-system");
  f->set_reason("HTTP 500");
  f->set_tries(5);
  // Not yet delivered: attempt 1 does not exist.
  EXPECT_EQ(Append("lead-a", received, "rx-1").status.code(), Status::Code::kIllegalTransition);
  EXPECT_EQ(Append("lead-a", failed, "tf-1").status.code(), Status::Code::kIllegalTransition);
  ASSERT_TRUE(Append("router", Delivered(id, "DEST_A")).status.ok());
  v1::CaseRecord before;
  ASSERT_TRUE(ledger_->LoadCase(id, "DEST_A", &before).ok());
  const size_t staged_before = ledger_->building().events.size();

  // Another agency, a service, no key, no receiver, no reason, a later attempt.
  EXPECT_EQ(Append("lead-b", received, "rx-1").status.code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(Append("router", received, "rx-1").status.code(), Status::Code::kPermissionDenied);
  Staged no_key = Append("lead-a", received);
  EXPECT_EQ(no_key.status.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(no_key.status.field_path(), "append.idempotency_key");
  v1::Event nameless = received;
  nameless.mutable_case_received_by_system()->clear_receiver();
  EXPECT_EQ(Append("lead-a", nameless, "rx-x").status.field_path(), "append.event.case_received_by_system.receiver");
  v1::Event unexplained = failed;
  unexplained.mutable_case_transfer_failed()->clear_reason();
  EXPECT_EQ(Append("lead-a", unexplained, "tf-x").status.field_path(), "append.event.case_transfer_failed.reason");
  v1::Event later = received;
  later.mutable_case_received_by_system()->set_attempt(2);
  EXPECT_EQ(Append("lead-a", later, "rx-2").status.code(), Status::Code::kIllegalTransition);
  EXPECT_EQ(ledger_->building().events.size(), staged_before) << "refusals stage nothing";

  Staged ok = Append("lead-a", failed, "tf-1");
  ASSERT_TRUE(ok.status.ok()) << ok.status.ToString();
  ok = Append("lead-a", received, "rx-1");
  ASSERT_TRUE(ok.status.ok()) << ok.status.ToString();
  CommitBuilt();
  Staged again = Append("lead-a", received, "rx-1");
  ASSERT_TRUE(again.status.ok());
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.seq, ok.seq);
  v1::CaseRecord after;
  ASSERT_TRUE(ledger_->LoadCase(id, "DEST_A", &after).ok());
  EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString()) << "state and version unchanged";
  EXPECT_EQ(after.state(), v1::DELIVERED);

  // A fact about a delivery made: still recorded after the lead acknowledged.
  v1::Event ack;
  ack.mutable_case_acknowledged()->set_referral_id(id);
  ack.mutable_case_acknowledged()->set_destination("DEST_A");
  ASSERT_TRUE(Append("lead-a", ack).status.ok());
  v1::Event second = received;
  second.mutable_case_received_by_system()->set_receiver("second-system");
  EXPECT_TRUE(Append("lead-a", second, "rx-1-second").status.ok());
  ASSERT_TRUE(ledger_->LoadCase(id, "DEST_A", &after).ok());
  EXPECT_EQ(after.state(), v1::ACKNOWLEDGED);
}

TEST_F(LedgerTest, AppendIdempotencyKeyDedupesAndRefusesADifferentEvent) {
  const std::string id = Submit("agency-a", "REF-1").referral_id;
  Staged first = Append("router", Routed(id, "DEST_A"), "route-1");
  ASSERT_TRUE(first.status.ok()) << first.status.ToString();
  EXPECT_EQ(first.seq, 2u);
  Staged again = Append("router", Routed(id, "DEST_A"), "route-1");
  ASSERT_TRUE(again.status.ok());
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.wait_list, &ledger_->building().waiters);
  EXPECT_EQ(again.pending_index, 1u);
  EXPECT_EQ(Append("router", Routed(id, "DEST_B"), "route-1").status.code(), Status::Code::kIdempotencyConflict);
  CommitBuilt();
  again = Append("router", Routed(id, "DEST_A"), "route-1");
  ASSERT_TRUE(again.status.ok());
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.seq, 2u);
  EXPECT_EQ(again.referral_id, id);
  EXPECT_EQ(again.wait_list, nullptr);
  Staged conflict = Append("router", Routed(id, "DEST_B"), "route-1");
  EXPECT_EQ(conflict.status.code(), Status::Code::kIdempotencyConflict);
  EXPECT_EQ(conflict.status.field_path(), "append.idempotency_key");
  EXPECT_TRUE(ledger_->building().events.empty());
}

TEST_F(LedgerTest, LookupsSeeTheBuiltBatchThenTheOneInFlightThenTheLog) {
  const std::string id = Submit("agency-a", "REF-1").referral_id;
  ASSERT_TRUE(Append("router", Routed(id, "DEST_A")).status.ok());
  v1::ReferralRecord referral;
  v1::CaseRecord c;
  v1::Referral submitted;
  auto expect_all = [&](const char* where, v1::CaseState state) {
    SCOPED_TRACE(where);
    ASSERT_TRUE(ledger_->LoadReferral(id, &referral).ok());
    EXPECT_EQ(referral.submitter(), "agency-a");
    ASSERT_EQ(referral.destinations_size(), 1);
    ASSERT_TRUE(ledger_->LoadCase(id, "DEST_A", &c).ok());
    EXPECT_EQ(c.state(), state);
    ASSERT_TRUE(ledger_->LoadSubmission(id, &submitted).ok());
    EXPECT_EQ(submitted.referrer_reference(), "REF-1");
    EXPECT_EQ(ledger_->LoadCase(id, "DEST_B", &c).code(), Status::Code::kNotFound);
    EXPECT_EQ(ledger_->LoadReferral(ReferralIdForSeq(99), &referral).code(), Status::Code::kNotFound);
    EXPECT_EQ(ledger_->LoadSubmission(ReferralIdForSeq(99), &submitted).code(), Status::Code::kNotFound);
    // The routed event is not a submission.
    EXPECT_EQ(ledger_->LoadSubmission(ReferralIdForSeq(2), &submitted).code(), Status::Code::kNotFound);
  };
  expect_all("building", v1::ROUTED);
  ASSERT_TRUE(ledger_->BeginCommit());
  EXPECT_FALSE(ledger_->BeginCommit());  // one batch in flight at a time
  expect_all("in flight", v1::ROUTED);
  // A transition checked against the in-flight state, staged in the new batch.
  ASSERT_TRUE(Append("router", Delivered(id, "DEST_A")).status.ok());
  ASSERT_TRUE(ledger_->LoadCase(id, "DEST_A", &c).ok());
  EXPECT_EQ(c.state(), v1::DELIVERED);
  WriteInFlight();
  EXPECT_EQ(ledger_->committed_head(), 2u);
  CommitBuilt();
  EXPECT_EQ(log_->head_seq(), 3u);
  expect_all("log", v1::DELIVERED);
  EXPECT_EQ(ledger_->NextSeq(), 4u);
}

TEST_F(LedgerTest, DeliveryCarriesOnlyWhatTheDestinationNeedsToKnow) {
  const std::string id = Submit("agency-a", "REF-1").referral_id;
  ASSERT_TRUE(Append("router", Routed(id, "DEST_A")).status.ok());
  // The service asks to disclose more than DEST_A needs; the ledger decides.
  v1::Event greedy = Delivered(id, "DEST_A");
  greedy.mutable_case_delivered()->add_disclosed_groups(v1::SUBJECT_CONTACT);
  greedy.mutable_case_delivered()->mutable_view()->mutable_person()->set_address("leak");
  Staged staged = Append("router", greedy);
  ASSERT_TRUE(staged.status.ok()) << staged.status.ToString();
  const v1::CaseDelivered& delivered = ledger_->building().events[staged.pending_index].event.case_delivered();
  EXPECT_EQ(delivered.recipient_agency(), "lead-a");
  EXPECT_EQ(delivered.purpose(), "risk panel");
  EXPECT_EQ(delivered.rule_id(), "TEST_RULE");
  EXPECT_EQ(delivered.attempt(), 1u);
  std::vector<int> groups(delivered.disclosed_groups().begin(), delivered.disclosed_groups().end());
  EXPECT_EQ(groups, (std::vector<int>{v1::ENVELOPE, v1::SUBJECT_IDENTITY, v1::ASSESSMENT}));
  EXPECT_EQ(delivered.view().person().given_name(), "Alex");
  EXPECT_TRUE(delivered.view().person().address().empty());
  EXPECT_EQ(delivered.view().referrer_reference(), "REF-1");
}

TEST_F(LedgerTest, VisibilityFollowsOwnedDestinations) {
  const std::string id = Submit("agency-a", "REF-1").referral_id;
  ASSERT_TRUE(Append("router", Routed(id, "DEST_A")).status.ok());
  const v1::Event& submitted = ledger_->building().events[0].event;
  const v1::Event& routed = ledger_->building().events[1].event;
  EXPECT_TRUE(Ledger::MaySeeAll(Agency("router")));
  EXPECT_TRUE(Ledger::MaySeeAll(Agency("auditor")));
  EXPECT_FALSE(Ledger::MaySeeAll(Agency("lead-a")));
  EXPECT_TRUE(ledger_->Visible(Agency("lead-a"), routed));
  EXPECT_FALSE(ledger_->Visible(Agency("lead-b"), routed));
  EXPECT_FALSE(ledger_->Visible(Agency("lead-a"), submitted));
  v1::Event withdrawn;
  withdrawn.mutable_referral_withdrawn()->set_referral_id(id);
  EXPECT_TRUE(ledger_->Visible(Agency("lead-a"), withdrawn));
  EXPECT_FALSE(ledger_->Visible(Agency("lead-b"), withdrawn));
  EXPECT_EQ(ledger_->OwnedBy("lead-b"), (std::set<std::string>{"DEST_B"}));
  EXPECT_TRUE(ledger_->OwnedBy("nobody").empty());
}

TEST_F(LedgerTest, FailedCommitDropsBothBatchesAndTheirState) {
  const std::string id = Submit("agency-a", "REF-1").referral_id;
  ASSERT_TRUE(ledger_->BeginCommit());
  ASSERT_TRUE(Append("router", Routed(id, "DEST_A")).status.ok());
  auto [in_flight, built_on] = ledger_->CommitFailed();
  EXPECT_EQ(in_flight->events.size(), 1u);
  EXPECT_EQ(built_on->events.size(), 1u);
  EXPECT_FALSE(ledger_->in_flight_active());
  EXPECT_TRUE(ledger_->building().empty());
  EXPECT_EQ(ledger_->committed_head(), 0u);
  EXPECT_EQ(ledger_->NextSeq(), 1u);
  v1::ReferralRecord referral;
  EXPECT_EQ(ledger_->LoadReferral(id, &referral).code(), Status::Code::kNotFound);
  // The retry is new, not a duplicate of the lost one.
  Staged retry = Submit("agency-a", "REF-1");
  ASSERT_TRUE(retry.status.ok());
  EXPECT_FALSE(retry.duplicate);
  EXPECT_EQ(retry.seq, 1u);
}

TEST_F(LedgerTest, AuditAccessIsStagedWithTheNextSeq) {
  ASSERT_TRUE(Submit("agency-a", "REF-1").status.ok());
  EXPECT_EQ(ledger_->StageAccess(Agency("auditor"), "read seq 1..head", "case review", ""), 2u);
  const v1::Event& event = ledger_->building().events[1].event;
  EXPECT_EQ(event.actor(), "auditor");
  EXPECT_EQ(event.record_accessed().purpose(), "case review");
  EXPECT_EQ(event.record_accessed().referral_ids_size(), 0);
}

}  // namespace
}  // namespace refx::broker
