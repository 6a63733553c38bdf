// BackgroundWritePacer: the limit it gives RocksDB's background writes
// follows the bytes appended, with the clock passed in (no sleeping).
#include "eventlog/background_pacing.h"

#include <gtest/gtest.h>

#include <chrono>

namespace refx::eventlog {
namespace {

using Pacer = BackgroundWritePacer;
using std::chrono::milliseconds;
constexpr int64_t kMiB = int64_t{1} << 20;

TEST(BackgroundWritePacerTest, StartsAtTheFloor) {
  Pacer pacer(Pacer::Clock::time_point{});
  ASSERT_NE(pacer.limiter(), nullptr);
  EXPECT_EQ(pacer.bytes_per_second(), Pacer::kFloorBytesPerSecond);
}

TEST(BackgroundWritePacerTest, FollowsTheIngestWithHeadroom) {
  const Pacer::Clock::time_point t0{};
  Pacer pacer(t0);
  // 100 MiB over one second, in ten appends: the limit is set once the
  // interval has passed, to kHeadroom x 100 MiB/s.
  for (int i = 1; i <= 10; ++i) pacer.Appended(10 * kMiB, t0 + milliseconds(100 * i));
  EXPECT_EQ(pacer.bytes_per_second(), Pacer::kHeadroom * 100 * kMiB);
}

TEST(BackgroundWritePacerTest, WaitsForTheIntervalBeforeChanging) {
  const Pacer::Clock::time_point t0{};
  Pacer pacer(t0);
  pacer.Appended(500 * kMiB, t0 + Pacer::kInterval - milliseconds(1));
  EXPECT_EQ(pacer.bytes_per_second(), Pacer::kFloorBytesPerSecond);
  // The bytes so far count once the interval is up.
  pacer.Appended(0, t0 + Pacer::kInterval * 10);
  EXPECT_EQ(pacer.bytes_per_second(), Pacer::kHeadroom * 500 * kMiB);
}

TEST(BackgroundWritePacerTest, FallsBackToTheFloorWhenIngestIsLight) {
  const Pacer::Clock::time_point t0{};
  Pacer pacer(t0);
  pacer.Appended(200 * kMiB, t0 + milliseconds(1000));
  EXPECT_EQ(pacer.bytes_per_second(), Pacer::kHeadroom * 200 * kMiB);
  // 1 MiB in the next second: well under the floor with headroom.
  pacer.Appended(kMiB, t0 + milliseconds(2000));
  EXPECT_EQ(pacer.bytes_per_second(), Pacer::kFloorBytesPerSecond);
  // An idle minute, then one small append: still the floor.
  pacer.Appended(4096, t0 + milliseconds(62000));
  EXPECT_EQ(pacer.bytes_per_second(), Pacer::kFloorBytesPerSecond);
}

}  // namespace
}  // namespace refx::eventlog
