#include "services/common/run_with_restarts.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

namespace refx {

Status RunWithRestarts(const char* name, int retry_delay_ms, const std::function<bool()>& should_stop,
                       const std::function<Status(const std::function<bool()>&)>& run_once) {
  auto stopped = [&] { return should_stop && should_stop(); };
  while (true) {
    Status s = run_once(should_stop);
    if (stopped()) return s.code() == Status::Code::kUnavailable ? Status::OK() : s;
    if (s.code() != Status::Code::kUnavailable) return s;
    spdlog::warn("{}: {}; starting again in {} ms", name, s.ToString(), retry_delay_ms);
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(retry_delay_ms);
    while (std::chrono::steady_clock::now() < until) {
      if (stopped()) return Status::OK();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

}  // namespace refx
