// Lifecycle appends and case queries (see broker.h and case_lifecycle.h).
#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <set>

#include "broker/broker.h"
#include "broker/group_commit.h"
#include "broker/read_session.h"
#include "broker/waiter.h"
#include "broker/case_lifecycle.h"
#include "core/event_util.h"
#include "core/frame_codec.h"
#include "core/need_to_know.h"

namespace refx::broker {

namespace {

// Parses a record staged in a batch; a failure is the broker's own bug.
Status ParseStaged(const std::string& bytes, google::protobuf::Message* out) {
  if (out->ParseFromString(bytes)) return Status::OK();
  return Status::Corruption("a staged " + out->GetTypeName() + " does not parse");
}

// Whether `repeat`, as a client sent it, asks for the same event as
// `first`, as staged or stored. The fields the broker sets are left out of
// the comparison: seq, time, actor, and all of a delivery but its case.
bool SameAppend(const v1::Event& first, const v1::Event& repeat) {
  v1::Event a = first, b = repeat;
  for (v1::Event* e : {&a, &b}) {
    e->clear_seq();
    e->clear_time();
    e->clear_actor();
    if (e->has_case_delivered()) {
      v1::CaseDelivered kept;
      kept.set_referral_id(e->case_delivered().referral_id());
      kept.set_destination(e->case_delivered().destination());
      *e->mutable_case_delivered() = std::move(kept);
    }
  }
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

Status AppendConflictWith(uint64_t original_seq) {
  return Status::IdempotencyConflict("idempotency_key was already used by this identity for a different event (seq " +
                                         std::to_string(original_seq) + "); nothing was written — use a new key",
                                     "append.idempotency_key");
}

}  // namespace

// State lookups see the batch being built, then the batch being written,
// then the log.
const std::string* Broker::StagedState(const std::string& key) const {
  if (auto it = building_->state.find(key); it != building_->state.end()) return &it->second;
  if (auto it = in_flight_->state.find(key); it != in_flight_->state.end()) return &it->second;
  return nullptr;
}

Status Broker::LoadReferral(const std::string& referral_id, v1::ReferralRecord* out) const {
  if (const std::string* staged = StagedState(eventlog::EventLog::ReferralStateKey(referral_id))) {
    return ParseStaged(*staged, out);
  }
  return log_->GetReferralRecord(referral_id, out);
}

Status Broker::LoadCase(const std::string& referral_id, const std::string& destination, v1::CaseRecord* out) const {
  if (const std::string* staged = StagedState(eventlog::EventLog::CaseStateKey(referral_id, destination))) {
    return ParseStaged(*staged, out);
  }
  return log_->GetCaseRecord(referral_id, destination, out);
}

Status Broker::LoadSubmission(const std::string& referral_id, v1::Referral* out) {
  uint64_t seq = 0;
  if (!SeqForReferralId(referral_id, &seq)) return Status::NotFound("no referral " + referral_id);
  // A referral submitted in the batch being written or built is not in the
  // log yet.
  if (seq > committed_head_) {
    size_t index = seq - committed_head_ - 1;
    const std::vector<eventlog::PendingEvent>* batch = &in_flight_->events;
    if (index >= batch->size()) {
      index -= batch->size();
      batch = &building_->events;
    }
    if (index < batch->size() && (*batch)[index].event.has_referral_submitted()) {
      *out = (*batch)[index].event.referral_submitted().referral();
      return Status::OK();
    }
    return Status::NotFound("no referral " + referral_id);
  }
  eventlog::StoredEvent stored;
  REFX_RETURN_IF_ERROR(log_->Get(seq, &stored));
  v1::Event event;
  if (!event.ParseFromString(stored.bytes) || !event.has_referral_submitted()) {
    return Status::NotFound("no referral " + referral_id);
  }
  *out = event.referral_submitted().referral();
  return Status::OK();
}

void Broker::HandleAppend(const v1::Agency& actor, const v1::Frame& frame, Waiter waiter) {
  const v1::AppendRequest& request = frame.append();
  std::string key;
  if (!request.idempotency_key().empty()) {
    key = eventlog::EventLog::AppendKey(actor.id(), request.idempotency_key());
    // A repeat of an append in the batch being built or written waits for
    // that one; a different event under the same key is refused.
    for (GroupCommit* batch : {building_.get(), in_flight_.get()}) {
      auto it = batch->keys.find(key);
      if (it == batch->keys.end()) continue;
      const v1::Event& first = batch->events[it->second].event;
      if (!SameAppend(first, request.event())) return ReplyError(waiter, AppendConflictWith(first.seq()));
      waiter.pending_index = it->second;
      waiter.duplicate = true;
      batch->waiters.push_back(std::move(waiter));
      return;
    }
    uint64_t original = 0;
    Status found = log_->FindDuplicate(key, &original);
    if (found.ok()) {
      eventlog::StoredEvent stored;
      v1::Event first;
      Status read = log_->Get(original, &stored);
      if (read.ok() && !first.ParseFromString(stored.bytes)) read = Status::Corruption("stored event does not parse");
      if (!read.ok()) {
        spdlog::error("broker: cannot read seq {}, the original of a repeated append: {}", original, read.ToString());
        return ReplyError(waiter, Status::Internal("cannot read the original of a repeated append; retry"));
      }
      if (!SameAppend(first, request.event())) return ReplyError(waiter, AppendConflictWith(original));
      ++metrics_.duplicates;
      v1::Frame reply;
      reply.set_correlation_id(waiter.correlation_id);
      reply.mutable_ack()->set_referral_id(ReferralIdOf(first));
      reply.mutable_ack()->set_seq(original);
      reply.mutable_ack()->set_duplicate(true);
      Reply(waiter, reply);
      return;
    }
    if (found.code() != Status::Code::kNotFound) {
      // Never "new" on an error: that could write the event twice.
      spdlog::error("broker: idempotency index unreadable for an append by {}: {}", actor.id(), found.ToString());
      return ReplyError(waiter, Status::Internal("cannot read the idempotency index; nothing was written — retry"));
    }
  }

  eventlog::PendingEvent pending;
  v1::Event& event = pending.event;
  event = request.event();
  event.set_seq(NextSeq());
  *event.mutable_time() = EventTimeNow();
  event.set_actor(actor.id());

  const std::string& referral_id = ReferralIdOf(event);
  const std::string& destination = DestinationOf(event);
  v1::ReferralRecord referral, referral_next;
  v1::CaseRecord current, next;
  LifecycleContext ctx;
  // Absent state is for CheckTransition to judge; an unreadable one refuses.
  if (!referral_id.empty()) {
    Status s = LoadReferral(referral_id, &referral);
    if (s.ok()) {
      ctx.referral = &referral;
    } else if (s.code() != Status::Code::kNotFound) {
      return ReplyStateError(waiter, s);
    }
  }
  if (!destination.empty() && ctx.referral) {
    Status s = LoadCase(referral_id, destination, &current);
    if (s.ok()) {
      ctx.current = &current;
    } else if (s.code() != Status::Code::kNotFound) {
      return ReplyStateError(waiter, s);
    }
  }
  bool referral_changed = false;
  Status s = CheckTransition(event, actor, *config_, ctx, &next, &referral_next, &referral_changed);
  if (!s.ok()) return ReplyError(waiter, s);

  if (event.has_case_routed()) {
    next.set_reason(event.case_routed().reason());
  }
  if (event.has_case_delivered()) {
    // The broker, not the client, decides what is disclosed.
    const v1::Destination& dest = *config_->DestinationByCode(destination);
    v1::Referral submitted;
    s = LoadSubmission(referral_id, &submitted);
    if (!s.ok()) return ReplyError(waiter, s);
    std::set<v1::FieldGroup> groups = {v1::ENVELOPE};
    for (int g : dest.need_to_know()) groups.insert(static_cast<v1::FieldGroup>(g));
    auto* delivered = event.mutable_case_delivered();
    delivered->set_recipient_agency(dest.agency_id());
    delivered->clear_disclosed_groups();
    for (v1::FieldGroup g : groups) delivered->add_disclosed_groups(g);
    delivered->set_purpose(dest.purpose());
    delivered->set_rule_id(current.rule_id());
    delivered->set_reason(current.reason());
    *delivered->mutable_deadline() = current.deadline();
    delivered->set_attempt(next.deliveries());
    *delivered->mutable_view() = NeedToKnowView(submitted, groups);
  }

  // Every open case of a withdrawn referral is withdrawn with it. All are
  // read before anything is staged, so a read error leaves no trace.
  std::vector<std::pair<std::string, v1::CaseRecord>> withdrawn;
  if (referral_changed && event.has_referral_withdrawn()) {
    for (const std::string& d : referral_next.destinations()) {
      v1::CaseRecord c;
      Status loaded = LoadCase(referral_id, d, &c);
      if (loaded.code() == Status::Code::kNotFound) continue;
      if (!loaded.ok()) return ReplyStateError(waiter, loaded);
      if (c.state() == v1::CLOSED || c.state() == v1::DECLINED || c.state() == v1::UNDELIVERABLE) continue;
      c.set_state(v1::WITHDRAWN);
      c.set_version(event.seq());
      withdrawn.emplace_back(d, std::move(c));
    }
  }
  if (!destination.empty()) StageState(&pending, eventlog::EventLog::CaseStateKey(referral_id, destination), next);
  if (referral_changed) StageState(&pending, eventlog::EventLog::ReferralStateKey(referral_id), referral_next);
  for (const auto& [d, c] : withdrawn) StageState(&pending, eventlog::EventLog::CaseStateKey(referral_id, d), c);
  spdlog::debug("broker: {} {}/{} by {} as seq {}", EventTypeName(event), referral_id, destination, actor.id(),
                event.seq());
  if (!key.empty()) {
    pending.dedupe_key = key;
    building_->keys.emplace(key, building_->events.size());
  }
  waiter.pending_index = building_->events.size();
  building_->events.push_back(std::move(pending));
  building_->waiters.push_back(std::move(waiter));
}

void Broker::HandleQuery(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter) {
  const v1::QueryRequest& q = frame.query();
  const bool audited = IsAuditedReader(actor);
  if (audited && !CheckAuditPurpose(q.purpose(), waiter)) return;
  const bool all = MaySeeAll(actor);
  const auto& owned = owned_destinations_[actor.id()];
  v1::Frame reply;
  reply.set_correlation_id(waiter.correlation_id);
  v1::QueryResult* result = reply.mutable_query_result();
  if (!q.referral_id().empty()) {
    v1::ReferralRecord referral;
    Status s = LoadReferral(q.referral_id(), &referral);
    if (s.code() == Status::Code::kNotFound) {
      // Only those who may see every referral learn that one does not
      // exist; to others an unknown referral looks like one with no case
      // they may see (an empty result), as a read of it does.
      if (all) return ReplyError(waiter, Status::NotFound("no referral " + q.referral_id()));
    } else if (!s.ok()) {
      return ReplyStateError(waiter, s);
    }
    const bool submitter = referral.submitter() == actor.id();
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
      return ReplyError(waiter, Status::PermissionDenied("agency \"" + actor.id() + "\" does not own " + q.destination()));
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
                q.purpose(), q.referral_id());
    building_->deferred_replies.emplace_back(waiter, std::move(reply));
    return;
  }
  Reply(waiter, reply);
}

}  // namespace refx::broker
