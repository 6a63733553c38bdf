// Service snapshots: a service's in-memory state as of one seq of the log,
// so that a restart reads the snapshot and the log's tail instead of the
// whole log (the cost of a start no longer grows with history).
//
// The file STATE_DIR/<service>.snapshot is (format 2):
//   the 16 bytes "refx-snapshot-2\n";
//   a length-delimited refx.v1.ServiceSnapshot header: the service, the seq
//     it covers and the chain hash of the event at that seq (no state);
//   any number of length-delimited chunks: each a message of the service's
//     state type holding a part of the state (e.g. 1,024 referrals);
//   BLAKE2b-256 (libsodium crypto_generichash) of every byte before it.
// The state is written and read a chunk at a time, so neither a store nor a
// load holds the whole state as one message tree (at 200,000 referrals that
// tree cost more time and memory than the state it described). A load maps
// the file, checks the checksum before it hands out any chunk, and parses
// each chunk into one reused message.
//
// Stores are atomic: written to a temporary file, fsynced, renamed over the
// old one, and the folder fsynced; a crash at any point leaves the old
// snapshot or the new one, and a torn or altered file fails its checksum
// (the service then replays the whole log, and says so). A file of the
// earlier format (one ServiceSnapshot holding the whole state) is refused
// the same way: one full replay, then a snapshot of this format.
//
// What a snapshot may hold (each service's contract): only state derived
// from events up to its seq, plus the effects of appends the broker has
// already acknowledged (they are in the log, after the seq, and the tail
// brings them back). Nothing queued and not yet acknowledged: a restart
// from the snapshot would take it as done. The service's cursor is separate
// and may be before the snapshot's seq - as after a full replay, the state
// is then ahead of the cursor, and the idempotent handling of the events in
// between (idempotency keys, "already exists" checks) is what it was.
//
// Thread-safety: not thread-safe; one SnapshotFile per service process (the
// state folder lock keeps a second process out).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
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

  // Hands each chunk of a store to the file; called in order.
  using ChunkSink = std::function<void(const google::protobuf::MessageLite& chunk)>;
  // Takes one chunk of a load (parsed into the caller's message).
  using ChunkFn = std::function<void(const google::protobuf::MessageLite& chunk)>;

  // Reads the snapshot: *seq the seq it covers, *event_hash the chain hash
  // of that event, and each chunk in the order stored, parsed into *chunk
  // (cleared and reused: the caller's state type) and passed to `apply`.
  // NotFound when there is no file; Corruption naming the file when it is
  // not of this format, does not parse, names another service or fails its
  // checksum - all found before the first chunk is applied, except a chunk
  // that passes the checksum but does not parse as *chunk (another state
  // type): then some chunks may have been applied, and the caller must
  // clear its state. IoError when it cannot be read.
  Status Load(uint64_t* seq, std::string* event_hash, google::protobuf::MessageLite* chunk,
              const ChunkFn& apply) const;
  // The same, every chunk merged into *state (tests, small states).
  Status Load(google::protobuf::Message* state, uint64_t* seq, std::string* event_hash) const;

  // Durably replaces the snapshot (see above): `write` passes each chunk of
  // the state to the sink it is given. IoError naming the file when a step
  // fails; the previous snapshot is then still in place. Internal when a
  // chunk cannot be serialised.
  Status Store(uint64_t seq, const std::string& event_hash, const std::function<void(const ChunkSink&)>& write) const;
  // The same with the whole state as one chunk (tests, small states).
  Status Store(uint64_t seq, const std::string& event_hash, const google::protobuf::Message& state) const;

  // The key check (ServiceSnapshot.key_check) stores write and loads
  // require; "" by default. A load of a file with another value fails with
  // InvalidArgument naming the file, before any chunk is applied.
  void set_key_check(std::string check) { key_check_ = std::move(check); }

  const std::string& path() const { return path_; }
  const std::string& service() const { return service_; }
  const std::string& key_check() const { return key_check_; }

 private:
  std::string dir_;
  std::string service_;
  std::string path_;
  std::string key_check_;
};

// The key check of a secret: HMAC-SHA-256 under `secret` of a constant
// naming `purpose` (the secret cannot be recovered from it); "" for an
// empty secret.
std::string SnapshotKeyCheck(const std::string& secret, const std::string& purpose);

// Fills chunks of a snapshot: the caller adds entries to chunk() and calls
// Added() after each; every `per_chunk` entries, and at Flush(), the chunk
// goes to `add` and is cleared (its repeated fields keep their elements for
// reuse). Not thread-safe.
template <typename Chunk>
class ChunkWriter {
 public:
  ChunkWriter(size_t per_chunk, std::function<void(const Chunk&)> add) : per_chunk_(per_chunk), add_(std::move(add)) {}
  Chunk* chunk() { return &chunk_; }
  void Added() {
    if (++entries_ >= per_chunk_) Flush();
  }
  // Hands on what is left (nothing when no entry was added since).
  void Flush() {
    if (entries_ == 0) return;
    add_(chunk_);
    chunk_.Clear();
    entries_ = 0;
  }

 private:
  size_t per_chunk_;
  std::function<void(const Chunk&)> add_;
  Chunk chunk_;
  size_t entries_ = 0;
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

// The start of a service: loads `service`'s snapshot from `file`, passing
// each chunk to `apply` (see SnapshotFile::Load), and checks it against the
// log through `reader`. *seq is the seq the state covers, or 0 when the
// service must replay the whole log (no snapshot: logged at info; one that
// is corrupt or of another log: logged as a warning naming the file, and
// `clear` is called to drop whatever chunks were applied); *event_hash the
// chain hash of event *seq ("" with 0). The event is checked before any
// chunk is applied. Returns a read's error (the broker did not answer; the
// state is then cleared too); the caller retries as at any start.
Status LoadSnapshotOrReplay(const std::string& service, const SnapshotFile& file, BrokerClient* reader,
                            google::protobuf::MessageLite* chunk, const SnapshotFile::ChunkFn& apply,
                            const std::function<void()>& clear, uint64_t* seq, std::string* event_hash);
// The same, every chunk merged into *state (cleared for a full replay).
Status LoadSnapshotOrReplay(const std::string& service, const SnapshotFile& file, BrokerClient* reader,
                            google::protobuf::Message* state, uint64_t* seq, std::string* event_hash);

}  // namespace refx
