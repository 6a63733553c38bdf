// BackgroundWritePacer: keeps RocksDB's background writes (memtable
// flushes, compactions) from crowding out the event log's synced appends.
//
// Why: a memtable flush writes its whole memtable (~60 MB for the events
// family at RocksDB's default size) as fast as one core can build the
// table, and syncs it. While it does, every append's fdatasync waits behind
// those bytes on the same disk (a virtual disk's flush persists everything
// written before it) and the flush takes a core of two. At 1,000 referrals/s
// that was one stall of 50-100 ms every ~8 s, and it set the p99 of
// submit -> lead (docs/BENCHMARKS.md). A RocksDB rate limiter spreads the
// flush out; a fixed one low enough for that caps sustained ingest at its
// rate, so the pacer sets the limit from what the log is taking in: four times
// the bytes appended per second over the last interval, never below a
// floor. Flushes and compactions then keep up with any ingest (memtables
// absorb the first interval of a burst) and trickle when ingest is light.
//
// Thread-safety: Appended must be called from one thread at a time (the
// log's writer); the limiter itself is RocksDB's and thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace rocksdb {
class RateLimiter;
}

namespace refx::eventlog {

class BackgroundWritePacer {
 public:
  using Clock = std::chrono::steady_clock;

  // The lowest limit, bytes/s: a 64 MB memtable flushes in about a second
  // and a half when nothing is being appended.
  static constexpr int64_t kFloorBytesPerSecond = int64_t{48} << 20;
  // Background write budget per byte appended.
  static constexpr int64_t kHeadroom = 4;
  // How often the limit follows the ingest rate.
  static constexpr std::chrono::milliseconds kInterval{100};

  // A pacer with a new limiter at the floor, from `now`.
  explicit BackgroundWritePacer(Clock::time_point now = Clock::now());
  ~BackgroundWritePacer();

  // The limiter to put in rocksdb::DBOptions::rate_limiter (shared: RocksDB
  // keeps it as long as the database is open).
  const std::shared_ptr<rocksdb::RateLimiter>& limiter() const { return limiter_; }

  // `bytes` were appended at `now`. At most once per kInterval, sets the
  // limit to max(floor, kHeadroom x the bytes appended per second since the
  // last setting). Never fails.
  void Appended(size_t bytes, Clock::time_point now = Clock::now());

  // The limit in force, bytes/s.
  int64_t bytes_per_second() const;

 private:
  std::shared_ptr<rocksdb::RateLimiter> limiter_;
  Clock::time_point since_;
  uint64_t bytes_since_ = 0;
};

}  // namespace refx::eventlog
