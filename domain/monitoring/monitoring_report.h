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
//   per destination       cases; of the cases due (acknowledgement deadline
//                         passed by the last event read, or acknowledged),
//                         those acknowledged / accepted by the deadline;
//                         medians; breaches, escalations, declines, open
//   per source agency     referrals, and the cases they became
//   per pathway           referrals per category
//   previous              the same for ReportOptions::previous (if set)
//   trend                 referrals and cases per month of submission, the
//                         12 months ending with the month of `to`
//   erased by rule        subject_erased events dated in the window, per
//                         retention rule ("ON_REQUEST": refx admin erase)
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
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/civil_date.h"
#include "core/status.h"
#include "refx/v1/cli.pb.h"
#include "refx/v1/config.pb.h"
#include "refx/v1/event.pb.h"
#include "domain/monitoring/case_fold.h"

namespace refx::outcomes {

// A reporting period: a month, a calendar quarter or any dates.
struct ReportPeriod {
  CivilDate from;     // inclusive
  CivilDate to;       // inclusive
  std::string id;     // "2026-11", "2026-Q3" or "2026-03-01..2026-03-31"
  std::string label;  // "November 2026", "Jul–Sep 2026", "1 Mar 2026 – 31 Mar 2026"
};

// "YYYY-MM" (a month) or "YYYY-Qn" (calendar quarter n, 1..4). Returns
// InvalidArgument naming the expected forms for anything else.
Status ParseReportPeriod(const std::string& text, ReportPeriod* out);
// The dates from..to (to >= from).
ReportPeriod DatesPeriod(const CivilDate& from, const CivilDate& to);
// The period before: the previous month or quarter, or as many days
// immediately before.
ReportPeriod PreviousPeriod(const ReportPeriod& period);

struct ReportOptions {
  CivilDate from;  // inclusive
  CivilDate to;    // inclusive
  std::string period;        // ReportPeriod::id; "" = "FROM..TO"
  std::string period_label;  // ReportPeriod::label; "" = the same
  // Configured names: destination code -> name, agency id -> name.
  std::map<std::string, std::string> destination_names;
  std::map<std::string, std::string> agency_names;
  // The period before, figured beside this one (MonitoringFigures.previous).
  bool has_previous = false;
  ReportPeriod previous;
  std::string partnership;
  // The subject key (kSubjectSecretBytes bytes). Empty: the repeat rate is
  // unavailable, and `repeat_unavailable` says why.
  std::string subject_secret;
  std::string repeat_unavailable = "no subject key";
};

// The options for a report of `period` beside the period before it, with
// the partnership's name and its destinations' and agencies' names from
// `config`. The subject key is left for the caller (only a reader that holds
// it can figure the repeat rate).
ReportOptions ReportOptionsFor(const ReportPeriod& period, const v1::PartnershipConfig& config);

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
  std::unique_ptr<MonitoringReport> previous_;  // null without options_.has_previous
  int64_t from_days_;
  int64_t to_days_;
  uint64_t last_seq_ = 0;
  std::set<std::string> in_window_;  // referral ids submitted in the window
  std::set<std::string> withdrawn_;
  std::map<std::string, uint64_t> by_agency_;
  std::map<std::string, std::string> agency_of_;  // in-window referral id -> referring agency
  std::map<std::string, uint64_t> by_category_;
  Micros last_micros_ = 0;  // time of the last event read
  // Trend: month index (year * 12 + month - 1) of each referral submitted
  // in the 12 months ending with `to`'s month; counts per month.
  int trend_first_month_ = 0;
  std::map<std::string, int> trend_month_of_;
  std::map<int, uint64_t> trend_referrals_, trend_cases_;
  std::vector<Subject> subjects_;  // person referrals up to `to`, in seq order
  std::set<std::string> erased_;
  std::map<std::string, uint64_t> erased_by_rule_;  // erasures dated in the window, per rule
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
