// The case fold and the deadline watch over hand-built event sequences:
// which cases are due for a breach and an escalation, and when not.
#include "services/outcomes/deadline_watch.h"

#include <gtest/gtest.h>

#include "event_builder.h"
#include "domain/monitoring/case_fold.h"

namespace refx::outcomes {
namespace {

using testing::EventLogBuilder;

struct Folded {
  CaseFold fold;
  DeadlineWatch watch{"refx-outcomes", "TRIAGE"};
  void Apply(const std::vector<v1::Event>& events) {
    for (const v1::Event& e : events) {
      if (const CaseView* c = fold.Apply(e)) watch.Update(*c);
      if (e.has_referral_withdrawn()) {
        for (const CaseView* c : fold.CasesOf(e.referral_withdrawn().referral_id())) watch.Update(*c);
      }
    }
  }
};

TEST(CaseFoldTest, FollowsTheLifecycle) {
  EventLogBuilder b;
  const std::string r = b.Submit("2026-03-02T09:00:00Z", "agency-a", "Alex", "Example", "1990-04-01");
  b.Route("2026-03-02T09:00:01Z", r, "IDVA", "2026-03-03T17:00:00Z");
  b.Deliver("2026-03-02T09:00:02Z", r, "IDVA");
  b.Deliver("2026-03-02T09:05:02Z", r, "IDVA", 2);
  b.Acknowledge("2026-03-02T11:00:02Z", r, "IDVA");
  CaseFold fold;
  for (const auto& e : b.events()) fold.Apply(e);
  const CaseView* c = fold.Find(r, "IDVA");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->state, v1::ACKNOWLEDGED);
  EXPECT_EQ(c->deadline, EventLogBuilder::Micros("2026-03-03T17:00:00Z"));
  EXPECT_EQ(c->first_delivered_at, EventLogBuilder::Micros("2026-03-02T09:00:02Z"));
  EXPECT_EQ(c->acknowledged_at, EventLogBuilder::Micros("2026-03-02T11:00:02Z"));
  EXPECT_EQ(fold.last_seq(), 5u);
  EXPECT_EQ(fold.Find(r, "DA_MARAC"), nullptr);
}

TEST(CaseFoldTest, WithdrawalWithdrawsOpenCasesOnly) {
  EventLogBuilder b;
  const std::string r = b.Submit("2026-03-02T09:00:00Z", "agency-a", "Alex", "Example", "1990-04-01");
  b.Route("2026-03-02T09:00:01Z", r, "IDVA", "2026-03-03T17:00:00Z");
  b.Route("2026-03-02T09:00:01Z", r, "CSU", "2026-03-03T17:00:00Z");
  b.Deliver("2026-03-02T09:00:02Z", r, "CSU");
  b.Acknowledge("2026-03-02T09:10:00Z", r, "CSU");
  b.Decline("2026-03-02T09:20:00Z", r, "CSU", "not for us");
  b.Withdraw("2026-03-02T10:00:00Z", r, "agency-a");
  CaseFold fold;
  for (const auto& e : b.events()) fold.Apply(e);
  EXPECT_EQ(fold.Find(r, "IDVA")->state, v1::WITHDRAWN);
  EXPECT_EQ(fold.Find(r, "CSU")->state, v1::DECLINED);
  ASSERT_EQ(fold.CasesOf(r).size(), 2u);
  EXPECT_EQ(fold.CasesOf(r)[0]->destination, "IDVA");
  EXPECT_TRUE(fold.CasesOf("R-0000000099").empty());
}

TEST(DeadlineWatchTest, BreachThenEscalateOnceTheDeadlinePasses) {
  EventLogBuilder b;
  const std::string r = b.Submit("2026-03-02T09:00:00Z", "agency-a", "Alex", "Example", "1990-04-01");
  b.Route("2026-03-02T09:00:01Z", r, "IDVA", "2026-03-03T17:00:00Z");
  b.Deliver("2026-03-02T09:00:02Z", r, "IDVA");
  Folded f;
  f.Apply(b.events());
  EXPECT_TRUE(f.watch.Due(EventLogBuilder::Micros("2026-03-03T17:00:00Z")).empty()) << "not before it passes";

  auto due = f.watch.Due(EventLogBuilder::Micros("2026-03-03T17:00:01Z"));
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].kind, DeadlineAction::Kind::kBreach);
  EXPECT_EQ(due[0].idempotency_key, "breach:" + r + ":IDVA:acknowledge");
  EXPECT_EQ(due[0].event.deadline_breached().deadline_kind(), "acknowledge");
  EXPECT_EQ(due[0].event.deadline_breached().deadline().seconds(),
            EventLogBuilder::T("2026-03-03T17:00:00Z").seconds());
  EXPECT_EQ(due[1].kind, DeadlineAction::Kind::kEscalate);
  EXPECT_EQ(due[1].idempotency_key, "escalate-breach:" + r + ":IDVA");
  EXPECT_EQ(due[1].event.case_escalated().escalated_to(), "TRIAGE");
  EXPECT_NE(due[1].event.case_escalated().reason().find("2026-03-03T17:00:00Z"), std::string::npos);

  f.watch.Done(due[0]);
  f.watch.Done(due[1]);
  EXPECT_TRUE(f.watch.Due(EventLogBuilder::Micros("2026-03-09T00:00:00Z")).empty());
  EXPECT_EQ(f.watch.watching(), 0u);
}

