// Lifecycle appends and case queries (see broker.h and case_lifecycle.h).
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <set>

#include "broker/broker.h"
#include "broker/case_lifecycle.h"
#include "core/event_util.h"
#include "core/frame_codec.h"
#include "core/need_to_know.h"
#include "eventlog/keys.h"

namespace refx::broker {

// State lookups see the batch being built, then the batch being written,
// then the log.
bool Broker::LoadReferral(const std::string& referral_id, v1::ReferralRecord* out) {
  const std::string key = eventlog::CaseKey(referral_id, "");
  if (auto it = building_->state.find(key); it != building_->state.end()) return out->ParseFromString(it->second);
  if (auto it = in_flight_->state.find(key); it != in_flight_->state.end()) return out->ParseFromString(it->second);
  std::string value;
  return log_->GetState(key, &value).ok() && out->ParseFromString(value);
}

bool Broker::LoadCase(const std::string& referral_id, const std::string& destination, v1::CaseRecord* out) {
  const std::string key = eventlog::CaseKey(referral_id, destination);
  if (auto it = building_->state.find(key); it != building_->state.end()) return out->ParseFromString(it->second);
  if (auto it = in_flight_->state.find(key); it != in_flight_->state.end()) return out->ParseFromString(it->second);
  std::string value;
  return log_->GetState(key, &value).ok() && out->ParseFromString(value);
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
    key = eventlog::DedupeKey(actor.id(), "append:" + request.idempotency_key());
    if (auto it = building_->keys.find(key); it != building_->keys.end()) {
      waiter.pending_index = it->second;
      waiter.duplicate = true;
      building_->waiters.push_back(std::move(waiter));
      return;
    }
    if (auto it = in_flight_->keys.find(key); it != in_flight_->keys.end()) {
      waiter.pending_index = it->second;
      waiter.duplicate = true;
      in_flight_->waiters.push_back(std::move(waiter));
      return;
    }
    uint64_t original = 0;
    if (log_->FindDuplicate(key, &original)) {
      ++metrics_.duplicates;
      eventlog::StoredEvent stored;
      v1::Event first;
      v1::Frame reply;
      reply.set_correlation_id(waiter.correlation_id);
      if (log_->Get(original, &stored).ok() && first.ParseFromString(stored.bytes)) {
        reply.mutable_ack()->set_referral_id(ReferralIdOf(first));
      }
      reply.mutable_ack()->set_seq(original);
      reply.mutable_ack()->set_duplicate(true);
      Reply(waiter, reply);
      return;
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
  if (!referral_id.empty() && LoadReferral(referral_id, &referral)) ctx.referral = &referral;
  if (!destination.empty() && ctx.referral && LoadCase(referral_id, destination, &current)) ctx.current = &current;
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

  if (!destination.empty()) StageState(&pending, eventlog::CaseKey(referral_id, destination), next);
  if (referral_changed) {
    StageState(&pending, eventlog::CaseKey(referral_id, ""), referral_next);
    if (event.has_referral_withdrawn()) {
      // Every open case of the referral is withdrawn with it.
      for (const std::string& d : referral_next.destinations()) {
        v1::CaseRecord c;
        if (!LoadCase(referral_id, d, &c)) continue;
        if (c.state() == v1::CLOSED || c.state() == v1::DECLINED || c.state() == v1::UNDELIVERABLE) continue;
        c.set_state(v1::WITHDRAWN);
        c.set_version(event.seq());
        StageState(&pending, eventlog::CaseKey(referral_id, d), c);
      }
    }
  }
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
  auto add_case = [&](const std::string& value) {
    v1::CaseRecord c;
    if (c.ParseFromString(value) && (all || owned.count(c.destination()))) *result->add_cases() = c;
  };
  if (!q.referral_id().empty()) {
    v1::ReferralRecord referral;
    if (!LoadReferral(q.referral_id(), &referral)) {
      return ReplyError(waiter, Status::NotFound("no referral " + q.referral_id()));
    }
    const bool submitter = referral.submitter() == actor.id();
    Status s = log_->ScanState(eventlog::CaseKey(q.referral_id(), ""), [&](const std::string& key, const std::string& value) {
      if (key.size() == q.referral_id().size() + 1) return;  // the referral record itself
      v1::CaseRecord c;
      if (c.ParseFromString(value) && (all || submitter || owned.count(c.destination()))) *result->add_cases() = c;
    });
    if (!s.ok()) return ReplyError(waiter, s);
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
    if (!s.ok()) return ReplyError(waiter, s);
    std::set<std::string> seen;
    for (uint64_t seq : seqs) {
      eventlog::StoredEvent stored;
      v1::Event e;
      if (!log_->Get(seq, &stored).ok() || !e.ParseFromString(stored.bytes)) continue;
      if (!seen.insert(ReferralIdOf(e)).second) continue;
      std::string value;
      if (log_->GetState(eventlog::CaseKey(ReferralIdOf(e), q.destination()), &value).ok()) add_case(value);
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
