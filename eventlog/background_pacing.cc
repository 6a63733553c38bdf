#include "eventlog/background_pacing.h"

#include <rocksdb/rate_limiter.h>

#include <algorithm>

namespace refx::eventlog {

namespace {
// The limiter hands out its budget every 10 ms, so a flush writes in small
// steps rather than in one burst per second (RocksDB's default is 100 ms).
constexpr int64_t kRefillMicros = 10'000;
constexpr int32_t kFairness = 10;  // RocksDB's default: low-priority compactions still get a turn
}  // namespace

BackgroundWritePacer::BackgroundWritePacer(Clock::time_point now)
    : limiter_(rocksdb::NewGenericRateLimiter(kFloorBytesPerSecond, kRefillMicros, kFairness,
                                              rocksdb::RateLimiter::Mode::kWritesOnly, /*auto_tuned=*/false)),
      since_(now) {}

BackgroundWritePacer::~BackgroundWritePacer() = default;

void BackgroundWritePacer::Appended(size_t bytes, Clock::time_point now) {
  bytes_since_ += bytes;
  const auto elapsed = now - since_;
  if (elapsed < kInterval) return;
  const double seconds = std::chrono::duration<double>(elapsed).count();
  const auto limit =
      static_cast<int64_t>(static_cast<double>(bytes_since_) / seconds * static_cast<double>(kHeadroom));
  limiter_->SetBytesPerSecond(std::max(kFloorBytesPerSecond, limit));
  since_ = now;
  bytes_since_ = 0;
}

int64_t BackgroundWritePacer::bytes_per_second() const { return limiter_->GetBytesPerSecond(); }

}  // namespace refx::eventlog
