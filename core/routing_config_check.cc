#include "core/routing_config_check.h"

#include <map>
#include <regex>
#include <set>
#include <vector>

#include "core/civil_date.h"

namespace refx {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using Tree = google::protobuf::TextFormat::ParseInfoTree;

constexpr uint32_t kDashQuestions = 24;

class Checker {
 public:
  Checker(const v1::PartnershipConfig& config, const std::string& name, const Tree* tree)
      : c_(config), name_(name), root_(tree), top_(name + ":1:1: ") {
    for (const v1::Destination& d : c_.destinations()) destinations_.insert(d.code());
  }

  Status Run() {
    REFX_RETURN_IF_ERROR(CheckMeetings());
    REFX_RETURN_IF_ERROR(CheckDestinations());
    REFX_RETURN_IF_ERROR(CheckRules());
    REFX_RETURN_IF_ERROR(CheckFallback());
    REFX_RETURN_IF_ERROR(CheckCalendar());
    REFX_RETURN_IF_ERROR(CheckRetention());
    REFX_RETURN_IF_ERROR(CheckOutcomes());
    return CheckDelivery();
  }

 private:
  // "NAME:LINE:COLUMN: " of `field` of message type `d` as parsed into
  // `tree` (element `index` of a repeated field, or the nearest earlier
  // element with a recorded position, as for list syntax "[a, b]"), or
  // `outer` when the position is unknown.
  std::string At(const Tree* tree, const Descriptor* d, const char* field, int index, const std::string& outer) const {
    const FieldDescriptor* f = d->FindFieldByName(field);
    if (tree == nullptr || f == nullptr) return outer;
    if (!f->is_repeated()) {
      index = -1;
    } else if (index < 0) {
      index = 0;
    }
    for (int i = index; i >= (f->is_repeated() ? 0 : -1); --i) {
      const auto loc = tree->GetLocation(f, i);
      if (loc.line >= 0) return name_ + ":" + std::to_string(loc.line + 1) + ":" + std::to_string(loc.column + 1) + ": ";
      if (!f->is_repeated()) break;
    }
    return outer;
  }

  // The location tree of a nested message field, or null.
  const Tree* Sub(const Tree* tree, const Descriptor* d, const char* field, int index) const {
    const FieldDescriptor* f = d->FindFieldByName(field);
    if (tree == nullptr || f == nullptr) return nullptr;
    if (!f->is_repeated()) index = -1;
    return tree->GetTreeForNested(f, index);
  }

  static Status Bad(const std::string& where, const std::string& why) { return Status::InvalidArgument(where + why); }

  bool Known(const std::string& code) const { return destinations_.count(code) > 0; }
  const v1::Destination* ConfigDestination(const std::string& code) const {
    for (const v1::Destination& d : c_.destinations()) {
      if (d.code() == code) return &d;
    }
    return nullptr;
  }

  // Every value of an enum list is specified (not 0) and exists (a number
  // no value has, e.g. `category_in: 99`, is refused).
  template <typename List>
  Status CheckEnumList(const List& list, const Tree* tree, const Descriptor* d, const char* field,
                       const std::string& outer, const std::string& what) const {
    const google::protobuf::EnumDescriptor* e = d->FindFieldByName(field)->enum_type();
    for (int i = 0; i < list.size(); ++i) {
      if (list.Get(i) == 0) return Bad(At(tree, d, field, i, outer), what + "." + field + " lists an unspecified value");
      if (e != nullptr && e->FindValueByNumber(list.Get(i)) == nullptr) {
        return Bad(At(tree, d, field, i, outer), what + "." + field + " names " + std::to_string(list.Get(i)) +
                                                     ", which is not a " + e->name());
      }
    }
    return Status::OK();
  }

  // Field groups of `type` (recursively) that hold a field marked
  // PERSONAL_DATA: an anonymous view may list none of them.
  static void IdentifyingGroups(const Descriptor* type, std::set<int>* out, std::set<const Descriptor*>* seen) {
    if (!seen->insert(type).second) return;
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* f = type->field(i);
      const int group = f->options().GetExtension(v1::field_group);
      for (int m = 0; m < f->options().ExtensionSize(v1::marking); ++m) {
        if (f->options().GetExtension(v1::marking, m) == v1::PERSONAL_DATA) out->insert(group);
      }
      if (f->message_type() != nullptr) IdentifyingGroups(f->message_type(), out, seen);
    }
  }

