// Lifecycle appends (decided by Ledger::Append) and case queries.
#include <spdlog/spdlog.h>

#include <set>

#include "broker/broker.h"
#include "broker/group_commit.h"
#include "broker/ledger.h"
#include "broker/read_session.h"
#include "broker/waiter.h"
#include "core/event_util.h"
#include "core/frame_codec.h"

namespace refx::broker {

void Broker::HandleAppend(const v1::Agency& actor, const v1::Frame& frame, Waiter waiter,
                          const v1::StaffMember* person) {
  Staged staged = ledger_->Append(actor, frame.append(), person);
  if (staged.state_unreadable) return ReplyStateError(waiter, staged.status);
  if (!staged.status.ok()) return ReplyError(waiter, staged.status);
  WaitOrAck(staged, std::move(waiter));
}

void Broker::HandleAppendBatch(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter) {
  const auto& appends = frame.append_batch().appends();
  const size_t limit = config_->broker().max_batch();
  if (appends.empty()) {
    return ReplyError(waiter, Status::InvalidArgument("a batch must hold at least one append", "append_batch.appends"));
  }
  if (static_cast<size_t>(appends.size()) > limit) {
    return ReplyError(waiter, Status::InvalidArgument("a batch may hold at most " + std::to_string(limit) +
                                                          " appends (the broker's max_batch); got " +
                                                          std::to_string(appends.size()),
                                                      "append_batch.appends"));
  }
  // Checked before anything is staged: without a key a retry of the frame
  // could write an append twice.
  for (int i = 0; i < appends.size(); ++i) {
    if (appends[i].idempotency_key().empty()) {
      return ReplyError(waiter, Status::InvalidArgument(
                                    "every append of a batch needs an idempotency key (a retry of the frame must be safe)",
                                    "append_batch.appends[" + std::to_string(i) + "].idempotency_key"));
    }
  }
  v1::Frame reply;
  reply.set_correlation_id(waiter.correlation_id);
  v1::AppendBatchResult* results = reply.mutable_append_batch_result();
  bool waits = false;
  int refused = 0;
  for (int i = 0; i < appends.size(); ++i) {
    Staged staged = ledger_->Append(actor, appends[i]);
    v1::AppendBatchItem* result = results->add_results();
    if (!staged.status.ok()) {
      ++refused;
      Status refusal = staged.status;
      if (staged.state_unreadable) {
        spdlog::error("broker: request {} item {}: cannot read the log's state: {}", waiter.correlation_id, i,
                      refusal.ToString());
        refusal = Status::Internal("the event log's state could not be read; nothing was written — retry");
      }
      refusal = RebasedFieldPaths(refusal, "append", "append_batch.appends[" + std::to_string(i) + "]");
      FillError(refusal, result->mutable_error());
      spdlog::info("broker: refused request {} item {} from {}: {}", waiter.correlation_id, i, actor.id(),
                   refusal.ToString());
      continue;
    }
    v1::Ack* ack = result->mutable_ack();
    ack->set_referral_id(std::move(staged.referral_id));
    ack->set_seq(staged.seq);
    ack->set_duplicate(staged.duplicate);
    waits = waits || staged.wait_list != nullptr;
  }
  metrics_.errors += refused;
  if (refused > 0) metrics_.agency_refusals.Add(actor.id(), refused);
  // As for a submit batch: the batch being built is committed after the one
  // being written, so waiting for it covers duplicates of either.
  if (waits) {
    ledger_->building().deferred_replies.emplace_back(waiter, std::move(reply));
    return;
  }
  CountAppendBatchAcks(*results);
  Reply(waiter, reply);
}

void Broker::CountAppendBatchAcks(const v1::AppendBatchResult& result) {
  for (const v1::AppendBatchItem& r : result.results()) {
    if (!r.has_ack()) continue;
    if (r.ack().duplicate()) {
      ++metrics_.duplicates;
    } else {
      ++metrics_.appends;
    }
  }
}

void Broker::HandleQuery(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter,
                         const v1::StaffMember* person) {
  const v1::QueryRequest& q = frame.query();
  if (!q.subject_key().empty()) return HandleSubjectQuery(actor, frame, waiter, person);
  if (!q.referrer_reference().empty()) return HandleReferenceQuery(actor, frame, waiter, person);
  const bool audited = IsAuditedReader(actor, person, q.purpose());
  if (audited && !CheckAuditPurpose(q.purpose(), waiter)) return;
  const bool all = Ledger::MaySeeAll(actor);
  const auto& owned = ledger_->Worked(actor, person);
  v1::Frame reply;
  reply.set_correlation_id(waiter.correlation_id);
  v1::QueryResult* result = reply.mutable_query_result();
  if (!q.referral_id().empty()) {
    v1::ReferralRecord referral;
    Status s = ledger_->LoadReferral(q.referral_id(), &referral);
    if (s.code() == Status::Code::kNotFound) {
      // Only those who may see every referral learn that one does not
      // exist; to others an unknown referral looks like one with no case
      // they may see (an empty result), as a read of it does.
      if (all) return ReplyError(waiter, Status::NotFound("no referral " + q.referral_id()));
    } else if (!s.ok()) {
      return ReplyStateError(waiter, s);
    }
    // The submitting agency sees every case of its referral; a person only
    // the cases at destinations they work.
    const bool submitter = person == nullptr && referral.submitter() == actor.id();
    s = log_->ScanCaseRecords(q.referral_id(), [&](const v1::CaseRecord& c) {
      if (all || submitter || owned.count(c.destination())) *result->add_cases() = c;
    });
    if (!s.ok()) return ReplyStateError(waiter, s);
  } else if (!q.destination().empty()) {
    if (!config_->DestinationByCode(q.destination())) {
      return ReplyError(waiter, Status::UnknownAgency("destination \"" + q.destination() + "\" is not configured",
                                                      "query.destination"));
    }
    if (!all && !owned.count(q.destination())) {
      return ReplyError(waiter, Status::PermissionDenied(
                                    person ? "person \"" + person->id() + "\" does not work " + q.destination()
                                           : "agency \"" + actor.id() + "\" does not own " + q.destination()));
    }
    std::vector<uint64_t> seqs;
    Status s = log_->SeqsForDestination(q.destination(), &seqs);
    if (!s.ok()) return ReplyStateError(waiter, s);
    std::set<std::string> seen;
    for (uint64_t seq : seqs) {
      v1::Event e;
      s = ReadEvent(*log_, seq, &e);
      if (!s.ok()) return ReplyStateError(waiter, s);
      if (!seen.insert(ReferralIdOf(e)).second) continue;
      v1::CaseRecord c;
      s = log_->GetCaseRecord(ReferralIdOf(e), q.destination(), &c);
      if (s.code() == Status::Code::kNotFound) continue;
      if (!s.ok()) return ReplyStateError(waiter, s);
      *result->add_cases() = std::move(c);
    }
  } else {
    return ReplyError(waiter, Status::InvalidArgument("give a referral_id or a destination", "query"));
  }
  if (audited) {
    // Answered once the record of this query is durable.
    StageAccess(actor, q.referral_id().empty() ? "query destination " + q.destination() : "query referral " + q.referral_id(),
                q.purpose(), q.referral_id(), person);
    ledger_->building().deferred_replies.emplace_back(waiter, std::move(reply));
    return;
  }
  Reply(waiter, reply);
}

void Broker::HandleReferenceQuery(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter,
                                  const v1::StaffMember* person) {
  const v1::QueryRequest& q = frame.query();
  if (person != nullptr) {
    return ReplyError(waiter, Status::PermissionDenied("a reference query asks for the calling agency's own "
                                                       "submission; it cannot be made on behalf of a person"));
  }
  if (!q.referral_id().empty() || !q.destination().empty()) {
    return ReplyError(waiter, Status::InvalidArgument(kOneQueryKey, "query"));
  }
  // The key the submission itself was stored under: an identity finds only
  // its own referrals, and only durable ones (the dedupe family is written
  // in the synced batch).
  uint64_t seq = 0;
  Status s = log_->FindDuplicate(eventlog::EventLog::SubmissionKey(actor.id(), q.referrer_reference()), &seq);
  if (s.code() == Status::Code::kNotFound) {
    return ReplyError(waiter, Status::NotFound("agency \"" + actor.id() +
                                               "\" has no referral in the log with that referrer_reference"));
  }
  if (!s.ok()) return ReplyStateError(waiter, s);
  v1::Event submitted;
  s = ReadEvent(*log_, seq, &submitted);
  if (!s.ok()) return ReplyStateError(waiter, s);
  if (!submitted.has_referral_submitted()) {
    return ReplyStateError(waiter, Status::Corruption("dedupe names seq " + std::to_string(seq) +
                                                      ", which is not a referral_submitted event"));
  }
  const std::string& id = submitted.referral_submitted().referral_id();
  v1::Frame reply;
  reply.set_correlation_id(waiter.correlation_id);
  v1::QueryResult* result = reply.mutable_query_result();
  v1::SubjectReferral* found = result->add_referrals();
  s = log_->GetReferralRecord(id, found->mutable_referral());
  if (!s.ok()) return ReplyStateError(waiter, s);
  *found->mutable_submitted() = submitted.time();
  found->set_seq(seq);
  // The submitter sees every case of its referral (as HandleQuery).
  s = log_->ScanCaseRecords(id, [&](const v1::CaseRecord& c) { *result->add_cases() = c; });
  if (!s.ok()) return ReplyStateError(waiter, s);
  Reply(waiter, reply);
}

}  // namespace refx::broker
