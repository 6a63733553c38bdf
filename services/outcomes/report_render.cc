#include "services/outcomes/report_render.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <sstream>
#include <vector>

#include "core/json.h"

namespace refx::outcomes {

namespace {

using Rows = google::protobuf::RepeatedPtrField<v1::ReportCount>;

std::string Fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string Hours(const v1::ReportDuration& d) {
  if (d.cases() == 0) return "no cases yet";
  return Fixed(d.median_hours(), 1) + " h (" + std::to_string(d.cases()) + (d.cases() == 1 ? " case)" : " cases)");
}

std::string RepeatText(const v1::ReportRepeatRate& r) {
  if (!r.available()) return "unavailable: " + r.unavailable();
  const uint64_t matched = r.person_referrals() - r.unmatchable();
  std::string text = matched ? Fixed(r.rate() * 100, 1) + "%" : "n/a";
  text += " (" + std::to_string(r.repeats()) + " of " + std::to_string(matched) + " person referrals";
  if (r.unmatchable()) text += "; " + std::to_string(r.unmatchable()) + " without name and date of birth, not matched";
  return text + ")";
}

uint64_t Total(const Rows& rows) {
  uint64_t n = 0;
  for (const auto& r : rows) n += r.count();
  return n;
}

// A titled table of counts, as every format shows them.
struct Section {
  std::string id;       // CSV section name
  std::string title;    // heading
  std::string key_name; // first column
  const Rows* rows;
  std::string colour;   // HTML bar colour
};

std::vector<Section> Sections(const v1::MonitoringFigures& f) {
  return {
      {"pathway", "Referrals per pathway", "destination", &f.by_pathway(), "#2f6db5"},
      {"referring_agency", "Referrals per referring agency", "agency", &f.by_referring_agency(), "#3b8a5a"},
      {"breaches", "Deadline breaches per destination", "destination", &f.breaches_by_destination(), "#c0392b"},
      {"escalations", "Escalations per destination", "destination", &f.escalations_by_destination(), "#d35400"},
      {"declines", "Declines by reason", "reason", &f.declines_by_reason(), "#7d3c98"},
      {"outcomes", "Outcomes by code", "outcome", &f.outcomes_by_code(), "#16838a"},
      {"open_by_destination", "Cases still open, per destination", "destination", &f.open_by_destination(), "#7f8c8d"},
      {"open_by_state", "Cases still open, per state", "state", &f.open_by_state(), "#95a5a6"},
  };
}

// --- Markdown ---------------------------------------------------------------

std::string MdEscape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      // '_' inside a word (DA_MARAC) is not emphasis in CommonMark: left as is.
      case '\\': case '|': case '*': case '`': case '[': case ']':
        out += '\\';
        out += ch;
        break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\n': case '\r': out += ' '; break;
      default: out += ch;
    }
  }
  return out;
}

// --- CSV --------------------------------------------------------------------

std::string CsvCell(const std::string& text) {
  std::string cell = text;
  if (!cell.empty() && std::string("=+-@\t\r").find(cell[0]) != std::string::npos) cell = "'" + cell;
  if (cell.find_first_of(",\"\n\r") == std::string::npos && (cell.empty() || (cell.front() != ' ' && cell.back() != ' '))) {
    return cell;
  }
  std::string out = "\"";
  for (char ch : cell) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

// --- HTML -------------------------------------------------------------------

std::string HtmlEscape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

// At most `max` characters (UTF-8 aware), with an ellipsis when cut.
std::string Shorten(const std::string& text, size_t max) {
  size_t chars = 0, i = 0;
  for (; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && ++chars > max) break;
  }
  if (i >= text.size()) return text;
  size_t cut = i;
  // Drop one more character to make room for the ellipsis.
  do {
    --cut;
  } while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80);
  return text.substr(0, cut) + "\u2026";
}

std::string BarChart(const Section& s) {
  constexpr int kLabelWidth = 250, kBarMax = 380, kRow = 26, kWidth = 720;
  uint64_t max = 1;
  for (const auto& r : *s.rows) max = std::max<uint64_t>(max, r.count());
  const int height = kRow * s.rows->size() + 8;
  std::ostringstream o;
  o << "<svg class=\"chart\" role=\"img\" aria-label=\"" << HtmlEscape(s.title) << "\" viewBox=\"0 0 " << kWidth
    << " " << height << "\" width=\"" << kWidth << "\" height=\"" << height << "\">\n";
  int y = 4;
  for (const auto& r : *s.rows) {
    const int w = std::max(2, static_cast<int>(static_cast<double>(r.count()) / static_cast<double>(max) * kBarMax));
    o << "<g><title>" << HtmlEscape(r.key()) << ": " << r.count() << "</title>"
      << "<text x=\"" << kLabelWidth - 8 << "\" y=\"" << y + 17 << "\" text-anchor=\"end\">"
      << HtmlEscape(Shorten(r.key(), 34)) << "</text>"
      << "<rect x=\"" << kLabelWidth << "\" y=\"" << y + 3 << "\" width=\"" << w << "\" height=\"" << kRow - 8
      << "\" rx=\"3\" fill=\"" << s.colour << "\"/>"
      << "<text x=\"" << kLabelWidth + w + 6 << "\" y=\"" << y + 17 << "\" class=\"n\">" << r.count() << "</text></g>\n";
    y += kRow;
  }
  o << "</svg>\n";
  return o.str();
}

