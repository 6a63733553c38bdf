#include "testsupport/audit_log_builder.h"

#include <rocksdb/options.h>

#include <algorithm>

#include "core/event_util.h"
#include "eventlog/keys.h"

namespace refx::audit_testing {

namespace {

v1::Event Base(uint64_t seq, const char* actor) {
  v1::Event e;
  e.set_seq(seq);
  e.mutable_time()->set_seconds(1795000000 + static_cast<int64_t>(seq));
  e.set_actor(actor);
  return e;
}

const char* DestinationFor(uint64_t seq) { return ((seq - 1) / 5) % 2 == 0 ? "DA_MARAC" : "IDVA"; }

}  // namespace

std::string SyntheticReferralOf(uint64_t seq) {
  const uint64_t phase = (seq - 1) % 5;
  return phase == 4 ? std::string() : ReferralIdForSeq(seq - phase);
}

std::string SyntheticDestinationOf(uint64_t seq) {
  const uint64_t phase = (seq - 1) % 5;
  return phase == 0 || phase == 4 ? std::string() : std::string(DestinationFor(seq));
}

v1::Event SyntheticSubmission(uint64_t seq, const std::string& referral_id) {
  v1::Event e = Base(seq, "kent-police");
  auto* body = e.mutable_referral_submitted();
  body->set_referral_id(referral_id);
  v1::Referral* r = body->mutable_referral();
  r->set_referrer_reference("KP-AUDIT-" + std::to_string(seq));
  r->set_category(v1::DOMESTIC_ABUSE);
  r->mutable_referrer()->set_agency_id("kent-police");
  r->mutable_consent()->set_position(v1::CONSENT_GIVEN);
  r->set_lawful_basis(v1::PUBLIC_TASK);
  r->mutable_person()->set_given_name("Alex");
  r->mutable_person()->set_family_name("Example");
  return e;
}

v1::Event SyntheticRouting(uint64_t seq, const std::string& referral_id, const std::string& destination) {
  v1::Event e = Base(seq, "refx-router");
  auto* body = e.mutable_case_routed();
  body->set_referral_id(referral_id);
  body->set_destination(destination);
  body->set_rule_id("da-high-risk");
  body->set_reason("synthetic routing");
  return e;
}

namespace {

// The event at `seq` of the default shape (audit_log_builder.h).
v1::Event DefaultShapeEvent(uint64_t seq, std::string* dedupe_key) {
  dedupe_key->clear();
  const uint64_t phase = (seq - 1) % 5;
  const std::string referral = SyntheticReferralOf(seq);
  switch (phase) {
    case 0: {
      v1::Event e = SyntheticSubmission(seq, referral);
      *dedupe_key = eventlog::DedupeKey("kent-police", e.referral_submitted().referral().referrer_reference());
      return e;
    }
    case 1: {
      v1::Event e = SyntheticRouting(seq, referral, DestinationFor(seq));
      *dedupe_key = eventlog::DedupeKey("refx-router", "append:route-" + std::to_string(seq));
      return e;
    }
    case 2: {
      v1::Event e = Base(seq, "sevenoaks-csu");
      auto* body = e.mutable_case_acknowledged();
      body->set_referral_id(referral);
      body->set_destination(DestinationFor(seq));
      return e;
    }
    case 3: {
      v1::Event e = Base(seq, "sevenoaks-csu");
      auto* body = e.mutable_outcome_recorded();
      body->set_referral_id(referral);
      body->set_destination(DestinationFor(seq));
      body->set_code("SAFETY_PLAN");
      *dedupe_key = eventlog::DedupeKey("sevenoaks-csu", "append:outcome-" + std::to_string(seq));
      return e;
    }
    default: {
      v1::Event e = Base(seq, "ig-auditor");
      auto* body = e.mutable_record_accessed();
      body->set_what("timeline " + ReferralIdForSeq(seq - 4));
      body->set_purpose("synthetic audit");
      return e;
    }
  }
}

}  // namespace

v1::Event SyntheticEvent(uint64_t seq, std::string* dedupe_key, const SyntheticShape& shape) {
  v1::Event e = DefaultShapeEvent(seq, dedupe_key);
  if (shape.close_cases && (seq - 1) % 5 == 4) {
    const uint64_t first = seq - 4;  // the cycle's submission
    e = Base(seq, "sevenoaks-csu");
    auto* body = e.mutable_case_closed();
    body->set_referral_id(ReferralIdForSeq(first));
    body->set_destination(DestinationFor(first));
  }
  e.mutable_time()->set_seconds(1795000000 + static_cast<int64_t>(seq * shape.seconds_per_event));
  return e;
}

Status AppendSynthetic(eventlog::EventLog* log, uint64_t count, const eventlog::CheckpointSigner* signer,
                       uint64_t checkpoint_every, uint64_t batch, const SyntheticShape& shape) {
  const uint64_t end = log->head_seq() + count;
  std::vector<eventlog::PendingEvent> pending;
  while (log->head_seq() < end) {
    const uint64_t head = log->head_seq();
    uint64_t n = std::min(batch, end - head);
    if (signer != nullptr && checkpoint_every != 0) {
      n = std::min(n, checkpoint_every - head % checkpoint_every);
    }
    pending.clear();
    for (uint64_t seq = head + 1; seq <= head + n; ++seq) {
      eventlog::PendingEvent p;
      p.event = SyntheticEvent(seq, &p.dedupe_key, shape);
      pending.push_back(std::move(p));
    }
    REFX_RETURN_IF_ERROR(log->AppendBatch(pending));
    if (signer != nullptr && checkpoint_every != 0 && log->head_seq() % checkpoint_every == 0) {
      REFX_RETURN_IF_ERROR(eventlog::SignAndStoreHead(*signer, log));
    }
  }
  return Status::OK();
}

RawDb::RawDb(const std::string& path) {
  rocksdb::DBOptions options;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : eventlog::ColumnFamilyNames()) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  rocksdb::DB* raw = nullptr;
  status_ = rocksdb::DB::Open(options, path, descriptors, &handles_, &raw);
  db_.reset(raw);
}

RawDb::~RawDb() {
  if (db_) {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }
}

rocksdb::ColumnFamilyHandle* RawDb::cf(const std::string& name) const {
  const auto& names = eventlog::ColumnFamilyNames();
  for (size_t i = 0; i < names.size() && i < handles_.size(); ++i) {
    if (names[i] == name) return handles_[i];
  }
  return nullptr;
}

bool RawDb::Get(const std::string& family, const std::string& key, std::string* value) const {
  return db_ && db_->Get(rocksdb::ReadOptions(), cf(family), key, value).ok();
}

bool RawDb::Put(const std::string& family, const std::string& key, const std::string& value) const {
  return db_ && db_->Put(rocksdb::WriteOptions(), cf(family), key, value).ok();
}

bool RawDb::Delete(const std::string& family, const std::string& key) const {
  return db_ && db_->Delete(rocksdb::WriteOptions(), cf(family), key).ok();
}

}  // namespace refx::audit_testing
