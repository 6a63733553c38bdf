// Submissions: one referral per SubmitRequest, or many per SubmitBatchRequest.
// Both take each referral in the same way (TakeReferral), so a referral is
// checked, de-duplicated and written identically whichever frame carried it.
#include <google/protobuf/util/message_differencer.h>
#include <spdlog/spdlog.h>

#include <string>

#include "broker/broker.h"
#include "broker/group_commit.h"
#include "broker/read_session.h"
#include "broker/waiter.h"
#include "core/event_util.h"
#include "core/frame_codec.h"
#include "core/referral_validation.h"

namespace refx::broker {

namespace {

bool SameReferral(const v1::Referral& a, const v1::Referral& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

Status ConflictWith(uint64_t original_seq) {
  return Status::IdempotencyConflict("referrer_reference was already used by this agency for a different referral (" +
                                         ReferralIdForSeq(original_seq) + ", seq " + std::to_string(original_seq) +
                                         "); nothing was written — use a new reference",
                                     "referral.referrer_reference");
}

// TakeReferral names fields from "referral"; the reply names them from
// where the referral sits in its frame (`where`, e.g. "submit.referral").
// Built only for a refusal, not for every referral taken.
Status Rebased(const Status& status, const std::string& where) {
  static const std::string kRoot = "referral";
  const std::string& path = status.field_path();
  if (path.empty()) return status;
  return Status(status.code(), status.message(),
                path.compare(0, kRoot.size(), kRoot) == 0 ? where + path.substr(kRoot.size()) : where + "." + path);
}

Status NotASubmitter(const v1::Agency& agency) {
  return Status::PermissionDenied("agency \"" + agency.id() + "\" does not have the SUBMITTER role");
}

}  // namespace

Broker::Taken Broker::TakeReferral(const v1::Agency& submitter, v1::Referral* referral) {
  const std::string& identity = submitter.id();
  Taken taken;
  Status s = ValidateReferral(*referral, today_);
  if (!s.ok()) {
    taken.status = std::move(s);
    return taken;
  }
  if (referral->referrer().agency_id() != identity) {
    const std::string& named = referral->referrer().agency_id();
    taken.status = config_->AgencyById(named) != nullptr
                       ? Status::PermissionDenied("referrer.agency_id \"" + named +
                                                  "\" is not the authenticated agency \"" + identity + "\"")
                       : Status::UnknownAgency("referrer.agency_id \"" + named + "\" is not an agency of this partnership",
                                               "referral.referrer.agency_id");
    return taken;
  }
  if (!PartnershipConfig::MaySubmit(submitter, referral->category())) {
    taken.status = Status::PermissionDenied("agency \"" + identity + "\" may not submit " +
                                            v1::Category_Name(referral->category()) + " referrals");
    return taken;
  }

  std::string key = eventlog::EventLog::SubmissionKey(identity, referral->referrer_reference());
  // A repeat of a referral in the batch being built or written waits for
  // that one (a different referral under the same reference is refused).
  for (GroupCommit* batch : {building_.get(), in_flight_.get()}) {
    auto it = batch->keys.find(key);
    if (it == batch->keys.end()) continue;
    const v1::Event& first = batch->events[it->second].event;
    if (!SameReferral(first.referral_submitted().referral(), *referral)) {
      taken.status = ConflictWith(first.seq());
      return taken;
    }
    taken.referral_id = first.referral_submitted().referral_id();
    taken.seq = first.seq();
    taken.duplicate = true;
    taken.wait_list = &batch->waiters;
    taken.pending_index = it->second;
    return taken;
  }
  uint64_t original = 0;
  Status found = log_->FindDuplicate(key, &original);
  if (!found.ok() && found.code() != Status::Code::kNotFound) {
    // Never "new" on an error: that could write the referral twice.
    spdlog::error("broker: idempotency index unreadable for a referral from {}: {}", identity, found.ToString());
    taken.status = Status::Internal("cannot read the idempotency index; nothing was written — retry");
    return taken;
  }
  if (found.ok()) {
    // The same reference must mean the same referral: a different one under
    // a reused reference is refused, never silently dropped as a "duplicate".
    eventlog::StoredEvent stored;
    v1::Event first;
    Status read = log_->Get(original, &stored);
    if (read.ok() && !first.ParseFromString(stored.bytes)) read = Status::Corruption("stored event does not parse");
    if (!read.ok()) {
      spdlog::error("broker: cannot read seq {}, the original of a repeated referral: {}", original, read.ToString());
      taken.status = Status::Internal("cannot read the original of a repeated referral; retry");
      return taken;
    }
    if (!SameReferral(first.referral_submitted().referral(), *referral)) {
      taken.status = ConflictWith(original);
      return taken;
    }
    taken.referral_id = ReferralIdForSeq(original);
    taken.seq = original;
    taken.duplicate = true;
    spdlog::debug("broker: duplicate of {} from {}", taken.referral_id, identity);
    return taken;
  }

  eventlog::PendingEvent pending;
  const uint64_t seq = NextSeq();
  pending.event.set_seq(seq);
  *pending.event.mutable_time() = EventTimeNow();
  pending.event.set_actor(identity);
  auto* submitted = pending.event.mutable_referral_submitted();
  submitted->set_referral_id(ReferralIdForSeq(seq));
  // The frame is done with: take its referral instead of copying it. A
  // referral decoded into the loop's frame arena is attached as it is (the
  // batch keeps the arena and detaches it before the event is destroyed:
  // DetachArenaReferrals in broker.cc).
  if (referral->GetArena() != nullptr) {
    submitted->unsafe_arena_set_allocated_referral(referral);
  } else {
    submitted->mutable_referral()->Swap(referral);
  }
  pending.dedupe_key = key;
  v1::ReferralRecord record;
  record.set_referral_id(submitted->referral_id());
  record.set_submitter(identity);
  StageState(&pending, eventlog::EventLog::ReferralStateKey(record.referral_id()), record);
  building_->keys.emplace(std::move(key), building_->events.size());
  taken.referral_id = submitted->referral_id();
  taken.seq = seq;
  taken.wait_list = &building_->waiters;
  taken.pending_index = building_->events.size();
  building_->events.push_back(std::move(pending));
  return taken;
}

void Broker::HandleSubmit(const v1::Agency& submitter, v1::Frame& frame, Waiter waiter) {
  if (!PartnershipConfig::HasRole(submitter, v1::SUBMITTER)) return ReplyError(waiter, NotASubmitter(submitter));
  Taken taken = TakeReferral(submitter, frame.mutable_submit()->mutable_referral());
  if (!taken.status.ok()) return ReplyError(waiter, Rebased(taken.status, "submit.referral"));
  if (taken.wait_list != nullptr) {
    // Answered when that batch is durable (CompleteInFlight).
    waiter.pending_index = taken.pending_index;
    waiter.duplicate = taken.duplicate;
    taken.wait_list->push_back(std::move(waiter));
    return;
  }
  ++metrics_.duplicates;
  v1::Frame reply;
  reply.set_correlation_id(waiter.correlation_id);
  reply.mutable_ack()->set_referral_id(taken.referral_id);
  reply.mutable_ack()->set_seq(taken.seq);
  reply.mutable_ack()->set_duplicate(true);
  Reply(waiter, reply);
}

void Broker::HandleSubmitBatch(const v1::Agency& submitter, v1::Frame& frame, const Waiter& waiter) {
  if (!PartnershipConfig::HasRole(submitter, v1::SUBMITTER)) return ReplyError(waiter, NotASubmitter(submitter));
  auto* referrals = frame.mutable_submit_batch()->mutable_referrals();
  const size_t limit = config_->broker().max_batch();
  if (referrals->empty()) {
    return ReplyError(waiter, Status::InvalidArgument("a batch must hold at least one referral",
                                                      "submit_batch.referrals"));
  }
  if (static_cast<size_t>(referrals->size()) > limit) {
    return ReplyError(waiter, Status::InvalidArgument("a batch may hold at most " + std::to_string(limit) +
                                                          " referrals (the broker's max_batch); got " +
                                                          std::to_string(referrals->size()),
                                                      "submit_batch.referrals"));
  }
  v1::Frame reply;
  reply.set_correlation_id(waiter.correlation_id);
  v1::SubmitBatchResult* results = reply.mutable_submit_batch_result();
  bool waits = false;
  int refused = 0;
  for (int i = 0; i < referrals->size(); ++i) {
    Taken taken = TakeReferral(submitter, referrals->Mutable(i));
    v1::SubmitBatchItem* result = results->add_results();
    if (!taken.status.ok()) {
      ++refused;
      const Status refusal = Rebased(taken.status, "submit_batch.referrals[" + std::to_string(i) + "]");
      FillError(refusal, result->mutable_error());
      spdlog::info("broker: refused request {} item {} from {}: {}", waiter.correlation_id, i, submitter.id(),
                   refusal.ToString());
      continue;
    }
    v1::Ack* ack = result->mutable_ack();
    ack->set_referral_id(std::move(taken.referral_id));
    ack->set_seq(taken.seq);
    ack->set_duplicate(taken.duplicate);
    waits = waits || taken.wait_list != nullptr;
  }
  metrics_.errors += refused;
  // One reply for the frame, once everything it names is durable: the batch
  // being built is committed after the one being written, so waiting for it
  // covers duplicates of either.
  if (waits) {
    building_->deferred_replies.emplace_back(waiter, std::move(reply));
    return;
  }
  CountBatchAcks(*results);
  Reply(waiter, reply);
}

void Broker::CountBatchAcks(const v1::SubmitBatchResult& result) {
  for (const v1::SubmitBatchItem& r : result.results()) {
    if (!r.has_ack()) continue;
    if (r.ack().duplicate()) {
      ++metrics_.duplicates;
    } else {
      ++metrics_.submissions;
    }
  }
}

}  // namespace refx::broker
