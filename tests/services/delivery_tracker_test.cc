// DeliveryTracker: what the delivery service does next for a case, from
// the events it has seen and the time. No sockets.
#include "services/delivery/delivery_tracker.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <random>
#include <set>

namespace refx {
namespace {

using Kind = DeliveryStep::Kind;
using std::chrono::seconds;

const TimePoint kT0 = TimePoint(seconds(1'800'000'000));

v1::DeliverySettings Settings(uint32_t interval = 300, uint32_t give_up = 86400, const std::string& to = "CSU_TRIAGE") {
  v1::DeliverySettings s;
  s.set_redelivery_interval_seconds(interval);
  s.set_undeliverable_after_seconds(give_up);
  s.set_escalate_to(to);
  return s;
}

v1::Event At(TimePoint t) {
  v1::Event e;
  *e.mutable_time() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
  return e;
}

v1::Event Routed(const std::string& dest, TimePoint t = kT0) {
  v1::Event e = At(t);
  e.mutable_case_routed()->set_referral_id("R-0000000001");
  e.mutable_case_routed()->set_destination(dest);
  return e;
}

v1::Event Delivered(uint32_t attempt, TimePoint t, const std::string& dest = "IDVA") {
  v1::Event e = At(t);
  e.mutable_case_delivered()->set_referral_id("R-0000000001");
  e.mutable_case_delivered()->set_destination(dest);
  e.mutable_case_delivered()->set_attempt(attempt);
  return e;
}

std::optional<DeliveryStep> Next(const DeliveryTracker& t, TimePoint now, const std::string& dest = "IDVA") {
  return t.NextStep("R-0000000001", dest, now);
}

TEST(DeliveryTrackerTest, DeliversARoutedCaseThenRedeliversEachInterval) {
  DeliveryTracker t(Settings());
  EXPECT_FALSE(Next(t, kT0)) << "unknown case";
  t.Apply(Routed("IDVA"));
  auto step = Next(t, kT0);
  ASSERT_TRUE(step);
  EXPECT_EQ(step->kind, Kind::kDeliver);
  EXPECT_EQ(step->attempt, 1u);
  t.Apply(Delivered(1, kT0));
  EXPECT_FALSE(Next(t, kT0 + seconds(299)));
  step = Next(t, kT0 + seconds(300));
  ASSERT_TRUE(step);
  EXPECT_EQ(step->kind, Kind::kDeliver);
  EXPECT_EQ(step->attempt, 2u);
  t.Apply(Delivered(2, kT0 + seconds(300)));
  EXPECT_FALSE(Next(t, kT0 + seconds(599)));
  EXPECT_EQ(Next(t, kT0 + seconds(600))->attempt, 3u);
  EXPECT_EQ(t.DueSteps(kT0 + seconds(600)).size(), 1u);
}

v1::Event Received(uint32_t attempt, TimePoint t, const std::string& dest = "IDVA") {
  v1::Event e = At(t);
  e.mutable_case_received_by_system()->set_referral_id("R-0000000001");
  e.mutable_case_received_by_system()->set_destination(dest);
  e.mutable_case_received_by_system()->set_attempt(attempt);
  e.mutable_case_received_by_system()->set_receiver("case-system");
  return e;
}

v1::Event TransferFailed(uint32_t attempt, TimePoint t, const std::string& reason = "HTTP 500") {
  v1::Event e = At(t);
  e.mutable_case_transfer_failed()->set_referral_id("R-0000000001");
  e.mutable_case_transfer_failed()->set_destination("IDVA");
  e.mutable_case_transfer_failed()->set_attempt(attempt);
  e.mutable_case_transfer_failed()->set_receiver("case-system");
  e.mutable_case_transfer_failed()->set_reason(reason);
  return e;
}

TEST(DeliveryTrackerTest, ASystemReceiptIsNotAnAcknowledgement) {
  DeliveryTracker t(Settings(300, 3600));
  t.Apply(Routed("IDVA"));
  t.Apply(Delivered(1, kT0));
  t.Apply(Received(1, kT0 + seconds(1)));
  EXPECT_EQ(t.open_count(), 1u);
  EXPECT_FALSE(Next(t, kT0 + seconds(299)));
  auto step = Next(t, kT0 + seconds(300));
  ASSERT_TRUE(step) << "still redelivered: nobody acknowledged";
  EXPECT_EQ(step->kind, Kind::kDeliver);
  EXPECT_EQ(step->attempt, 2u);
  EXPECT_EQ(Next(t, kT0 + seconds(3600))->kind, Kind::kUndeliverable);
}

TEST(DeliveryTrackerTest, AFailedTransferOfTheLatestDeliveryBringsTheRedeliveryForward) {
  DeliveryTracker t(Settings(300, 3600));
  t.Apply(Routed("IDVA"));
  t.Apply(Delivered(1, kT0));
  t.Apply(TransferFailed(1, kT0 + seconds(40)));
  auto step = Next(t, kT0 + seconds(40));
  ASSERT_TRUE(step) << "due at once, not after the 300 s interval";
  EXPECT_EQ(step->kind, Kind::kDeliver);
  EXPECT_EQ(step->attempt, 2u);
  t.Apply(Delivered(2, kT0 + seconds(40)));
  EXPECT_FALSE(Next(t, kT0 + seconds(41))) << "attempt 2 has not failed";
  // A late failure of the earlier attempt changes nothing.
  t.Apply(TransferFailed(1, kT0 + seconds(50)));
  EXPECT_FALSE(Next(t, kT0 + seconds(51)));
  // Attempt 2 fails at one receiver but another took it: not lost.
  t.Apply(Received(2, kT0 + seconds(60)));
  t.Apply(TransferFailed(2, kT0 + seconds(61)));
  EXPECT_FALSE(Next(t, kT0 + seconds(62)));
  EXPECT_EQ(Next(t, kT0 + seconds(340))->attempt, 3u) << "the interval still runs";
  // The undeliverable step tells how many the case system did not take.
  t.Apply(Delivered(3, kT0 + seconds(340)));
  t.Apply(TransferFailed(3, kT0 + seconds(380), "timeout after 10 s"));
  step = Next(t, kT0 + seconds(3600));
  ASSERT_TRUE(step);
  EXPECT_EQ(step->kind, Kind::kUndeliverable) << "undeliverable still on time";
  EXPECT_EQ(step->transfer_failures, 4u);
  EXPECT_EQ(step->last_transfer_failure, "timeout after 10 s");
}

TEST(DeliveryTrackerTest, AFailedTransferDoesNotRedeliverWhenRedeliveryIsOff) {
  DeliveryTracker t(Settings(0, 3600));
  t.Apply(Routed("IDVA"));
  t.Apply(Delivered(1, kT0));
  t.Apply(TransferFailed(1, kT0 + seconds(40)));
  EXPECT_FALSE(Next(t, kT0 + seconds(41)));
  EXPECT_EQ(Next(t, kT0 + seconds(3600))->kind, Kind::kUndeliverable);
}

TEST(DeliveryTrackerTest, TheLaterOfTheLocalAndBrokerTimesCounts) {
  DeliveryTracker t(Settings());
  t.Apply(Routed("IDVA"));
  t.Apply(Delivered(1, kT0));
  // Appended with a clock 1000 s ahead, then read back with the broker's time.
  t.Apply(Delivered(2, kT0 + seconds(1000)));
  t.Apply(Delivered(2, kT0 + seconds(300)));
  EXPECT_FALSE(Next(t, kT0 + seconds(1299)));
  EXPECT_TRUE(Next(t, kT0 + seconds(1300)));
}

TEST(DeliveryTrackerTest, AcknowledgedCasesNeedNothingMore) {
  DeliveryTracker t(Settings());
  t.Apply(Routed("IDVA"));
  t.Apply(Delivered(1, kT0));
  v1::Event ack = At(kT0 + seconds(10));
  ack.mutable_case_acknowledged()->set_referral_id("R-0000000001");
  ack.mutable_case_acknowledged()->set_destination("IDVA");
  t.Apply(ack);
  EXPECT_FALSE(Next(t, kT0 + seconds(100000)));
  EXPECT_EQ(t.open_count(), 0u);
}

TEST(DeliveryTrackerTest, UndeliverableThenEscalatedThenRoutedToEscalateTo) {
  DeliveryTracker t(Settings());
  t.Apply(Routed("IDVA"));
  t.Apply(Delivered(1, kT0));
  t.Apply(Delivered(2, kT0 + seconds(300)));
  const TimePoint late = kT0 + seconds(86400);
  auto step = Next(t, late);
  ASSERT_TRUE(step);
  EXPECT_EQ(step->kind, Kind::kUndeliverable) << "giving up comes before another redelivery";
  EXPECT_EQ(step->deliveries, 2u);

  v1::Event u = At(late);
  u.mutable_case_undeliverable()->set_referral_id("R-0000000001");
  u.mutable_case_undeliverable()->set_destination("IDVA");
  t.Apply(u);
  EXPECT_EQ(Next(t, late)->kind, Kind::kEscalate);
  v1::Event e = At(late);
  e.mutable_case_escalated()->set_referral_id("R-0000000001");
  e.mutable_case_escalated()->set_destination("IDVA");
  e.mutable_case_escalated()->set_escalated_to("CSU_TRIAGE");
  t.Apply(e);
  EXPECT_EQ(Next(t, late)->kind, Kind::kRouteEscalation);
  t.Apply(Routed("CSU_TRIAGE", late));
  EXPECT_FALSE(Next(t, late)) << "escalation done";
  auto triage = Next(t, late, "CSU_TRIAGE");
  ASSERT_TRUE(triage);
  EXPECT_EQ(triage->kind, Kind::kDeliver);
  EXPECT_EQ(t.open_count(), 1u) << "only the CSU triage case is open";
}

TEST(DeliveryTrackerTest, EscalationAlreadyInPlaceIsNotRepeated) {
  DeliveryTracker t(Settings());
  t.Apply(Routed("CSU_TRIAGE"));
  t.Apply(Routed("IDVA"));
  v1::Event u = At(kT0);
  u.mutable_case_undeliverable()->set_referral_id("R-0000000001");
  u.mutable_case_undeliverable()->set_destination("IDVA");
  t.Apply(u);
  v1::Event e = At(kT0);
  e.mutable_case_escalated()->set_referral_id("R-0000000001");
  e.mutable_case_escalated()->set_destination("IDVA");
  t.Apply(e);
  EXPECT_FALSE(Next(t, kT0)) << "a case at CSU_TRIAGE already exists";
}

TEST(DeliveryTrackerTest, WithdrawnReferralsAndHeldCases) {
  DeliveryTracker t(Settings());
  t.Apply(Routed("IDVA"));
  t.Hold("R-0000000001", "IDVA");
  EXPECT_FALSE(Next(t, kT0)) << "held until the next event about the case";
  t.Apply(Delivered(1, kT0));
  EXPECT_TRUE(Next(t, kT0 + seconds(300)));
  v1::Event w = At(kT0);
  w.mutable_referral_withdrawn()->set_referral_id("R-0000000001");
  t.Apply(w);
  EXPECT_FALSE(Next(t, kT0 + seconds(100000)));
  EXPECT_EQ(t.open_count(), 0u);
}

TEST(DeliveryTrackerTest, ZeroSecondsSwitchesATimerOff) {
  DeliveryTracker t(Settings(0, 0, ""));
  t.Apply(Routed("IDVA"));
  t.Apply(Delivered(1, kT0));
  EXPECT_FALSE(Next(t, kT0 + seconds(10'000'000)));
}

v1::Event ForReferral(v1::Event e, const std::string& referral_id) {
  if (e.has_case_routed()) e.mutable_case_routed()->set_referral_id(referral_id);
  if (e.has_case_delivered()) e.mutable_case_delivered()->set_referral_id(referral_id);
  if (e.has_case_acknowledged()) e.mutable_case_acknowledged()->set_referral_id(referral_id);
  if (e.has_case_undeliverable()) e.mutable_case_undeliverable()->set_referral_id(referral_id);
  if (e.has_case_escalated()) e.mutable_case_escalated()->set_referral_id(referral_id);
  return e;
}

v1::Event Acknowledged(TimePoint t, const std::string& dest) {
  v1::Event e = At(t);
  e.mutable_case_acknowledged()->set_referral_id("R-0000000001");
  e.mutable_case_acknowledged()->set_destination(dest);
  return e;
}

// Closed history leaves memory: cases that need nothing more, and what the
// tracker knew of their referrals' cases at escalate_to, are forgotten.
TEST(DeliveryTrackerTest, ClosedCasesAndTheirEscalationCasesLeaveMemory) {
  DeliveryTracker t(Settings());
  for (int i = 0; i < 1000; ++i) {
    const std::string ref = "R-" + std::to_string(1000 + i);
    t.Apply(ForReferral(Routed("IDVA"), ref));
    t.Apply(ForReferral(Routed("CSU_TRIAGE"), ref));  // a case at escalate_to
    t.Apply(ForReferral(Delivered(1, kT0, "IDVA"), ref));
    t.Apply(ForReferral(Delivered(1, kT0, "CSU_TRIAGE"), ref));
    if (i == 999) break;  // the last referral stays open
    t.Apply(ForReferral(Acknowledged(kT0, "IDVA"), ref));
    t.Apply(ForReferral(Acknowledged(kT0, "CSU_TRIAGE"), ref));
  }
  EXPECT_EQ(t.open_count(), 2u);
  EXPECT_EQ(t.escalation_case_count(), 1u);
}

// The open cases survive the snapshot chunks unchanged: the same steps at
// every time, and an undeliverable case whose referral has a case at
// escalate_to still needs no escalation route.
TEST(DeliveryTrackerTest, SnapshotChunksRestoreTheSameSteps) {
  DeliveryTracker t(Settings());
  const std::vector<std::string> refs = {"R-0000000001", "R-0000000002", "R-0000000003", "R-0000000004"};
  for (const std::string& ref : refs) t.Apply(ForReferral(Routed("IDVA"), ref));
  t.Apply(ForReferral(Delivered(1, kT0, "IDVA"), refs[0]));
  t.Apply(ForReferral(Delivered(1, kT0, "IDVA"), refs[1]));
  t.Apply(ForReferral(Delivered(2, kT0 + seconds(300), "IDVA"), refs[1]));
  t.Apply(TransferFailed(2, kT0 + seconds(301)));  // R-0000000001: the failure of an attempt not made yet
  // refs[2]: undeliverable and escalated, with a case at escalate_to.
  t.Apply(ForReferral(Routed("CSU_TRIAGE"), refs[2]));
  t.Apply(ForReferral(Delivered(1, kT0, "IDVA"), refs[2]));
  v1::Event u = At(kT0 + seconds(90000));
  u.mutable_case_undeliverable()->set_referral_id(refs[2]);
  u.mutable_case_undeliverable()->set_destination("IDVA");
  t.Apply(u);
  // refs[3]: undeliverable, not escalated yet.
  t.Apply(ForReferral(Delivered(1, kT0, "IDVA"), refs[3]));
  u.mutable_case_undeliverable()->set_referral_id(refs[3]);
  t.Apply(u);

  DeliveryTracker back(Settings());
  int chunks = 0;
  t.ToSnapshotChunks(2, [&](const v1::DeliverySnapshot& chunk) {
    ++chunks;
    back.AddSnapshotChunk(chunk);
  });
  EXPECT_GT(chunks, 2);
  EXPECT_EQ(back.open_count(), t.open_count());
  EXPECT_EQ(back.escalation_case_count(), t.escalation_case_count());
  for (int at : {0, 299, 300, 600, 86399, 86400, 90000, 200000}) {
    for (const std::string& ref : refs) {
      for (const std::string dest : {"IDVA", "CSU_TRIAGE"}) {
        const auto want = t.NextStep(ref, dest, kT0 + seconds(at));
        const auto got = back.NextStep(ref, dest, kT0 + seconds(at));
        ASSERT_EQ(got.has_value(), want.has_value()) << ref << " " << dest << " at " << at;
        if (!want) continue;
        EXPECT_EQ(got->kind, want->kind) << ref << " " << dest << " at " << at;
        EXPECT_EQ(got->attempt, want->attempt) << ref << " " << dest << " at " << at;
        EXPECT_EQ(got->deliveries, want->deliveries);
        EXPECT_EQ(got->transfer_failures, want->transfer_failures);
        EXPECT_EQ(got->last_transfer_failure, want->last_transfer_failure);
      }
    }
  }
  // Escalated: the case at escalate_to is known, so no route is due.
  v1::Event esc = At(kT0 + seconds(90001));
  esc.mutable_case_escalated()->set_referral_id(refs[2]);
  esc.mutable_case_escalated()->set_destination("IDVA");
  back.Apply(esc);
  EXPECT_FALSE(back.NextStep(refs[2], "IDVA", kT0 + seconds(90002)));
}

// DueSteps reads an index of when each case next falls due instead of
// asking every open case: over random histories (every kind of event the
// tracker reads, holds, escalation routes, a snapshot round trip) and
// random times it must name exactly the cases NextStep gives a step.
TEST(DeliveryTrackerTest, DueStepsNamesExactlyTheCasesWithAStepDue) {
  const std::vector<std::string> dests = {"IDVA", "DA_MARAC", "CSU_TRIAGE"};
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };
    // Some runs with a timer switched off or no escalation.
    const uint32_t interval = seed % 5 == 0 ? 0 : 300;
    const uint32_t give_up = seed % 7 == 0 ? 0 : 3600;
    const std::string to = seed % 3 == 0 ? "" : "CSU_TRIAGE";
    DeliveryTracker t(Settings(interval, give_up, to));
    std::vector<std::string> refs;
    for (int r = 1; r <= 6; ++r) refs.push_back("R-000000000" + std::to_string(r));
    TimePoint clock = kT0;
    auto check = [&](const DeliveryTracker& tracker, const char* what) {
      for (int probe = 0; probe < 4; ++probe) {
        const TimePoint now = clock + seconds(pick(5000));
        std::set<std::pair<std::string, std::string>> want, got;
        for (const std::string& ref : refs) {
          for (const std::string& dest : dests) {
            if (tracker.NextStep(ref, dest, now)) want.emplace(ref, dest);
          }
        }
        for (const DeliveryStep& step : tracker.DueSteps(now)) {
          EXPECT_TRUE(got.emplace(step.referral_id, step.destination).second) << "a case named twice";
        }
        ASSERT_EQ(got, want) << what << ", seed " << seed;
      }
    };
    for (int n = 0; n < 120; ++n) {
      clock += seconds(pick(400));
      const std::string& ref = refs[pick(refs.size())];
      const std::string& dest = dests[pick(dests.size())];
      v1::Event e = At(clock - seconds(pick(30)));  // broker times a little behind, sometimes
      switch (pick(12)) {
        case 0:
        case 1:
          e = ForReferral(Routed(dest, clock), ref);
          break;
        case 2:
        case 3:
          e = ForReferral(Delivered(1 + static_cast<uint32_t>(pick(3)), clock, dest), ref);
          break;
        case 4:
          e = Received(1 + static_cast<uint32_t>(pick(3)), clock, dest);
          e.mutable_case_received_by_system()->set_referral_id(ref);
          break;
        case 5:
          e = TransferFailed(1 + static_cast<uint32_t>(pick(3)), clock);
          e.mutable_case_transfer_failed()->set_referral_id(ref);
          e.mutable_case_transfer_failed()->set_destination(dest);
          break;
        case 6:
          e = ForReferral(Acknowledged(clock, dest), ref);
          break;
        case 7:
          e.mutable_case_undeliverable()->set_referral_id(ref);
          e.mutable_case_undeliverable()->set_destination(dest);
          break;
        case 8:
          e.mutable_case_escalated()->set_referral_id(ref);
          e.mutable_case_escalated()->set_destination(dest);
          break;
        case 9:
          if (pick(4) == 0) {
            e.mutable_referral_withdrawn()->set_referral_id(ref);
          } else {
            t.Hold(ref, dest);
            check(t, "after a hold");
            continue;
          }
          break;
        case 10:
          t.MarkEscalationRouted(ref, dest);
          check(t, "after an escalation route");
          continue;
        default:
          check(t, "between events");
          continue;
      }
      t.Apply(e);
      check(t, "after an event");
    }
    DeliveryTracker back(Settings(interval, give_up, to));
    t.ToSnapshotChunks(3, [&](const v1::DeliverySnapshot& chunk) { back.AddSnapshotChunk(chunk); });
    check(back, "after a snapshot");
  }
}

}  // namespace
}  // namespace refx
