#include "domain/routing/condition.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "core/working_calendar.h"

namespace refx {

namespace {

using Truth = Verdict::Truth;

Verdict Holds(std::string reason) { return Verdict{Truth::kTrue, std::move(reason)}; }
Verdict Fails(std::string reason) { return Verdict{Truth::kFalse, std::move(reason)}; }
Verdict Unknown(std::string reason) { return Verdict{Truth::kUnknown, std::move(reason)}; }

// Joins the non-empty, distinct reasons of `parts` whose truth is `truth`.
std::string JoinReasons(const std::vector<Verdict>& parts, Truth truth, const char* sep = "; ") {
  std::string out;
  std::set<std::string> seen;
  for (const Verdict& v : parts) {
    if (v.truth != truth || v.reason.empty() || !seen.insert(v.reason).second) continue;
    if (!out.empty()) out += sep;
    out += v.reason;
  }
  return out;
}

// Kleene AND: false wins, then unknown, then true.
Verdict And(const std::vector<Verdict>& parts) {
  for (const Verdict& v : parts) {
    if (v.fails()) return v;
  }
  for (const Verdict& v : parts) {
    if (v.unknown()) return Unknown(JoinReasons(parts, Truth::kUnknown));
  }
  return Holds(JoinReasons(parts, Truth::kTrue));
}

// Kleene OR: true wins, then unknown, then false.
Verdict Or(const std::vector<Verdict>& parts) {
  for (const Verdict& v : parts) {
    if (v.holds()) return Holds(JoinReasons(parts, Truth::kTrue));
  }
  for (const Verdict& v : parts) {
    if (v.unknown()) return Unknown(JoinReasons(parts, Truth::kUnknown));
  }
  return Fails(JoinReasons(parts, Truth::kFalse, " and "));
}

Verdict Not(const Verdict& v) {
  switch (v.truth) {
    case Truth::kTrue:
      return Fails("not (" + v.reason + ")");
    case Truth::kFalse:
      return Holds("not (" + v.reason + ")");
    case Truth::kUnknown:
      break;
  }
  return v;
}

std::string RangeText(const v1::NumberRange& r) {
  if (r.has_at_least() && r.has_at_most()) return "in " + std::to_string(r.at_least()) + ".." + std::to_string(r.at_most());
  if (r.has_at_least()) return ">= " + std::to_string(r.at_least());
  return "<= " + std::to_string(r.at_most());
}

bool InRange(uint32_t v, const v1::NumberRange& r) {
  return (!r.has_at_least() || v >= r.at_least()) && (!r.has_at_most() || v <= r.at_most());
}

// "<label> <value> <range>" or "<label> <value> not <range>".
Verdict TestRange(const std::string& label, uint32_t value, const v1::NumberRange& r) {
  const std::string text = label + " " + std::to_string(value) + " ";
  return InRange(value, r) ? Holds(text + RangeText(r)) : Fails(text + "not " + RangeText(r));
}

// A yes/no fact against a wanted value; `yes` and `no` describe the fact.
Verdict TestFlag(bool value, bool wanted, const std::string& yes, const std::string& no) {
  return value == wanted ? Holds(value ? yes : no) : Fails(value ? yes : no);
}

template <typename List>
bool Contains(const List& list, int value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

template <typename List, typename NameFn>
std::string NameList(const List& list, NameFn name) {
  std::string out;
  for (int v : list) {
    if (!out.empty()) out += ", ";
    out += name(v);
  }
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c == '_') c = ' ';
  }
  return s;
}

std::string ExploitationName(int v) {
  return Lower(v1::Condition::ExploitationFlag_Name(static_cast<v1::Condition::ExploitationFlag>(v)));
}
std::string AsbName(int v) { return Lower(v1::Condition::AsbFlag_Name(static_cast<v1::Condition::AsbFlag>(v))); }
std::string AdultCareName(int v) {
  return Lower(v1::Condition::AdultCareFlag_Name(static_cast<v1::Condition::AdultCareFlag>(v)));
}

bool ExploitationFlagSet(const v1::ExploitationDetails& e, int flag) {
  switch (flag) {
    case v1::Condition::CRIMINAL_EXPLOITATION:
      return e.criminal_exploitation();
    case v1::Condition::SEXUAL_EXPLOITATION:
      return e.sexual_exploitation();
    case v1::Condition::COUNTY_LINES:
      return e.county_lines();
    case v1::Condition::SERIOUS_YOUTH_VIOLENCE:
      return e.serious_youth_violence();
    case v1::Condition::LABOUR_EXPLOITATION:
      return e.labour_exploitation();
    case v1::Condition::DOMESTIC_SERVITUDE:
      return e.domestic_servitude();
    default:
      return false;
  }
}

std::string HarmfulPracticeName(int v) {
  const auto p = static_cast<v1::Condition::HarmfulPractice>(v);
  return p == v1::Condition::FGM ? "FGM" : Lower(v1::Condition::HarmfulPractice_Name(p));
}

bool HarmfulPracticeSet(const v1::HarmfulPracticeDetails& h, int practice) {
  switch (practice) {
    case v1::Condition::FGM:
      return h.fgm();
    case v1::Condition::FORCED_MARRIAGE:
      return h.forced_marriage();
    case v1::Condition::HONOUR_BASED_ABUSE:
      return h.honour_based_abuse();
    default:
      return false;
  }
}

bool AsbFlagSet(const v1::AsbDetails& a, int flag) {
  switch (flag) {
    case v1::Condition::VULNERABLE_VICTIM:
      return a.vulnerable_victim();
    case v1::Condition::VULNERABLE_PERPETRATOR:
      return a.vulnerable_perpetrator();
    case v1::Condition::HIGH_RISK_OF_HARM:
      return a.high_risk_of_harm();
    case v1::Condition::REPEAT_OFFENDER:
      return a.repeat_offender();
    case v1::Condition::NEEDS_MULTI_AGENCY_PLAN:
      return a.needs_multi_agency_plan();
    default:
      return false;
  }
}

bool AdultCareFlagSet(const v1::AdultCare& a, int flag) {
  switch (flag) {
    case v1::Condition::CARE_AND_SUPPORT_NEEDS:
      return a.care_and_support_needs();
    case v1::Condition::EXPERIENCING_OR_AT_RISK_OF_ABUSE:
      return a.experiencing_or_at_risk_of_abuse();
    case v1::Condition::UNABLE_TO_PROTECT_SELF:
      return a.unable_to_protect_self();
    default:
      return false;
  }
}

class Evaluator {
 public:
  explicit Evaluator(const ReferralFacts& facts) : f_(facts), r_(*facts.referral) {}

