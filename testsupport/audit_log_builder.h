// Synthetic event logs for the audit tests (tests/audit), the event log's
// unit tests (tests/unit/event_log_test.cc) and the audit benchmark
// (bench/audit_bench.cc): synthetic events, real logs written with
// EventLog::AppendBatch (synthetic referrals and lifecycle events, with
// dedupe keys and destinations), signed checkpoints stored every N events,
// and direct RocksDB access for tampering (as an attacker with the files
// would: the one place besides eventlog/ and the benchmarks' raw ceiling
// that opens RocksDB, see eventlog/CMakeLists.txt).
// Not thread-safe; test and benchmark code, never linked into a product.
#pragma once

#include <rocksdb/db.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "eventlog/checkpoints.h"
#include "eventlog/event_log.h"

namespace refx::audit_testing {

// A referral_submitted event at `seq` (time 1795000000 + seq) by
// kent-police for `referral_id`: reference KP-AUDIT-<seq>, a synthetic
// person, no dedupe key of its own.
v1::Event SyntheticSubmission(uint64_t seq, const std::string& referral_id);
// A case_routed event at `seq` by refx-router sending `referral_id` to
// `destination` (rule da-high-risk).
v1::Event SyntheticRouting(uint64_t seq, const std::string& referral_id, const std::string& destination);

// The synthetic event at `seq`, in a cycle of five:
//   1 referral_submitted by kent-police (dedupe: agency + reference)
//   2 case_routed to DA_MARAC or IDVA by refx-router (dedupe: append key)
//   3 case_acknowledged by sevenoaks-csu
//   4 outcome_recorded by sevenoaks-csu (dedupe: append key)
//   5 record_accessed by ig-auditor (no referral)
// Sets *dedupe_key to the event's dedupe key, or "" for none.
v1::Event SyntheticEvent(uint64_t seq, std::string* dedupe_key);

// The referral id of the submission that `seq` belongs to ("" for 5).
std::string SyntheticReferralOf(uint64_t seq);
// The destination of the case `seq` belongs to (DA_MARAC or IDVA); events 1
// and 5 of the cycle carry none.
std::string SyntheticDestinationOf(uint64_t seq);

// Appends events head+1 .. head+count to `log` in batches of at most
// `batch`; when signer is not null, signs and stores a checkpoint each time
// the head reaches a multiple of checkpoint_every.
Status AppendSynthetic(eventlog::EventLog* log, uint64_t count, const eventlog::CheckpointSigner* signer,
                       uint64_t checkpoint_every, uint64_t batch = 500);

// Opens every column family of a log directly (read-write), for tampering.
class RawDb {
 public:
  explicit RawDb(const std::string& path);
  ~RawDb();
  const rocksdb::Status& status() const { return status_; }
  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) const;

  // Conveniences that abort the test run on RocksDB errors (ASSERTs live in
  // the tests; these return false on failure).
  bool Get(const std::string& family, const std::string& key, std::string* value) const;
  bool Put(const std::string& family, const std::string& key, const std::string& value) const;
  bool Delete(const std::string& family, const std::string& key) const;

 private:
  rocksdb::Status status_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace refx::audit_testing
