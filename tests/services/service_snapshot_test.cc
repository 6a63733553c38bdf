// Service snapshots with the real refx-broker over CURVE, the services
// hosted in-process: refx-delivery and refx-notifier restart from their
// snapshot (and read only the log after it), and refuse a snapshot that is
// corrupt or of another log (its event's chain hash differs) by replaying
// the whole log - each case still delivered once. The router refuses a
// snapshot taken with another subject key (here: none), so every referral
// gets its subject key.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/subject_key.h"
#include "hosted_services.h"
#include "services/common/state_snapshot.h"
#include "services/notifier/notifier_service.h"
#include "services_stack.h"

namespace refx::testing {
namespace {

namespace fs = std::filesystem;

enum class Damage { kNone, kCorrupt, kForeign };

void EditConfig(v1::PartnershipConfig* c) {
  // The notifier needs a relay, but no destination has alert addresses:
  // its alerts are settled without mail, so nothing waits and it snapshots.
  c->mutable_alerts()->set_smtp_url("smtp://127.0.0.1:1");
  for (v1::Destination& d : *c->mutable_destinations()) d.clear_alert_emails();
  c->mutable_delivery()->set_redelivery_interval_seconds(0);
  c->mutable_delivery()->set_undeliverable_after_seconds(0);
}

size_t FirstDeliveries(const std::vector<v1::Event>& events, const std::string& referral_id,
                       const std::string& destination) {
  size_t n = 0;
  for (const v1::Event* e : EventsOf(events, v1::Event::kCaseDelivered, referral_id)) {
    if (e->case_delivered().destination() == destination && e->case_delivered().attempt() == 1) ++n;
  }
  return n;
}

void WaitUntil(const std::string& what, const std::function<bool()>& done) {
  for (int i = 0; i < 600 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(done()) << "timed out waiting for " << what;
}

void Damaged(Damage damage, const std::string& dir, const std::string& service, uint64_t seq) {
  const std::string path = dir + "/" + service + ".snapshot";
  ASSERT_TRUE(fs::exists(path)) << path;
  if (damage == Damage::kCorrupt) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(path) / 2));
    f.put('\x7f');
  } else if (damage == Damage::kForeign) {
    // A good file, but event `seq` of its log is not this log's.
    SnapshotFile other(dir, service);
    ASSERT_TRUE(other.Store(seq, std::string(32, 'x'), [](const SnapshotFile::ChunkSink&) {}).ok());
  }
}

// Delivery and the notifier see one referral, stop (each writes its
// snapshot), get their snapshot damaged as `damage` says, start again as
// new objects on the same state folders and see a second referral.
// *delivery_from / *notifier_from: the seq each second start's snapshot
// covered (0: it replayed the whole log).
void RestartFromSnapshots(Damage damage, uint64_t* delivery_from, uint64_t* notifier_from) {
  ServicesStack s(EditConfig);
  ASSERT_TRUE(s.stack().StartBroker());
  auto router = MakeHostedRouter(s);
  auto delivery = MakeHostedDelivery(s);
  auto notifier = MakeHostedNotifier(s);
  ASSERT_TRUE(router && delivery && notifier);
  HostedService r, d, n;
  r.Start([&](const std::function<bool()>& stop) { return router->Run(stop); });
  d.Start([&](const std::function<bool()>& stop) { return delivery->Run(stop); });
  n.Start([&](const std::function<bool()>& stop) { return notifier->Run(stop); });

  const std::string first = s.Submit(DaHighRiskReferral("kent-police", "T-SNAP-1", "Ann"));
  auto events = s.WaitFor("the first referral delivered to both destinations", [&](const auto& ev) {
    return FirstDeliveries(ev, first, "DA_MARAC") + FirstDeliveries(ev, first, "IDVA") >= 2;
  });
  const uint64_t head = events.back().seq();
  WaitUntil("the notifier to read the log", [&] { return notifier->last_seq() >= head; });
  ASSERT_TRUE(d.Stop().ok());
  ASSERT_TRUE(n.Stop().ok());
  Damaged(damage, s.StateDir("delivery"), "delivery", head);
  Damaged(damage, s.StateDir("notifier"), "notifier", head);

  delivery.reset();  // lets go of the state folders' locks
  notifier.reset();
  delivery = MakeHostedDelivery(s);
  notifier = MakeHostedNotifier(s);
  ASSERT_TRUE(delivery && notifier);
  HostedService d2, n2;
  d2.Start([&](const std::function<bool()>& stop) { return delivery->Run(stop); });
  n2.Start([&](const std::function<bool()>& stop) { return notifier->Run(stop); });
  const std::string second = s.Submit(DaHighRiskReferral("kent-police", "T-SNAP-2", "Bea"));
  events = s.WaitFor("the second referral delivered to both destinations", [&](const auto& ev) {
    return FirstDeliveries(ev, second, "DA_MARAC") + FirstDeliveries(ev, second, "IDVA") >= 2;
  });
  WaitUntil("the notifier to read the log", [&] { return notifier->last_seq() >= events.back().seq(); });
  *delivery_from = delivery->snapshot_seq();
  *notifier_from = notifier->snapshot_seq();
  EXPECT_TRUE(d2.Stop().ok());
  EXPECT_TRUE(n2.Stop().ok());
  EXPECT_TRUE(r.Stop().ok());
  events = s.ReadLog();
  for (const std::string& id : {first, second}) {
    for (const std::string dest : {"DA_MARAC", "IDVA"}) {
      EXPECT_EQ(FirstDeliveries(events, id, dest), 1u) << id << " at " << dest;
    }
  }
}

