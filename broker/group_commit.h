// Private to the broker: one group commit, the unit the ledger stages into
// and the writer thread writes (see broker.h for the pipeline).
#pragma once

#include <google/protobuf/arena.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/read_session.h"
#include "broker/waiter.h"
#include "eventlog/event_log.h"
#include "refx/v1/wire.pb.h"

namespace refx::broker {

// Events staged together for one AppendBatch, and everyone waiting on them.
// The loop builds one while the writer thread may be writing the one before
// (the loop only reads that one; the writer touches only `events`).
// Not copyable or movable: batches are handed over as pointers.
struct GroupCommit {
  GroupCommit() = default;
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;
  ~GroupCommit();  // detaches the referrals that live in `arenas` from `events` first
  // Nothing to write and nobody to answer.
  bool empty() const {
    return events.empty() && waiters.empty() && deferred_replies.empty() && deferred_sessions.empty();
  }
  std::vector<eventlog::PendingEvent> events;
  // Everyone answered with an ack once `events` are durable.
  std::vector<Waiter> waiters;
  // Dedupe keys of `events` -> index, so a repeat waits for the first.
  std::unordered_map<std::string, size_t> keys;
  // case_state writes of `events` (key -> serialised record).
  std::unordered_map<std::string, std::string> state;
  // Replies and read sessions that must wait until `events` are durable
  // (a batch frame's result; the record_accessed event of an audit
  // read): sent/started once it is, answered with an error if not.
  std::vector<std::pair<Waiter, v1::Frame>> deferred_replies;
  std::vector<ReadSession> deferred_sessions;
  // The arenas the frames were decoded into: submitted referrals in
  // `events` point into them (Ledger::TakeReferral attaches, not copies).
  std::vector<std::unique_ptr<google::protobuf::Arena>> arenas;
};

}  // namespace refx::broker