constexpr const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d2329;
  max-width:980px;margin:2em auto;padding:0 1.2em;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}
h2{font-size:1.15em;margin:0 0 .6em;border-bottom:2px solid #e3e7eb;padding-bottom:.25em}
.sub{color:#56606b;margin-top:0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:12px;margin:1.4em 0}
.card{border:1px solid #d7dde3;border-radius:8px;padding:10px 14px;background:#f8fafb}
.card .v{font-size:1.55em;font-weight:650}
.card .l{color:#56606b;font-size:.85em}
.card .d{color:#56606b;font-size:.78em}
section{margin:2em 0}
svg.chart{max-width:100%;height:auto;display:block}
svg.chart text{font-size:13px;fill:#1d2329}
svg.chart text.n{fill:#56606b}
table{border-collapse:collapse;margin-top:.6em;font-size:.92em}
th,td{border-bottom:1px solid #e3e7eb;padding:3px 12px 3px 0;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
details summary{cursor:pointer;color:#2f6db5;font-size:.9em}
.none{color:#56606b;font-style:italic}
footer{margin-top:3em;color:#56606b;font-size:.85em;border-top:1px solid #e3e7eb;padding-top:.8em}
@media print{details{display:none}}
)";

}  // namespace

bool ParseReportFormat(const std::string& name, ReportFormat* out) {
  if (name == "md" || name == "markdown") {
    *out = ReportFormat::kMarkdown;
  } else if (name == "csv") {
    *out = ReportFormat::kCsv;
  } else if (name == "html") {
    *out = ReportFormat::kHtml;
  } else if (name == "json") {
    *out = ReportFormat::kJson;
  } else {
    return false;
  }
  return true;
}

std::string RenderMarkdown(const v1::MonitoringFigures& f) {
  std::ostringstream o;
  o << "# Monitoring report" << (f.partnership().empty() ? "" : ": " + MdEscape(f.partnership())) << "\n\n";
  o << "Referrals submitted " << f.from() << " to " << f.to() << " (UTC dates), as of event seq " << f.as_of_seq()
    << ". Figures from the event log only; no personal data.\n\n";
  o << "## Summary\n\n| figure | value |\n|---|---|\n";
  o << "| referrals | " << f.referrals() << " |\n";
  o << "| cases (referral at a destination) | " << f.cases() << " |\n";
  o << "| withdrawn referrals | " << f.withdrawn_referrals() << " |\n";
  o << "| cases still open | " << f.open_cases() << " |\n";
  o << "| repeat rate | " << MdEscape(RepeatText(f.repeat_rate())) << " |\n";
  o << "| median time to acknowledge | " << Hours(f.time_to_acknowledge()) << " |\n";
  o << "| median time to accept | " << Hours(f.time_to_accept()) << " |\n";
  o << "| cases with a deadline breach | " << Total(f.breaches_by_destination()) << " |\n";
  for (const Section& s : Sections(f)) {
    o << "\n## " << s.title << "\n\n";
    if (s.rows->empty()) {
      o << "_None._\n";
      continue;
    }
    o << "| " << s.key_name << " | count |\n|---|---:|\n";
    for (const auto& r : *s.rows) o << "| " << MdEscape(r.key()) << " | " << r.count() << " |\n";
  }
  return o.str();
}

std::string RenderCsv(const v1::MonitoringFigures& f) {
  std::ostringstream o;
  auto row = [&](const std::string& section, const std::string& key, const std::string& value) {
    o << section << ',' << CsvCell(key) << ',' << CsvCell(value) << "\r\n";
  };
  o << "section,key,value\r\n";
  row("report", "partnership", f.partnership());
  row("report", "from", f.from());
  row("report", "to", f.to());
  row("report", "as_of_seq", std::to_string(f.as_of_seq()));
  row("summary", "referrals", std::to_string(f.referrals()));
  row("summary", "cases", std::to_string(f.cases()));
  row("summary", "withdrawn_referrals", std::to_string(f.withdrawn_referrals()));
  row("summary", "open_cases", std::to_string(f.open_cases()));
  const v1::ReportRepeatRate& r = f.repeat_rate();
  row("repeat_rate", "available", r.available() ? "true" : "false");
  if (r.available()) {
    row("repeat_rate", "person_referrals", std::to_string(r.person_referrals()));
    row("repeat_rate", "unmatchable", std::to_string(r.unmatchable()));
    row("repeat_rate", "repeats", std::to_string(r.repeats()));
    row("repeat_rate", "rate", Fixed(r.rate(), 4));
  } else {
    row("repeat_rate", "unavailable", r.unavailable());
  }
  for (const auto& [name, d] : {std::make_pair("time_to_acknowledge", &f.time_to_acknowledge()),
                                std::make_pair("time_to_accept", &f.time_to_accept())}) {
    row(name, "cases", std::to_string(d->cases()));
    row(name, "median_hours", d->cases() ? Fixed(d->median_hours(), 2) : "");
  }
  for (const Section& s : Sections(f)) {
    for (const auto& c : *s.rows) row(s.id, c.key(), std::to_string(c.count()));
  }
  return o.str();
}

std::string RenderHtml(const v1::MonitoringFigures& f) {
  std::ostringstream o;
  const std::string name = f.partnership().empty() ? "" : HtmlEscape(f.partnership());
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    << "<title>Monitoring report " << f.from() << " to " << f.to() << (name.empty() ? "" : " \u2014 " + name)
    << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n";
  o << "<h1>Monitoring report</h1>\n<p class=\"sub\">" << (name.empty() ? "" : name + " \u00b7 ")
    << "referrals submitted " << f.from() << " to " << f.to() << " (UTC dates) \u00b7 as of event seq "
    << f.as_of_seq() << "</p>\n";

  auto card = [&](const std::string& value, const std::string& label, const std::string& detail) {
    o << "<div class=\"card\"><div class=\"v\">" << HtmlEscape(value) << "</div><div class=\"l\">" << HtmlEscape(label)
      << "</div>" << (detail.empty() ? "" : "<div class=\"d\">" + HtmlEscape(detail) + "</div>") << "</div>\n";
  };
  auto median = [](const v1::ReportDuration& d) { return d.cases() ? Fixed(d.median_hours(), 1) + " h" : "\u2013"; };
  auto cases_of = [](const v1::ReportDuration& d) {
    return std::to_string(d.cases()) + (d.cases() == 1 ? " case" : " cases");
  };
  const v1::ReportRepeatRate& r = f.repeat_rate();
  const uint64_t matched = r.person_referrals() - r.unmatchable();
  o << "<div class=\"cards\">\n";
  card(std::to_string(f.referrals()), "referrals",
       std::to_string(f.cases()) + " cases \u00b7 " + std::to_string(f.withdrawn_referrals()) + " withdrawn");
  card(std::to_string(f.open_cases()), "cases still open", "");
  card(!r.available() ? "unavailable" : matched ? Fixed(r.rate() * 100, 1) + "%" : "\u2013", "repeat rate",
       r.available() ? std::to_string(r.repeats()) + " of " + std::to_string(matched) + " person referrals"
                     : r.unavailable());
  card(median(f.time_to_acknowledge()), "median time to acknowledge", cases_of(f.time_to_acknowledge()));
  card(median(f.time_to_accept()), "median time to accept", cases_of(f.time_to_accept()));
  card(std::to_string(Total(f.breaches_by_destination())), "cases with a deadline breach",
       std::to_string(Total(f.escalations_by_destination())) + " escalated");
  o << "</div>\n";
  if (r.available() && r.unmatchable()) {
    o << "<p class=\"sub\">" << r.unmatchable()
      << (r.unmatchable() == 1 ? " person referral without a name and date of birth could not be matched and is"
                               : " person referrals without a name and date of birth could not be matched and are")
      << " left out of the repeat rate.</p>\n";
  }

  for (const Section& s : Sections(f)) {
    o << "<section>\n<h2>" << HtmlEscape(s.title) << "</h2>\n";
    if (s.rows->empty()) {
      o << "<p class=\"none\">None.</p>\n</section>\n";
      continue;
    }
    o << BarChart(s);
    o << "<details><summary>Table</summary>\n<table>\n<tr><th>" << HtmlEscape(s.key_name)
      << "</th><th class=\"n\">count</th></tr>\n";
    for (const auto& c : *s.rows) {
      o << "<tr><td>" << HtmlEscape(c.key()) << "</td><td class=\"n\">" << c.count() << "</td></tr>\n";
    }
    o << "</table>\n</details>\n</section>\n";
  }
  o << "<footer>Figures from the refx event log only: codes, agency ids and counts, no personal data. "
       "Times are from first delivery to the lead's acknowledgement or acceptance.</footer>\n</body>\n</html>\n";
  return o.str();
}

std::string RenderJson(const v1::MonitoringFigures& f) { return ToJsonLine(f) + "\n"; }

std::string Render(const v1::MonitoringFigures& f, ReportFormat format) {
  switch (format) {
    case ReportFormat::kMarkdown: return RenderMarkdown(f);
    case ReportFormat::kCsv: return RenderCsv(f);
    case ReportFormat::kHtml: return RenderHtml(f);
    case ReportFormat::kJson: return RenderJson(f);
  }
  return "";
}

}  // namespace refx::outcomes
