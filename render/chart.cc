#include "render/chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace refx::render {

namespace {

// Two decimals without trailing zeros: SVG coordinates.
std::string Num(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", value);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string Count(double value) {
  return value == std::floor(value) ? std::to_string(static_cast<long long>(value)) : Num(value);
}

// The top of a y axis with `ticks` steps of a whole 1, 2 or 5 x 10^n each
// (counts read as whole numbers at every tick), at or above `max`.
double NiceTop(double max, int ticks) {
  const double want = std::max(1.0, max / ticks);
  const double base = std::pow(10, std::floor(std::log10(want)));
  for (double step : {1.0, 2.0, 5.0, 10.0}) {
    if (step * base >= want) return step * base * ticks;
  }
  return 10 * base * ticks;
}

// At most `max` characters (UTF-8 aware), with an ellipsis when cut.
std::string Shorten(const std::string& text, size_t max) {
  size_t chars = 0, i = 0;
  for (; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && ++chars > max) break;
  }
  if (i >= text.size()) return text;
  size_t cut = i;
  do {
    --cut;
  } while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80);
  return text.substr(0, cut) + "\u2026";
}

}  // namespace

Data BarChart(const std::string& title, const std::vector<BarRow>& rows, const std::string& colour) {
  constexpr int kLabelWidth = 300, kBarMax = 320, kRow = 26, kWidth = 720;
  double max = 0;
  for (const BarRow& r : rows) max = std::max(max, r.value);
  if (max <= 0) max = 1;
  Data bars = Data::type::list;
  int y = 4;
  for (const BarRow& r : rows) {
    const double w = std::max(2.0, r.value / max * kBarMax);
    Data bar;
    bar.set("label", r.label);
    bar.set("short_label", Shorten(r.label, 34));
    bar.set("value_text", r.value_text);
    bar.set("label_x", Num(kLabelWidth - 8));
    bar.set("text_y", Num(y + 17));
    bar.set("bar_x", Num(kLabelWidth));
    bar.set("bar_y", Num(y + 3));
    bar.set("bar_w", Num(w));
    bar.set("bar_h", Num(kRow - 8));
    bar.set("value_x", Num(kLabelWidth + w + 6));
    bars.push_back(bar);
    y += kRow;
  }
  Data chart;
  chart.set("title", title);
  chart.set("colour", colour);
  chart.set("width", Num(kWidth));
  chart.set("height", Num(y + 4));
  chart.set("bars", bars);
  return chart;
}

Data TrendChart(const std::string& title, const std::vector<std::string>& labels, const std::vector<Series>& series) {
  constexpr double kWidth = 720, kHeight = 260, kLeft = 48, kRight = 16, kTop = 16, kBottom = 40;
  double max = 0;
  for (const Series& s : series) {
    for (double v : s.values) max = std::max(max, v);
  }
  const double top = NiceTop(max, 4);
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  const size_t n = labels.size();
  auto x_of = [&](size_t i) { return kLeft + (n <= 1 ? plot_w / 2 : plot_w * static_cast<double>(i) / (n - 1)); };
  auto y_of = [&](double v) { return kTop + plot_h - v / top * plot_h; };

  Data ticks = Data::type::list;
  for (int t = 0; t <= 4; ++t) {
    const double v = top * t / 4;
    Data tick;
    tick.set("y", Num(y_of(v)));
    tick.set("text_y", Num(y_of(v) + 4));
    tick.set("label", Count(v));
    ticks.push_back(tick);
  }
  Data xlabels = Data::type::list;
  for (size_t i = 0; i < n; ++i) {
    Data label;
    label.set("x", Num(x_of(i)));
    label.set("label", labels[i]);
    xlabels.push_back(label);
  }
  Data lines = Data::type::list;
  double legend_x = kLeft;
  for (const Series& s : series) {
    std::string points;
    Data dots = Data::type::list;
    for (size_t i = 0; i < n && i < s.values.size(); ++i) {
      points += (i ? " " : "") + Num(x_of(i)) + "," + Num(y_of(s.values[i]));
      Data dot;
      dot.set("x", Num(x_of(i)));
      dot.set("y", Num(y_of(s.values[i])));
      dot.set("tip", s.name + ", " + labels[i] + ": " + Count(s.values[i]));
      dots.push_back(dot);
    }
    Data line;
    line.set("name", s.name);
    line.set("colour", s.colour);
    line.set("points", points);
    line.set("dots", dots);
    line.set("legend_x", Num(legend_x));
    line.set("legend_text_x", Num(legend_x + 16));
    legend_x += 24 + 8.0 * static_cast<double>(s.name.size());
    lines.push_back(line);
  }
  Data chart;
  chart.set("title", title);
  chart.set("width", Num(kWidth));
  chart.set("height", Num(kHeight));
  chart.set("axis_x", Num(kLeft));
  chart.set("axis_right", Num(kWidth - kRight));
  chart.set("label_y", Num(kHeight - kBottom + 18));
  chart.set("legend_y", Num(kHeight - 8));
  chart.set("legend_box_y", Num(kHeight - 17));
  chart.set("ticks", ticks);
  chart.set("xlabels", xlabels);
  chart.set("lines", lines);
  return chart;
}

}  // namespace refx::render