  // Clock-hour deadlines and anonymous (Duty to Notify) views.
  Status CheckDestinations() {
    const Descriptor* cd = c_.GetDescriptor();
    std::set<int> identifying = {v1::SUBJECT_IDENTITY};
    std::set<const Descriptor*> seen;
    IdentifyingGroups(v1::Referral::descriptor(), &identifying, &seen);
    for (int i = 0; i < c_.destinations_size(); ++i) {
      const v1::Destination& d = c_.destinations(i);
      const Tree* dt = Sub(root_, cd, "destinations", i);
      const std::string outer = At(root_, cd, "destinations", i, top_);
      if (d.deadline_from() != v1::Destination::SUBMISSION && d.deadline_clock_hours() == 0) {
        return Bad(At(dt, d.GetDescriptor(), "deadline_from", -1, outer),
                   "destination " + d.code() + " sets deadline_from but no deadline_clock_hours");
      }
      if (d.deadline_clock_hours() > 0 && d.has_meetings()) {
        return Bad(At(dt, d.GetDescriptor(), "deadline_clock_hours", -1, outer),
                   "destination " + d.code() + " has both meetings and deadline_clock_hours: choose one");
      }
      if (!d.anonymous()) continue;
      for (int j = 0; j < d.need_to_know_size(); ++j) {
        if (identifying.count(d.need_to_know(j))) {
          return Bad(At(dt, d.GetDescriptor(), "need_to_know", j, outer),
                     "destination " + d.code() + " is anonymous but its need_to_know lists " +
                         v1::FieldGroup_Name(static_cast<v1::FieldGroup>(d.need_to_know(j))) +
                         ", which holds identifying fields");
        }
      }
    }
    return Status::OK();
  }

  Status CheckRange(const v1::NumberRange& r, const std::string& where, const std::string& what) const {
    if (!r.has_at_least() && !r.has_at_most()) return Bad(where, what + " needs at_least or at_most");
    if (r.has_at_least() && r.has_at_most() && r.at_least() > r.at_most()) {
      return Bad(where, what + ": at_least " + std::to_string(r.at_least()) + " is above at_most " +
                            std::to_string(r.at_most()));
    }
    return Status::OK();
  }