TEST(DeadlineWatchTest, AcknowledgedOrClosedCasesAreNeverDue) {
  EventLogBuilder b;
  const std::string acked = b.Submit("2026-03-02T09:00:00Z", "agency-a", "Alex", "Example", "1990-04-01");
  b.Route("2026-03-02T09:00:01Z", acked, "IDVA", "2026-03-03T17:00:00Z");
  b.Deliver("2026-03-02T09:00:02Z", acked, "IDVA");
  b.Acknowledge("2026-03-02T10:00:00Z", acked, "IDVA");
  const std::string withdrawn = b.Submit("2026-03-02T09:00:00Z", "agency-a", "Jo", "Sample", "1985-01-01");
  b.Route("2026-03-02T09:00:01Z", withdrawn, "IDVA", "2026-03-03T17:00:00Z");
  b.Withdraw("2026-03-02T09:30:00Z", withdrawn, "agency-a");
  const std::string no_deadline = b.Submit("2026-03-02T09:00:00Z", "agency-a", "Sam", "Test", "1970-01-01");
  b.Route("2026-03-02T09:00:01Z", no_deadline, "IDVA", "");
  Folded f;
  f.Apply(b.events());
  EXPECT_TRUE(f.watch.Due(EventLogBuilder::Micros("2027-01-01T00:00:00Z")).empty());
  EXPECT_EQ(f.watch.watching(), 0u);
}

TEST(DeadlineWatchTest, ARecordedBreachLeavesOnlyTheEscalation) {
  // As after a crash between the two appends: the breach is in the log.
  EventLogBuilder b;
  const std::string r = b.Submit("2026-03-02T09:00:00Z", "agency-a", "Alex", "Example", "1990-04-01");
  b.Route("2026-03-02T09:00:01Z", r, "IDVA", "2026-03-03T17:00:00Z");
  b.Deliver("2026-03-02T09:00:02Z", r, "IDVA");
  b.Breach("2026-03-03T17:00:02Z", r, "IDVA", "2026-03-03T17:00:00Z");
  Folded f;
  f.Apply(b.events());
  auto due = f.watch.Due(EventLogBuilder::Micros("2026-03-04T00:00:00Z"));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].kind, DeadlineAction::Kind::kEscalate);

  // Another identity's escalation (e.g. delivery's undeliverable notice) does not count.
  b.Escalate("2026-03-03T18:00:00Z", r, "IDVA", "TRIAGE", "refx-delivery");
  Folded g;
  g.Apply(b.events());
  EXPECT_EQ(g.watch.Due(EventLogBuilder::Micros("2026-03-04T00:00:00Z")).size(), 1u);

  // Ours does.
  b.Escalate("2026-03-03T18:00:01Z", r, "IDVA", "TRIAGE");
  Folded h;
  h.Apply(b.events());
  EXPECT_TRUE(h.watch.Due(EventLogBuilder::Micros("2026-03-04T00:00:00Z")).empty());
}

TEST(DeadlineWatchTest, OldestDeadlineFirstAndNoEscalationWithoutADestination) {
  EventLogBuilder b;
  const std::string late = b.Submit("2026-03-02T09:00:00Z", "agency-a", "Alex", "Example", "1990-04-01");
  b.Route("2026-03-02T09:00:01Z", late, "IDVA", "2026-03-05T17:00:00Z");
  const std::string early = b.Submit("2026-03-02T09:00:00Z", "agency-a", "Jo", "Sample", "1985-01-01");
  b.Route("2026-03-02T09:00:01Z", early, "IDVA", "2026-03-03T17:00:00Z");
  CaseFold fold;
  DeadlineWatch watch("refx-outcomes", "");
  for (const auto& e : b.events()) {
    if (const CaseView* c = fold.Apply(e)) watch.Update(*c);
  }
  auto due = watch.Due(EventLogBuilder::Micros("2026-03-06T00:00:00Z"));
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].referral_id, early);
  EXPECT_EQ(due[1].referral_id, late);
  EXPECT_EQ(due[0].kind, DeadlineAction::Kind::kBreach);
  EXPECT_EQ(due[1].kind, DeadlineAction::Kind::kBreach);
}

TEST(DeadlineWatchTest, AnAcknowledgementAfterTheDeadlineStopsTheWatch) {
  EventLogBuilder b;
  const std::string r = b.Submit("2026-03-02T09:00:00Z", "agency-a", "Alex", "Example", "1990-04-01");
  b.Route("2026-03-02T09:00:01Z", r, "IDVA", "2026-03-03T17:00:00Z");
  b.Deliver("2026-03-02T09:00:02Z", r, "IDVA");
  b.Acknowledge("2026-03-04T09:00:00Z", r, "IDVA");
  Folded f;
  f.Apply(b.events());
  EXPECT_TRUE(f.watch.Due(EventLogBuilder::Micros("2026-03-05T00:00:00Z")).empty());
}

}  // namespace
}  // namespace refx::outcomes
