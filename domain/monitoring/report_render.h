// Renders monitoring figures (refx.v1.MonitoringFigures) for a CSP board and
// for spreadsheets: Markdown tables, one wide CSV table, one self-contained
// HTML page (template monitoring_report from render/, with an inline SVG
// trend chart and bar charts: no scripts, nothing fetched; it opens offline
// and can be mailed as one file), and JSON. Each period's figures stand
// beside the previous period's when MonitoringFigures.previous is set.
// Destinations and agencies are shown by their configured names; times in
// hours and minutes. Every text from the figures is escaped for its format.
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "core/status.h"
#include "refx/v1/cli.pb.h"

namespace refx::outcomes {

enum class ReportFormat { kMarkdown, kCsv, kHtml, kJson };

// "md" / "markdown", "csv", "html", "json"; false for anything else.
bool ParseReportFormat(const std::string& name, ReportFormat* out);

std::string RenderMarkdown(const v1::MonitoringFigures& figures);

// One table with a header row and one row per breakdown key, current and
// previous period side by side (columns kCsvColumns, render/csv.h quoting and
// formula guard, UTF-8 with a byte order mark so that Excel reads names
// correctly). Breakdowns: all (the totals), destination, source_agency,
// pathway, month (the trend), outcome, decline_reason, open_state.
// Percentages are 0..100 with one decimal, medians in whole minutes; a cell
// without data is empty.
std::string RenderCsv(const v1::MonitoringFigures& figures);

// The CSV's header, comma-separated.
extern const char* const kCsvColumns;

// The page; an error only if the compiled-in template is broken.
Status RenderHtml(const v1::MonitoringFigures& figures, std::string* out);

// One JSON object (protobuf JSON mapping of MonitoringFigures) and a newline.
std::string RenderJson(const v1::MonitoringFigures& figures);

// Renders in `format` into *out.
Status Render(const v1::MonitoringFigures& figures, ReportFormat format, std::string* out);

}  // namespace refx::outcomes
