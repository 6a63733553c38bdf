// Evaluation of routing conditions (refx.v1.Condition, see routing.proto)
// against one referral, in three-valued logic: a condition holds, does not
// hold, or cannot be decided because the referral lacks the data it tests
// (no DASH score, no age...). AND, OR and NOT follow Kleene's rules: a
// false part makes an AND false and a true part makes an OR true whatever
// the undecided parts say.
//
// Every verdict carries a short reason for people ("DASH score 15 >= 14",
// "no DASH score"). Reasons hold scores, counts, flags, categories and
// destination codes, never names, dates of birth or free text.
//
// Thread-safety: pure functions of their arguments; thread-safe as long as
// the RoutingHistory is.
#pragma once

#include <optional>
#include <string>

#include "core/civil_date.h"
#include "refx/v1/config.pb.h"
#include "refx/v1/referral.pb.h"

namespace refx {

// Where the router looks up earlier routing of the same subject (repeat
// MARAC referrals). The router process implements it over its own store,
// keyed by subject key (core/subject_key.h) and destination code.
//
// Thread-safety: implementations used by a shared RoutingEngine must be
// safe to call from several threads at once.
class RoutingHistory {
 public:
  virtual ~RoutingHistory() = default;

  // The date the subject with `subject_key` was last routed to
  // `destination`, or nullopt when never (or no longer on record).
  virtual std::optional<CivilDate> LastRoutedOn(const std::string& subject_key,
                                                const std::string& destination) const = 0;
};

// A history with nothing in it.
class NoRoutingHistory : public RoutingHistory {
 public:
  std::optional<CivilDate> LastRoutedOn(const std::string&, const std::string&) const override {
    return std::nullopt;
  }
};

// What a condition says about a referral.
struct Verdict {
  enum class Truth { kFalse, kTrue, kUnknown };
  Truth truth = Truth::kTrue;
  // Why (for kTrue and kFalse) or what is missing (for kUnknown).
  std::string reason;

  bool holds() const { return truth == Truth::kTrue; }
  bool fails() const { return truth == Truth::kFalse; }
  bool unknown() const { return truth == Truth::kUnknown; }
};

// The referral and the facts around it that conditions test. Pointers are
// borrowed and must outlive the evaluation.
struct ReferralFacts {
  const v1::Referral* referral = nullptr;
  // The day the referral was submitted: ages and look-back windows count
  // from it.
  CivilDate submitted_on;
  // The referral's incident_date, or submitted_on when it gives none.
  CivilDate incident_on;
  // May be null: no earlier routing is then known.
  const RoutingHistory* history = nullptr;
  // The subject's key for `history`; "" when unknown (no lookups are made).
  std::string subject_key;
};

// Fills the derived fields of a ReferralFacts (incident_on).
ReferralFacts MakeReferralFacts(const v1::Referral& referral, const CivilDate& submitted_on,
                                const RoutingHistory* history, std::string subject_key);

// Evaluates `condition` against `facts`. An empty condition holds.
Verdict EvaluateCondition(const v1::Condition& condition, const ReferralFacts& facts);

// The subject's age on `facts.submitted_on`: from the date of birth, else
// from age_years when not 0; nullopt for a context or an unknown age.
std::optional<int> PersonAge(const ReferralFacts& facts);

// The DASH score: the number of "yes" answers when answers are given, else
// the score when the tool is DASH; nullopt otherwise.
std::optional<uint32_t> DashScore(const v1::Referral& referral);

}  // namespace refx
