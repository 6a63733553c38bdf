// Subject queries (QueryRequest.subject_key): every referral the router
// indexed under one keyed subject hash, for subject access requests. The
// broker never holds the subject key: the caller computed the hash from the
// name and date of birth (core/subject_key.h PersonSubjectKey), so neither
// reaches the broker.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/group_commit.h"
#include "broker/ledger.h"
#include "broker/waiter.h"
#include "core/event_util.h"

namespace refx::broker {

namespace {

bool IsSubjectKey(const std::string& key) {
  return key.size() == 64 && std::all_of(key.begin(), key.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

void Broker::HandleSubjectQuery(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter,
                                const v1::StaffMember* person) {
  const v1::QueryRequest& q = frame.query();
  if (!PartnershipConfig::HasRole(actor, v1::AUDITOR) && !PartnershipConfig::HasRole(actor, v1::ADMIN)) {
    return ReplyError(waiter, Status::PermissionDenied(
                                  (person ? "person \"" + person->id() + "\"" : "agency \"" + actor.id() + "\"") +
                                  " may not search by subject (needs AUDITOR or ADMIN)"));
  }
  if (!q.referral_id().empty() || !q.destination().empty() || !q.referrer_reference().empty()) {
    return ReplyError(waiter, Status::InvalidArgument(kOneQueryKey, "query"));
  }
  if (!IsSubjectKey(q.subject_key())) {
    return ReplyError(waiter, Status::InvalidArgument("must be 64 lower-case hexadecimal characters (the keyed "
                                                      "subject hash, not a name)",
                                                      "query.subject_key"));
  }
  // Every subject search is recorded, whoever makes it.
  if (!CheckAuditPurpose(q.purpose(), waiter)) return;

  std::vector<uint64_t> seqs;
  Status s = log_->SeqsForSubject(q.subject_key(), &seqs);
  if (!s.ok()) return ReplyStateError(waiter, s);
  // Referral ids once each (a referral may be indexed twice, e.g. by a
  // backfill and the live path), in submission order.
  std::set<uint64_t> submissions;
  for (uint64_t seq : seqs) {
    v1::Event e;
    s = ReadEvent(*log_, seq, &e);
    if (!s.ok()) return ReplyStateError(waiter, s);
    uint64_t submission = 0;
    if (!e.has_subject_indexed() || !SeqForReferralId(e.subject_indexed().referral_id(), &submission)) {
      return ReplyStateError(waiter, Status::Corruption("by_subject names seq " + std::to_string(seq) +
                                                        ", which is not a subject_indexed event of a referral"));
    }
    submissions.insert(submission);
  }

  v1::Frame reply;
  reply.set_correlation_id(waiter.correlation_id);
  v1::QueryResult* result = reply.mutable_query_result();
  std::vector<std::string> ids;
  for (uint64_t submission : submissions) {
    const std::string id = ReferralIdForSeq(submission);
    v1::Event e;
    s = ReadEvent(*log_, submission, &e);
    if (!s.ok()) return ReplyStateError(waiter, s);
    // An erased referral (its data key destroyed) is no longer found by the
    // person's name: the hash stays in the chain for the repeat check's
    // retention, but the search answers only what still holds their data.
    if (e.erased()) continue;
    v1::SubjectReferral* found = result->add_referrals();
    s = log_->GetReferralRecord(id, found->mutable_referral());
    if (!s.ok()) return ReplyStateError(waiter, s);
    *found->mutable_submitted() = e.time();
    s = log_->ScanCaseRecords(id, [&](const v1::CaseRecord& c) { *result->add_cases() = c; });
    if (!s.ok()) return ReplyStateError(waiter, s);
    ids.push_back(id);
  }
  // Answered once the record of this search is durable. The record names
  // who searched, why (the purpose: e.g. the request's reference) and the
  // referrals disclosed, not the keyed hash searched for: the hash would
  // outlive its ROUTING_HISTORY period in the chain (its own event is not
  // erasable), and a search that found nothing disclosed nothing.
  const uint64_t seq = ledger_->StageAccess(actor, "query subject", q.purpose(), ids, person);
  spdlog::info("broker: subject search by {}{}{} ({} referrals) recorded at seq {}", actor.id(),
               person ? " for " : "", person ? person->id() : std::string(), ids.size(), seq);
  ++metrics_.audit_reads;
  ledger_->building().deferred_replies.emplace_back(waiter, std::move(reply));
}

}  // namespace refx::broker