  Verdict Eval(const v1::Condition& c) const {
    std::vector<Verdict> parts;
    if (!c.category_in().empty()) {
      const std::string name = v1::Category_Name(r_.category());
      parts.push_back(Contains(c.category_in(), r_.category()) ? Holds("category " + name)
                                                                  : Fails("category " + name + " not in the rule"));
    }
    if (c.has_dash_score()) {
      std::optional<uint32_t> score = DashScore(r_);
      parts.push_back(score ? TestRange("DASH score", *score, c.dash_score()) : Unknown("no DASH score"));
    }
    if (c.has_professional_judgement()) {
      parts.push_back(TestFlag(r_.assessment().professional_judgement(), c.professional_judgement(),
                               "professional judgement of high risk", "no professional-judgement concern"));
    }
    if (c.has_police_incidents_12m()) {
      parts.push_back(TestRange("police-recorded incidents in 12 months", r_.assessment().police_incidents_12m(),
                                c.police_incidents_12m()));
    }
    if (c.has_repeat_referral()) parts.push_back(Repeat(c.repeat_referral()));
    if (c.has_age()) parts.push_back(Age(c.age()));
    if (c.subject() == v1::Condition::PERSON) {
      parts.push_back(r_.has_person() ? Holds("subject is a person") : Fails("subject is not a person"));
    } else if (c.subject() == v1::Condition::CONTEXT) {
      parts.push_back(r_.has_context() ? Holds("subject is a context") : Fails("subject is not a context"));
    }
    if (!c.context_kind_in().empty()) {
      if (r_.has_context() && Contains(c.context_kind_in(), r_.context().kind())) {
        parts.push_back(Holds("context is a " + v1::ContextKind_Name(r_.context().kind())));
      } else {
        parts.push_back(Fails("subject is not a context of the kinds listed"));
      }
    }
    const v1::Person& p = r_.person();  // default instance for a context
    if (c.has_children_in_household()) {
      parts.push_back(TestFlag(p.children_in_household(), c.children_in_household(), "children in the household",
                               "no children in the household"));
    }
    if (c.has_parent_or_lives_with_child()) {
      parts.push_back(TestFlag(p.parent_or_lives_with_child(), c.parent_or_lives_with_child(),
                               "parent of or living with a child", "not a parent of or living with a child"));
    }
    if (c.has_stalking()) parts.push_back(Stalking(c.stalking()));
    if (!c.exploitation_any_of().empty()) {
      std::vector<int> set;
      for (int flag : c.exploitation_any_of()) {
        if (ExploitationFlagSet(r_.exploitation(), flag)) set.push_back(flag);
      }
      parts.push_back(set.empty() ? Fails("no exploitation flag of the rule")
                                  : Holds("exploitation: " + NameList(set, ExploitationName)));
    }
    if (c.has_significant_harm()) {
      parts.push_back(TestFlag(r_.exploitation().significant_harm(), c.significant_harm(),
                               "child at risk of significant harm", "no individual child at risk of significant harm"));
    }
    if (!c.harmful_practice_any_of().empty()) {
      std::vector<int> set;
      for (int practice : c.harmful_practice_any_of()) {
        if (HarmfulPracticeSet(r_.harmful_practice(), practice)) set.push_back(practice);
      }
      parts.push_back(set.empty() ? Fails("none of " + NameList(c.harmful_practice_any_of(), HarmfulPracticeName))
                                  : Holds("harmful practice: " + NameList(set, HarmfulPracticeName)));
    }
    if (c.has_repeat_or_prolific_offender()) {
      parts.push_back(TestFlag(r_.business_crime().repeat_or_prolific_offender(), c.repeat_or_prolific_offender(),
                               "repeat or prolific offender", "no named repeat or prolific offender"));
    }
    if (c.has_retail_affecting()) {
      parts.push_back(TestFlag(r_.business_crime().retail_affecting(), c.retail_affecting(), "affects retail premises",
                               "does not affect retail premises"));
    }
    if (!c.complex_asb_any_of().empty()) {
      std::vector<int> set;
      for (int flag : c.complex_asb_any_of()) {
        if (AsbFlagSet(r_.asb(), flag)) set.push_back(flag);
      }
      parts.push_back(set.empty() ? Fails("none of the ASB flags " + NameList(c.complex_asb_any_of(), AsbName))
                                  : Holds("ASB: " + NameList(set, AsbName)));
    }
    if (!c.complex_asb_all_of().empty()) {
      std::vector<int> missing;
      for (int flag : c.complex_asb_all_of()) {
        if (!AsbFlagSet(r_.asb(), flag)) missing.push_back(flag);
      }
      parts.push_back(missing.empty() ? Holds("ASB: " + NameList(c.complex_asb_all_of(), AsbName))
                                      : Fails("ASB: not " + NameList(missing, AsbName)));
    }
    if (c.has_community_trigger()) parts.push_back(CommunityTrigger(c.community_trigger()));
    if (!c.adult_care_all_of().empty()) {
      std::vector<int> missing;
      for (int flag : c.adult_care_all_of()) {
        if (!AdultCareFlagSet(r_.adult_care(), flag)) missing.push_back(flag);
      }
      parts.push_back(missing.empty() ? Holds("Care Act s42: " + NameList(c.adult_care_all_of(), AdultCareName))
                                      : Fails("Care Act s42 criterion not met: " + NameList(missing, AdultCareName)));
    }
    if (c.has_substance_misuse()) {
      parts.push_back(TestFlag(p.substance_misuse(), c.substance_misuse(), "substance misuse", "no substance misuse"));
    }
    if (!c.consent_in().empty()) {
      const std::string name = v1::ConsentPosition_Name(r_.consent().position());
      parts.push_back(Contains(c.consent_in(), r_.consent().position()) ? Holds("consent position " + name)
                                                                         : Fails("consent position " + name));
    }
    if (!c.assessment_tool_in().empty()) {
      const std::string name = v1::AssessmentTool_Name(r_.assessment().tool());
      parts.push_back(Contains(c.assessment_tool_in(), r_.assessment().tool()) ? Holds("assessment tool " + name)
                                                                                : Fails("assessment tool " + name));
    }
    if (c.has_care_leaver()) {
      parts.push_back(TestFlag(p.care_leaver(), c.care_leaver(), "care leaver", "not a care leaver"));
    }
    if (c.has_send()) parts.push_back(TestFlag(p.send(), c.send(), "SEND", "no SEND"));

    for (const v1::Condition& sub : c.all_of()) parts.push_back(Eval(sub));
    if (!c.any_of().empty()) {
      std::vector<Verdict> alternatives;
      for (const v1::Condition& sub : c.any_of()) alternatives.push_back(Eval(sub));
      parts.push_back(Or(alternatives));
    }
    if (c.has_not_()) parts.push_back(Not(Eval(c.not_())));
    return And(parts);
  }

