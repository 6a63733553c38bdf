#include "eventlog/event_log.h"
#include "eventlog/rocks_logger.h"

#include <algorithm>

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "core/durable_dir.h"
#include "core/event_util.h"
#include "eventlog/chain_checker.h"
#include "eventlog/fast_chain_hash.h"
#include "eventlog/hash_chain.h"
#include "eventlog/keys.h"

namespace refx::eventlog {

namespace {

constexpr char kHeadSeqKey[] = "head_seq";
constexpr char kHeadHashKey[] = "head_hash";
// The last seq whose by_referral and by_destination entries are written
// (IndexedSeq). Written with them, unsynced, after each synced batch.
constexpr char kIndexedSeqKey[] = "indexed_seq";
constexpr char kCheckpointsFamily[] = "checkpoints";
constexpr char kDataKeysFamily[] = "data_keys";
// The bounds of by_subject (see AppendBatch): below and above every
// subject key (64 hex digits).
const rocksdb::Slice kSubjectIndexLow("", 0);
const rocksdb::Slice kSubjectIndexHigh("\xff", 1);

Status FromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return Status::OK();
  if (s.IsCorruption()) return Status::Corruption(std::string(what) + ": " + s.ToString());
  if (s.IsNotFound()) return Status::NotFound(std::string(what) + ": " + s.ToString());
  return Status::IoError(std::string(what) + ": " + s.ToString());
}

// Splits a stored events value into event bytes and chain hash.
Status SplitValue(uint64_t seq, const rocksdb::Slice& value, StoredEvent* out) {
  if (value.size() < kHashBytes) {
    return Status::Corruption("event " + std::to_string(seq) + ": stored value shorter than its hash");
  }
  out->seq = seq;
  out->bytes.assign(value.data(), value.size() - kHashBytes);
  out->hash.assign(value.data() + value.size() - kHashBytes, kHashBytes);
  return Status::OK();
}

}  // namespace

const std::vector<std::string>& ColumnFamilyNames() {
  static const std::vector<std::string> names = {
      rocksdb::kDefaultColumnFamilyName, "events", "dedupe", "by_referral", "by_destination",
      "by_subject", "case_state", "cursors", "meta", kCheckpointsFamily, kDataKeysFamily};
  return names;
}

