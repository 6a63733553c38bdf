// Submissions: one referral per SubmitRequest, or many per SubmitBatchRequest.
// Both take each referral in the same way (Ledger::TakeReferral), so a
// referral is checked, de-duplicated and written identically whichever frame
// carried it.
#include <spdlog/spdlog.h>

#include <string>

#include "broker/broker.h"
#include "broker/group_commit.h"
#include "broker/ledger.h"
#include "broker/read_session.h"
#include "broker/waiter.h"
#include "core/event_util.h"
#include "core/frame_codec.h"

namespace refx::broker {

namespace {

// TakeReferral names fields from "referral"; the reply names them from
// where the referral sits in its frame (`where`, e.g. "submit.referral").
Status Rebased(const Status& status, const std::string& where) {
  return RebasedFieldPaths(status, "referral", where);
}

Status NotASubmitter(const v1::Agency& agency) {
  return Status::PermissionDenied("agency \"" + agency.id() + "\" does not have the SUBMITTER role");
}

}  // namespace

Status RebasedFieldPaths(const Status& status, const std::string& root, const std::string& where) {
  if (status.field_path().empty() && status.violations().empty()) return status;
  return status.WithFieldPaths([&](const std::string& path) {
    return path.compare(0, root.size(), root) == 0 ? where + path.substr(root.size()) : where + "." + path;
  });
}

void Broker::HandleSubmit(const v1::Agency& submitter, v1::Frame& frame, Waiter waiter) {
  if (!PartnershipConfig::HasRole(submitter, v1::SUBMITTER)) return ReplyError(waiter, NotASubmitter(submitter));
  Staged taken = ledger_->TakeReferral(submitter, frame.mutable_submit()->mutable_referral(), today_);
  if (!taken.status.ok()) return ReplyError(waiter, Rebased(taken.status, "submit.referral"));
  WaitOrAck(taken, std::move(waiter));
}

void Broker::WaitOrAck(const Staged& staged, Waiter waiter) {
  if (staged.wait_list != nullptr) {
    // Answered when that batch is durable (CompleteInFlight).
    waiter.pending_index = staged.pending_index;
    waiter.duplicate = staged.duplicate;
    staged.wait_list->push_back(std::move(waiter));
    return;
  }
  ++metrics_.duplicates;
  v1::Frame reply;
  reply.set_correlation_id(waiter.correlation_id);
  reply.mutable_ack()->set_referral_id(staged.referral_id);
  reply.mutable_ack()->set_seq(staged.seq);
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
    Staged taken = ledger_->TakeReferral(submitter, referrals->Mutable(i), today_);
    v1::SubmitBatchItem* result = results->add_results();
    if (!taken.status.ok()) {
      ++refused;
      const Status refusal = Rebased(taken.status, "submit_batch.referrals[" + std::to_string(i) + "]");
      FillError(refusal, result->mutable_error());
      LogRefusal(waiter.correlation_id, i, submitter.id(), refusal);
      continue;
    }
    v1::Ack* ack = result->mutable_ack();
    ack->set_referral_id(std::move(taken.referral_id));
    ack->set_seq(taken.seq);
    ack->set_duplicate(taken.duplicate);
    waits = waits || taken.wait_list != nullptr;
  }
  metrics_.errors += refused;
  if (refused > 0) metrics_.agency_refusals.Add(submitter.id(), refused);
  // One reply for the frame, once everything it names is durable: the batch
  // being built is committed after the one being written, so waiting for it
  // covers duplicates of either.
  if (waits) {
    ledger_->building().deferred_replies.emplace_back(waiter, std::move(reply));
    return;
  }
  CountBatchAcks(submitter.id(), *results);
  Reply(waiter, reply);
}

void Broker::CountBatchAcks(const std::string& agency, const v1::SubmitBatchResult& result) {
  for (const v1::SubmitBatchItem& r : result.results()) {
    if (!r.has_ack()) continue;
    if (r.ack().duplicate()) {
      ++metrics_.duplicates;
    } else {
      ++metrics_.submissions;
      metrics_.agency_submissions.Add(agency);
    }
  }
}

}  // namespace refx::broker