 private:
  Verdict Repeat(const v1::RepeatReferral& rr) const {
    std::optional<CivilDate> last;
    const char* source = nullptr;
    CivilDate given;
    if (rr.use_previous_marac_date() && ParseCivilDate(r_.assessment().previous_marac_date(), &given)) {
      last = given;
      source = "the referrer's previous MARAC date";
    }
    if (f_.history != nullptr && !f_.subject_key.empty()) {
      std::optional<CivilDate> routed = f_.history->LastRoutedOn(f_.subject_key, rr.destination());
      if (routed && (!last || *last < *routed)) {
        last = routed;
        source = "routing history";
      }
    }
    const std::string window = rr.destination() + " within " + std::to_string(rr.within_months()) + " months";
    if (!last) return Fails("no earlier referral to " + rr.destination() + " on record");
    if (f_.incident_on.ToDays() <= AddMonths(*last, static_cast<int>(rr.within_months())).ToDays()) {
      return Holds("repeat: referred to " + window + " (" + source + ")");
    }
    return Fails("last referral to " + rr.destination() + " more than " + std::to_string(rr.within_months()) +
                 " months ago");
  }

  Verdict Age(const v1::AgeRange& a) const {
    if (r_.has_context()) {
      // A context matches when its age span overlaps the range.
      uint32_t lo = r_.context().youngest_age(), hi = r_.context().oldest_age();
      if (lo == 0 && hi == 0) {
        const char* why = "ages of the young people in the context unknown";
        return a.unknown_age_fails() ? Fails(why) : Unknown(why);
      }
      if (lo == 0) lo = hi;
      if (hi == 0) hi = lo;
      if (lo > hi) std::swap(lo, hi);
      const bool overlaps = (!a.has_at_least() || hi >= a.at_least()) && (!a.has_at_most() || lo <= a.at_most());
      const std::string text = "context ages " + std::to_string(lo) + ".." + std::to_string(hi);
      return overlaps ? Holds(text + " overlap " + Span(a.has_at_least(), a.at_least(), a.has_at_most(), a.at_most()))
                      : Fails(text + " outside " + Span(a.has_at_least(), a.at_least(), a.has_at_most(), a.at_most()));
    }
    std::optional<int> age = PersonAge(f_);
    if (!age) return a.unknown_age_fails() ? Fails("age unknown") : Unknown("age unknown");
    const v1::Person& p = r_.person();
    bool has_max = a.has_at_most();
    uint32_t max = a.at_most();
    std::string why;
    if (a.has_extended_at_most()) {
      if (a.extend_for_care_leaver() && p.care_leaver()) {
        max = a.extended_at_most();
        why = " (care leaver)";
      } else if (a.extend_for_send() && p.send()) {
        max = a.extended_at_most();
        why = " (SEND)";
      }
    }
    const bool ok = (!a.has_at_least() || *age >= static_cast<int>(a.at_least())) &&
                    (!has_max || *age <= static_cast<int>(max));
    const std::string span = Span(a.has_at_least(), a.at_least(), has_max, max) + why;
    return ok ? Holds("age " + span) : Fails("age not " + span);
  }