Status EventLog::Open(const OpenOptions& options, std::unique_ptr<EventLog>* out) {
  if (!InitCrypto()) return Status::Internal("libsodium failed to initialise");
  // RocksDB creates a missing folder without syncing its parent: a power
  // loss could then take the whole log, acknowledged events and all.
  if (!options.read_only && options.create_if_missing) {
    Status made = CreateDirDurably(options.path);
    if (!made.ok()) return made;
  }
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = options.create_if_missing;
  db_options.paranoid_checks = true;
  // A torn final record (a write that never returned) may be dropped; any
  // other damage stops the open, so an acknowledged (synced) record is never
  // rolled back silently.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  db_options.manual_wal_flush = false;
  db_options.max_background_jobs = 2;
  // No archive of obsolete write-ahead logs: once flushed, a WAL file is
  // deleted, so an erased data key leaves the disk (PurgeDestroyedKeys).
  db_options.WAL_ttl_seconds = 0;
  db_options.WAL_size_limit_MB = 0;
  db_options.recycle_log_file_num = 0;
  // RocksDB's own lines go to the broker's log, not to a LOG file on the
  // log's file system (a full one would abort the process: rocks_logger.h).
  db_options.info_log = SharedRocksLogger();
  // Flushes and compactions paced to the ingest (background_pacing.h), and
  // their files synced as they are written rather than all at their end,
  // so the paced bytes reach the disk paced too.
  std::unique_ptr<BackgroundWritePacer> pacer;
  if (!options.read_only) {
    pacer = std::make_unique<BackgroundWritePacer>();
    db_options.rate_limiter = pacer->limiter();
    db_options.bytes_per_sync = 256 << 10;
  }

  rocksdb::ColumnFamilyOptions cf_options;
  // dedupe and case_state are read by point lookups for keys that are
  // mostly absent (a new reference, a new case): a Bloom filter answers
  // those without reading a data block; the memtable gets one too, since
  // every new submission looks its reference up there first (without it a
  // miss walks the memtable's skip list: ~10% of the broker loop's time).
  rocksdb::ColumnFamilyOptions lookup_options;
  rocksdb::BlockBasedTableOptions table_options;
  table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  lookup_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
  lookup_options.memtable_whole_key_filtering = true;
  lookup_options.memtable_prefix_bloom_size_ratio = 0.05;
  // by_subject: one file per flush or compaction up to a large size, so its
  // files are bounded by the family's two bounds (AppendBatch), not by
  // subject keys.
  rocksdb::ColumnFamilyOptions subject_options;
  subject_options.target_file_size_base = uint64_t{1} << 30;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  // A read-only open cannot create families: a log written before
  // checkpoints (or data keys) existed is opened without that one.
  std::vector<std::string> existing;
  if (options.read_only) rocksdb::DB::ListColumnFamilies(db_options, options.path, &existing);
  for (const auto& name : ColumnFamilyNames()) {
    if (options.read_only && (name == kCheckpointsFamily || name == kDataKeysFamily) &&
        std::find(existing.begin(), existing.end(), name) == existing.end()) {
      continue;
    }
    descriptors.emplace_back(name, name == "dedupe" || name == "case_state" ? lookup_options
                                   : name == "by_subject"                   ? subject_options
                                                                            : cf_options);
  }

  std::unique_ptr<EventLog> log(new EventLog());
  log->sync_ = options.sync;
  log->pacer_ = std::move(pacer);
  log->read_only_ = options.read_only;
  log->skip_head_check_ = options.skip_head_check;
  log->master_key_ = options.master_key;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = options.read_only
                          ? rocksdb::DB::OpenForReadOnly(db_options, options.path, descriptors,
                                                         &log->handles_, &raw)
                          : rocksdb::DB::Open(db_options, options.path, descriptors, &log->handles_, &raw);
  if (!s.ok()) return FromRocks(s, ("opening event log at " + options.path).c_str());
  log->db_.reset(raw);
  log->events_ = log->handles_[1];
  log->dedupe_ = log->handles_[2];
  log->by_referral_ = log->handles_[3];
  log->by_destination_ = log->handles_[4];
  log->by_subject_ = log->handles_[5];
  log->case_state_ = log->handles_[6];
  log->cursors_ = log->handles_[7];
  log->meta_ = log->handles_[8];
  for (size_t i = 0; i < descriptors.size(); ++i) {
    if (descriptors[i].name == kCheckpointsFamily) log->checkpoints_ = log->handles_[i];
    if (descriptors[i].name == kDataKeysFamily) log->data_keys_ = log->handles_[i];
  }
  REFX_RETURN_IF_ERROR(log->LoadAndCheckHead());
  if (log->skip_head_check_) {
    // A verifier's open: the marker as stored (the head when absent or not
    // a seq at or before the head), for it to tell lost index entries from
    // damaged ones.
    std::string marker;
    uint64_t indexed = log->head_seq();
    if (log->db_->Get(rocksdb::ReadOptions(), log->meta_, kIndexedSeqKey, &marker).ok() && marker.size() == 8) {
      indexed = std::min(indexed, DecodeSeq(marker));
    }
    log->indexed_seq_.store(indexed, std::memory_order_release);
  } else {
    REFX_RETURN_IF_ERROR(log->RebuildIndexes());
  }
  *out = std::move(log);
  return Status::OK();
}

EventLog::~EventLog() {
  if (db_) {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    handles_.clear();
    db_->Close();
  }
}

