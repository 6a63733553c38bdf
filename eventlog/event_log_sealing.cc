// EventLog's encryption at rest (see event_log.h "Schema 2" and
// eventlog/sealing.h): sealing events as they are appended, opening them for
// readers, data keys, erasure and the purge that makes a destroyed key leave
// the disk. Kept apart from event_log.cc's write path.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <sodium.h>

#include <algorithm>
#include <memory>

#include "core/event_util.h"
#include "eventlog/event_log.h"
#include "eventlog/keys.h"
#include "eventlog/sealing.h"

namespace refx::eventlog {

namespace {

constexpr char kSchemaKey[] = "schema";
// 2: referrals and delivery views sealed under data keys; 3: subject
// hashes (subject_indexed) sealed under history keys too.
constexpr char kSchemaVersion[] = "3";
constexpr char kSealedFromKey[] = "sealed_from_seq";
constexpr char kHistorySealedFromKey[] = "history_sealed_from_seq";
// Unwrapped data keys kept in memory; beyond this the cache starts again.
constexpr size_t kMaxCachedKeys = 65536;

Status RocksStatus(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::OK();
  if (s.IsNotFound()) return Status::NotFound(what + ": " + s.ToString());
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  return Status::IoError(what + ": " + s.ToString());
}

}  // namespace

bool EventLog::IsSealed(std::string_view bytes) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  while (const uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) == v1::Event::kSealedFieldNumber) return true;
    if (!WireFormatLite::SkipField(&in, tag)) return false;
  }
  return false;
}

Status EventLog::WriteSchema() {
  std::string schema;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_, kSchemaKey, &schema);
  if (!s.ok() && !s.IsNotFound()) return RocksStatus(s, "reading the schema version");
  if (s.ok() && schema == kSchemaVersion) return Status::OK();
  rocksdb::WriteBatch wb;
  // An older log: its events so far stay as they were written (plaintext
  // before schema 2, subject hashes in clear before schema 3).
  if (head_seq() > 0) {
    if (!s.ok() || schema == "1") wb.Put(meta_, kSealedFromKey, EncodeSeq(head_seq() + 1));
    wb.Put(meta_, kHistorySealedFromKey, EncodeSeq(head_seq() + 1));
  }
  wb.Put(meta_, kSchemaKey, kSchemaVersion);
  rocksdb::WriteOptions wo;
  wo.sync = sync_;
  return RocksStatus(db_->Write(wo, &wb), "writing the schema version");
}

Status EventLog::DataKey(const std::string& key_id, std::string* key) const {
  const std::string& referral_id = key_id;  // or a HistoryKeyId: the same lookup
  if (master_key_.empty() || data_keys_ == nullptr) return Status::NotFound("no data key");
  {
    std::lock_guard<std::mutex> lock(keys_mu_);
    if (destroyed_.count(referral_id)) return Status::NotFound("data key destroyed");
    if (auto it = key_cache_.find(referral_id); it != key_cache_.end()) {
      *key = it->second;
      return Status::OK();
    }
  }
  std::string wrapped;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), data_keys_, referral_id, &wrapped);
  if (s.IsNotFound()) return Status::NotFound("no data key for " + referral_id);
  REFX_RETURN_IF_ERROR(RocksStatus(s, "reading the data key of " + referral_id));
  REFX_RETURN_IF_ERROR(UnwrapDataKey(master_key_, referral_id, wrapped, key));
  std::lock_guard<std::mutex> lock(keys_mu_);
  // Destroyed while it was being read: forget it.
  if (destroyed_.count(referral_id)) {
    sodium_memzero(key->data(), key->size());
    return Status::NotFound("data key destroyed");
  }
  if (key_cache_.size() >= kMaxCachedKeys) key_cache_.clear();
  key_cache_[referral_id] = *key;
  return Status::OK();
}

Status EventLog::HasDataKey(const std::string& referral_id) const {
  std::string key;
  Status s = DataKey(referral_id, &key);
  sodium_memzero(key.data(), key.size());
  return s;
}

void EventLog::BeginSealing(const std::vector<PendingEvent>& batch) {
  if (master_key_.empty()) return;
  size_t sealable = 0;
  for (const PendingEvent& p : batch) sealable += p.event.has_referral_submitted() || p.event.has_case_delivered() || p.event.has_subject_indexed();
  RefillRandom(sealable * (kDataKeyBytes + 2 * kSealNonceBytes));
}