  static std::string Span(bool has_lo, uint32_t lo, bool has_hi, uint32_t hi) {
    if (has_lo && has_hi) return std::to_string(lo) + ".." + std::to_string(hi);
    if (has_lo) return std::to_string(lo) + " or over";
    return std::to_string(hi) + " or under";
  }

  Verdict Stalking(const v1::StalkingIndicator& s) const {
    if (r_.assessment().stalking_reported()) return Holds("stalking reported");
    const uint32_t q = s.dash_question();
    if (q > 0 && static_cast<uint32_t>(r_.assessment().dash_answers_size()) >= q &&
        r_.assessment().dash_answers(static_cast<int>(q) - 1)) {
      return Holds("DASH question " + std::to_string(q) + " answered yes");
    }
    return Fails("no stalking indicated");
  }

  Verdict CommunityTrigger(const v1::CommunityTrigger& t) const {
    if (r_.asb_incidents().empty()) return Unknown("no ASB incidents listed");
    const CivilDate window_start = AddMonths(f_.submitted_on, -static_cast<int>(t.within_months()));
    std::map<std::string, bool> incidents;  // incident key -> counts
    for (int i = 0; i < r_.asb_incidents_size(); ++i) {
      const v1::AsbIncident& inc = r_.asb_incidents(i);
      const std::string key = inc.incident_key().empty() ? "#" + std::to_string(i) : "k" + inc.incident_key();
      bool& counts = incidents[key];
      CivilDate happened, reported;
      if (!ParseCivilDate(inc.incident_date(), &happened) || !ParseCivilDate(inc.reported_date(), &reported)) continue;
      if (happened < window_start || f_.submitted_on < happened) continue;
      if (t.reported_within_days() > 0 && reported.ToDays() > happened.ToDays() + t.reported_within_days()) continue;
      if (t.reported_within_months() > 0 &&
          AddMonths(happened, static_cast<int>(t.reported_within_months())) < reported) {
        continue;
      }
      counts = true;
    }
    const uint32_t n = static_cast<uint32_t>(
        std::count_if(incidents.begin(), incidents.end(), [](const auto& kv) { return kv.second; }));
    std::string text = std::to_string(n) + " separate incidents in " + std::to_string(t.within_months()) + " months";
    if (t.reported_within_days() > 0) {
      text += " reported within " + std::to_string(t.reported_within_days()) + " days";
    } else if (t.reported_within_months() > 0) {
      text += " reported within " + std::to_string(t.reported_within_months()) + " month" +
              (t.reported_within_months() == 1 ? "" : "s");
    }
    return n >= t.min_complaints() ? Holds(text + " >= " + std::to_string(t.min_complaints()))
                                   : Fails(text + " < " + std::to_string(t.min_complaints()));
  }