TEST(ServiceSnapshotTest, DeliveryAndNotifierStartFromTheirSnapshots) {
  uint64_t delivery_from = 0, notifier_from = 0;
  RestartFromSnapshots(Damage::kNone, &delivery_from, &notifier_from);
  EXPECT_GT(delivery_from, 0u);
  EXPECT_GT(notifier_from, 0u);
}

TEST(ServiceSnapshotTest, CorruptSnapshotsAreReplacedByAFullReplay) {
  uint64_t delivery_from = 1, notifier_from = 1;
  RestartFromSnapshots(Damage::kCorrupt, &delivery_from, &notifier_from);
  EXPECT_EQ(delivery_from, 0u);
  EXPECT_EQ(notifier_from, 0u);
}

TEST(ServiceSnapshotTest, SnapshotsOfAnotherLogAreReplacedByAFullReplay) {
  uint64_t delivery_from = 1, notifier_from = 1;
  RestartFromSnapshots(Damage::kForeign, &delivery_from, &notifier_from);
  EXPECT_EQ(delivery_from, 0u);
  EXPECT_EQ(notifier_from, 0u);
}

// A router snapshot taken without a subject key, then a start with one: the
// snapshot is refused, the whole log replayed, and the referrals from
// before get their subject_indexed event with the right key (from the
// snapshot they had no key, and got none).
TEST(ServiceSnapshotTest, RouterSnapshotWithoutTheSubjectKeyIsNotUsed) {
  ServicesStack s(EditConfig);
  ASSERT_TRUE(s.stack().StartBroker());
  const std::string no_key;
  std::vector<v1::Referral> referrals = {DaHighRiskReferral("kent-police", "T-KEY-1", "Ann"),
                                         DaHighRiskReferral("kent-police", "T-KEY-2", "Bea"),
                                         DaHighRiskReferral("kent-police", "T-KEY-3", "Cat")};
  std::vector<std::string> ids;
  {
    auto router = MakeHostedRouter(s, 200, &no_key);
    ASSERT_TRUE(router);
    HostedService r;
    r.Start([&](const std::function<bool()>& stop) { return router->Run(stop); });
    for (int i = 0; i < 2; ++i) ids.push_back(s.Submit(referrals[i]));
    s.WaitFor("the first two referrals routed", [&](const auto& ev) {
      return !RoutedDestinations(ev, ids[0]).empty() && !RoutedDestinations(ev, ids[1]).empty();
    });
    ASSERT_TRUE(r.Stop().ok());
  }
  ASSERT_TRUE(fs::exists(s.StateDir("router") + "/router.snapshot"));
  auto router = MakeHostedRouter(s);
  ASSERT_TRUE(router);
  HostedService r;
  r.Start([&](const std::function<bool()>& stop) { return router->Run(stop); });
  ids.push_back(s.Submit(referrals[2]));
  auto events = s.WaitFor("the third referral routed and indexed", [&](const auto& ev) {
    return !RoutedDestinations(ev, ids[2]).empty() && !EventsOf(ev, v1::Event::kSubjectIndexed, ids[2]).empty();
  });
  ASSERT_TRUE(r.Stop().ok());
  events = s.ReadLog();
  for (size_t i = 0; i < referrals.size(); ++i) {
    const auto indexed = EventsOf(events, v1::Event::kSubjectIndexed, ids[i]);
    ASSERT_EQ(indexed.size(), 1u) << ids[i];
    EXPECT_EQ(indexed[0]->subject_indexed().subject_key(), SubjectKey(s.subject_secret(), referrals[i])) << ids[i];
  }
}

}  // namespace
}  // namespace refx::testing
