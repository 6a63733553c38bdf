// Verification of the event log through the running broker, as an auditor:
// what `refx audit verify` does without --db and the web console's
// integrity page shows (one implementation for both).
//
// The chain is recomputed over the exact bytes the broker streams
// (eventlog/chain_checker.h), so a broker or database that altered an
// event, dropped one or reordered them is caught; the signed checkpoints
// (CheckpointsRequest, and trusted ones kept elsewhere) catch a log whose
// chain was recomputed after a rewrite. The indexes are not checked: that
// needs the database (`refx audit verify --db`). The read is an audited
// read: the broker records it, with its purpose, before it streams.
//
// Thread-safety: plain functions; a BrokerClient is used from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "client/broker_client.h"
#include "core/status.h"
#include "refx/v1/checkpoint.pb.h"
#include "refx/v1/cli.pb.h"

namespace refx::audit {

// A public key that checkpoint signatures are checked with, and the name
// people know it by (the key file's name without ".sign.pub", e.g. "broker").
struct SigningKey {
  std::string name;
  std::string public_key;  // 32 bytes, Ed25519
  std::string key_id;      // as Checkpoint.key_id names it
};

// Reads NAME.sign.pub files (eventlog/checkpoint_signing.h) into *out.
// InvalidArgument / IoError naming the file that cannot be read.
Status LoadSigningKeys(const std::vector<std::string>& paths, std::vector<SigningKey>* out);

// What happened to one checkpoint.
struct CheckpointStatus {
  v1::Checkpoint checkpoint;
  bool trusted = false;        // given by the caller (a file kept apart), not stored by the broker
  bool authentic = false;      // well formed and, when keys were given, signed by one of them
  bool matches_chain = false;  // equals the chain recomputed at its seq (false beyond the stream's end)
  std::string signer;          // the SigningKey name whose key_id it carries; "" when none matches
};

struct OnlineVerifyOptions {
  std::string purpose;                       // recorded by the broker; required
  std::vector<SigningKey> keys;              // none: signatures are not checked
  std::vector<v1::Checkpoint> trusted;       // checkpoints kept apart from the log
  uint32_t initial_credit = 20000;           // events the broker may send ahead
  // A signed checkpoint verified by an earlier run, already checked by the
  // caller to be authentic under `keys`: the stream starts after its seq,
  // chained from its hash, and what is before it is not checked again
  // (tampering there needs a full run to be found). seq 0: from seq 1.
  v1::Checkpoint resume_after;
  // Called after each verified event with (events checked, head seq when the
  // read began); may be empty. With resume_after, events checked count from
  // its seq.
  std::function<void(uint64_t checked, uint64_t head)> progress;
};

struct OnlineVerification {
  // db is left for the caller to fill ("broker at ENDPOINT");
  // index_entries_checked is 0.
  v1::VerifyResult result;
  // Every checkpoint held (the broker's and the trusted ones), by seq.
  std::vector<CheckpointStatus> checkpoints;
};

// Fetches the broker's checkpoints (and the head they came with), streams
// every event recomputing the chain, checks the seqs run from 1 without a
// gap and reach that head, and holds the checkpoints against the recomputed
// chain (and, with keys, their signatures). OK with *out filled when the
// verification ran, whatever it found (out->result.ok tells); the
// broker's refusal (e.g. PermissionDenied for a caller who is no auditor,
// InvalidArgument for a missing purpose) or Unavailable when it cannot be
// reached, with *out unspecified.
Status VerifyThroughBroker(BrokerClient* client, const OnlineVerifyOptions& options, OnlineVerification* out);

}  // namespace refx::audit
