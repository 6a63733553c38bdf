// Renders monitoring figures (refx.v1.MonitoringFigures) for people and
// spreadsheets: Markdown tables, CSV rows "section,key,value", and one
// self-contained HTML page with inline SVG bar charts (no scripts, no
// external style sheets, fonts or images: it opens offline and can be
// mailed as one file). Every text from the figures is escaped for its
// format. Pure functions; thread-safe.
#pragma once

#include <string>

#include "refx/v1/cli.pb.h"

namespace refx::outcomes {

enum class ReportFormat { kMarkdown, kCsv, kHtml, kJson };

// "md" / "markdown", "csv", "html", "json"; false for anything else.
bool ParseReportFormat(const std::string& name, ReportFormat* out);

std::string RenderMarkdown(const v1::MonitoringFigures& figures);

// Header "section,key,value", then one row per figure (RFC 4180 quoting;
// a text cell that a spreadsheet would take for a formula is prefixed with
// an apostrophe). Sections: report, summary, pathway, referring_agency,
// repeat_rate, time_to_acknowledge, time_to_accept, breaches, escalations,
// declines, outcomes, open_by_destination, open_by_state.
std::string RenderCsv(const v1::MonitoringFigures& figures);

std::string RenderHtml(const v1::MonitoringFigures& figures);

// One JSON object (protobuf JSON mapping of MonitoringFigures) and a newline.
std::string RenderJson(const v1::MonitoringFigures& figures);

// Renders in `format`.
std::string Render(const v1::MonitoringFigures& figures, ReportFormat format);

}  // namespace refx::outcomes
