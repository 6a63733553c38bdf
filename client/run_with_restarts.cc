#include "client/run_with_restarts.h"
#include "core/log_escape.h"

#include <spdlog/spdlog.h>

#include <algorithm>
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
    spdlog::warn("{}: {}; starting again in {} ms", name, LogEscape(s.ToString()), retry_delay_ms);
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(retry_delay_ms);
    while (std::chrono::steady_clock::now() < until) {
      if (stopped()) return Status::OK();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

bool StopRequested(const std::function<bool()>& should_stop) { return should_stop && should_stop(); }

Status ReplayLog(BrokerClient* reader, const std::string& purpose, uint64_t after_seq,
                 const std::function<void(const v1::Event&, const std::string& hash)>& apply,
                 const std::function<bool()>& should_stop, uint64_t* replayed_to) {
  v1::ReadRequest replay;
  replay.set_after_seq(after_seq);
  replay.set_purpose(purpose);
  return ReplayLog(reader, std::move(replay), apply, should_stop, replayed_to);
}

Status ReplayLog(BrokerClient* reader, v1::ReadRequest replay,
                 const std::function<void(const v1::Event&, const std::string& hash)>& apply,
                 const std::function<bool()>& should_stop, uint64_t* replayed_to) {
  *replayed_to = replay.after_seq();
  replay.set_follow(false);
  replay.set_initial_credit(20000);  // the whole log: keep the broker streaming
  return reader->Read(
      replay,
      [&](const v1::Event& event, const std::string&, const std::string& hash) {
        apply(event, hash);
        *replayed_to = event.seq();
        return true;
      },
      should_stop);
}

size_t AppendsPerFrame(const PartnershipConfig& config) {
  const size_t max_batch = config.proto().broker().max_batch();
  return max_batch == 0 ? 256 : std::min<size_t>(256, max_batch);
}

}  // namespace refx
