// Private to the broker: the state of the clients' reads of the log (see
// broker_read.cc). Plain data, owned by the loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "broker/waiter.h"

namespace refx::broker {

// A client's read of the log (one per connection, keyed by routing id).
struct ReadSession {
  Waiter waiter;              // where EventBatch frames go (correlation id of the read)
  std::string identity;        // the connection's agency id
  std::string person;          // on_behalf_of (rights re-checked each turn), or empty
  uint64_t next_seq = 1;      // next seq to look at
  uint64_t to_seq = 0;        // 0 = no limit
  uint64_t credit = 0;        // events the client will still accept
  bool follow = false;
  std::string referral_id;    // optional filters
  std::string destination;
  std::vector<uint64_t> index_seqs;  // for filtered reads: the seqs to send
  size_t index_pos = 0;
  bool indexed = false;
  // Event-time window [since, until) in Unix nanoseconds (0 = unbounded)
  // and the agency whose events are wanted (empty = any).
  int64_t since_nanos = 0;
  int64_t until_nanos = 0;
  std::string agency;
  // Event body field numbers wanted (bit n: Event field n; 0 = every kind)
  // and the form events are sent in (ReadRequest.bodies, .form).
  uint64_t body_mask = 0;
  int form = 0;  // a v1::ReadForm
  // The fingerprint of the connection's CURVE key (ZAP metadata), checked
  // again each turn: a revoked key's read, or a rotated-out key's past its
  // overlap, ends.
  std::string key_fingerprint;
};

// Every read in progress, and the connections whose read has ended.
struct ReadSessions {
  std::map<std::string, ReadSession> open;  // by routing id
  // Connections (routing ids) whose read has ended. A client grants credit
  // as it consumes events and cannot know the broker has meanwhile sent the
  // last batch, so a credit arriving after the end is expected and is
  // dropped quietly; only a credit on a connection that never read is
  // refused. Bounded: cleared when it grows past kMaxEnded.
  std::set<std::string> ended;
  static constexpr size_t kMaxEnded = 4096;
};

}  // namespace refx::broker
