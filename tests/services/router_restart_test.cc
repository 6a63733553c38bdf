// refx-router as a real child process, killed with SIGKILL while referrals
// stream in and started again: every referral ends up routed exactly once
// to each of its destinations - none twice, none missing - and a SIGTERM
// stops it cleanly with its cursor stored.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "core/curve_keys.h"
#include "services_stack.h"

namespace refx::testing {
namespace {

namespace fs = std::filesystem;

// Letters only: subject keys ignore digits, so "Subject1" and "Subject2"
// would be one person.
std::string LetterName(int i) {
  std::string name = "Sam";
  do {
    name += static_cast<char>('a' + i % 26);
    i /= 26;
  } while (i > 0);
  return name;
}

size_t CountRouted(const std::vector<v1::Event>& events) {
  return static_cast<size_t>(
      std::count_if(events.begin(), events.end(), [](const v1::Event& e) { return e.has_case_routed(); }));
}

// Starts refx-router (with `extra` flags) as a child, streams referrals in,
// kills it with SIGKILL three times and starts it again each time; checks
// every case is routed exactly once. `between_kills` runs on the state
// folder while the router is down. *log gets the router's log.
void KillThreeTimesWhileRouting(const std::vector<std::string>& extra,
                                const std::function<void(const fs::path& state_dir)>& between_kills, std::string* log) {
  ServicesStack s;
  ASSERT_TRUE(s.stack().StartBroker());
  const fs::path home = fs::path(s.stack().config_path()).parent_path();
  const std::string key_dir = (home / "router-keys").string();
  ASSERT_TRUE(SaveCurveKeyPair(key_dir, "refx-router", s.stack().agency_keys("refx-router")).ok());
  std::ofstream(key_dir + "/broker.pub") << s.stack().broker_keys().public_key << "\n";
  std::vector<std::string> argv = {REFX_ROUTER_BIN, "--config", s.stack().config_path(), "--broker",
                                   s.stack().endpoint(), "--server-key", key_dir + "/broker.pub", "--key-dir", key_dir,
                                   "--key-name", "refx-router", "--state-dir", s.StateDir("router"), "--log-level",
                                   "debug"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  ServiceProcess router(argv, (home / "router.log").string());
  router.Start();

  // Three kinds of referral, each with its own subject.
  constexpr int kReferrals = 60;
  std::map<int, std::vector<std::string>> expected;
  std::vector<v1::Referral> referrals;
  size_t expected_cases = 0;
  for (int i = 0; i < kReferrals; ++i) {
    const std::string ref = "T-KILL-" + std::to_string(i);
    switch (i % 3) {
      case 0:
        referrals.push_back(DaHighRiskReferral("kent-police", ref, LetterName(i)));
        expected[i] = {"DA_MARAC", "IDVA"};
        break;
      case 1:
        referrals.push_back(CategoryReferral("kent-police", ref, v1::OTHER, LetterName(i)));
        expected[i] = {"CSU_TRIAGE"};
        break;
      default:
        referrals.push_back(CategoryReferral("kent-police", ref, v1::CHILD_AT_RISK, LetterName(i)));
        expected[i] = {"CHILDRENS_FRONT_DOOR"};
        break;
    }
    expected_cases += expected[i].size();
  }
  std::vector<std::string> ids(kReferrals);
  std::atomic<int> submitted{0};
  std::thread submitter([&] {
    for (int i = 0; i < kReferrals; ++i) {
      ids[i] = s.Submit(referrals[i]);
      submitted = i + 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  });

  // Kill the router at three points of the stream and start it again.
  int kills = 0;
  for (size_t threshold : {expected_cases / 6, expected_cases / 3, expected_cases / 2}) {
    s.WaitFor("routing to pass " + std::to_string(threshold) + " cases",
              [&](const std::vector<v1::Event>& ev) { return CountRouted(ev) >= threshold; });
    const int status = router.Stop(SIGKILL);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the router died before it was killed:\n"
                                                                  << router.Log();
    ++kills;
    if (between_kills) between_kills(s.StateDir("router"));
    router.Start();
  }
  submitter.join();
  ASSERT_EQ(submitted.load(), kReferrals);
  EXPECT_EQ(kills, 3);

  auto events = s.WaitFor("every case routed", [&](const std::vector<v1::Event>& ev) {
    return CountRouted(ev) >= expected_cases;
  });
  const int status = router.Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << router.Log();

  events = s.ReadLog();
  EXPECT_EQ(CountRouted(events), expected_cases);
  for (int i = 0; i < kReferrals; ++i) {
    std::vector<std::string> got = RoutedDestinations(events, ids[i]);
    std::sort(got.begin(), got.end());
    std::vector<std::string> want = expected[i];
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want) << ids[i] << " (" << referrals[i].referrer_reference() << ")";
    for (const v1::Event* e : EventsOf(events, v1::Event::kCaseRouted, ids[i])) EXPECT_EQ(e->actor(), "refx-router");
  }
  // The cursor names a handled seq within the log.
  std::ifstream cursor(s.StateDir("router") + "/router.cursor");
  uint64_t stored = 0;
  ASSERT_TRUE(cursor >> stored);
  EXPECT_GT(stored, 0u);
  EXPECT_LE(stored, events.back().seq());
  if (::testing::Test::HasFailure()) std::cerr << "refx-router log:\n" << router.Log();
  *log = router.Log();
}

TEST(RouterRestartTest, SigkillWhileReferralsStreamInRoutesEachCaseExactlyOnce) {
  std::string log;
  KillThreeTimesWhileRouting({"--snapshot-events", "0"}, nullptr, &log);
}

// Snapshots after every event: each SIGKILL lands while one is written (or
// just after), and each start loads the last one and reads the log's tail.
TEST(RouterRestartTest, SigkillWhileSnapshotsAreWrittenRoutesEachCaseExactlyOnce) {
  std::string log;
  KillThreeTimesWhileRouting({"--snapshot-events", "1"}, nullptr, &log);
  EXPECT_THAT(log, ::testing::HasSubstr("loaded the snapshot at seq"));
}

// A snapshot torn or altered on disk (or left half-written as router.snapshot.tmp)
// is refused by its checksum: the router says so, replays the whole log and
// still routes each case once.
TEST(RouterRestartTest, CorruptSnapshotFallsBackToAFullReplay) {
  int corrupted = 0;
  std::string log;
  KillThreeTimesWhileRouting({"--snapshot-events", "1"}, [&](const fs::path& dir) {
    const fs::path snapshot = dir / "router.snapshot";
    if (!fs::exists(snapshot)) return;
    std::fstream f(snapshot, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(snapshot) / 2));
    f.put('\x7f');
    std::ofstream(dir / "router.snapshot.tmp", std::ios::binary) << "half a snapsh";
    ++corrupted;
  }, &log);
  EXPECT_GT(corrupted, 0);
  EXPECT_THAT(log, ::testing::HasSubstr("fails its checksum"));
  EXPECT_THAT(log, ::testing::HasSubstr("replaying the whole log"));
}

TEST(RouterRestartTest, RefusesToStartWithoutTheSubjectKeyFile) {
  ServicesStack s;
  const fs::path home = fs::path(s.stack().config_path()).parent_path();
  fs::remove(home / "subject.hmac");
  const std::string key_dir = (home / "router-keys").string();
  ASSERT_TRUE(SaveCurveKeyPair(key_dir, "refx-router", s.stack().agency_keys("refx-router")).ok());
  ServiceProcess router({REFX_ROUTER_BIN, "--config", s.stack().config_path(), "--broker", "tcp://127.0.0.1:1",
                        "--server-key", key_dir + "/refx-router.pub", "--key-dir", key_dir, "--state-dir",
                        s.StateDir("router")},
                       (home / "router.log").string());
  router.Start();
  int status = 0;
  ASSERT_TRUE(router.WaitExit(std::chrono::seconds(30), &status)) << "the router should refuse to start:\n"
                                                                  << router.Log();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_THAT(router.Log(), ::testing::HasSubstr("subject.hmac"));
  EXPECT_THAT(router.Log(), ::testing::HasSubstr("does not exist"));
}

}  // namespace
}  // namespace refx::testing