void EventLog::RefillRandom(size_t bytes) {
  sodium_memzero(random_.data(), random_.size());
  random_.assign(bytes, '\0');
  random_used_ = 0;
  if (bytes == 0) return;
  // One draw from the system per batch (randombytes_buf is a getrandom()
  // call): its seed expands with ChaCha20 into the batch's keys and nonces.
  unsigned char seed[randombytes_SEEDBYTES];
  randombytes_buf(seed, sizeof seed);
  randombytes_buf_deterministic(random_.data(), random_.size(), seed);
  sodium_memzero(seed, sizeof seed);
}

const unsigned char* EventLog::TakeRandom(size_t bytes) {
  // More than BeginSealing counted on (it counts every event that may seal).
  if (random_used_ + bytes > random_.size()) RefillRandom(std::max<size_t>(bytes, 64 * (kDataKeyBytes + 2 * kSealNonceBytes)));
  const auto* out = reinterpret_cast<const unsigned char*>(random_.data()) + random_used_;
  random_used_ += bytes;
  return out;
}

Status EventLog::HasHistoryKey(const std::string& referral_id) const {
  return HasDataKey(HistoryKeyId(referral_id));
}

Status EventLog::KeyForBatch(const std::string& key_id, bool is_new, rocksdb::WriteBatch* wb, std::string* key) {
  if (auto it = batch_keys_.find(key_id); it != batch_keys_.end()) {
    *key = it->second;
    return Status::OK();
  }
  Status found = is_new ? Status::NotFound("new key") : DataKey(key_id, key);
  if (found.code() != Status::Code::kNotFound) return found;
  key->assign(reinterpret_cast<const char*>(TakeRandom(kDataKeyBytes)), kDataKeyBytes);
  wb->Put(data_keys_, key_id, WrapDataKey(master_key_, key_id, *key, TakeRandom(kSealNonceBytes)));
  batch_keys_[key_id] = *key;
  return Status::OK();
}

Status EventLog::DeleteSubjectEntries(const std::string& referral_id, rocksdb::WriteBatch* wb) {
  std::vector<uint64_t> seqs;
  REFX_RETURN_IF_ERROR(SeqsForReferral(referral_id, &seqs));
  for (uint64_t seq : seqs) {
    StoredEvent stored;
    REFX_RETURN_IF_ERROR(Get(seq, &stored));
    v1::Event event;
    bool opened = false;
    REFX_RETURN_IF_ERROR(OpenStored(stored.bytes, &event, &opened));
    if (!event.has_subject_indexed() || event.subject_indexed().subject_key().empty()) continue;
    wb->Delete(by_subject_, IndexKey(event.subject_indexed().subject_key(), seq));
    subject_entries_deleted_ = true;
    subject_entries_in_batch_ = true;
  }
  return Status::OK();
}

Status EventLog::StoredBytes(const PendingEvent& p, rocksdb::WriteBatch* wb, std::string* value) {
  if (!p.erase_data_key.empty() || !p.erase_history_key.empty()) {
    if (data_keys_ == nullptr) return Status::Internal("event log opened read-only");
  }
  if (!p.erase_data_key.empty()) {
    wb->Delete(data_keys_, p.erase_data_key);
    batch_keys_.erase(p.erase_data_key);
    batch_erased_.push_back(p.erase_data_key);
  }
  if (!p.erase_history_key.empty()) {
    // The entries first: they are found by opening the events with the key.
    REFX_RETURN_IF_ERROR(DeleteSubjectEntries(p.erase_history_key, wb));
    const std::string key_id = HistoryKeyId(p.erase_history_key);
    wb->Delete(data_keys_, key_id);
    batch_keys_.erase(key_id);
    batch_erased_.push_back(key_id);
  }
  const bool sealable = p.event.has_referral_submitted() || p.event.has_case_delivered() ||
                        (p.event.has_subject_indexed() && !p.event.subject_indexed().subject_key().empty());
  if (master_key_.empty() || !sealable) {
    if (!p.event.AppendToString(value)) return Status::Internal("event failed to serialise");
    return Status::OK();
  }
  const std::string& referral_id = ReferralIdOf(p.event);
  if (referral_id.empty()) return Status::InvalidArgument("a referral event without a referral id", "event");
  if (p.event.has_subject_indexed()) {
    // The keyed subject hash, under the referral's history key (made with
    // its first subject_indexed event).
    v1::Event sealed = p.event;
    std::string key;
    const std::string key_id = HistoryKeyId(referral_id);
    REFX_RETURN_IF_ERROR(KeyForBatch(key_id, /*is_new=*/false, wb, &key));
    SealSubjectKey(key_id, key, &sealed);
    sodium_memzero(key.data(), key.size());
    if (!sealed.AppendToString(value)) return Status::Internal("event failed to serialise");
    return Status::OK();
  }
  std::string event_bytes;
  if (!p.event.AppendToString(&event_bytes)) return Status::Internal("event failed to serialise");
  // Split over the serialised event (no copy of it, no reflection); what
  // that does not handle is split by reflection on a copy. Same bytes.
  std::string clear, personal;
  size_t sealed_at = 0;
  std::unique_ptr<v1::Event> copy;
  v1::Referral personal_fields;
  bool any_personal;
  if (SplitEventBytes(event_bytes, &clear, &personal, &sealed_at)) {
    any_personal = !personal.empty();
  } else {
    copy = std::make_unique<v1::Event>(p.event);
    any_personal = SplitPersonalFields(SealableReferral(copy.get()), &personal_fields);
  }
  if (!any_personal) {
    // Nothing personal (a delivery of an erased referral): stored as it
    // is, and no key is made for it.
    *value = std::move(event_bytes);
    return Status::OK();
  }
  std::string key;
  // A submission is its referral's first event (ids are never reused):
  // it gets a new key without a lookup.
  Status keyed = KeyForBatch(referral_id, p.event.has_referral_submitted(), wb, &key);
  if (keyed.ok()) {
    if (copy == nullptr) {
      InsertSealedField(referral_id, key, TakeRandom(kSealNonceBytes), p.event, personal, sealed_at, &clear);
      *value = std::move(clear);
    } else {
      SealPersonalFields(referral_id, key, personal_fields, copy.get());
      if (!copy->AppendToString(value)) keyed = Status::Internal("event failed to serialise");
    }
  }
  sodium_memzero(key.data(), key.size());
  sodium_memzero(personal.data(), personal.size());
  sodium_memzero(event_bytes.data(), event_bytes.size());
  return keyed;
}

