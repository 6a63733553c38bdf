// Private to the broker: what the loop keeps about a request whose reply is
// owed. Plain data, no sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "core/status.h"
#include "eventlog/backup.h"
#include "refx/v1/config.pb.h"

namespace refx::broker {

// One client request waiting for its reply: where the reply goes and what
// it answers. Copyable.
struct Waiter {
  std::string routing_id;
  bool req_envelope = false;  // the client sent an empty delimiter (REQ socket)
  uint64_t correlation_id = 0;
  // The authenticated agency (from the configuration, which outlives the
  // broker); null when the connection has none. Logged with refusals.
  const v1::Agency* agency = nullptr;
  // Index into the batch whose durability the reply waits for.
  size_t pending_index = 0;
  bool duplicate = false;
};

// The waiter's authenticated agency id, or "" when the connection has none.
inline std::string AgencyIdOf(const Waiter& waiter) {
  return waiter.agency != nullptr ? waiter.agency->id() : std::string();
}

// A backup running on its own thread; its reply is sent by the loop.
struct BackupJob {
  Waiter waiter;
  std::thread thread;
  std::mutex mu;
  bool done = false;              // guarded by mu
  Status status;                  // guarded by mu
  eventlog::BackupReport report;  // guarded by mu
  double seconds = 0;             // guarded by mu
  eventlog::ExpiryReport expiry;  // guarded by mu: the backups expired after this one
};

}  // namespace refx::broker
