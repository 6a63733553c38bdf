#include "audit/referral_fold.h"

#include <google/protobuf/util/time_util.h>

#include <map>
#include <utility>

#include "domain/monitoring/case_fold.h"

namespace refx::audit {

using google::protobuf::util::TimeUtil;

void FoldReferral(const std::vector<v1::Event>& events, FoldedReferral* out) {
  outcomes::CaseFold fold;
  struct Extra {
    v1::CaseRecord record;  // the fields the fold does not keep
  };
  std::map<std::string, Extra> extra;  // by destination
  std::string referral_id;
  for (const v1::Event& e : events) {
    out->last_seq = e.seq();
    if (e.has_referral_submitted()) {
      out->submitter = e.referral_submitted().referral().referrer().agency_id();
      if (out->submitter.empty()) out->submitter = e.actor();
      referral_id = e.referral_submitted().referral_id();
    }
    if (e.has_referral_withdrawn()) {
      out->withdrawn = true;
      referral_id = e.referral_withdrawn().referral_id();
      for (auto& [destination, x] : extra) {
        const outcomes::CaseView* before = fold.Find(referral_id, destination);
        if (before != nullptr && outcomes::IsOpenState(before->state)) x.record.set_version(e.seq());
      }
    }
    const outcomes::CaseView* changed = fold.Apply(e);
    if (changed == nullptr) continue;
    referral_id = changed->referral_id;
    v1::CaseRecord& r = extra[changed->destination].record;
    r.set_version(e.seq());
    switch (e.body_case()) {
      case v1::Event::kCaseRouted:
        r.set_rule_id(e.case_routed().rule_id());
        r.set_reason(e.case_routed().reason());
        break;
      case v1::Event::kCaseDelivered:
        r.set_deliveries(r.deliveries() + 1);
        if (r.rule_id().empty()) r.set_rule_id(e.case_delivered().rule_id());
        break;
      case v1::Event::kOutcomeRecorded:
        r.set_last_outcome(e.outcome_recorded().code());
        break;
      case v1::Event::kDeadlineBreached:
        r.set_deadline_breached(true);
        break;
      default:
        break;
    }
  }
  for (const outcomes::CaseView* c : fold.CasesOf(referral_id)) {
    v1::CaseRecord r = extra[c->destination].record;
    r.set_referral_id(c->referral_id);
    r.set_destination(c->destination);
    r.set_state(c->state);
    if (c->deadline != 0) *r.mutable_deadline() = TimeUtil::MicrosecondsToTimestamp(c->deadline);
    if (c->routed_at != 0) *r.mutable_routed_at() = TimeUtil::MicrosecondsToTimestamp(c->routed_at);
    if (c->acknowledge_breached) r.set_deadline_breached(true);
    out->cases.push_back(std::move(r));
  }
}

}  // namespace refx::audit