Status EventLog::LoadAndCheckHead() {
  std::string seq_bytes, hash;
  if (skip_head_check_) {
    // Record what meta says, whatever it is, for a verifier to compare.
    uint64_t meta_seq = 0;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_, kHeadSeqKey, &seq_bytes);
    if (s.ok() && seq_bytes.size() == 8) {
      meta_seq = DecodeSeq(seq_bytes);
      if (!db_->Get(rocksdb::ReadOptions(), meta_, kHeadHashKey, &hash).ok()) hash.clear();
    } else if (s.IsNotFound()) {
      hash = GenesisHash();
    } else if (!s.ok()) {
      return FromRocks(s, "reading meta head_seq");
    }
    {
      std::lock_guard<std::mutex> lock(head_mu_);
      head_hash_ = hash;
    }
    head_seq_.store(meta_seq, std::memory_order_release);
    return Status::OK();
  }
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_, kHeadSeqKey, &seq_bytes);
  uint64_t meta_seq = 0;
  if (s.ok()) {
    if (seq_bytes.size() != 8) return Status::Corruption("meta head_seq is not 8 bytes");
    meta_seq = DecodeSeq(seq_bytes);
    s = db_->Get(rocksdb::ReadOptions(), meta_, kHeadHashKey, &hash);
    if (!s.ok() || hash.size() != kHashBytes) return Status::Corruption("meta head_hash missing or not 32 bytes");
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading meta head_seq");
  } else {
    hash = GenesisHash();
  }

  // The last event in the events family must be exactly the recorded head.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), events_));
  it->SeekToLast();
  REFX_RETURN_IF_ERROR(FromRocks(it->status(), "seeking last event"));
  uint64_t last_seq = 0;
  if (it->Valid()) {
    if (it->key().size() != 8) return Status::Corruption("events key is not 8 bytes");
    last_seq = DecodeSeq(it->key().ToStringView());
    StoredEvent last;
    REFX_RETURN_IF_ERROR(SplitValue(last_seq, it->value(), &last));
    if (last_seq != meta_seq) {
      return Status::Corruption("head mismatch: meta says seq " + std::to_string(meta_seq) +
                                " but the last stored event is seq " + std::to_string(last_seq));
    }
    if (last.hash != hash) {
      return Status::Corruption("head mismatch: meta head hash differs from the hash stored with seq " +
                                std::to_string(last_seq));
    }
  } else if (meta_seq != 0) {
    return Status::Corruption("meta says head seq " + std::to_string(meta_seq) + " but no events are stored");
  }
  {
    std::lock_guard<std::mutex> lock(head_mu_);
    head_hash_ = hash;
  }
  head_seq_.store(last_seq, std::memory_order_release);
  if (!read_only_) REFX_RETURN_IF_ERROR(WriteSchema());
  return Status::OK();
}

std::string EventLog::head_hash() const {
  std::lock_guard<std::mutex> lock(head_mu_);
  return head_hash_;
}

Status EventLog::AppendBatch(const std::vector<PendingEvent>& batch) {
  if (read_only_) return Status::Internal("event log opened read-only");
  if (batch.empty()) return Status::OK();
  subject_entries_in_batch_ = false;
  uint64_t seq = head_seq();
  std::string prev = head_hash();
  rocksdb::WriteBatch wb;
  rocksdb::WriteBatch index_wb;  // the rebuildable indexes, written after the synced batch
  std::string value;
  // The dedupe keys, case states and index entries of a batch land at
  // random places in their families' memtables; put in key order, each
  // insert starts where the one before it ended instead of at the top of
  // the skip list (RocksDB keeps the last insert's position). A stable sort
  // keeps repeated keys (a case's state changed twice in one batch) in
  // event order, so the last write still wins.
  std::vector<SortedPut> keyed_puts;
  std::vector<std::string> index_keys;  // by_referral_ then by_destination_ entries
  BeginSealing(batch);
  for (const PendingEvent& p : batch) {
    ++seq;
    // A refused batch forgets the data keys its earlier events made (they
    // were never written: reused, they would seal without a stored key).
    if (p.event.seq() != seq) {
      FinishSealing(false);
      return Status::InvalidArgument("event seq " + std::to_string(p.event.seq()) + " where " +
                                     std::to_string(seq) + " was expected", "event.seq");
    }
    if (p.event.body_case() == v1::Event::BODY_NOT_SET) {
      FinishSealing(false);
      return Status::InvalidArgument("event has no body", "event.body");
    }
    value.clear();
    Status stored = StoredBytes(p, &wb, &value);
    if (!stored.ok()) {
      FinishSealing(false);
      return stored;
    }
    // SHA extensions when the CPU has them (fast_chain_hash.h); same bytes as ChainHash.
    std::string hash(kHashBytes, '\0');
    ChainHashInto(prev, seq, value, reinterpret_cast<unsigned char*>(hash.data()));
    value.append(hash);
    const std::string seq_key = EncodeSeq(seq);
    wb.Put(events_, seq_key, value);
    if (!p.dedupe_key.empty()) keyed_puts.push_back({dedupe_, p.dedupe_key, {}, seq});
    CollectIndexKeys(p.event, seq, &index_keys);
    IndexSubject(p.event, seq, &wb);  // in the synced batch: not a rebuildable index
    for (const auto& [key, state] : p.state_puts) keyed_puts.push_back({case_state_, key, state, 0});
    prev = std::move(hash);
  }
  std::stable_sort(keyed_puts.begin(), keyed_puts.end(), [](const SortedPut& a, const SortedPut& b) {
    if (a.family != b.family) return a.family->GetID() < b.family->GetID();
    return a.key < b.key;
  });
  for (const SortedPut& put : keyed_puts) {
    if (put.family == dedupe_) {
      wb.Put(dedupe_, rocksdb::Slice(put.key.data(), put.key.size()), EncodeSeq(put.seq));
    } else {
      wb.Put(put.family, rocksdb::Slice(put.key.data(), put.key.size()),
             rocksdb::Slice(put.value.data(), put.value.size()));
    }
  }
  PutIndexKeys(&index_keys, &index_wb);
  if (subject_entries_in_batch_) {
    // Every batch that writes or deletes by_subject entries also writes the
    // family's two bounds, so every file of it (flushed or compacted)
    // starts and ends with them: the MANIFEST, which keeps each file's
    // first and last key for as long as it lives, then never holds a
    // subject hash, and one whose history key is destroyed leaves no file.
    wb.Put(by_subject_, kSubjectIndexLow, rocksdb::Slice());
    wb.Put(by_subject_, kSubjectIndexHigh, rocksdb::Slice());
    subject_entries_in_batch_ = false;
  }
  wb.Put(meta_, kHeadSeqKey, EncodeSeq(seq));
  wb.Put(meta_, kHeadHashKey, prev);

  rocksdb::WriteOptions wo;
  wo.sync = sync_;
  const Status written = FromRocks(db_->Write(wo, &wb), "appending batch");
  FinishSealing(written.ok());
  REFX_RETURN_IF_ERROR(written);
  WriteIndexes(&index_wb, seq);
  if (pacer_) pacer_->Appended(wb.GetDataSize() + index_wb.GetDataSize());
  {
    std::lock_guard<std::mutex> lock(head_mu_);
    head_hash_ = std::move(prev);
  }
  head_seq_.store(seq, std::memory_order_release);
  return Status::OK();
}

