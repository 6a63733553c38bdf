#include "domain/monitoring/monitoring_report.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/event_util.h"
#include "core/subject_key.h"

namespace refx::outcomes {

namespace {

constexpr double kMicrosPerHour = 3600.0 * 1e6;

// Decline reasons are free text: one line, single spaces, at most 200 bytes.
std::string TidyReason(const std::string& text) {
  std::string out;
  bool space = false;
  for (char ch : text) {
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += ch;
  }
  if (out.size() > 200) {
    size_t cut = 200;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // keep UTF-8 whole
    out = out.substr(0, cut) + "...";
  }
  return out.empty() ? "(none given)" : out;
}

template <typename Map>
void AddRows(const Map& counts, google::protobuf::RepeatedPtrField<v1::ReportCount>* rows) {
  std::vector<std::pair<std::string, uint64_t>> sorted(counts.begin(), counts.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& [key, count] : sorted) {
    if (count == 0) continue;
    v1::ReportCount* row = rows->Add();
    row->set_key(key);
    row->set_count(count);
  }
}

v1::ReportDuration Summarise(const std::vector<double>& hours) {
  v1::ReportDuration d;
  d.set_cases(hours.size());
  d.set_median_hours(Median(hours));
  return d;
}

const char* const kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                               "July",    "August",   "September", "October", "November", "December"};

std::string Short(int month) { return std::string(kMonths[month - 1]).substr(0, 3); }

int DaysInMonth(int year, int month) {
  const CivilDate next = month == 12 ? CivilDate{year + 1, 1, 1} : CivilDate{year, month + 1, 1};
  return static_cast<int>(next.ToDays() - CivilDate{year, month, 1}.ToDays());
}

ReportPeriod MonthsPeriod(int year, int first_month, int months) {
  const int last = first_month + months - 1;
  ReportPeriod p;
  p.from = {year, first_month, 1};
  p.to = {year, last, DaysInMonth(year, last)};
  char id[32];
  if (months == 1) {
    std::snprintf(id, sizeof id, "%04d-%02d", year, first_month);
    p.label = std::string(kMonths[first_month - 1]) + " " + std::to_string(year);
  } else {
    std::snprintf(id, sizeof id, "%04d-Q%d", year, (first_month - 1) / 3 + 1);
    p.label = Short(first_month) + "\u2013" + Short(last) + " " + std::to_string(year);
  }
  p.id = id;
  return p;
}

std::string DayLabel(const CivilDate& d) { return std::to_string(d.day) + " " + Short(d.month) + " " + std::to_string(d.year); }

int MonthIndex(const CivilDate& d) { return d.year * 12 + d.month - 1; }

}  // namespace

Status ParseReportPeriod(const std::string& text, ReportPeriod* out) {
  int year = 0, n = 0;
  char tail = 0;
  const Status bad = Status::InvalidArgument("\"" + text + "\" is not a period: use YYYY-MM for a month or YYYY-Qn for a "
                                             "calendar quarter (Q1 = Jan-Mar)");
  if (text.size() == 7 && std::sscanf(text.c_str(), "%4d-Q%1d%c", &year, &n, &tail) == 2 && text[5] == 'Q') {
    if (year < 1970 || n < 1 || n > 4) return bad;
    *out = MonthsPeriod(year, (n - 1) * 3 + 1, 3);
    return Status::OK();
  }
  if (text.size() == 7 && std::sscanf(text.c_str(), "%4d-%2d%c", &year, &n, &tail) == 2 && text[4] == '-' &&
      std::isdigit(static_cast<unsigned char>(text[5]))) {
    if (year < 1970 || n < 1 || n > 12) return bad;
    *out = MonthsPeriod(year, n, 1);
    return Status::OK();
  }
  return bad;
}

ReportPeriod DatesPeriod(const CivilDate& from, const CivilDate& to) {
  ReportPeriod p;
  p.from = from;
  p.to = to;
  p.id = from.ToString() + ".." + to.ToString();
  p.label = from == to ? DayLabel(from) : DayLabel(from) + " \u2013 " + DayLabel(to);
  return p;
}