  Status CheckCondition(const v1::Condition& cond, const Tree* tree, const std::string& outer,
                        const std::string& what) {
    const Descriptor* d = cond.GetDescriptor();
    auto at = [&](const char* field, int index = -1) { return At(tree, d, field, index, outer); };
    std::vector<const FieldDescriptor*> set_fields;
    cond.GetReflection()->ListFields(cond, &set_fields);
    if (set_fields.empty()) return Bad(outer, what + " is an empty condition (it would always hold)");

    REFX_RETURN_IF_ERROR(CheckEnumList(cond.category_in(), tree, d, "category_in", outer, what));
    if (cond.has_dash_score()) {
      REFX_RETURN_IF_ERROR(CheckRange(cond.dash_score(), at("dash_score"), what + ".dash_score"));
      if (cond.dash_score().has_at_least() && cond.dash_score().at_least() > kDashQuestions) {
        return Bad(at("dash_score"), what + ".dash_score can never match: the DASH has 24 questions");
      }
    }
    if (cond.has_police_incidents_12m()) {
      REFX_RETURN_IF_ERROR(CheckRange(cond.police_incidents_12m(), at("police_incidents_12m"),
                                      what + ".police_incidents_12m"));
    }
    if (cond.has_repeat_referral()) {
      const v1::RepeatReferral& r = cond.repeat_referral();
      const Tree* rt = Sub(tree, d, "repeat_referral", -1);
      const std::string where = at("repeat_referral");
      if (!Known(r.destination())) {
        return Bad(At(rt, r.GetDescriptor(), "destination", -1, where),
                   what + ".repeat_referral names unknown destination \"" + r.destination() + "\"");
      }
      if (r.within_months() == 0) return Bad(where, what + ".repeat_referral needs within_months above 0");
      if (r.within_months() > longest_repeat_months_) {
        longest_repeat_months_ = r.within_months();
        longest_repeat_where_ = where;
      }
    }
    if (cond.has_age()) {
      const v1::AgeRange& a = cond.age();
      const std::string where = at("age");
      if (!a.has_at_least() && !a.has_at_most()) return Bad(where, what + ".age needs at_least or at_most");
      if (a.has_at_least() && a.has_at_most() && a.at_least() > a.at_most()) {
        return Bad(where, what + ".age: at_least " + std::to_string(a.at_least()) + " is above at_most " +
                              std::to_string(a.at_most()));
      }
      const bool extends = a.extend_for_care_leaver() || a.extend_for_send();
      if (a.has_extended_at_most()) {
        if (!a.has_at_most()) return Bad(where, what + ".age: extended_at_most needs at_most");
        if (a.extended_at_most() < a.at_most()) {
          return Bad(where, what + ".age: extended_at_most " + std::to_string(a.extended_at_most()) +
                                " is below at_most " + std::to_string(a.at_most()));
        }
        if (!extends) {
          return Bad(where, what + ".age: extended_at_most needs extend_for_care_leaver or extend_for_send");
        }
      } else if (extends) {
        return Bad(where, what + ".age: extend_for_care_leaver / extend_for_send need extended_at_most");
      }
    }
    REFX_RETURN_IF_ERROR(CheckEnumList(cond.context_kind_in(), tree, d, "context_kind_in", outer, what));
    if (cond.has_stalking() && cond.stalking().dash_question() > kDashQuestions) {
      return Bad(at("stalking"), what + ".stalking.dash_question must be 1..24 (or 0 for none)");
    }
    REFX_RETURN_IF_ERROR(CheckEnumList(cond.exploitation_any_of(), tree, d, "exploitation_any_of", outer, what));
    REFX_RETURN_IF_ERROR(CheckEnumList(cond.complex_asb_any_of(), tree, d, "complex_asb_any_of", outer, what));
    REFX_RETURN_IF_ERROR(
        CheckEnumList(cond.harmful_practice_any_of(), tree, d, "harmful_practice_any_of", outer, what));
    REFX_RETURN_IF_ERROR(CheckEnumList(cond.complex_asb_all_of(), tree, d, "complex_asb_all_of", outer, what));
    if (cond.has_community_trigger()) {
      const v1::CommunityTrigger& t = cond.community_trigger();
      const std::string where = at("community_trigger");
      if (t.min_complaints() == 0) return Bad(where, what + ".community_trigger needs min_complaints above 0");
      if (t.within_months() == 0) return Bad(where, what + ".community_trigger needs within_months above 0");
      if (t.reported_within_days() > 0 && t.reported_within_months() > 0) {
        return Bad(where, what + ".community_trigger: set reported_within_days or reported_within_months, not both");
      }
    }
    REFX_RETURN_IF_ERROR(CheckEnumList(cond.adult_care_all_of(), tree, d, "adult_care_all_of", outer, what));
    REFX_RETURN_IF_ERROR(CheckEnumList(cond.consent_in(), tree, d, "consent_in", outer, what));
    REFX_RETURN_IF_ERROR(CheckEnumList(cond.assessment_tool_in(), tree, d, "assessment_tool_in", outer, what));

    for (int i = 0; i < cond.all_of_size(); ++i) {
      REFX_RETURN_IF_ERROR(CheckCondition(cond.all_of(i), Sub(tree, d, "all_of", i), at("all_of", i),
                                          what + ".all_of[" + std::to_string(i) + "]"));
    }
    for (int i = 0; i < cond.any_of_size(); ++i) {
      REFX_RETURN_IF_ERROR(CheckCondition(cond.any_of(i), Sub(tree, d, "any_of", i), at("any_of", i),
                                          what + ".any_of[" + std::to_string(i) + "]"));
    }
    if (cond.has_not_()) {
      REFX_RETURN_IF_ERROR(CheckCondition(cond.not_(), Sub(tree, d, "not", -1), at("not"), what + ".not"));
    }
    return Status::OK();
  }

