#include "domain/monitoring/case_fold.h"

#include <google/protobuf/util/time_util.h>

#include "core/event_util.h"

#include <algorithm>

namespace refx::outcomes {

namespace {
using google::protobuf::util::TimeUtil;
}  // namespace

bool AwaitsAcknowledgement(v1::CaseState state) { return state == v1::ROUTED || state == v1::DELIVERED; }

bool IsOpenState(v1::CaseState state) {
  return state != v1::CLOSED && state != v1::DECLINED && state != v1::UNDELIVERABLE && state != v1::WITHDRAWN &&
         state != v1::CASE_STATE_UNSPECIFIED;
}

Micros EventMicros(const v1::Event& event) { return TimeUtil::TimestampToMicroseconds(event.time()); }

const CaseView* CaseFold::Apply(const v1::Event& e) {
  using B = v1::Event::BodyCase;
  last_seq_ = e.seq();
  const std::string& referral_id = ReferralIdOf(e);
  const std::string& destination = DestinationOf(e);

  if (e.has_referral_withdrawn()) {
    auto it = destinations_.find(referral_id);
    if (it == destinations_.end()) return nullptr;
    for (const std::string& d : it->second) {
      auto found = cases_.find({referral_id, d});
      if (found == cases_.end()) continue;
      CaseView& c = found->second;
      if (c.state != v1::CLOSED && c.state != v1::DECLINED && c.state != v1::UNDELIVERABLE) {
        c.state = v1::WITHDRAWN;
        c.closed_at = EventMicros(e);
      }
    }
    return nullptr;
  }
  if (referral_id.empty() || destination.empty()) return nullptr;

  if (e.has_case_routed()) {
    CaseView& c = cases_[{referral_id, destination}];
    if (c.state != v1::CASE_STATE_UNSPECIFIED) return &c;  // routed twice: the broker refuses this
    c.referral_id = referral_id;
    c.destination = destination;
    c.state = v1::ROUTED;
    c.routed_at = EventMicros(e);
    if (e.case_routed().has_deadline()) c.deadline = TimeUtil::TimestampToMicroseconds(e.case_routed().deadline());
    destinations_[referral_id].push_back(destination);
    return &c;
  }

  auto it = cases_.find({referral_id, destination});
  if (it == cases_.end()) return nullptr;
  CaseView& c = it->second;
  const Micros t = EventMicros(e);
  switch (e.body_case()) {
    case B::kCaseDelivered:
      c.state = v1::DELIVERED;
      if (c.first_delivered_at == 0) c.first_delivered_at = t;
      break;
    case B::kCaseAcknowledged:
      c.state = v1::ACKNOWLEDGED;
      if (c.acknowledged_at == 0) c.acknowledged_at = t;
      break;
    case B::kCaseAccepted:
      c.state = v1::ACCEPTED;
      if (c.accepted_at == 0) c.accepted_at = t;
      break;
    case B::kCaseDeclined:
      c.state = v1::DECLINED;
      break;
    case B::kOutcomeRecorded:
      c.state = v1::OUTCOME_RECORDED;
      break;
    case B::kCaseClosed:
      c.state = v1::CLOSED;
      break;
    case B::kCaseUndeliverable:
      c.state = v1::UNDELIVERABLE;
      break;
    case B::kDeadlineBreached:
      if (e.deadline_breached().deadline_kind() == "acknowledge") c.acknowledge_breached = true;
      break;
    case B::kCaseEscalated:
      c.escalated_by.push_back(e.actor());
      break;
    default:
      return nullptr;
  }
  if (!IsOpenState(c.state)) c.closed_at = t;
  return &c;
}

const CaseView* CaseFold::Find(const std::string& referral_id, const std::string& destination) const {
  auto it = cases_.find({referral_id, destination});
  return it == cases_.end() ? nullptr : &it->second;
}

std::vector<const CaseView*> CaseFold::CasesOf(const std::string& referral_id) const {
  std::vector<const CaseView*> out;
  auto it = destinations_.find(referral_id);
  if (it == destinations_.end()) return out;
  for (const std::string& d : it->second) {
    if (const CaseView* c = Find(referral_id, d)) out.push_back(c);
  }
  return out;
}

size_t CaseFold::ForgetClosedBefore(Micros cutoff) {
  size_t dropped = 0;
  for (auto it = cases_.begin(); it != cases_.end();) {
    const CaseView& c = it->second;
    if (IsOpenState(c.state) || c.closed_at == 0 || c.closed_at >= cutoff) {
      ++it;
      continue;
    }
    auto d = destinations_.find(c.referral_id);
    if (d != destinations_.end()) {
      auto& list = d->second;
      list.erase(std::remove(list.begin(), list.end(), c.destination), list.end());
      if (list.empty()) destinations_.erase(d);
    }
    it = cases_.erase(it);
    ++dropped;
  }
  return dropped;
}

void CaseFold::ToSnapshotChunks(size_t per_chunk,
                                const std::function<void(const v1::CaseFoldSnapshot&)>& add) const {
  v1::CaseFoldSnapshot out;
  out.set_last_seq(last_seq_);
  int used = 0;  // referrals of `out` in use; the rest are kept for reuse
  auto flush = [&] {
    while (out.referrals_size() > used) out.mutable_referrals()->RemoveLast();
    if (used > 0) add(out);
    used = 0;
  };
  for (const auto& [referral_id, dests] : destinations_) {
    v1::CaseFoldSnapshot::Referral* r =
        used < out.referrals_size() ? out.mutable_referrals(used) : out.add_referrals();
    ++used;
    r->set_referral_id(referral_id);
    int cases = 0;
    for (const std::string& d : dests) {
      auto it = cases_.find({referral_id, d});
      if (it == cases_.end()) continue;
      const CaseView& c = it->second;
      v1::CaseFoldSnapshot::Case* o = cases < r->cases_size() ? r->mutable_cases(cases) : r->add_cases();
      ++cases;
      o->set_destination(c.destination);
      o->set_state(c.state);
      o->clear_times();
      for (Micros t : {c.routed_at, c.deadline, c.first_delivered_at, c.acknowledged_at, c.accepted_at, c.closed_at}) {
        o->add_times(t);
      }
      o->set_acknowledge_breached(c.acknowledge_breached);
      o->clear_escalated_by();
      for (const std::string& by : c.escalated_by) o->add_escalated_by(by);
    }
    while (r->cases_size() > cases) r->mutable_cases()->RemoveLast();
    if (static_cast<size_t>(used) >= per_chunk) flush();
  }
  flush();
}

void CaseFold::AddSnapshotChunk(const v1::CaseFoldSnapshot& chunk) {
  last_seq_ = chunk.last_seq();
  std::vector<int> order;
  for (const auto& r : chunk.referrals()) {
    // Chunks come in referral id order: each referral goes at the end of
    // both maps (a hint, not a search), its cases in destination order.
    auto dests = destinations_.emplace_hint(destinations_.end(), r.referral_id(), std::vector<std::string>());
    dests->second.reserve(dests->second.size() + static_cast<size_t>(r.cases_size()));
    order.resize(static_cast<size_t>(r.cases_size()));
    for (int i = 0; i < r.cases_size(); ++i) order[static_cast<size_t>(i)] = i;
    std::sort(order.begin(), order.end(),
              [&r](int a, int b) { return r.cases(a).destination() < r.cases(b).destination(); });
    for (int i : order) {
      const auto& o = r.cases(i);
      auto it = cases_.emplace_hint(cases_.end(), Key(r.referral_id(), o.destination()), CaseView());
      CaseView& c = it->second;
      c.referral_id = r.referral_id();
      c.destination = o.destination();
      c.state = static_cast<v1::CaseState>(o.state());
      Micros* times[] = {&c.routed_at, &c.deadline, &c.first_delivered_at, &c.acknowledged_at, &c.accepted_at,
                         &c.closed_at};
      for (int t = 0; t < o.times_size() && t < 6; ++t) *times[t] = o.times(t);
      c.acknowledge_breached = o.acknowledge_breached();
      c.escalated_by.assign(o.escalated_by().begin(), o.escalated_by().end());
    }
    for (const auto& o : r.cases()) dests->second.push_back(o.destination());
  }
}

void CaseFold::ToSnapshot(v1::CaseFoldSnapshot* out) const {
  out->Clear();
  out->set_last_seq(last_seq_);
  ToSnapshotChunks(1024, [out](const v1::CaseFoldSnapshot& chunk) {
    for (const auto& r : chunk.referrals()) *out->add_referrals() = r;
  });
}

void CaseFold::FromSnapshot(const v1::CaseFoldSnapshot& in) {
  *this = CaseFold();
  AddSnapshotChunk(in);
}

void CaseFold::ForEach(const std::function<void(const CaseView&)>& fn) const {
  for (const auto& [key, c] : cases_) fn(c);
}

}  // namespace refx::outcomes
