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

void Broker::HandleQuery(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter,
                         const v1::StaffMember* person) {
  const v1::QueryRequest& q = frame.query();
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
      eventlog::StoredEvent stored;
      v1::Event e;
      s = log_->Get(seq, &stored);
      if (s.ok() && !e.ParseFromString(stored.bytes)) s = Status::Corruption("event " + std::to_string(seq) + " does not parse");
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

}  // namespace refx::broker