  Status CheckRules() {
    const Descriptor* cd = c_.GetDescriptor();
    const Descriptor* rd = v1::RoutingRule::descriptor();
    const Descriptor* td = v1::RoutingTarget::descriptor();
    std::set<std::string> ids;
    for (int i = 0; i < c_.rules_size(); ++i) {
      const v1::RoutingRule& r = c_.rules(i);
      const Tree* rt = Sub(root_, cd, "rules", i);
      const std::string where = At(root_, cd, "rules", i, top_);
      if (!IsUpperCaseCode(r.id())) {
        return Bad(At(rt, rd, "id", -1, where),
                   "rule id \"" + r.id() + "\" must be 2-64 upper-case letters, digits and '_', starting with a letter");
      }
      if (!ids.insert(r.id()).second) return Bad(At(rt, rd, "id", -1, where), "rule id \"" + r.id() + "\" is used twice");
      const std::string what = "rule " + r.id();
      if (!r.has_when()) return Bad(where, what + " has no `when` condition");
      REFX_RETURN_IF_ERROR(CheckCondition(r.when(), Sub(rt, rd, "when", -1), At(rt, rd, "when", -1, where),
                                          what + ": when"));
      if (!r.exclude_reason().empty() && !r.has_exclude()) {
        return Bad(At(rt, rd, "exclude_reason", -1, where), what + " has an exclude_reason but no exclude condition");
      }
      if (r.has_exclude()) {
        REFX_RETURN_IF_ERROR(CheckCondition(r.exclude(), Sub(rt, rd, "exclude", -1),
                                            At(rt, rd, "exclude", -1, where), what + ": exclude"));
      }
      if (r.targets().empty()) return Bad(where, what + " has no targets");
      std::set<std::string> seen;
      for (int j = 0; j < r.targets_size(); ++j) {
        const v1::RoutingTarget& t = r.targets(j);
        const Tree* tt = Sub(rt, rd, "targets", j);
        const std::string twhere = At(rt, rd, "targets", j, where);
        if (!Known(t.destination())) {
          return Bad(At(tt, td, "destination", -1, twhere),
                     what + " targets unknown destination \"" + t.destination() + "\"");
        }
        if (t.has_deadline_working_days() && ConfigDestination(t.destination())->deadline_clock_hours() > 0) {
          return Bad(At(tt, td, "deadline_working_days", -1, twhere),
                     what + " sets deadline_working_days for " + t.destination() +
                         ", whose deadline is in clock hours");
        }
        if (!seen.insert(t.destination()).second) {
          return Bad(At(tt, td, "destination", -1, twhere), what + " targets " + t.destination() + " twice");
        }
        if (t.has_only_if()) {
          REFX_RETURN_IF_ERROR(CheckCondition(t.only_if(), Sub(tt, td, "only_if", -1),
                                              At(tt, td, "only_if", -1, twhere),
                                              what + ": targets[" + std::to_string(j) + "].only_if"));
        }
      }
    }
    return Status::OK();
  }

  Status CheckFallback() {
    const Descriptor* cd = c_.GetDescriptor();
    const std::string where = At(root_, cd, "fallback_destination", -1, top_);
    if (c_.fallback_destination().empty()) {
      if (c_.rules_size() > 0) {
        return Bad(At(root_, cd, "rules", 0, top_), "routing rules need a fallback_destination");
      }
      return Status::OK();
    }
    if (!Known(c_.fallback_destination())) {
      return Bad(where, "fallback_destination names unknown destination \"" + c_.fallback_destination() + "\"");
    }
    for (const v1::Destination& d : c_.destinations()) {
      if (d.code() == c_.fallback_destination() && d.consent_required()) {
        return Bad(where, "fallback_destination " + d.code() +
                              " must not need consent: it receives what voluntary services cannot take");
      }
    }
    return Status::OK();
  }

  Status CheckMeetings() {
    const Descriptor* cd = c_.GetDescriptor();
    for (int i = 0; i < c_.destinations_size(); ++i) {
      const v1::Destination& d = c_.destinations(i);
      if (!d.has_meetings()) continue;
      const Tree* dt = Sub(root_, cd, "destinations", i);
      const Tree* mt = Sub(dt, d.GetDescriptor(), "meetings", -1);
      const std::string outer = At(dt, d.GetDescriptor(), "meetings", -1, At(root_, cd, "destinations", i, top_));
      for (int j = 0; j < d.meetings().dates_size(); ++j) {
        CivilDate date;
        if (!ParseCivilDate(d.meetings().dates(j), &date)) {
          return Bad(At(mt, d.meetings().GetDescriptor(), "dates", j, outer),
                     "meeting date \"" + d.meetings().dates(j) + "\" of " + d.code() + " is not a YYYY-MM-DD date");
        }
      }
    }
    return Status::OK();
  }

