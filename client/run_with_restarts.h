// The outer loop of a service that reads the log through the broker: when
// the broker stops answering, wait and start again with a fresh replay; and
// that replay.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "client/broker_client.h"
#include "core/partnership_config.h"
#include "core/status.h"

namespace refx {

// Calls run_once(should_stop) until it returns something other than
// Unavailable, or should_stop() is true. After an Unavailable it logs
// "NAME: reason; starting again in N ms" and waits retry_delay_ms (checking
// should_stop every 50 ms). Returns OK when stopped (also if the pass that
// was stopped ended Unavailable), otherwise what run_once returned.
Status RunWithRestarts(const char* name, int retry_delay_ms, const std::function<bool()>& should_stop,
                       const std::function<Status(const std::function<bool()>&)>& run_once);

// True when should_stop is set and says stop.
bool StopRequested(const std::function<bool()>& should_stop);

// Reads the log after `after_seq` (0: the whole log; a snapshot's seq: its
// tail) once through `reader`, not following, as `purpose` (one bulk read:
// the broker keeps streaming), calling apply(event, chain hash) for each
// event in seq order; *replayed_to is the last seq read (after_seq when
// nothing follows it). Returns the read's Status: OK also when should_stop
// stopped it (the caller checks StopRequested).
Status ReplayLog(BrokerClient* reader, const std::string& purpose, uint64_t after_seq,
                 const std::function<void(const v1::Event&, const std::string& hash)>& apply,
                 const std::function<bool()>& should_stop, uint64_t* replayed_to);

// ReplayLog for part of the log, or some kinds of event: `request` gives
// after_seq, purpose and optionally to_seq, bodies and form (follow and
// initial_credit are set here). *replayed_to is the last seq delivered.
Status ReplayLog(BrokerClient* reader, v1::ReadRequest request,
                 const std::function<void(const v1::Event&, const std::string& hash)>& apply,
                 const std::function<bool()>& should_stop, uint64_t* replayed_to);

// Appends a service puts in one AppendBatchRequest: 256, or the broker's
// max_batch when that is smaller (a larger frame would be refused whole).
size_t AppendsPerFrame(const PartnershipConfig& config);

}  // namespace refx