void EventLog::AddIndexEntries(const v1::Event& event, uint64_t seq, rocksdb::WriteBatch* wb) const {
  // One event's entries through the same two steps as AppendBatch, so which
  // fields are indexed is said once (CollectIndexKeys).
  std::vector<std::string> keys;
  CollectIndexKeys(event, seq, &keys);
  PutIndexKeys(&keys, wb);
}

void EventLog::CollectIndexKeys(const v1::Event& event, uint64_t seq, std::vector<std::string>* keys) {
  // A leading byte names the family ('r' by_referral, 'd' by_destination),
  // so one sort orders both; PutIndexKeys strips it.
  const std::string& referral = ReferralIdOf(event);
  if (!referral.empty()) keys->push_back('r' + IndexKey(referral, seq));
  const std::string& destination = DestinationOf(event);
  if (!destination.empty()) keys->push_back('d' + IndexKey(destination, seq));
}

void EventLog::PutIndexKeys(std::vector<std::string>* keys, rocksdb::WriteBatch* wb) const {
  // Index keys are unique (each ends with its event's seq): any order of
  // equal keys is the same write.
  std::sort(keys->begin(), keys->end());
  for (const std::string& k : *keys) {
    wb->Put(k[0] == 'r' ? by_referral_ : by_destination_, rocksdb::Slice(k.data() + 1, k.size() - 1),
            rocksdb::Slice());
  }
}

void EventLog::WriteIndexes(rocksdb::WriteBatch* wb, uint64_t seq) {
  // After a failed index write the entries of that batch are missing: the
  // marker must then stay where it is (reads cover the rest from the
  // events; the next open rebuilds), so no later batch moves it either.
  if (indexes_failed_) return;
  wb->Put(meta_, kIndexedSeqKey, EncodeSeq(seq));
  // Not synced: the WAL keeps this batch behind the synced one, so the next
  // synced batch makes it durable, and a power loss can only take a tail
  // of index batches, with their marker (RebuildIndexes restores them).
  rocksdb::WriteOptions wo;
  wo.sync = false;
  const rocksdb::Status s = db_->Write(wo, wb);
  if (!s.ok()) {
    indexes_failed_ = true;
    return;
  }
  indexed_seq_.store(seq, std::memory_order_release);
}