  Status CheckCalendar() {
    if (!c_.has_calendar()) return Status::OK();
    const v1::WorkingCalendar& cal = c_.calendar();
    const Descriptor* cd = c_.GetDescriptor();
    const Descriptor* d = cal.GetDescriptor();
    const Tree* t = Sub(root_, cd, "calendar", -1);
    const std::string outer = At(root_, cd, "calendar", -1, top_);
    std::set<int> days;
    for (int i = 0; i < cal.weekend_days_size(); ++i) {
      const int day = cal.weekend_days(i);
      if (day < v1::WorkingCalendar::MONDAY || day > v1::WorkingCalendar::SUNDAY) {
        return Bad(At(t, d, "weekend_days", i, outer), "calendar.weekend_days lists an unspecified day");
      }
      if (!days.insert(day).second) {
        return Bad(At(t, d, "weekend_days", i, outer),
                   "calendar.weekend_days lists " + v1::WorkingCalendar::Day_Name(cal.weekend_days(i)) + " twice");
      }
    }
    if (days.size() == 7) return Bad(At(t, d, "weekend_days", 0, outer), "calendar.weekend_days leaves no working day");
    std::set<int64_t> seen;
    for (int i = 0; i < cal.bank_holidays_size(); ++i) {
      CivilDate date;
      const std::string where = At(t, d, "bank_holidays", i, outer);
      if (!ParseCivilDate(cal.bank_holidays(i), &date)) {
        return Bad(where, "bank holiday \"" + cal.bank_holidays(i) + "\" is not a YYYY-MM-DD date");
      }
      if (!seen.insert(date.ToDays()).second) return Bad(where, "bank holiday " + date.ToString() + " is listed twice");
    }
    return Status::OK();
  }

  Status CheckRetention() {
    const Descriptor* cd = c_.GetDescriptor();
    const Tree* rt = Sub(root_, cd, "retention", -1);
    const std::string outer = At(root_, cd, "retention", -1, top_);
    const Descriptor* rd = v1::Retention::descriptor();
    const Descriptor* pd = v1::RetentionPeriod::descriptor();
    std::map<int, uint32_t> months;
    std::map<int, std::string> period_at;
    for (int i = 0; i < c_.retention().periods_size(); ++i) {
      const v1::RetentionPeriod& p = c_.retention().periods(i);
      const Tree* pt = Sub(rt, rd, "periods", i);
      const std::string where = At(rt, rd, "periods", i, outer);
      period_at[p.record_type()] = where;
      if (p.record_type() == v1::RetentionPeriod::RECORD_TYPE_UNSPECIFIED) {
        return Bad(where, "retention period needs a record_type");
      }
      const std::string type = v1::RetentionPeriod::RecordType_Name(p.record_type());
      if (!months.emplace(p.record_type(), p.months()).second) {
        return Bad(At(pt, pd, "record_type", -1, where), "retention for " + type + " is given twice");
      }
      if (p.months() == 0) return Bad(At(pt, pd, "months", -1, where), "retention for " + type + " needs months above 0");
    }
    if (longest_repeat_months_ > 0) {
      auto it = months.find(v1::RetentionPeriod::ROUTING_HISTORY);
      const std::string need = std::to_string(longest_repeat_months_);
      if (it == months.end()) {
        return Bad(longest_repeat_where_, "a repeat_referral looks back " + need +
                                              " months: retention needs a ROUTING_HISTORY period of at least that");
      }
      if (it->second < longest_repeat_months_) {
        return Bad(outer, "retention keeps ROUTING_HISTORY " + std::to_string(it->second) +
                              " months, less than the " + need + " months a repeat_referral looks back");
      }
    }
    return CheckDisclosureRetention(months, period_at);
  }

