// The outer loop of a service that reads the log through the broker: when
// the broker stops answering, wait and start again with a fresh replay.
#pragma once

#include <functional>

#include "core/status.h"

namespace refx {

// Calls run_once(should_stop) until it returns something other than
// Unavailable, or should_stop() is true. After an Unavailable it logs
// "NAME: reason; starting again in N ms" and waits retry_delay_ms (checking
// should_stop every 50 ms). Returns OK when stopped (also if the pass that
// was stopped ended Unavailable), otherwise what run_once returned.
Status RunWithRestarts(const char* name, int retry_delay_ms, const std::function<bool()>& should_stop,
                       const std::function<Status(const std::function<bool()>&)>& run_once);

}  // namespace refx
