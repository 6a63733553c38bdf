// Signed checkpoints in the event log: the broker signs its head now and
// then (the keys, the signed bytes and their verification are
// eventlog/checkpoint_signing.h) and stores the refx.v1.Checkpoint in the
// log's "checkpoints" column family (EventLog::PutCheckpoint); verifiers
// read them back (eventlog/verifier.h, `refx audit checkpoint`).
//
// Thread-safety: SignAndStoreHead follows EventLog::PutCheckpoint's rule
// (the writer thread); ReadCheckpoints may run beside readers.
// CheckpointSchedule is a plain value: one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "core/status.h"
#include "eventlog/checkpoint_signing.h"
#include "eventlog/event_log.h"
#include "refx/v1/checkpoint.pb.h"

namespace refx::eventlog {

// Signs the log's current head with `signer` and stores the checkpoint with
// EventLog::PutCheckpoint (its own synced write). Does nothing and returns
// OK when the log is empty. On success sets *out when out is not null.
// Call it from the log's writer thread (PutCheckpoint's rule).
Status SignAndStoreHead(const CheckpointSigner& signer, EventLog* log, v1::Checkpoint* out = nullptr);

// Reads every stored checkpoint in seq order. Corruption naming the seq if
// one does not parse.
Status ReadCheckpoints(const EventLog& log, std::vector<v1::Checkpoint>* out);

// When the broker should sign its head: at once if it never signed (so a
// restarted broker covers the log it opened), then once `every_events`
// events were appended since the last checkpoint, or `every` has passed and
// the head moved, whichever comes first. every_events = 0 or every = 0 turns
// that trigger off. Never due for an empty log or an unchanged head.
class CheckpointSchedule {
 public:
  using Clock = std::chrono::steady_clock;
  CheckpointSchedule(uint64_t every_events, std::chrono::seconds every)
      : every_events_(every_events), every_(every) {}

  // True if a checkpoint of `head_seq` is due at `now`.
  bool Due(uint64_t head_seq, Clock::time_point now) const;
  // Records that `head_seq` was checkpointed at `now`.
  void Done(uint64_t head_seq, Clock::time_point now) {
    signed_seq_ = head_seq;
    signed_at_ = now;
    ever_signed_ = true;
  }

 private:
  uint64_t every_events_;
  std::chrono::seconds every_;
  uint64_t signed_seq_ = 0;
  Clock::time_point signed_at_{};
  bool ever_signed_ = false;
};

}  // namespace refx::eventlog
