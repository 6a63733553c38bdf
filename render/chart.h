// Inline SVG charts for the pages: the code computes the geometry, the
// templates bar_chart and trend_chart draw it (no scripts, nothing
// fetched). Labels stay text for the template to escape. Pure functions;
// thread-safe.
#pragma once

#include <string>
#include <vector>

#include "render/templates.h"

namespace refx::render {

struct BarRow {
  std::string label;
  double value = 0;
  std::string value_text;  // shown beside the bar, e.g. "12" or "3 h 05 min"
};

// Data for {{> bar_chart}}: one horizontal bar per row, longest = largest.
Data BarChart(const std::string& title, const std::vector<BarRow>& rows, const std::string& colour);

struct Series {
  std::string name;
  std::string colour;
  std::vector<double> values;  // one per label
};

// Data for {{> trend_chart}}: one line per series over `labels` (e.g.
// months), with a y axis from 0 and a legend.
Data TrendChart(const std::string& title, const std::vector<std::string>& labels, const std::vector<Series>& series);

}  // namespace refx::render
