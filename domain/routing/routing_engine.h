// The routing engine: applies the partnership's routing rules
// (routing.proto) to a referral and says which destinations receive it,
// which rule chose each, why, and by when it must be acted on.
//
// Example:
//   std::unique_ptr<RoutingEngine> engine;
//   Status s = RoutingEngine::Create(config.get(), secret, &engine);
//   for (const RoutingDecision& d : engine->Route(referral, today, history)) ...
//
// Thread-safety: immutable after Create; Route and the other const methods
// may be called from several threads at once (the RoutingHistory passed in
// must then be thread-safe too).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/civil_date.h"
#include "core/partnership_config.h"
#include "core/status.h"
#include "core/working_calendar.h"
#include "refx/v1/referral.pb.h"
#include "domain/routing/condition.h"

namespace refx {

// One destination a referral goes to.
struct RoutingDecision {
  // Destination code, e.g. "DA_MARAC".
  std::string destination;
  // The rule that chose it. For the fallback destination: the rule that
  // could not be applied, or whose destination needed consent; or
  // RoutingEngine::kNoRuleId when no rule matched.
  std::string rule_id;
  // Why, for leads and the referrer, e.g. "category DOMESTIC_ABUSE; DASH
  // score 15 >= 14" or "consent required by DRUG_OUTREACH: consent
  // refused". Never holds names, dates of birth or free text from the
  // referral.
  std::string reason;
  // When the destination must act: the next meeting for a meeting-based
  // destination, the rule's or the destination's working days, or (for a
  // clock-hour destination) the Europe/London date of deadline_unix.
  CivilDate deadline;
  // The deadline as an instant, seconds since the Unix epoch (UTC): exact
  // for a clock-hour destination (e.g. 72 hours from a missing child's
  // return); for day deadlines the last second of `deadline` in London
  // (23:59:59 local time, core/london_time.h EndOfLondonDay).
  int64_t deadline_unix = 0;
};

class RoutingEngine {
 public:
  // rule_id of a fallback decision made because no rule matched.
  static constexpr const char* kNoRuleId = "NO_RULE_MATCHED";

  // Builds an engine over `config`, which must outlive it and must have been
  // checked by PartnershipConfig::Load/Parse. `subject_secret` is the subject
  // key (core/subject_key.h: kSubjectSecretBytes bytes), or "" to route
  // without looking at routing history. Returns InvalidArgument when config
  // is null, has no usable fallback destination, its calendar is invalid or
  // the secret has the wrong size; *out is then unchanged.
  static Status Create(const PartnershipConfig* config, std::string subject_secret,
                       std::unique_ptr<RoutingEngine>* out);

  // The destinations of `referral` submitted on `submitted_on`, in rule
  // order, each destination once. Never empty: when nothing else applies,
  // the fallback destination with the reason - naming, for a near miss
  // (a rule of the referral's category whose other criteria fail), the
  // rule and what is missing. `history` answers "when was this subject
  // last routed to X" for repeat rules. `submitted_at_unix` (seconds since
  // the Unix epoch) is the submission instant clock-hour deadlines count
  // from when the referral gives no better start; without it they count
  // from 00:00 UTC on `submitted_on`.
  std::vector<RoutingDecision> Route(const v1::Referral& referral, const CivilDate& submitted_on,
                                     const RoutingHistory& history,
                                     std::optional<int64_t> submitted_at_unix = std::nullopt) const;

  // The second step of two-step pathways: the destination a case at
  // `destination` moves on to when its lead records `outcome_code` (per
  // OutcomeCode.route_to; e.g. PREVENT + ADOPTED_TO_CHANNEL -> CHANNEL).
  // nullopt when the code is unknown, may not be recorded by `destination`,
  // or routes nowhere.
  std::optional<std::string> RouteOnOutcome(const std::string& destination, const std::string& outcome_code) const;

  // As above, as a decision with the new destination's deadline counted
  // from `recorded_on`; rule_id is "OUTCOME:" + outcome_code.
  std::optional<RoutingDecision> RouteOnOutcome(const std::string& destination, const std::string& outcome_code,
                                                const CivilDate& recorded_on) const;

  // The subject key used for routing-history lookups ("" when there is no
  // secret or the subject has no usable identity).
  std::string SubjectKeyOf(const v1::Referral& referral) const;

  const WorkingCalendar& calendar() const { return calendar_; }
  const PartnershipConfig& config() const { return *config_; }

 private:
  RoutingEngine() = default;

  // When a case must be acted on; see RoutingDecision. `deadline_working_days`
  // overrides the destination's working days; `referral` may be null (no
  // clock-hour start is then read from it). Appends to *reason what a reader
  // needs to know about the deadline.
  struct Timing {
    const v1::Referral* referral = nullptr;
    CivilDate submitted_on;
    int64_t submitted_at_unix = 0;
    std::optional<uint32_t> deadline_working_days;
  };
  void SetDeadline(RoutingDecision* d, const Timing& timing) const;

  // Appends a decision for `destination`, or, when it is already listed,
  // adds `reason` to that decision if it is the fallback destination.
  void Add(std::vector<RoutingDecision>* out, const std::string& destination, const std::string& rule_id,
           const std::string& reason, const Timing& timing) const;

  const PartnershipConfig* config_ = nullptr;
  WorkingCalendar calendar_;
  std::string secret_;
};

}  // namespace refx
