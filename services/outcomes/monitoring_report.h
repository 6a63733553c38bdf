// MonitoringReport: folds the event log into the partnership's monitoring
// figures (refx.v1.MonitoringFigures) for referrals submitted in a window
// of dates: referrals per pathway and per referring agency, the repeat
// rate, median times to acknowledge and to accept, deadline breaches,
// escalations, declines by reason, outcomes by code and the cases still
// open. Everything comes from the events; the figures hold codes, agency
// ids, decline reasons as the leads wrote them, and counts.
//
// Definitions (all for referrals whose referral_submitted event falls on a
// UTC date in [from, to]):
//   per pathway           cases routed to each destination
//   per referring agency  referrals by the agency that submitted them (actor)
//   repeat rate           person referrals whose subject (keyed subject hash,
//                         core/subject_key.h) was referred earlier in the
//                         log, over those with a usable name and date of
//                         birth; erased subjects are left out
//   time to acknowledge / accept
//                         first case_delivered to case_acknowledged /
//                         case_accepted, in hours; the median over cases
//   breaches              cases with a deadline_breached, per destination
//   escalations           case_escalated events, per case's destination
//   open                  cases not CLOSED, DECLINED, UNDELIVERABLE or
//                         WITHDRAWN after the last event read
//
// Example:
//   MonitoringReport report(options);
//   client.Read(request, [&](const v1::Event& e, ...) { report.Add(e); return true; });
//   v1::MonitoringFigures figures = report.Figures();
//
// Thread-safety: not thread-safe; one thread adds and asks.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/civil_date.h"
#include "refx/v1/cli.pb.h"
#include "refx/v1/event.pb.h"
#include "services/outcomes/case_fold.h"

namespace refx::outcomes {

struct ReportOptions {
  CivilDate from;  // inclusive
  CivilDate to;    // inclusive
  std::string partnership;
  // The subject key (kSubjectSecretBytes bytes). Empty: the repeat rate is
  // unavailable, and `repeat_unavailable` says why.
  std::string subject_secret;
  std::string repeat_unavailable = "no subject key";
};

class MonitoringReport {
 public:
  explicit MonitoringReport(ReportOptions options);

  // Folds one event; events must come in seq order.
  void Add(const v1::Event& event);

  // The figures for everything added so far. Rows are ordered by count,
  // largest first, then by key.
  v1::MonitoringFigures Figures() const;

 private:
  struct Subject {
    std::string referral_id;
    std::string key;  // "" = no usable identity
    bool in_window = false;
  };

  ReportOptions options_;
  int64_t from_days_;
  int64_t to_days_;
  uint64_t last_seq_ = 0;
  std::set<std::string> in_window_;  // referral ids submitted in the window
  std::set<std::string> withdrawn_;
  std::map<std::string, uint64_t> by_agency_;
  std::vector<Subject> subjects_;  // person referrals up to `to`, in seq order
  std::set<std::string> erased_;
  CaseFold fold_;  // cases of in-window referrals only
  std::map<std::string, std::set<std::string>> breaches_;  // destination -> referral ids
  std::map<std::string, uint64_t> escalations_;
  std::map<std::string, uint64_t> declines_;
  std::map<std::string, uint64_t> outcomes_;
};

// The UTC date of a time in microseconds since the epoch.
CivilDate UtcDate(Micros micros);

// Median of `values` (the mean of the middle two for an even count); 0 for
// none. Pure function.
double Median(std::vector<double> values);

}  // namespace refx::outcomes
