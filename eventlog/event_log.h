// EventLog: the append-only, hash-chained referral event log, stored in
// RocksDB. The broker is its only writer; offline audit tools open it
// read-only.
//
// Layout (column families):
//   events         8-byte big-endian seq -> stored Event bytes || 32-byte chain hash
//   dedupe         identity NUL referrer reference -> 8-byte seq (SubmissionKey)
//                  identity NUL "append:" idempotency key -> 8-byte seq (AppendKey)
//   by_referral    referral id NUL seq -> ""
//   by_destination destination code NUL seq -> ""
//   by_subject     subject key NUL seq -> "": each subject_indexed event
//                  (the router's keyed subject hash of a referral; the
//                  broker never holds the key, docs/ARCHITECTURE.md)
//   case_state     referral id NUL destination -> refx.v1.CaseRecord
//                  referral id NUL             -> refx.v1.ReferralRecord
//   cursors        consumer name -> 8-byte seq
//   meta           "head_seq" -> 8 bytes, "head_hash" -> 32 bytes, "schema" -> "1"
//   checkpoints    8-byte big-endian seq -> serialised refx.v1.Checkpoint (a
//                  signed head; see eventlog/checkpoints.h)
//
// Every AppendBatch is one atomic WriteBatch written with sync=true: when it
// returns OK the events, their index entries and the new head are on disk
// together, and only then may the caller acknowledge them.
//
// Thread-safety: AppendBatch, PutCursor, PutCheckpoint and Close must be
// called from one thread at a time (the broker's writer thread). The read
// methods (ScanFamily included) are safe to call from any thread,
// concurrently with AppendBatch; they see a prefix of the log that is at
// least as long as the last completed AppendBatch.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "refx/v1/event.pb.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatch;
}  // namespace rocksdb

namespace refx::eventlog {

// One event as stored: its seq, the exact bytes the chain covers, and its
// chain hash.
struct StoredEvent {
  uint64_t seq = 0;
  std::string bytes;  // serialised refx.v1.Event
  std::string hash;   // 32 bytes
};

// An event waiting to be appended.
struct PendingEvent {
  // Must have seq == head_seq() + 1 + its index in the batch; time, actor
  // and body set by the caller. The log does not change it.
  v1::Event event;
  // EventLog::SubmissionKey or AppendKey, or empty for none.
  std::string dedupe_key;
  // case_state entries (EventLog::ReferralStateKey / CaseStateKey ->
  // serialised record) written in the same batch.
  std::vector<std::pair<std::string, std::string>> state_puts;
};

struct OpenOptions {
  std::string path;
  bool create_if_missing = true;
  bool read_only = false;
  // sync=true on every write. Only benchmarks of the raw ceiling turn it off.
  bool sync = true;
  // For verifiers (eventlog/verifier.h) only: open even when the stored head
  // disagrees with the last event, so the damage can be examined and named.
  // head_seq() and head_hash() then return the head recorded in meta (0 and
  // the genesis hash when absent; an empty hash when malformed), which may
  // differ from the events. Never set it for a log that will be appended to.
  bool skip_head_check = false;
};

// The outcome of a full chain verification.
struct VerifyReport {
  bool ok = true;
  uint64_t events_checked = 0;
  uint64_t first_bad_seq = 0;  // 0 when ok
  std::string problem;         // what is wrong at first_bad_seq
};

struct BackupReport;

class EventLog {
 public:
  // Opens (or creates) the log at options.path. On open, the stored head
  // (seq, hash) is checked against the last event: a mismatch, a gap at the
  // tail or an unreadable database is returned as Corruption and the log is
  // not opened. On success *out owns the log.
  static Status Open(const OpenOptions& options, std::unique_ptr<EventLog>* out);

  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Appends every event of `batch` in one atomic, synced write batch, with
  // their dedupe and index entries and the new head. On success, returns OK
  // and the events are durable. On failure nothing of the batch is in the
  // log, the head is unchanged, and the error says why (InvalidArgument for
  // a wrong seq or an empty body; IoError for a write that failed).
  Status AppendBatch(const std::vector<PendingEvent>& batch);

  // Highest seq in the log (0 when empty) and its chain hash.
  uint64_t head_seq() const { return head_seq_.load(std::memory_order_acquire); }
  std::string head_hash() const;

  // Idempotency keys as the log stores them: opaque to callers, who use
  // them as map keys and in PendingEvent::dedupe_key. A submission's key is
  // (identity, referrer_reference); an append's is (identity, the client's
  // idempotency key), kept apart from submissions. Identities cannot hold
  // NUL (config validation), so keys of different identities never collide.
  static std::string SubmissionKey(std::string_view identity, std::string_view referrer_reference);
  static std::string AppendKey(std::string_view identity, std::string_view idempotency_key);
  // case_state keys (opaque, for PendingEvent::state_puts): the referral's
  // own record, and the record of its case at `destination`.
  static std::string ReferralStateKey(std::string_view referral_id);
  static std::string CaseStateKey(std::string_view referral_id, std::string_view destination);

