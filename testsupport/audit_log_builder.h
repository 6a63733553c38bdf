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

// How a synthetic log is laid out. The default is the cycle of five below,
// one event a second, every case left open (OUTCOME_RECORDED): the most
// state a service can hold for a log of its length.
struct SyntheticShape {
  // Seconds between events' times (event seq's time is 1795000000 +
  // seq * seconds_per_event).
  uint64_t seconds_per_event = 1;
  // Each cycle's fifth event is a case_closed by sevenoaks-csu for the
  // cycle's case instead of a record_accessed: every case ends closed, as
  // real ones do.
  bool close_cases = false;
};

// The synthetic event at `seq`, in a cycle of five:
//   1 referral_submitted by kent-police (dedupe: agency + reference)
//   2 case_routed to DA_MARAC or IDVA by refx-router (dedupe: append key)
//   3 case_acknowledged by sevenoaks-csu
//   4 outcome_recorded by sevenoaks-csu (dedupe: append key)
//   5 record_accessed by ig-auditor (no referral), or with
//     shape.close_cases case_closed by sevenoaks-csu
// Sets *dedupe_key to the event's dedupe key, or "" for none.
v1::Event SyntheticEvent(uint64_t seq, std::string* dedupe_key, const SyntheticShape& shape = {});

// Of the default shape only (close_cases gives event 5 the cycle's referral
// and destination, which these do not know): the referral id of the
// submission that `seq` belongs to ("" for 5).
std::string SyntheticReferralOf(uint64_t seq);
// Of the default shape only: the destination of the case `seq` belongs to
// (DA_MARAC or IDVA); events 1 and 5 of the cycle carry none.
std::string SyntheticDestinationOf(uint64_t seq);

// Appends events head+1 .. head+count to `log` in batches of at most
// `batch`; when signer is not null, signs and stores a checkpoint each time
// the head reaches a multiple of checkpoint_every.
Status AppendSynthetic(eventlog::EventLog* log, uint64_t count, const eventlog::CheckpointSigner* signer,
                       uint64_t checkpoint_every, uint64_t batch = 500, const SyntheticShape& shape = {});

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
