#include "services/outcomes/monitoring_report.h"

#include <algorithm>

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

}  // namespace

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
    : options_(std::move(options)), from_days_(options_.from.ToDays()), to_days_(options_.to.ToDays()) {}

void MonitoringReport::Add(const v1::Event& e) {
  last_seq_ = e.seq();
  if (e.has_referral_submitted()) {
    const int64_t day = UtcDate(EventMicros(e)).ToDays();
    if (day > to_days_) return;
    const std::string& id = e.referral_submitted().referral_id();
    const bool in_window = day >= from_days_;
    if (in_window) {
      in_window_.insert(id);
      ++by_agency_[e.actor()];
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
  f.set_referrals(in_window_.size());
  f.set_withdrawn_referrals(withdrawn_.size());
  AddRows(by_agency_, f.mutable_by_referring_agency());

  std::map<std::string, uint64_t> pathway, open_by_dest, open_by_state;
  std::vector<double> to_ack, to_accept;
  uint64_t open = 0;
  fold_.ForEach([&](const CaseView& c) {
    ++pathway[c.destination];
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