  const ReferralFacts& f_;
  const v1::Referral& r_;
};

}  // namespace

ReferralFacts MakeReferralFacts(const v1::Referral& referral, const CivilDate& submitted_on,
                                const RoutingHistory* history, std::string subject_key) {
  ReferralFacts f;
  f.referral = &referral;
  f.submitted_on = submitted_on;
  if (!ParseCivilDate(referral.incident_date(), &f.incident_on)) f.incident_on = submitted_on;
  f.history = history;
  f.subject_key = std::move(subject_key);
  return f;
}

std::optional<int> PersonAge(const ReferralFacts& facts) {
  if (!facts.referral->has_person()) return std::nullopt;
  const v1::Person& p = facts.referral->person();
  CivilDate dob;
  if (ParseCivilDate(p.date_of_birth(), &dob)) return AgeOn(dob, facts.submitted_on);
  if (p.age_years() > 0) return static_cast<int>(p.age_years());
  return std::nullopt;
}

std::optional<uint32_t> DashScore(const v1::Referral& referral) {
  const v1::Assessment& a = referral.assessment();
  if (a.dash_answers_size() > 0) {
    return static_cast<uint32_t>(std::count(a.dash_answers().begin(), a.dash_answers().end(), true));
  }
  if (a.tool() == v1::DASH) return a.score();
  return std::nullopt;
}

Verdict EvaluateCondition(const v1::Condition& condition, const ReferralFacts& facts) {
  return Evaluator(facts).Eval(condition);
}

}  // namespace refx