  // The disclosure record is the case_delivered event: its clear part (to
  // whom, when, under which rule and purpose; no personal data) stays with
  // the chain, and its personal part (the view shared) is sealed under the
  // referral's data key, so it goes exactly when the record it discloses
  // goes. A DISCLOSURE_RECORD period shorter than a record's would have to
  // erase the account of a disclosure while the data disclosed is still
  // kept (and shared); one without a MULTI_AGENCY_RECORD period would
  // never be reached. Both are refused (docs/SECURITY.md "Retention").
  Status CheckDisclosureRetention(const std::map<int, uint32_t>& months, const std::map<int, std::string>& period_at) {
    auto disclosure = months.find(v1::RetentionPeriod::DISCLOSURE_RECORD);
    if (disclosure == months.end()) return Status::OK();
    const std::string& where = period_at.at(v1::RetentionPeriod::DISCLOSURE_RECORD);
    const std::string have = "retention keeps DISCLOSURE_RECORD " + std::to_string(disclosure->second) + " months";
    if (months.count(v1::RetentionPeriod::MULTI_AGENCY_RECORD) == 0) {
      return Bad(where, have + ", but no MULTI_AGENCY_RECORD period ends the records it discloses: a disclosure's "
                                "view is erased with its referral's data key, so give MULTI_AGENCY_RECORD too");
    }
    for (const auto type : {v1::RetentionPeriod::MULTI_AGENCY_RECORD, v1::RetentionPeriod::NFA_OUTCOME}) {
      auto it = months.find(type);
      if (it != months.end() && disclosure->second < it->second) {
        return Bad(where, have + ", less than the " + std::to_string(it->second) + " months of " +
                              v1::RetentionPeriod::RecordType_Name(type) +
                              ": a disclosure's view is sealed under its referral's data key and kept as long as "
                              "the record, and the account of what was shared must last as long as the record "
                              "shared; give DISCLOSURE_RECORD at least that");
      }
    }
    return Status::OK();
  }

  Status CheckOutcomes() {
    const Descriptor* cd = c_.GetDescriptor();
    const Descriptor* od = v1::OutcomeCode::descriptor();
    std::set<std::string> codes;
    for (int i = 0; i < c_.outcome_codes_size(); ++i) {
      const v1::OutcomeCode& o = c_.outcome_codes(i);
      const Tree* ot = Sub(root_, cd, "outcome_codes", i);
      const std::string where = At(root_, cd, "outcome_codes", i, top_);
      if (!IsUpperCaseCode(o.code())) {
        return Bad(At(ot, od, "code", -1, where),
                   "outcome code \"" + o.code() + "\" must be upper-case letters, digits and '_'");
      }
      if (!codes.insert(o.code()).second) {
        return Bad(At(ot, od, "code", -1, where), "outcome code \"" + o.code() + "\" is used twice");
      }
      for (int j = 0; j < o.destinations_size(); ++j) {
        if (!Known(o.destinations(j))) {
          return Bad(At(ot, od, "destinations", j, where),
                     "outcome code " + o.code() + " names unknown destination \"" + o.destinations(j) + "\"");
        }
      }
      if (!o.route_to().empty() && !Known(o.route_to())) {
        return Bad(At(ot, od, "route_to", -1, where),
                   "outcome code " + o.code() + " routes to unknown destination \"" + o.route_to() + "\"");
      }
    }
    return Status::OK();
  }

  Status CheckDelivery() {
    if (!c_.has_delivery()) return Status::OK();
    const v1::DeliverySettings& dl = c_.delivery();
    const Descriptor* cd = c_.GetDescriptor();
    const Tree* t = Sub(root_, cd, "delivery", -1);
    const std::string outer = At(root_, cd, "delivery", -1, top_);
    if (!dl.escalate_to().empty() && !Known(dl.escalate_to())) {
      return Bad(At(t, dl.GetDescriptor(), "escalate_to", -1, outer),
                 "delivery.escalate_to names unknown destination \"" + dl.escalate_to() + "\"");
    }
    if (dl.redelivery_interval_seconds() > 0 && dl.undeliverable_after_seconds() > 0 &&
        dl.undeliverable_after_seconds() < dl.redelivery_interval_seconds()) {
      return Bad(At(t, dl.GetDescriptor(), "undeliverable_after_seconds", -1, outer),
                 "delivery.undeliverable_after_seconds is shorter than redelivery_interval_seconds");
    }
    return Status::OK();
  }

  const v1::PartnershipConfig& c_;
  const std::string name_;
  const Tree* root_;
  const std::string top_;  // "NAME:1:1: "
  std::set<std::string> destinations_;
  uint32_t longest_repeat_months_ = 0;
  std::string longest_repeat_where_;
};

}  // namespace

bool IsUpperCaseCode(const std::string& text) {
  static const std::regex re("[A-Z][A-Z0-9_]{1,63}");
  return std::regex_match(text, re);
}

Status ValidateRoutingConfig(const v1::PartnershipConfig& config, const std::string& name, const Tree* tree) {
  return Checker(config, name, tree).Run();
}

}  // namespace refx
