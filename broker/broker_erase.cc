// Erasure by crypto-shredding (EraseRequest from an ADMIN identity, `refx
// admin erase`): see Broker::HandleErase in broker.h and docs/SECURITY.md.
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "broker/broker.h"
#include "broker/ledger.h"
#include "broker/waiter.h"
#include "core/event_util.h"
#include "eventlog/sealing.h"

namespace refx::broker {

namespace {

constexpr size_t kMaxReasonBytes = 2000;
// The actor of the erasures the retention sweep makes (not a configured
// identity: the broker itself).
constexpr char kBrokerActor[] = "refx-broker";
constexpr char kHistoryRule[] = "ROUTING_HISTORY";

// `date` plus `months` calendar months, the day kept where the month has
// it (else its last day).
CivilDate AddMonths(const CivilDate& date, uint32_t months) {
  const int total = date.year * 12 + (date.month - 1) + static_cast<int>(months);
  CivilDate out{total / 12, total % 12 + 1, date.day};
  CivilDate probe;
  while (out.day > 28 && !ParseCivilDate(out.ToString(), &probe)) --out.day;
  return out;
}

CivilDate DateOf(const google::protobuf::Timestamp& time) {
  return CivilDate::FromDays(time.seconds() >= 0 ? time.seconds() / 86400 : (time.seconds() - 86399) / 86400);
}

}  // namespace

Status Broker::RetentionOf(const std::string& referral_id, Retention* out) {
  *out = Retention();
  // NFA_OUTCOME when every case ended with an outcome whose retention is
  // NFA_OUTCOME; else the multi-agency record's period.
  bool all_nfa = true, any_case = false;
  REFX_RETURN_IF_ERROR(log_->ScanCaseRecords(referral_id, [&](const v1::CaseRecord& c) {
    any_case = true;
    v1::RetentionPeriod::RecordType type = v1::RetentionPeriod::MULTI_AGENCY_RECORD;
    for (const v1::OutcomeCode& code : config_->proto().outcome_codes()) {
      if (code.code() == c.last_outcome() && code.retention() != v1::RetentionPeriod::RECORD_TYPE_UNSPECIFIED) {
        type = code.retention();
      }
    }
    if (type != v1::RetentionPeriod::NFA_OUTCOME) all_nfa = false;
  }));
  const v1::RetentionPeriod::RecordType type =
      any_case && all_nfa ? v1::RetentionPeriod::NFA_OUTCOME : v1::RetentionPeriod::MULTI_AGENCY_RECORD;
  uint32_t record_months = 0, history_months = 0;
  for (const v1::RetentionPeriod& p : config_->proto().retention().periods()) {
    if (p.record_type() == type) record_months = p.months();
    if (p.record_type() == v1::RetentionPeriod::ROUTING_HISTORY) history_months = p.months();
  }
  if (record_months == 0 && history_months == 0) return Status::OK();
  // The last activity: the newest event of the referral other than reads
  // of it, erasures and the router's subject index (which a backfill may
  // write long after).
  std::vector<uint64_t> seqs;
  REFX_RETURN_IF_ERROR(log_->SeqsForReferral(referral_id, &seqs));
  CivilDate last{};
  for (auto it = seqs.rbegin(); it != seqs.rend(); ++it) {
    eventlog::StoredEvent stored;
    REFX_RETURN_IF_ERROR(log_->Get(*it, &stored));
    v1::Event event;
    if (!event.ParseFromString(stored.bytes)) return Status::Corruption("event " + std::to_string(*it) + " does not parse");
    if (event.has_record_accessed() || event.has_subject_erased() || event.has_subject_indexed()) continue;
    last = DateOf(event.time());
    break;
  }
  if (last.year == 0) return Status::OK();
  if (record_months > 0) {
    out->record_type = v1::RetentionPeriod::RecordType_Name(type);
    out->months = record_months;
    out->ends = AddMonths(last, record_months);
  }
  if (history_months > 0) {
    out->history = true;
    out->history_months = history_months;
    out->history_ends = AddMonths(last, history_months);
  }
  return Status::OK();
}

void Broker::StageHistoryErasure(const v1::Agency& actor, const std::string& referral_id, const Retention& r) {
  v1::Event event;
  v1::SubjectErased* x = event.mutable_subject_erased();
  x->set_referral_id(referral_id);
  x->set_rule(kHistoryRule);
  x->set_history_key(true);
  if (r.history) {
    x->set_reason(std::string("retention period ") + kHistoryRule + " (" + std::to_string(r.history_months) +
                  " months after the last activity) ended on " + r.history_ends.ToString());
    x->set_retention_record_type(kHistoryRule);
    x->set_retention_ends(r.history_ends.ToString());
  } else {
    x->set_reason(std::string("no ") + kHistoryRule + " period keeps the keyed subject hash: it goes with the record");
  }
  ledger_->StageBrokerEvent(actor, std::move(event), "", referral_id);
}

void Broker::HandleErase(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter) {
  const auto start = std::chrono::steady_clock::now();
  const v1::EraseRequest& r = frame.erase();
  if (!PartnershipConfig::HasRole(actor, v1::ADMIN)) {
    return ReplyError(waiter, Status::PermissionDenied("agency \"" + actor.id() + "\" may not erase (needs ADMIN)"));
  }
  if (r.referral_id().empty()) return ReplyError(waiter, Status::InvalidArgument("is required", "erase.referral_id"));
  if (r.reason().find_first_not_of(" \t\r\n") == std::string::npos) {
    return ReplyError(waiter, Status::InvalidArgument("is required: say why the record is erased", "erase.reason"));
  }
  if (r.reason().size() > kMaxReasonBytes) {
    return ReplyError(waiter, Status::InvalidArgument("is longer than " + std::to_string(kMaxReasonBytes) + " bytes",
                                                      "erase.reason"));
  }
  const std::string& id = r.referral_id();
  if (!log_->sealing()) {
    return ReplyError(waiter, Status::IllegalTransition(
                                  "the broker runs without a master key (broker { master_key_file }): personal fields "
                                  "are not encrypted, so they cannot be erased by destroying a key"));
  }
  if (backup_) {
    return ReplyError(waiter, Status::Unavailable("a backup is running and holds the log's files; retry the erasure "
                                                  "when it has finished"));
  }
  // Whatever is staged goes to the log first, so the referral's events
  // and keys are all on disk before its key is looked at.
  Status s = Flush();
  if (!s.ok()) return ReplyStateError(waiter, s);
  v1::ReferralRecord referral;
  s = log_->GetReferralRecord(id, &referral);
  if (s.code() == Status::Code::kNotFound) return ReplyError(waiter, Status::NotFound("no referral " + id));
  if (!s.ok()) return ReplyStateError(waiter, s);

  s = log_->HasDataKey(id);
  if (s.code() == Status::Code::kNotFound) {
    // Already erased, or written before encryption at rest.
    std::vector<uint64_t> seqs;
    eventlog::StoredEvent submitted;
    s = log_->SeqsForReferral(id, &seqs);
    if (s.ok() && !seqs.empty()) s = log_->Get(seqs.front(), &submitted);
    if (!s.ok()) return ReplyStateError(waiter, s);
    if (eventlog::EventLog::IsSealed(submitted.bytes)) {
      return ReplyError(waiter, Status::IllegalTransition("referral " + id + " is already erased"));
    }
    return ReplyError(waiter, Status::IllegalTransition(
                                  "referral " + id + " was written before encryption at rest (seq " +
                                  std::to_string(submitted.seq) +
                                  " is stored in plaintext): it has no data key to destroy; see docs/SECURITY.md"));
  }
  if (!s.ok()) return ReplyStateError(waiter, s);

  Retention retention;
  s = RetentionOf(id, &retention);
  if (!s.ok()) return ReplyStateError(waiter, s);
  const std::string& record_type = retention.record_type;
  const CivilDate& ends = retention.ends;
  const uint32_t months = retention.months;
  // The keyed subject hash stays for rule 1's repeat check until its own
  // period ends (or goes with the record when no period keeps it).
  s = log_->HasHistoryKey(id);
  if (!s.ok() && s.code() != Status::Code::kNotFound) return ReplyStateError(waiter, s);
  const bool history_goes = s.ok() && (!retention.history || !(today_ < retention.history_ends));
  const bool kept = !record_type.empty() && today_ < ends;
  if (kept && !r.override_retention()) {
    return ReplyError(waiter, Status::IllegalTransition(
                                  "the retention period " + record_type + " (" + std::to_string(months) +
                                  " months after the last activity) keeps referral " + id + " until " +
                                  ends.ToString() +
                                  ": it must still be kept; give --override-retention (with the reason) to erase it "
                                  "anyway"));
  }

  v1::Event event;
  v1::SubjectErased* erased = event.mutable_subject_erased();
  erased->set_referral_id(id);
  erased->set_reason(r.reason());
  erased->set_override_retention(kept && r.override_retention());
  erased->set_retention_record_type(record_type);
  if (!record_type.empty()) erased->set_retention_ends(ends.ToString());
  const uint64_t seq = ledger_->StageBrokerEvent(actor, std::move(event), id);
  if (history_goes) StageHistoryErasure(actor, id, retention);
  s = Flush();
  if (!s.ok()) {
    spdlog::error("broker: erasure of {} could not be written: {}", id, s.ToString());
    return ReplyError(waiter, Status::Internal("the erasure could not be written; nothing was erased — retry"));
  }
  s = log_->PurgeDestroyedKeys();
  if (!s.ok()) {
    // The key is deleted (the event is durable) but old files may still
    // hold its bytes until the next flush and compaction.
    spdlog::error("broker: erasure of {} (seq {}): purging the old files failed: {}", id, seq, s.ToString());
    return ReplyError(waiter, Status::Internal("the data key of " + id + " is destroyed (seq " + std::to_string(seq) +
                                               ") but old files could not be purged yet: " + s.ToString()));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("broker: {} erased referral {} (seq {}, retention {}{}{}) in {:.3f} s", actor.id(), id, seq,
               record_type.empty() ? "none" : record_type, kept ? ", overridden" : "",
               history_goes ? ", its subject hash too" : "", seconds);
  v1::Frame reply;
  reply.set_correlation_id(waiter.correlation_id);
  v1::EraseResult* result = reply.mutable_erase_result();
  result->set_referral_id(id);
  result->set_seq(seq);
  result->set_seconds(seconds);
  Reply(waiter, reply);
}

void Broker::MaybeSweepRetention() {
  if (!log_->sealing() || backup_) return;  // a backup holds the files: a later turn
  if (!sweeping_) {
    const CivilDate today = options_.today();
    if (today == last_sweep_day_) return;
    last_sweep_day_ = today;
    today_ = today;
    sweeping_ = true;
    sweep_from_.clear();
    sweep_slices_ = 0;
    sweep_erased_ = 0;
  } else if (options_.retention_slice_gate && !options_.retention_slice_gate()) {
    return;
  }
  const CivilDate today = last_sweep_day_;
  // The next slice of data_keys: referral ids (data keys) sort before
  // "history:" names, so a referral with both is seen first by its data key
  // and handled whole there.
  const size_t slice = std::max<size_t>(options_.retention_slice, 1);
  std::vector<std::string> names;
  bool more = false;
  Status s = log_->ScanFamily("data_keys", sweep_from_, "", false, [&](std::string_view key, std::string_view) {
    if (names.size() == slice) {
      sweep_from_.assign(key);
      more = true;
      return false;
    }
    names.emplace_back(key);
    return true;
  });
  if (!s.ok()) {
    spdlog::error("broker: retention sweep: cannot list the data keys: {}", s.ToString());
    sweeping_ = false;
    return;
  }
  ++sweep_slices_;
  v1::Agency self;
  self.set_id(kBrokerActor);
  size_t erased = 0;
  for (const std::string& name : names) {
    const bool history_name = eventlog::IsHistoryKeyId(name);
    const std::string id = eventlog::ReferralOfKeyId(name);
    if (history_name) {
      // Handled by its data key's entry unless the record is already erased.
      s = log_->HasDataKey(id);
      if (s.ok()) continue;
      if (s.code() != Status::Code::kNotFound) {
        spdlog::error("broker: retention sweep: referral {} skipped: {}", id, s.ToString());
        continue;
      }
    }
    Retention r;
    s = RetentionOf(id, &r);
    if (!s.ok()) {
      spdlog::error("broker: retention sweep: referral {} skipped: {}", id, s.ToString());
      continue;
    }
    const bool history_ended = r.history && !(today < r.history_ends);
    if (history_name) {
      if (history_ended || !r.history) {
        StageHistoryErasure(self, id, r);
        ++erased;
      }
      continue;
    }
    const bool record_ended = !r.record_type.empty() && !(today < r.ends);
    if (record_ended) {
      v1::Event event;
      v1::SubjectErased* x = event.mutable_subject_erased();
      x->set_referral_id(id);
      x->set_reason("retention period " + r.record_type + " (" + std::to_string(r.months) +
                    " months after the last activity) ended on " + r.ends.ToString());
      x->set_rule(r.record_type);
      x->set_retention_record_type(r.record_type);
      x->set_retention_ends(r.ends.ToString());
      ledger_->StageBrokerEvent(self, std::move(event), id);
      ++erased;
    }
    if (history_ended || (record_ended && !r.history)) {
      s = log_->HasHistoryKey(id);
      if (s.ok()) {
        StageHistoryErasure(self, id, r);
        ++erased;
      } else if (s.code() != Status::Code::kNotFound) {
        spdlog::error("broker: retention sweep: the history key of {} cannot be read: {}", id, s.ToString());
      }
    }
  }
  if (erased > 0) {
    // The slice's erasures in one write, then one purge for all their keys.
    s = Flush();
    if (s.ok()) s = log_->PurgeDestroyedKeys();
    if (!s.ok()) {
      spdlog::error("broker: retention sweep: {} erasures failed: {}", erased, s.ToString());
      sweeping_ = false;
      return;
    }
    sweep_erased_ += erased;
  }
  if (more) return;
  sweeping_ = false;
  if (sweep_erased_ > 0) {
    spdlog::info("broker: retention sweep of {} ({} slices): {} keys destroyed whose retention period ended",
                 today.ToString(), sweep_slices_, sweep_erased_);
  }
}

}  // namespace refx::broker