void EventLog::FinishSealing(bool written) {
  std::lock_guard<std::mutex> lock(keys_mu_);
  if (written) {
    for (auto& [id, key] : batch_keys_) {
      if (key_cache_.size() >= kMaxCachedKeys) key_cache_.clear();
      key_cache_[id] = key;
    }
    for (const std::string& id : batch_erased_) {
      destroyed_.insert(id);
      if (auto it = key_cache_.find(id); it != key_cache_.end()) {
        sodium_memzero(it->second.data(), it->second.size());
        key_cache_.erase(it);
      }
    }
  }
  for (auto& [id, key] : batch_keys_) sodium_memzero(key.data(), key.size());
  batch_keys_.clear();
  RefillRandom(0);  // the batch's unused keys and nonces go
  batch_erased_.clear();
}

Status EventLog::OpenStored(const std::string& bytes, v1::Event* out, bool* opened) const {
  *opened = false;
  if (!out->ParseFromString(bytes)) return Status::Corruption("stored event does not parse");
  if (!out->has_sealed()) return Status::OK();
  std::string key;
  Status s = DataKey(out->sealed().key_id(), &key);
  if (s.code() == Status::Code::kNotFound) {
    out->clear_sealed();
    out->set_erased(true);
    *opened = true;
    return Status::OK();
  }
  REFX_RETURN_IF_ERROR(s);
  s = OpenEvent(key, out);
  sodium_memzero(key.data(), key.size());
  REFX_RETURN_IF_ERROR(s);
  *opened = true;
  return Status::OK();
}

Status EventLog::PurgeDestroyedKeys() {
  if (read_only_ || data_keys_ == nullptr) return Status::Internal("event log opened read-only");
  rocksdb::FlushOptions flush;
  flush.wait = true;
  flush.allow_write_stall = true;
  // Every family: a WAL file is obsolete only once no family's memtable
  // needs it.
  REFX_RETURN_IF_ERROR(RocksStatus(db_->Flush(flush, handles_), "flushing the log"));
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  REFX_RETURN_IF_ERROR(RocksStatus(db_->CompactRange(compact, data_keys_, nullptr, nullptr), "compacting data_keys"));
  if (subject_entries_deleted_) {
    REFX_RETURN_IF_ERROR(
        RocksStatus(db_->CompactRange(compact, by_subject_, nullptr, nullptr), "compacting by_subject"));
    subject_entries_deleted_ = false;
  }
  // Re-enabling file deletions deletes the obsolete files (old WALs, the
  // SSTs the compaction replaced) before it returns.
  REFX_RETURN_IF_ERROR(RocksStatus(db_->DisableFileDeletions(), "holding file deletions"));
  return RocksStatus(db_->EnableFileDeletions(/*force=*/false), "deleting obsolete files");
}

}  // namespace refx::eventlog