Status EventLog::RebuildIndexes() {
  std::string bytes;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_, kIndexedSeqKey, &bytes);
  const uint64_t head = head_seq();
  uint64_t indexed = head;  // no marker: a log written before the marker, indexed in its synced batches
  if (s.ok()) {
    if (bytes.size() != 8) return Status::Corruption("meta indexed_seq is not 8 bytes");
    // Past the head only when the tail was cut off by hand (the WAL keeps
    // an index batch behind its synced batch); the verifier names that.
    indexed = std::min(head, DecodeSeq(bytes));
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading meta indexed_seq");
  }
  if (!read_only_ && (!s.ok() || indexed < head)) {
    // Index what the last batches' lost index writes held, from the events.
    constexpr uint64_t kChunk = 4096;
    rocksdb::WriteBatch wb;
    v1::Event event;
    uint64_t in_chunk = 0;
    rocksdb::WriteOptions wo;
    wo.sync = sync_;
    Status failed = Status::OK();
    Status scanned = Scan(indexed + 1, head, [&](const StoredEvent& ev) {
      if (!event.ParseFromString(ev.bytes)) {
        failed = Status::Corruption("cannot rebuild the indexes: event " + std::to_string(ev.seq) + " does not parse");
        return false;
      }
      AddIndexEntries(event, ev.seq, &wb);
      indexed = ev.seq;
      if (++in_chunk == kChunk) {
        wb.Put(meta_, kIndexedSeqKey, EncodeSeq(indexed));
        failed = FromRocks(db_->Write(wo, &wb), "writing rebuilt indexes");
        if (!failed.ok()) return false;
        wb.Clear();
        in_chunk = 0;
      }
      return true;
    });
    REFX_RETURN_IF_ERROR(scanned);
    REFX_RETURN_IF_ERROR(failed);
    if (indexed != head) return Status::Corruption("cannot rebuild the indexes: the events end before the head");
    wb.Put(meta_, kIndexedSeqKey, EncodeSeq(indexed));
    REFX_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &wb), "writing rebuilt indexes"));
  }
  indexed_seq_.store(indexed, std::memory_order_release);
  return Status::OK();
}

std::string EventLog::SubmissionKey(std::string_view identity, std::string_view referrer_reference) {
  return DedupeKey(identity, referrer_reference);
}

std::string EventLog::AppendKey(std::string_view identity, std::string_view idempotency_key) {
  std::string key = DedupeKey(identity, kAppendDedupePrefix);
  key.append(idempotency_key);
  return key;
}

std::string EventLog::ReferralStateKey(std::string_view referral_id) { return CaseKey(referral_id, ""); }

std::string EventLog::CaseStateKey(std::string_view referral_id, std::string_view destination) {
  return CaseKey(referral_id, destination);
}

Status EventLog::FindDuplicate(const std::string& dedupe_key, uint64_t* seq) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), dedupe_, dedupe_key, &value);
  if (s.IsNotFound()) return Status::NotFound("no such idempotency key");
  REFX_RETURN_IF_ERROR(FromRocks(s, "reading the idempotency index"));
  if (value.size() != 8) {
    return Status::Corruption("idempotency index value is " + std::to_string(value.size()) + " bytes, not 8");
  }
  *seq = DecodeSeq(value);
  return Status::OK();
}

Status EventLog::Get(uint64_t seq, StoredEvent* out) const {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), events_, EncodeSeq(seq), &value);
  if (s.IsNotFound()) return Status::NotFound("no event with seq " + std::to_string(seq));
  REFX_RETURN_IF_ERROR(FromRocks(s, "reading event"));
  return SplitValue(seq, value, out);
}

Status EventLog::Scan(uint64_t from_seq, uint64_t to_seq,
                      const std::function<bool(const StoredEvent&)>& fn) const {
  rocksdb::ReadOptions ro;
  std::string upper;
  rocksdb::Slice upper_slice;
  if (to_seq != 0) {
    upper = EncodeSeq(to_seq + 1);
    upper_slice = rocksdb::Slice(upper);
    ro.iterate_upper_bound = &upper_slice;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_));
  StoredEvent ev;
  for (it->Seek(EncodeSeq(from_seq)); it->Valid(); it->Next()) {
    if (it->key().size() != 8) return Status::Corruption("events key is not 8 bytes");
    REFX_RETURN_IF_ERROR(SplitValue(DecodeSeq(it->key().ToStringView()), it->value(), &ev));
    if (!fn(ev)) break;
  }
  return FromRocks(it->status(), "scanning events");
}