ReportOptions ReportOptionsFor(const ReportPeriod& period, const v1::PartnershipConfig& config) {
  ReportOptions options;
  options.from = period.from;
  options.to = period.to;
  options.period = period.id;
  options.period_label = period.label;
  options.has_previous = true;
  options.previous = PreviousPeriod(period);
  options.partnership = config.name();
  for (const v1::Destination& d : config.destinations()) options.destination_names[d.code()] = d.name();
  for (const v1::Agency& a : config.agencies()) options.agency_names[a.id()] = a.name();
  return options;
}

ReportPeriod PreviousPeriod(const ReportPeriod& period) {
  const bool whole_months = period.from.day == 1 && period.to.day == DaysInMonth(period.to.year, period.to.month);
  const int months = MonthIndex(period.to) - MonthIndex(period.from) + 1;
  if (whole_months && period.id.find("..") == std::string::npos && (months == 1 || months == 3)) {
    const int first = MonthIndex(period.from) - months;
    return MonthsPeriod(first / 12, first % 12 + 1, months);
  }
  const int64_t days = period.to.ToDays() - period.from.ToDays() + 1;
  return DatesPeriod(CivilDate::FromDays(period.from.ToDays() - days), CivilDate::FromDays(period.from.ToDays() - 1));
}

CivilDate UtcDate(Micros micros) {
  constexpr int64_t kMicrosPerDay = 86400LL * 1000000LL;
  int64_t days = micros / kMicrosPerDay;
  if (micros % kMicrosPerDay < 0) --days;
  return CivilDate::FromDays(days);
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

MonitoringReport::MonitoringReport(ReportOptions options)
    : options_(std::move(options)), from_days_(options_.from.ToDays()), to_days_(options_.to.ToDays()) {
  trend_first_month_ = MonthIndex(options_.to) - 11;
  if (options_.has_previous) {
    ReportOptions previous = options_;
    previous.has_previous = false;
    previous.from = options_.previous.from;
    previous.to = options_.previous.to;
    previous.period = options_.previous.id;
    previous.period_label = options_.previous.label;
    previous_ = std::make_unique<MonitoringReport>(std::move(previous));
  }
}

void MonitoringReport::Add(const v1::Event& e) {
  if (previous_) previous_->Add(e);
  last_seq_ = e.seq();
  last_micros_ = std::max(last_micros_, EventMicros(e));
  if (e.has_case_routed()) {
    auto month = trend_month_of_.find(e.case_routed().referral_id());
    if (month != trend_month_of_.end()) ++trend_cases_[month->second];
  }
  if (e.has_referral_submitted()) {
    const CivilDate date = UtcDate(EventMicros(e));
    const int64_t day = date.ToDays();
    if (day > to_days_) return;
    const std::string& id = e.referral_submitted().referral_id();
    if (MonthIndex(date) >= trend_first_month_) {
      trend_month_of_[id] = MonthIndex(date);
      ++trend_referrals_[MonthIndex(date)];
    }
    const bool in_window = day >= from_days_;
    if (in_window) {
      in_window_.insert(id);
      ++by_agency_[e.actor()];
      agency_of_[id] = e.actor();
      ++by_category_[v1::Category_Name(e.referral_submitted().referral().category())];
    }
    const v1::Referral& referral = e.referral_submitted().referral();
    if (referral.has_person() && !options_.subject_secret.empty()) {
      // Only the keyed hash is kept; the identity itself is dropped here.
      subjects_.push_back({id, SubjectKey(options_.subject_secret, referral), in_window});
    }
    return;
  }
  if (e.has_subject_erased()) {
    erased_.insert(e.subject_erased().referral_id());
    const int64_t day = UtcDate(EventMicros(e)).ToDays();
    if (day >= from_days_ && day <= to_days_) {
      ++erased_by_rule_[e.subject_erased().rule().empty() ? "ON_REQUEST" : e.subject_erased().rule()];
    }
    return;
  }
  const std::string& referral_id = ReferralIdOf(e);
  if (!in_window_.count(referral_id)) return;
  if (e.has_referral_withdrawn()) withdrawn_.insert(referral_id);
  const CaseView* c = fold_.Apply(e);
  if (c == nullptr) return;
  if (e.has_deadline_breached()) breaches_[c->destination].insert(referral_id);
  if (e.has_case_escalated()) ++escalations_[c->destination];
  if (e.has_case_declined()) ++declines_[TidyReason(e.case_declined().reason())];
  if (e.has_outcome_recorded()) ++outcomes_[e.outcome_recorded().code()];
}

v1::MonitoringFigures MonitoringReport::Figures() const {
  v1::MonitoringFigures f;
  f.set_partnership(options_.partnership);
  f.set_from(options_.from.ToString());
  f.set_to(options_.to.ToString());
  f.set_as_of_seq(last_seq_);
  f.set_period(options_.period.empty() ? options_.from.ToString() + ".." + options_.to.ToString() : options_.period);
  f.set_period_label(options_.period_label.empty() ? DatesPeriod(options_.from, options_.to).label
                                                    : options_.period_label);
  AddRows(by_category_, f.mutable_referrals_by_pathway());
  f.set_referrals(in_window_.size());
  f.set_withdrawn_referrals(withdrawn_.size());
  AddRows(by_agency_, f.mutable_by_referring_agency());

  std::map<std::string, uint64_t> pathway, open_by_dest, open_by_state, source_cases;
  std::vector<double> to_ack, to_accept;
  std::map<std::string, v1::ReportDestination> dests;
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> dest_hours;  // ack, accept
  uint64_t open = 0;
  fold_.ForEach([&](const CaseView& c) {
    ++pathway[c.destination];
    auto agency = agency_of_.find(c.referral_id);
    if (agency != agency_of_.end()) ++source_cases[agency->second];
    v1::ReportDestination& d = dests[c.destination];
    d.set_cases(d.cases() + 1);
    if (c.deadline != 0 && (c.acknowledged_at != 0 || c.deadline <= last_micros_)) {
      d.set_due(d.due() + 1);
      if (c.acknowledged_at != 0 && c.acknowledged_at <= c.deadline) d.set_acknowledged_in_time(d.acknowledged_in_time() + 1);
      if (c.accepted_at != 0 && c.accepted_at <= c.deadline) d.set_accepted_in_time(d.accepted_in_time() + 1);
    }
    if (c.state == v1::DECLINED) d.set_declined(d.declined() + 1);
    if (IsOpenState(c.state)) d.set_open(d.open() + 1);
    if (c.first_delivered_at != 0 && c.acknowledged_at >= c.first_delivered_at) {
      dest_hours[c.destination].first.push_back(static_cast<double>(c.acknowledged_at - c.first_delivered_at) /
                                                kMicrosPerHour);
    }
    if (c.first_delivered_at != 0 && c.accepted_at >= c.first_delivered_at) {
      dest_hours[c.destination].second.push_back(static_cast<double>(c.accepted_at - c.first_delivered_at) /
                                                 kMicrosPerHour);
    }
    if (IsOpenState(c.state)) {
      ++open;
      ++open_by_dest[c.destination];
      ++open_by_state[v1::CaseState_Name(c.state)];
    }
    if (c.first_delivered_at != 0 && c.acknowledged_at >= c.first_delivered_at) {
      to_ack.push_back(static_cast<double>(c.acknowledged_at - c.first_delivered_at) / kMicrosPerHour);
    }
    if (c.first_delivered_at != 0 && c.accepted_at >= c.first_delivered_at) {
      to_accept.push_back(static_cast<double>(c.accepted_at - c.first_delivered_at) / kMicrosPerHour);
    }
  });
  f.set_cases(fold_.size());
  f.set_open_cases(open);
  AddRows(pathway, f.mutable_by_pathway());
  AddRows(open_by_dest, f.mutable_open_by_destination());
  AddRows(open_by_state, f.mutable_open_by_state());
  *f.mutable_time_to_acknowledge() = Summarise(to_ack);
  *f.mutable_time_to_accept() = Summarise(to_accept);

  std::map<std::string, uint64_t> breaches;
  for (const auto& [dest, refs] : breaches_) breaches[dest] = refs.size();
  AddRows(breaches, f.mutable_breaches_by_destination());
  AddRows(escalations_, f.mutable_escalations_by_destination());
  AddRows(declines_, f.mutable_declines_by_reason());
  AddRows(outcomes_, f.mutable_outcomes_by_code());
  AddRows(erased_by_rule_, f.mutable_erased_by_rule());

  std::vector<v1::ReportDestination> rows;
  for (auto& [code, d] : dests) {
    d.set_code(code);
    auto name = options_.destination_names.find(code);
    if (name != options_.destination_names.end()) d.set_name(name->second);
    *d.mutable_time_to_acknowledge() = Summarise(dest_hours[code].first);
    *d.mutable_time_to_accept() = Summarise(dest_hours[code].second);
    auto b = breaches_.find(code);
    d.set_breaches(b == breaches_.end() ? 0 : b->second.size());
    auto esc = escalations_.find(code);
    d.set_escalations(esc == escalations_.end() ? 0 : esc->second);
    rows.push_back(d);
  }
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.cases() > b.cases(); });
  for (auto& d : rows) *f.add_destinations() = std::move(d);

  std::vector<v1::ReportSource> sources;
  for (const auto& [agency, referrals] : by_agency_) {
    v1::ReportSource s;
    s.set_agency(agency);
    auto name = options_.agency_names.find(agency);
    if (name != options_.agency_names.end()) s.set_name(name->second);
    s.set_referrals(referrals);
    s.set_cases(source_cases[agency]);
    sources.push_back(s);
  }
  std::stable_sort(sources.begin(), sources.end(),
                   [](const auto& a, const auto& b) { return a.referrals() > b.referrals(); });
  for (auto& s : sources) *f.add_sources() = std::move(s);

  if (previous_) {
    *f.mutable_previous() = previous_->Figures();
    f.mutable_previous()->clear_trend();  // the trend is drawn once, from this period
  }
  for (int m = trend_first_month_; m <= MonthIndex(options_.to); ++m) {
    v1::ReportTrendPoint* p = f.add_trend();
    char month[32];
    std::snprintf(month, sizeof month, "%04d-%02d", m / 12, m % 12 + 1);
    p->set_month(month);
    auto r = trend_referrals_.find(m);
    p->set_referrals(r == trend_referrals_.end() ? 0 : r->second);
    auto c = trend_cases_.find(m);
    p->set_cases(c == trend_cases_.end() ? 0 : c->second);
  }

  v1::ReportRepeatRate* repeat = f.mutable_repeat_rate();
  if (options_.subject_secret.empty()) {
    repeat->set_available(false);
    repeat->set_unavailable(options_.repeat_unavailable);
  } else {
    repeat->set_available(true);
    std::set<std::string> seen;
    uint64_t persons = 0, unmatchable = 0, repeats = 0;
    for (const Subject& s : subjects_) {
      if (erased_.count(s.referral_id)) continue;
      if (s.in_window) ++persons;
      if (s.key.empty()) {
        if (s.in_window) ++unmatchable;
        continue;
      }
      if (s.in_window && seen.count(s.key)) ++repeats;
      seen.insert(s.key);
    }
    repeat->set_person_referrals(persons);
    repeat->set_unmatchable(unmatchable);
    repeat->set_repeats(repeats);
    const uint64_t matched = persons - unmatchable;
    repeat->set_rate(matched ? static_cast<double>(repeats) / static_cast<double>(matched) : 0.0);
  }
  return f;
}

}  // namespace refx::outcomes