  // Looks up an idempotency key (SubmissionKey / AppendKey). OK and *seq
  // set when present; NotFound (and *seq untouched) when absent; Corruption
  // when the stored value is malformed; IoError when RocksDB cannot read. A
  // caller must not treat an error as "absent": that would write twice.
  Status FindDuplicate(const std::string& dedupe_key, uint64_t* seq) const;

  // Reads one event. NotFound if seq is not in the log; Corruption if the
  // stored value is malformed.
  Status Get(uint64_t seq, StoredEvent* out) const;

  // Calls fn for each event with seq in [from_seq, to_seq] in order, until fn
  // returns false. to_seq = 0 means up to the head.
  Status Scan(uint64_t from_seq, uint64_t to_seq,
              const std::function<bool(const StoredEvent&)>& fn) const;

  // The seqs of every event of one referral (or destination), in order.
  Status SeqsForReferral(const std::string& referral_id, std::vector<uint64_t>* out) const;
  Status SeqsForDestination(const std::string& destination, std::vector<uint64_t>* out) const;
  // The seqs of the subject_indexed events recorded under `subject_key`, in
  // order (empty when the subject has none).
  Status SeqsForSubject(const std::string& subject_key, std::vector<uint64_t>* out) const;

  // Reads the state record of a referral, or of its case at `destination`.
  // OK with *out set; NotFound if there is none; Corruption if the stored
  // record does not parse; IoError when RocksDB cannot read.
  Status GetReferralRecord(const std::string& referral_id, v1::ReferralRecord* out) const;
  Status GetCaseRecord(const std::string& referral_id, const std::string& destination, v1::CaseRecord* out) const;
  // Calls fn for the record of every case of `referral_id` (not the
  // referral's own record), in destination order. OK also when there are
  // none; Corruption (having stopped) at a record that does not parse.
  Status ScanCaseRecords(const std::string& referral_id, const std::function<void(const v1::CaseRecord&)>& fn) const;

  // A consumer's last processed seq: OK with *seq set; NotFound (*seq
  // untouched) if the consumer has none; Corruption if the stored value is
  // malformed; IoError when RocksDB cannot read.
  Status GetCursor(const std::string& consumer, uint64_t* seq) const;
  // Stores a consumer's seq (synced). IoError if the write failed.
  Status PutCursor(const std::string& consumer, uint64_t seq);

  // Stores a signed checkpoint (serialised refx.v1.Checkpoint) under its seq
  // in its own synced write, replacing any checkpoint at that seq. The log
  // does not look inside `bytes`. Returns IoError if the write failed.
  Status PutCheckpoint(uint64_t seq, const std::string& bytes);
  // Calls fn(seq, bytes) for every stored checkpoint in seq order until fn
  // returns false. A log opened read-only that predates checkpoints has
  // none. Corruption if a key is not 8 bytes.
  Status ScanCheckpoints(const std::function<bool(uint64_t seq, const std::string& bytes)>& fn) const;

  // For verifiers (eventlog/verifier.h): calls fn(key, value) for each entry
  // of the column family named `family` (see ColumnFamilyNames) whose key is
  // in [from, until) — an empty `until` means no upper bound — in key order,
  // or in reverse order when `backwards`, until fn returns false. The views
  // are valid only during the call. Reads ahead in large chunks and
  // bypasses the block cache. InvalidArgument for a family this log does
  // not have; Corruption or IoError when RocksDB cannot read.
  Status ScanFamily(const std::string& family, const std::string& from, const std::string& until, bool backwards,
                    const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  // Recomputes the chain over every stored event, checks seqs are contiguous
  // from 1 and that the head matches. Stops at the first problem.
  VerifyReport VerifyChain() const;

 private:
  friend Status TakeBackup(EventLog* log, const std::string& backup_dir, BackupReport* report);  // backup.h
  EventLog() = default;
  Status LoadAndCheckHead();
  // Reads and parses one case_state record; NotFound, Corruption, IoError.
  Status GetStateRecord(const std::string& key, google::protobuf::Message* out) const;
  Status SeqsForIndex(rocksdb::ColumnFamilyHandle* index, const std::string& value, std::vector<uint64_t>* out) const;
  // Adds the by_subject entry of `event` (a subject_indexed event) to `wb`.
  void IndexSubject(const v1::Event& event, uint64_t seq, rocksdb::WriteBatch* wb) const;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* events_ = nullptr;
  rocksdb::ColumnFamilyHandle* dedupe_ = nullptr;
  rocksdb::ColumnFamilyHandle* by_referral_ = nullptr;
  rocksdb::ColumnFamilyHandle* by_destination_ = nullptr;
  rocksdb::ColumnFamilyHandle* by_subject_ = nullptr;
  rocksdb::ColumnFamilyHandle* case_state_ = nullptr;
  rocksdb::ColumnFamilyHandle* cursors_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* checkpoints_ = nullptr;  // null: read-only log without the family
  bool sync_ = true;
  bool read_only_ = false;
  bool skip_head_check_ = false;

  std::atomic<uint64_t> head_seq_{0};
  mutable std::mutex head_mu_;  // guards head_hash_
  std::string head_hash_;
};

// Names of the column families, in the order they are opened.
const std::vector<std::string>& ColumnFamilyNames();

}  // namespace refx::eventlog