Status EventLog::ScanIndexEntries(rocksdb::ColumnFamilyHandle* index, const std::string& value, uint64_t up_to,
                                  std::vector<uint64_t>* out) const {
  std::string prefix = value;
  prefix.push_back('\0');
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), index));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() != prefix.size() + 8) return Status::Corruption("index key has a bad length");
    const uint64_t seq = DecodeSeq(it->key().ToStringView().substr(prefix.size()));
    if (seq > up_to) break;
    out->push_back(seq);
  }
  return FromRocks(it->status(), "scanning an index");
}

Status EventLog::SeqsForIndex(rocksdb::ColumnFamilyHandle* index, const std::string& value,
                              std::vector<uint64_t>* out) const {
  out->clear();
  // The index up to the marker (loaded first: entries past it may be being
  // written right now), then the events after it, read from the log.
  const uint64_t indexed = indexed_seq_.load(std::memory_order_acquire);
  REFX_RETURN_IF_ERROR(ScanIndexEntries(index, value, indexed, out));
  const uint64_t head = head_seq();
  if (head <= indexed) return Status::OK();
  v1::Event event;
  Status parsed = Status::OK();
  REFX_RETURN_IF_ERROR(Scan(indexed + 1, head, [&](const StoredEvent& ev) {
    if (!event.ParseFromString(ev.bytes)) {
      parsed = Status::Corruption("event " + std::to_string(ev.seq) + " does not parse");
      return false;
    }
    if ((index == by_referral_ ? ReferralIdOf(event) : DestinationOf(event)) == value) out->push_back(ev.seq);
    return true;
  }));
  return parsed;
}

Status EventLog::SeqsForReferral(const std::string& referral_id, std::vector<uint64_t>* out) const {
  return SeqsForIndex(by_referral_, referral_id, out);
}

Status EventLog::SeqsForDestination(const std::string& destination, std::vector<uint64_t>* out) const {
  return SeqsForIndex(by_destination_, destination, out);
}

Status EventLog::SeqsForSubject(const std::string& subject_key, std::vector<uint64_t>* out) const {
  // by_subject is written in the synced batch (not a rebuildable index):
  // every entry is there, whatever the marker of the other indexes says.
  out->clear();
  return ScanIndexEntries(by_subject_, subject_key, UINT64_MAX, out);
}

void EventLog::IndexSubject(const v1::Event& event, uint64_t seq, rocksdb::WriteBatch* wb) {
  if (!event.has_subject_indexed() || event.subject_indexed().subject_key().empty()) return;
  wb->Put(by_subject_, IndexKey(event.subject_indexed().subject_key(), seq), rocksdb::Slice());
  subject_entries_in_batch_ = true;
}

Status EventLog::GetStateRecord(const std::string& key, google::protobuf::Message* out) const {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), case_state_, key, &value);
  if (s.IsNotFound()) return Status::NotFound("no state record");
  REFX_RETURN_IF_ERROR(FromRocks(s, "reading case state"));
  if (!out->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return Status::Corruption("case state record does not parse as " + out->GetTypeName());
  }
  return Status::OK();
}

Status EventLog::GetReferralRecord(const std::string& referral_id, v1::ReferralRecord* out) const {
  Status s = GetStateRecord(ReferralStateKey(referral_id), out);
  if (s.code() == Status::Code::kNotFound) return Status::NotFound("no referral " + referral_id);
  return s;
}

Status EventLog::GetCaseRecord(const std::string& referral_id, const std::string& destination,
                               v1::CaseRecord* out) const {
  Status s = GetStateRecord(CaseStateKey(referral_id, destination), out);
  if (s.code() == Status::Code::kNotFound) return Status::NotFound("no case " + referral_id + "/" + destination);
  return s;
}

Status EventLog::ScanCaseRecords(const std::string& referral_id,
                                 const std::function<void(const v1::CaseRecord&)>& fn) const {
  const std::string prefix = ReferralStateKey(referral_id);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), case_state_));
  v1::CaseRecord record;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() == prefix.size()) continue;  // the referral's own record
    if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Status::Corruption("case state record of " + referral_id + " does not parse");
    }
    fn(record);
  }
  return FromRocks(it->status(), "scanning case state");
}

