// Raw ceilings: what the layers under the broker can do on their own, on
// the same machine, in the same run, with the same ~1 KB payloads.
//
//   EventLogCeiling   refx::eventlog::EventLog::AppendBatch (sync=true):
//                     our chain hash, indexes and head, one fsync per batch.
//   RocksDbCeiling    plain rocksdb::DB WriteBatch (sync=true) of 1 KB values
//                     under 8-byte keys: RocksDB without anything of ours.
//   ZmqEchoCeiling    DEALER -> ROUTER echo over loopback TCP, optionally
//                     with CURVE, windowed: the transport without the broker.
//   DiskFlushProbe    write + fdatasync of a small record on a plain file:
//                     the disk's flush latency, without RocksDB.
//   MeasureCpuPath    the broker's per-referral CPU work, step by step,
//                     without sockets or disk.
//
// Each function runs one measurement and returns its figures; the caller
// repeats and takes medians. All throw BenchError on failure.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "refx/v1/referral.pb.h"

namespace refx::bench {

struct WriteCeiling {
  size_t batch = 0;
  double events_per_s = 0;      // events / total time inside the write calls
  double batch_p50_ms = 0;      // duration of one synced batch write
  double batch_p99_ms = 0;
  // CPU time of the writing thread inside the write calls, per event:
  // serialisation, hashing, WAL append and memtable inserts. The rest of
  // the write time is waiting for the disk (fsync).
  double cpu_us_per_event = 0;
  uint64_t batches = 0;
};

// Appends batches of `batch` ReferralSubmitted events built from `referral`
// (as the broker builds them, each with a dedupe key) to an EventLog opened
// in `dir` with sync=true, for about `duration` (at least 3 batches). Only
// the time inside AppendBatch is counted. `dir` may already hold a log from
// an earlier call; appends continue from its head.
WriteCeiling EventLogCeiling(const std::string& dir, const v1::Referral& referral, size_t batch,
                             std::chrono::milliseconds duration);

// Writes batches of `batch` Puts of `value` under fresh 8-byte big-endian
// keys to a default-options RocksDB in `dir` with sync=true, as above.
WriteCeiling RocksDbCeiling(const std::string& dir, const std::string& value, size_t batch,
                            std::chrono::milliseconds duration);

// The disk's own flush latency: append `bytes` to a preallocated file and
// fdatasync, `count` times, sleeping `gap` between writes (0 = back to
// back). The floor under every synced write above, and so under ack latency.
struct FlushLatency {
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
};
FlushLatency DiskFlushProbe(const std::string& dir, size_t bytes, std::chrono::microseconds gap, int count);

struct EchoCeiling {
  double msgs_per_s = 0;  // round trips completed per second, all clients
};

// Starts a ROUTER echo server on 127.0.0.1 (its own context, one I/O thread,
// as the broker) and `clients` DEALER threads (one shared context with
// `client_io_threads` I/O threads, as the bench clients), each keeping
// `window` messages of `message_bytes` in flight for `duration`. With
// `curve` both ends use CURVE (no ZAP handler: any client key is accepted).
EchoCeiling ZmqEchoCeiling(bool curve, size_t clients, size_t window, size_t message_bytes, int client_io_threads,
                           std::chrono::milliseconds duration);

// Mean CPU time per referral of each step the broker takes, in microseconds.
struct CpuPath {
  double encode_frame_us = 0;    // client: Frame{submit} -> bytes
  double decode_frame_us = 0;    // broker: bytes -> Frame (parse ~1 KB)
  double validate_us = 0;        // ValidateReferral
  double build_event_us = 0;     // copy the referral into a new Event, set time, ids
  double serialize_event_us = 0; // Event -> bytes (inside AppendBatch)
  double chain_hash_us = 0;      // SHA-256 chain hash of those bytes
  double encode_ack_us = 0;      // the reply frame
  double Total() const {
    return decode_frame_us + validate_us + build_event_us + serialize_event_us + chain_hash_us + encode_ack_us;
  }
};

// Runs each step `iterations` times on `referral` and reports the means.
CpuPath MeasureCpuPath(const v1::Referral& referral, int iterations);

}  // namespace refx::bench
