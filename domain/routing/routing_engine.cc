#include "domain/routing/routing_engine.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <set>

#include "core/london_time.h"
#include "core/subject_key.h"

namespace refx {

namespace {

// A destination chosen while the rules are applied, before consent and
// de-duplication.
struct Pick {
  std::string destination;
  std::string rule_id;
  std::string reason;
  std::optional<uint32_t> deadline_working_days;
};

// The rule's `when` has a top-level category test that the referral's
// category passes: a failure of the rest is a near miss worth naming.
bool CategoryMatches(const v1::Condition& when, const v1::Referral& referral) {
  return !when.category_in().empty() &&
         std::find(when.category_in().begin(), when.category_in().end(), referral.category()) !=
             when.category_in().end();
}

std::string ConsentText(v1::ConsentPosition position) {
  switch (position) {
    case v1::CONSENT_GIVEN:
      return "consent given";
    case v1::CONSENT_REFUSED:
      return "consent refused";
    case v1::CONSENT_NOT_SOUGHT:
      return "consent not sought";
    default:
      return "consent position not recorded";
  }
}

std::string JoinNonEmpty(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "; " + b;
}

// `a` followed by the "; "-separated parts of `b` that `a` does not have.
std::string MergeReasons(const std::string& a, const std::string& b) {
  std::string out = a;
  size_t start = 0;
  while (start <= b.size()) {
    size_t end = b.find("; ", start);
    if (end == std::string::npos) end = b.size();
    const std::string part = b.substr(start, end - start);
    const std::string padded = "; " + out + "; ";
    if (!part.empty() && padded.find("; " + part + "; ") == std::string::npos) out = JoinNonEmpty(out, part);
    start = end + 2;
  }
  return out;
}

}  // namespace

Status RoutingEngine::Create(const PartnershipConfig* config, std::string subject_secret,
                             std::unique_ptr<RoutingEngine>* out) {
  if (config == nullptr) return Status::InvalidArgument("routing needs a partnership configuration");
  const std::string& fallback = config->proto().fallback_destination();
  const v1::Destination* fb = config->DestinationByCode(fallback);
  if (fb == nullptr) {
    return Status::InvalidArgument("routing needs a fallback_destination naming a destination (got \"" + fallback +
                                   "\")");
  }
  if (fb->consent_required()) {
    return Status::InvalidArgument("fallback_destination " + fallback + " must not need consent");
  }
  if (!subject_secret.empty() && subject_secret.size() != kSubjectSecretBytes) {
    return Status::InvalidArgument("the subject key must be " + std::to_string(kSubjectSecretBytes) + " bytes");
  }
  std::unique_ptr<RoutingEngine> engine(new RoutingEngine());
  REFX_RETURN_IF_ERROR(WorkingCalendar::FromProto(config->proto().calendar(), &engine->calendar_));
  engine->config_ = config;
  engine->secret_ = std::move(subject_secret);
  *out = std::move(engine);
  return Status::OK();
}

std::string RoutingEngine::SubjectKeyOf(const v1::Referral& referral) const {
  return secret_.empty() ? std::string() : SubjectKey(secret_, referral);
}

void RoutingEngine::SetDeadline(RoutingDecision* d, const Timing& timing) const {
  const v1::Destination* dest = config_->DestinationByCode(d->destination);
  if (dest == nullptr) {
    d->deadline = calendar_.AddWorkingDays(timing.submitted_on, 0);
    d->deadline_unix = EndOfLondonDay(d->deadline);
    return;
  }
  if (dest->deadline_clock_hours() > 0) {
    int64_t start = timing.submitted_at_unix;
    std::string from = "submission";
    if (dest->deadline_from() == v1::Destination::CHILD_RETURNED) {
      google::protobuf::Timestamp returned;
      const std::string& text = timing.referral ? timing.referral->missing().returned_at() : std::string();
      if (!text.empty() && google::protobuf::util::TimeUtil::FromString(text, &returned)) {
        start = returned.seconds();
        from = "the return";
      } else {
        from = "submission (no return time given)";
      }
    }
    d->deadline_unix = WorkingCalendar::AddClockHours(start, dest->deadline_clock_hours());
    d->deadline = LondonDateOf(d->deadline_unix);
    d->reason += " (due " + LondonTimeMinutes(d->deadline_unix) + ": " + std::to_string(dest->deadline_clock_hours()) +
                 " clock hours from " + from + ")";
    return;
  }
  if (timing.deadline_working_days) {
    d->deadline = calendar_.AddWorkingDays(timing.submitted_on, *timing.deadline_working_days);
  } else {
    d->deadline = calendar_.Deadline(*dest, timing.submitted_on);
    if (dest->has_meetings() && dest->meetings().dates_size() > 0 &&
        !WorkingCalendar::NextMeeting(dest->meetings(), timing.submitted_on)) {
      d->reason += " (no " + d->destination + " meeting date late enough is configured: working-day deadline)";
    }
  }
  d->deadline_unix = EndOfLondonDay(d->deadline);
}

void RoutingEngine::Add(std::vector<RoutingDecision>* out, const std::string& destination,
                        const std::string& rule_id, const std::string& reason, const Timing& timing) const {
  for (RoutingDecision& d : *out) {
    if (d.destination != destination) continue;
    // Listed already: the first rule to choose it is the one recorded, but
    // the fallback keeps every reason it was used for.
    if (destination == config_->proto().fallback_destination() && d.reason.find(reason) == std::string::npos) {
      d.reason += "; " + reason;
    }
    return;
  }
  RoutingDecision d;
  d.destination = destination;
  d.rule_id = rule_id;
  d.reason = reason;
  SetDeadline(&d, timing);
  out->push_back(std::move(d));
}

std::vector<RoutingDecision> RoutingEngine::Route(const v1::Referral& referral, const CivilDate& submitted_on,
                                                  const RoutingHistory& history,
                                                  std::optional<int64_t> submitted_at_unix) const {
  const v1::PartnershipConfig& cfg = config_->proto();
  const std::string& fallback = cfg.fallback_destination();
  const ReferralFacts facts = MakeReferralFacts(referral, submitted_on, &history, SubjectKeyOf(referral));

  std::vector<Pick> picks;
  std::vector<std::string> excluded;    // notes on rules an exclusion stopped
  std::vector<Pick> near_misses;        // rules of the referral's category that failed
  std::set<std::string> settled_groups;  // exclusive groups already decided
  for (const v1::RoutingRule& rule : cfg.rules()) {
    const std::string& group = rule.exclusive_group();
    if (!group.empty() && settled_groups.count(group)) continue;
    const Verdict when = EvaluateCondition(rule.when(), facts);
    if (when.fails()) {
      if (CategoryMatches(rule.when(), referral)) {
        near_misses.push_back({fallback, rule.id(), rule.id() + " not met, missing: " + when.reason, std::nullopt});
      }
      continue;
    }
    if (!group.empty()) settled_groups.insert(group);
    if (when.unknown()) {
      picks.push_back({fallback, rule.id(), rule.id() + " cannot be applied: " + when.reason, std::nullopt});
      continue;
    }
    if (rule.has_exclude()) {
      const Verdict exclude = EvaluateCondition(rule.exclude(), facts);
      if (exclude.unknown()) {
        picks.push_back({fallback, rule.id(), rule.id() + " cannot be applied: " + exclude.reason, std::nullopt});
        continue;
      }
      if (exclude.holds()) {
        if (!group.empty()) settled_groups.erase(group);  // an excluded rule does not settle its group
        excluded.push_back(rule.id() + " excluded: " +
                           (rule.exclude_reason().empty() ? exclude.reason : rule.exclude_reason()));
        continue;
      }
    }
    for (const v1::RoutingTarget& target : rule.targets()) {
      std::string reason = when.reason;
      if (target.has_only_if()) {
        const Verdict only_if = EvaluateCondition(target.only_if(), facts);
        if (only_if.fails()) continue;
        if (only_if.unknown()) {
          picks.push_back({fallback, rule.id(),
                           rule.id() + " cannot decide on " + target.destination() + ": " + only_if.reason,
                           std::nullopt});
          continue;
        }
        reason = MergeReasons(reason, only_if.reason);
      }
      std::optional<uint32_t> days;
      if (target.has_deadline_working_days()) days = target.deadline_working_days();
      if (!target.deadline_note().empty()) reason = JoinNonEmpty(reason, target.deadline_note());
      picks.push_back({target.destination(), rule.id(), reason, days});
    }
    if (rule.after_match() == v1::RoutingRule::STOP) break;
  }

  Timing timing;
  timing.referral = &referral;
  timing.submitted_on = submitted_on;
  timing.submitted_at_unix = submitted_at_unix ? *submitted_at_unix : submitted_on.ToDays() * 86400;
  std::vector<RoutingDecision> out;
  for (const Pick& p : picks) {
    Timing t = timing;
    t.deadline_working_days = p.deadline_working_days;
    const v1::Destination* dest = config_->DestinationByCode(p.destination);
    if (p.destination != fallback && dest != nullptr && dest->consent_required() &&
        referral.consent().position() != v1::CONSENT_GIVEN) {
      Add(&out, fallback, p.rule_id,
          "consent required by " + p.destination + ": " + ConsentText(referral.consent().position()), timing);
      continue;
    }
    Add(&out, p.destination, p.rule_id, p.reason, t);
  }
  if (out.empty() && !near_misses.empty()) {
    // A near miss names the rule and what it lacks instead of "no rule
    // matched" (ROUTING.md rule 7: partly met Community MARAC criteria).
    for (const Pick& p : near_misses) Add(&out, fallback, p.rule_id, p.reason, timing);
    for (const std::string& e : excluded) Add(&out, fallback, near_misses.front().rule_id, e, timing);
  }
  if (out.empty()) {
    std::string reason = "no rule matched";
    if (!excluded.empty()) {
      std::string notes;
      for (const std::string& e : excluded) notes = JoinNonEmpty(notes, e);
      reason += " (" + notes + ")";
    }
    Add(&out, fallback, kNoRuleId, reason, timing);
  }
  return out;
}

std::optional<std::string> RoutingEngine::RouteOnOutcome(const std::string& destination,
                                                         const std::string& outcome_code) const {
  for (const v1::OutcomeCode& o : config_->proto().outcome_codes()) {
    if (o.code() != outcome_code) continue;
    if (!o.destinations().empty() &&
        std::find(o.destinations().begin(), o.destinations().end(), destination) == o.destinations().end()) {
      return std::nullopt;
    }
    if (o.route_to().empty()) return std::nullopt;
    return o.route_to();
  }
  return std::nullopt;
}

std::optional<RoutingDecision> RoutingEngine::RouteOnOutcome(const std::string& destination,
                                                             const std::string& outcome_code,
                                                             const CivilDate& recorded_on) const {
  std::optional<std::string> next = RouteOnOutcome(destination, outcome_code);
  if (!next) return std::nullopt;
  std::vector<RoutingDecision> out;
  Timing timing;
  timing.submitted_on = recorded_on;
  timing.submitted_at_unix = recorded_on.ToDays() * 86400;
  Add(&out, *next, "OUTCOME:" + outcome_code, destination + " recorded outcome " + outcome_code, timing);
  return out.front();
}

}  // namespace refx
