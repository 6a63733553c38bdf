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
//                  broker never holds the key, docs/ARCHITECTURE.md);
//                  written in the event's synced batch, not rebuilt;
//                  deleted with the referral's history key. Also "" and
//                  "\xff" -> "": bounds written with every batch that
//                  touches the family, so no file boundary is a hash
//   case_state     referral id NUL destination -> refx.v1.CaseRecord
//                  referral id NUL             -> refx.v1.ReferralRecord
//   cursors        consumer name -> 8-byte seq
//   meta           "head_seq" -> 8 bytes, "head_hash" -> 32 bytes, "schema" -> "3"
//                  ("sealed_from_seq" -> 8 bytes: the first seq written under
//                  schema 2, when an older log was upgraded;
//                  "history_sealed_from_seq": the first under schema 3,
//                  whose subject_indexed events are sealed),
//                  "indexed_seq" -> 8 bytes (absent: every event is indexed)
//   checkpoints    8-byte big-endian seq -> serialised refx.v1.Checkpoint (a
//                  signed head; see eventlog/checkpoints.h)
//   data_keys      referral id -> its data key wrapped by the master key
//                  (eventlog/sealing.h); deleted to erase the referral
//                  "history:" referral id -> its history key, wrapped the
//                  same way, which seals its subject_indexed events;
//                  deleted when its ROUTING_HISTORY retention ends
//
// Schema 2 (encryption at rest; 3 adds the history keys): opened with a master key, the log seals the
// personal fields of every referral_submitted and case_delivered it appends
// into Event.sealed with the referral's data key, *before* the chain hash is
// computed, so the chain (and every verifier) covers the sealed bytes. A
// new data key is written in the same atomic batch as the first event that
// uses it. A subject_indexed event's subject key is sealed the same way
// under the referral's history key (written with the first such event);
// its by_subject entry is written in clear beside it and deleted with the
// history key. Readers call OpenStored for the event with its fields merged
// back, or marked erased once the key is destroyed (EraseDataKey in a
// batch, then PurgeDestroyedKeys). Schema-1 logs (plaintext, no data_keys)
// open, read and verify unchanged; their old events stay plaintext (see
// docs/SECURITY.md).
//
// Every AppendBatch is one atomic WriteBatch written with sync=true: when it
// returns OK the events, their dedupe keys and case state and the new head
// are on disk together, and only then may the caller acknowledge them. The
// rebuildable indexes (by_referral, by_destination) follow in a second,
// unsynced batch with meta "indexed_seq", the last seq they cover; the next
// synced batch makes it durable (one WAL), so a power loss can take only
// the last index batches, and a writable Open indexes the events after the
// marker again. Readers of the indexes see the events past the marker too.
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
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "eventlog/background_pacing.h"
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
  // A referral id whose data key the batch deletes (crypto-shredding; the
  // event is its subject_erased), or empty.
  std::string erase_data_key;
  // A referral id whose history key (sealing.h HistoryKeyId: the key of its
  // keyed subject hash) the batch deletes, with the referral's by_subject
  // entries (the event is its subject_erased), or empty.
  std::string erase_history_key;
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
  // The master key (eventlog/sealing.h, kMasterKeyBytes) that wraps the
  // data keys: with it, AppendBatch seals personal fields and OpenStored
  // opens them. Empty: events are stored as given (plaintext) and sealed
  // events read back marked as not opened.
  std::string master_key;
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
  // Highest seq whose by_referral and by_destination entries are written
  // (normally head_seq(); behind it while a batch's index write is under
  // way, and for the rest of the process after one failed).
  uint64_t indexed_seq() const { return indexed_seq_.load(std::memory_order_acquire); }

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

  // The seqs of every event of one referral (or destination), in order:
  // from the index up to indexed_seq(), then from the events after it.
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

  // Encryption at rest (event_log_sealing.cc). Whether the log seals (it
  // was opened with a master key).
  bool sealing() const { return !master_key_.empty(); }
  // Parses stored event bytes into *out and opens its sealed fields. OK with
  // *opened true when *out differs from the bytes: the fields were merged
  // back, or, when the referral's data key is destroyed (or the log has no
  // master key), `sealed` cleared and `erased` set. Corruption when the
  // bytes do not parse or the sealed fields do not authenticate; IoError
  // when the key cannot be read.
  Status OpenStored(const std::string& bytes, v1::Event* out, bool* opened) const;
  // Whether stored event bytes carry sealed fields (a cheap look at the
  // top-level fields, without parsing the event).
  static bool IsSealed(std::string_view bytes);
  // OK when `referral_id` has a data key; NotFound when it has none
  // (never sealed, or destroyed); IoError/Corruption when unreadable.
  Status HasDataKey(const std::string& referral_id) const;
  // The same for the referral's history key (sealing.h HistoryKeyId).
  Status HasHistoryKey(const std::string& referral_id) const;
  // Makes destroyed data keys leave the disk: flushes every column family
  // (so the write-ahead log files that held them are obsolete and deleted:
  // the log keeps no WAL archive), rewrites data_keys with a forced
  // bottommost compaction (dropping the deleted keys and their tombstones)
  // (and, after a history key was destroyed, by_subject, whose deleted
  // entries held the subject hash) and deletes the obsolete files at once.
  // Blocks until done. A backup in
  // progress (files held) delays the deletion of the old files until it ends.
  Status PurgeDestroyedKeys();

 private:
  friend Status TakeBackup(EventLog* log, const std::string& backup_dir, BackupReport* report);  // backup.h
  EventLog() = default;
  Status LoadAndCheckHead();
  // Reads and parses one case_state record; NotFound, Corruption, IoError.
  Status GetStateRecord(const std::string& key, google::protobuf::Message* out) const;
  Status SeqsForIndex(rocksdb::ColumnFamilyHandle* index, const std::string& value, std::vector<uint64_t>* out) const;
  // Appends to *out the seqs of `index` entries under `value` up to seq
  // `up_to`, ascending (the entries alone, without the events past a marker).
  Status ScanIndexEntries(rocksdb::ColumnFamilyHandle* index, const std::string& value, uint64_t up_to,
                          std::vector<uint64_t>* out) const;
  // Sealing (event_log_sealing.cc). The stored bytes of `p` into *value,
  // its personal fields sealed when the log seals; new data keys and an
  // erased one go into *wb. Writer thread.
  Status StoredBytes(const PendingEvent& p, rocksdb::WriteBatch* wb, std::string* value);
  // After the batch's write: keeps its new keys (written) or forgets them.
  void FinishSealing(bool written);
  // Before the batch: draws the randomness its new data keys and nonces
  // need (one system call; TakeRandom hands it out, RefillRandom(0)
  // forgets it). Writer thread.
  void BeginSealing(const std::vector<PendingEvent>& batch);
  void RefillRandom(size_t bytes);
  const unsigned char* TakeRandom(size_t bytes);
  // Records the schema (and where sealing began, for an upgraded log).
  Status WriteSchema();
  // The data key named `key_id` in data_keys (a referral id, or a
  // HistoryKeyId): OK, NotFound (none or destroyed), or an error.
  Status DataKey(const std::string& key_id, std::string* key) const;
  // The key named `key_id` for a new event: the batch's, the stored one,
  // or (NotFound) a new one put into *wb. Writer thread.
  Status KeyForBatch(const std::string& key_id, bool is_new, rocksdb::WriteBatch* wb, std::string* key);
  // Deletes into *wb the by_subject entries of `referral_id`'s
  // subject_indexed events (their keys opened with its history key).
  Status DeleteSubjectEntries(const std::string& referral_id, rocksdb::WriteBatch* wb);
  // The rebuildable indexes (see the file comment): AddIndexEntries puts an
  // event's entries into *wb; WriteIndexes writes them and the marker,
  // unsynced, after a synced batch; RebuildIndexes (at Open) loads the
  // marker and, when writable, indexes the events after it.
  void AddIndexEntries(const v1::Event& event, uint64_t seq, rocksdb::WriteBatch* wb) const;
  // AppendBatch's form of AddIndexEntries: CollectIndexKeys gathers the
  // entries of each event, PutIndexKeys puts them all in key order.
  static void CollectIndexKeys(const v1::Event& event, uint64_t seq, std::vector<std::string>* keys);
  void PutIndexKeys(std::vector<std::string>* keys, rocksdb::WriteBatch* wb) const;
  // One put of AppendBatch's synced batch into a family written in random
  // key order (dedupe_: value EncodeSeq(seq); case_state_: value). The views
  // point into the batch being appended.
  struct SortedPut {
    rocksdb::ColumnFamilyHandle* family;
    std::string_view key;
    std::string_view value;
    uint64_t seq;
  };
  void WriteIndexes(rocksdb::WriteBatch* wb, uint64_t seq);
  Status RebuildIndexes();
  // Adds the by_subject entry of `event` (a subject_indexed event) to `wb`.
  void IndexSubject(const v1::Event& event, uint64_t seq, rocksdb::WriteBatch* wb);

  // Before db_: destroyed after it (RocksDB holds the limiter too).
  std::unique_ptr<BackgroundWritePacer> pacer_;  // null when read-only
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
  rocksdb::ColumnFamilyHandle* data_keys_ = nullptr;    // null: read-only log without the family
  bool sync_ = true;
  bool read_only_ = false;
  bool skip_head_check_ = false;

  // Sealing state (event_log_sealing.cc). batch_keys_: data keys made for
  // the batch being written (writer thread only).
  std::string master_key_;
  std::map<std::string, std::string> batch_keys_;
  std::vector<std::string> batch_erased_;  // key ids the batch deletes
  bool subject_entries_deleted_ = false;   // by_subject needs compacting by the next purge
  bool subject_entries_in_batch_ = false;  // the batch being built writes by_subject
  std::string random_;      // the batch's random bytes (BeginSealing)
  size_t random_used_ = 0;  // how many of them TakeRandom handed out
  mutable std::mutex keys_mu_;                              // guards the two below
  mutable std::map<std::string, std::string> key_cache_;    // unwrapped, bounded
  std::set<std::string> destroyed_;                         // erased while open

  std::atomic<uint64_t> head_seq_{0};
  std::atomic<uint64_t> indexed_seq_{0};
  bool indexes_failed_ = false;  // an index write failed: the marker stays
  mutable std::mutex head_mu_;  // guards head_hash_
  std::string head_hash_;
};

// Names of the column families, in the order they are opened.
const std::vector<std::string>& ColumnFamilyNames();

}  // namespace refx::eventlog