Status EventLog::GetCursor(const std::string& consumer, uint64_t* seq) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cursors_, consumer, &value);
  if (s.IsNotFound()) return Status::NotFound("no cursor for " + consumer);
  REFX_RETURN_IF_ERROR(FromRocks(s, "reading a cursor"));
  if (value.size() != 8) {
    return Status::Corruption("cursor of " + consumer + " is " + std::to_string(value.size()) + " bytes, not 8");
  }
  *seq = DecodeSeq(value);
  return Status::OK();
}

Status EventLog::PutCursor(const std::string& consumer, uint64_t seq) {
  rocksdb::WriteOptions wo;
  wo.sync = sync_;
  return FromRocks(db_->Put(wo, cursors_, consumer, EncodeSeq(seq)), "writing cursor");
}

Status EventLog::PutCheckpoint(uint64_t seq, const std::string& bytes) {
  if (read_only_ || checkpoints_ == nullptr) return Status::Internal("event log opened read-only");
  rocksdb::WriteOptions wo;
  wo.sync = sync_;
  return FromRocks(db_->Put(wo, checkpoints_, EncodeSeq(seq), bytes), "writing checkpoint");
}

Status EventLog::ScanCheckpoints(const std::function<bool(uint64_t seq, const std::string& bytes)>& fn) const {
  if (checkpoints_ == nullptr) return Status::OK();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), checkpoints_));
  std::string value;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8) return Status::Corruption("checkpoints key is not 8 bytes");
    value.assign(it->value().data(), it->value().size());
    if (!fn(DecodeSeq(it->key().ToStringView()), value)) break;
  }
  return FromRocks(it->status(), "scanning checkpoints");
}

Status EventLog::ScanFamily(const std::string& family, const std::string& from, const std::string& until,
                            bool backwards,
                            const std::function<bool(std::string_view key, std::string_view value)>& fn) const {
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  for (auto* h : handles_) {
    if (h->GetName() == family) handle = h;
  }
  if (handle == nullptr) return Status::InvalidArgument("the event log has no column family " + family);
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.readahead_size = 4 << 20;
  const rocksdb::Slice lower(from), upper(until);
  if (!from.empty()) ro.iterate_lower_bound = &lower;
  if (!until.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handle));
  if (backwards) {
    for (it->SeekToLast(); it->Valid(); it->Prev()) {
      if (!fn(it->key().ToStringView(), it->value().ToStringView())) break;
    }
  } else {
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (!fn(it->key().ToStringView(), it->value().ToStringView())) break;
    }
  }
  return FromRocks(it->status(), ("scanning " + family).c_str());
}

VerifyReport EventLog::VerifyChain() const {
  VerifyReport report;
  ChainChecker chain;
  auto fail = [&report](uint64_t seq, std::string problem) {
    report.ok = false;
    report.first_bad_seq = seq;
    report.problem = std::move(problem);
    return false;
  };
  Status s = Scan(1, 0, [&](const StoredEvent& ev) {
    const ChainBreak link = chain.Feed(ev.seq, ev.bytes, ev.hash);
    if (link == ChainBreak::kMissing) {
      return fail(chain.break_seq(), "missing event (next stored seq is " + std::to_string(ev.seq) + ")");
    }
    if (link == ChainBreak::kOutOfOrder) return fail(ev.seq, "out of order seq " + std::to_string(ev.seq));
    // What the event says first, so that an event that no longer parses is
    // named as such rather than as a hash mismatch.
    v1::Event parsed;
    if (!parsed.ParseFromString(ev.bytes)) return fail(ev.seq, "stored bytes do not parse as an event");
    if (parsed.seq() != ev.seq) {
      return fail(ev.seq, "event records seq " + std::to_string(parsed.seq()) + " but is stored at " +
                              std::to_string(ev.seq));
    }
    if (link != ChainBreak::kNone) return fail(ev.seq, "chain hash mismatch (stored bytes or hash altered)");
    ++report.events_checked;
    return true;
  });
  if (!s.ok() && report.ok) fail(chain.expected(), s.ToString());
  if (report.ok) {
    const uint64_t last = chain.last_seq();
    if (last != head_seq()) {
      fail(last + 1, "log ends at seq " + std::to_string(last) + " but the head is " + std::to_string(head_seq()));
    } else if (chain.last_hash_bytes() != head_hash()) {
      fail(last, "head hash does not match the last event's chain hash");
    }
  }
  return report;
}

}  // namespace refx::eventlog
