// Service snapshots: a service's in-memory state as of one seq of the log,
// so that a restart reads the snapshot and the log's tail instead of the
// whole log (the cost of a start no longer grows with history).
//
// The file STATE_DIR/<service>.snapshot holds one refx.v1.ServiceSnapshot
// (proto/refx/v1/snapshot.proto): the seq it covers, the chain hash of the
// event at that seq, the state message, and a BLAKE2b checksum over them.
// Stores are atomic: written to a temporary file, fsynced, renamed over the
// old one, and the folder fsynced; a crash at any point leaves the old
// snapshot or the new one, and a torn or altered file fails its checksum
// (the service then replays the whole log, and says so).
//
// What a snapshot may hold (each service's contract): only state derived
// from events up to its seq, plus the effects of appends the broker has
// already acknowledged (they are in the log, after the seq, and the tail
// brings them back). Nothing queued and not yet acknowledged: a restart
// from the snapshot would take it as done. The service's cursor is separate
// and may be before the snapshot's seq — as after a full replay, the state
// is then ahead of the cursor, and the idempotent handling of the events in
// between (idempotency keys, "already exists" checks) is what it was.
//
// Thread-safety: not thread-safe; one SnapshotFile per service process (the
// state folder lock keeps a second process out).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <google/protobuf/message.h>

#include "client/broker_client.h"
#include "core/status.h"

namespace refx {

class SnapshotFile {
 public:
  // `dir` is the service's state folder (it must exist); `service` names
  // the file (<dir>/<service>.snapshot) and is checked on load.
  SnapshotFile(const std::string& dir, std::string service);

  // Reads the snapshot: *state parsed from it, *seq the seq it covers,
  // *event_hash the chain hash of that event. NotFound when there is no
  // file; Corruption naming the file when it does not parse, names another
  // service or fails its checksum; IoError when it cannot be read.
  Status Load(google::protobuf::Message* state, uint64_t* seq, std::string* event_hash) const;

  // Durably replaces the snapshot (see above). IoError naming the file when
  // a step fails; the previous snapshot is then still in place.
  Status Store(uint64_t seq, const std::string& event_hash, const google::protobuf::Message& state) const;

  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string service_;
  std::string path_;
};

// When a service takes its next snapshot: after `every_events` events, or
// `every_seconds` after the last one when any event came since. Zero
// every_events switches snapshots off: none is taken, and none is loaded.
struct SnapshotPolicy {
  uint64_t every_events = 100000;
  int every_seconds = 60;
};

// Tracks the seq and time of the last snapshot against a SnapshotPolicy.
// Not thread-safe.
class SnapshotSchedule {
 public:
  explicit SnapshotSchedule(SnapshotPolicy policy = {}) : policy_(policy) {}
  // The snapshot (or the start) covers `seq` as of now.
  void Taken(uint64_t seq);
  // True when a snapshot at `seq` is due now.
  bool Due(uint64_t seq) const;
  bool enabled() const { return policy_.every_events > 0; }
  // True when snapshots are on and `seq` is past the last one (a snapshot
  // at `seq` would hold something new).
  bool Behind(uint64_t seq) const { return enabled() && seq > seq_; }

 private:
  SnapshotPolicy policy_;
  uint64_t seq_ = 0;
  std::chrono::steady_clock::time_point at_ = std::chrono::steady_clock::now();
};

// Reads event `seq` of the log through `reader` and compares its chain hash
// with `event_hash`: *same is true when they agree (the snapshot belongs to
// this log). *same is false when the log has no such event or another one.
// Returns the read's Status otherwise.
Status CheckSnapshotEvent(BrokerClient* reader, const std::string& purpose, uint64_t seq,
                          const std::string& event_hash, bool* same);

// The start of a service: loads `service`'s snapshot from `file` into
// *state and checks it against the log through `reader`. *seq is the seq the
// state covers, or 0 when the service must replay the whole log (no
// snapshot: logged at info; one that is corrupt or of another log: logged
// as a warning naming the file, and *state is cleared); *event_hash the
// chain hash of event *seq ("" with 0). Returns a read's
// error (the broker did not answer); the caller retries as at any start.
Status LoadSnapshotOrReplay(const std::string& service, const SnapshotFile& file, BrokerClient* reader,
                            google::protobuf::Message* state, uint64_t* seq,
                            std::string* event_hash);

}  // namespace refx
