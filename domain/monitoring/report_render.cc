#include "domain/monitoring/report_render.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <sstream>
#include <vector>

#include "core/json.h"
#include "render/chart.h"
#include "render/csv.h"
#include "render/fields.h"
#include "render/format.h"
#include "render/templates.h"

namespace refx::outcomes {

namespace {

using Rows = google::protobuf::RepeatedPtrField<v1::ReportCount>;
using render::Data;

const v1::MonitoringFigures& Empty() { return v1::MonitoringFigures::default_instance(); }

std::string Fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

// "83%"; "–" with no cases due.
std::string Percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return "\u2013";
  return Fixed(100.0 * static_cast<double>(part) / static_cast<double>(whole), 0) + "%";
}

// "3 h 05 min"; "–" with no cases measured.
std::string Median(const v1::ReportDuration& d) { return d.cases() ? render::HoursMinutes(d.median_hours()) : "\u2013"; }

std::string RepeatValue(const v1::ReportRepeatRate& r) {
  if (!r.available()) return "unavailable";
  const uint64_t matched = r.person_referrals() - r.unmatchable();
  return matched ? Fixed(r.rate() * 100, 1) + "%" : "\u2013";
}

std::string RepeatText(const v1::ReportRepeatRate& r) {
  if (!r.available()) return "unavailable: " + r.unavailable();
  const uint64_t matched = r.person_referrals() - r.unmatchable();
  std::string text = RepeatValue(r);
  text += " (" + std::to_string(r.repeats()) + " of " + std::to_string(matched) + " person referrals";
  if (r.unmatchable()) text += "; " + std::to_string(r.unmatchable()) + " without name and date of birth, not matched";
  return text + ")";
}

uint64_t Total(const Rows& rows) {
  uint64_t n = 0;
  for (const auto& r : rows) n += r.count();
  return n;
}

uint64_t CountOf(const Rows& rows, const std::string& key) {
  for (const auto& r : rows) {
    if (r.key() == key) return r.count();
  }
  return 0;
}

std::string NameOf(const std::string& name, const std::string& code) { return name.empty() ? code : name; }

const v1::ReportDestination& DestinationIn(const v1::MonitoringFigures& f, const std::string& code) {
  for (const auto& d : f.destinations()) {
    if (d.code() == code) return d;
  }
  return v1::ReportDestination::default_instance();
}

const v1::ReportSource& SourceIn(const v1::MonitoringFigures& f, const std::string& agency) {
  for (const auto& s : f.sources()) {
    if (s.agency() == agency) return s;
  }
  return v1::ReportSource::default_instance();
}

// A summary figure: its name and how to read it from a period's figures.
struct Figure {
  std::string label;
  std::function<std::string(const v1::MonitoringFigures&)> value;
};

std::vector<Figure> SummaryFigures() {
  auto count = [](uint64_t (v1::MonitoringFigures::*get)() const) {
    return [get](const v1::MonitoringFigures& f) { return std::to_string((f.*get)()); };
  };
  return {
      {"referrals", count(&v1::MonitoringFigures::referrals)},
      {"cases (a referral at a destination)", count(&v1::MonitoringFigures::cases)},
      {"withdrawn referrals", count(&v1::MonitoringFigures::withdrawn_referrals)},
      {"cases still open", count(&v1::MonitoringFigures::open_cases)},
      {"repeat rate", [](const v1::MonitoringFigures& f) { return RepeatValue(f.repeat_rate()); }},
      {"median time to acknowledge", [](const v1::MonitoringFigures& f) { return Median(f.time_to_acknowledge()); }},
      {"median time to accept", [](const v1::MonitoringFigures& f) { return Median(f.time_to_accept()); }},
      {"cases with a deadline breach",
       [](const v1::MonitoringFigures& f) { return std::to_string(Total(f.breaches_by_destination())); }},
      {"escalations", [](const v1::MonitoringFigures& f) { return std::to_string(Total(f.escalations_by_destination())); }},
  };
}

// A titled table of counts.
struct Section {
  std::string id;        // CSV breakdown name
  std::string title;     // heading
  std::string key_name;  // first column
  const Rows* rows;
  const Rows* previous;
  std::string colour;  // HTML bar colour
  bool enum_keys;      // keys are enum value names, shown as words ("OUTCOME_RECORDED" -> "Outcome recorded")
};

std::vector<Section> Sections(const v1::MonitoringFigures& f) {
  const v1::MonitoringFigures& p = f.previous();
  return {
      {"pathway", "Referrals per pathway", "pathway", &f.referrals_by_pathway(), &p.referrals_by_pathway(), "#2f6db5", true},
      {"outcome", "Outcomes recorded", "outcome", &f.outcomes_by_code(), &p.outcomes_by_code(), "#16838a", false},
      {"decline_reason", "Declines by reason", "reason", &f.declines_by_reason(), &p.declines_by_reason(), "#7d3c98", false},
      {"open_state", "Cases still open, per state", "state", &f.open_by_state(), &p.open_by_state(), "#7f8c8d", true},
      {"erased_rule", "Records erased, per rule", "rule", &f.erased_by_rule(), &p.erased_by_rule(), "#a93226", true},
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

// One CSV row: text identifying it, then the figures; each figure a pair
// (this period, previous period) where the column has a previous.
class WideRow {
 public:
  WideRow(const v1::MonitoringFigures& f, const std::string& breakdown, const std::string& code,
          const std::string& name)
      : f_(f), breakdown_(breakdown), code_(code), name_(name) {}

  std::map<std::string, std::pair<std::string, std::string>> cells;  // column -> (current, previous)

  void Count(const std::string& column, uint64_t now, uint64_t before) {
    cells[column] = {std::to_string(now), f_.has_previous() ? std::to_string(before) : ""};
  }
  void Pct(const std::string& column, uint64_t part, uint64_t whole, uint64_t part_before, uint64_t whole_before) {
    auto pct = [](uint64_t p, uint64_t w) {
      return w ? Fixed(100.0 * static_cast<double>(p) / static_cast<double>(w), 1) : std::string();
    };
    cells[column] = {pct(part, whole), f_.has_previous() ? pct(part_before, whole_before) : ""};
  }
  void Minutes(const std::string& column, const v1::ReportDuration& now, const v1::ReportDuration& before) {
    auto minutes = [](const v1::ReportDuration& d) {
      return d.cases() ? std::to_string(std::llround(d.median_hours() * 60)) : std::string();
    };
    cells[column] = {minutes(now), f_.has_previous() ? minutes(before) : ""};
  }

  void Write(render::CsvWriter* csv) const;

 private:
  const v1::MonitoringFigures& f_;
  std::string breakdown_, code_, name_;
};

// Figure columns; each but those marked is followed by NAME_previous.
const std::vector<std::pair<std::string, bool>>& FigureColumns() {
  static const auto* columns = new std::vector<std::pair<std::string, bool>>{
      {"referrals", true},           {"cases", true},
      {"due", true},                 {"acknowledged_in_time_pct", true},
      {"accepted_in_time_pct", true}, {"median_acknowledge_minutes", true},
      {"median_accept_minutes", true}, {"breaches", true},
      {"escalations", true},         {"declined", true},
      {"open", true},                {"withdrawn", true},
      {"repeat_rate_pct", true},     {"count", true},
  };
  return *columns;
}

std::string Header() {
  std::string h = "period,period_label,from,to,previous_period,breakdown,code,name";
  for (const auto& [column, previous] : FigureColumns()) {
    h += "," + column;
    if (previous) h += "," + column + "_previous";
  }
  return h;
}

void WideRow::Write(render::CsvWriter* csv) const {
  csv->Text(f_.period()).Text(f_.period_label()).Text(f_.from()).Text(f_.to());
  csv->Text(f_.has_previous() ? f_.previous().period() : "").Text(breakdown_).Text(code_).Text(name_);
  for (const auto& [column, previous] : FigureColumns()) {
    auto it = cells.find(column);
    // Figures are numbers: written unguarded so a spreadsheet sums them.
    auto number = [&](const std::string& v) {
      if (v.empty()) {
        csv->Empty();
      } else {
        csv->Number(std::stod(v), v.find('.') == std::string::npos ? 0 : 1);
      }
    };
    number(it == cells.end() ? "" : it->second.first);
    if (previous) number(it == cells.end() ? "" : it->second.second);
  }
  csv->EndRow();
}

// --- HTML -------------------------------------------------------------------

Data Text(std::initializer_list<std::pair<const char*, std::string>> fields) {
  Data d;
  for (const auto& [key, value] : fields) d.set(key, value);
  return d;
}

// "February 2026: 5 (▲ 2)" for a count against the previous period.
std::string Change(const std::string& label, uint64_t now, uint64_t before) {
  const std::string change = now == before ? "same"
                             : now > before ? "\u25b2 " + std::to_string(now - before)
                                            : "\u25bc " + std::to_string(before - now);
  return label + ": " + std::to_string(before) + " (" + change + ")";
}

}  // namespace

const char* const kCsvColumns = [] {
  static const std::string header = Header();
  return header.c_str();
}();

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
  const bool prev = f.has_previous();
  const v1::MonitoringFigures& p = f.previous();
  std::ostringstream o;
  o << "# Monitoring report" << (f.partnership().empty() ? "" : ": " + MdEscape(f.partnership())) << "\n\n";
  o << "**" << MdEscape(f.period_label()) << "**: referrals submitted " << f.from() << " to " << f.to()
    << " (UTC dates), as of event seq " << f.as_of_seq() << "."
    << (prev ? " Beside it, the period before: " + MdEscape(p.period_label()) + "." : "")
    << " Figures from the event log only; no personal data.\n\n";
  o << "## Summary\n\n| figure | " << MdEscape(f.period_label()) << " |"
    << (prev ? " " + MdEscape(p.period_label()) + " |" : "") << "\n|---|---:|" << (prev ? "---:|" : "") << "\n";
  for (const Figure& fig : SummaryFigures()) {
    o << "| " << fig.label << " | " << MdEscape(fig.value(f)) << " |" << (prev ? " " + MdEscape(fig.value(p)) + " |" : "")
      << "\n";
  }
  if (!f.repeat_rate().available() || f.repeat_rate().unmatchable()) {
    o << "\nRepeat rate: " << MdEscape(RepeatText(f.repeat_rate())) << "\n";
  }

  o << "\n## Per destination\n\n";
  if (f.destinations().empty()) {
    o << "_None._\n";
  } else {
    o << "| destination | cases | acknowledged in time | accepted in time | median to acknowledge | median to accept "
         "| breaches | escalations | declined | open |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const auto& d : f.destinations()) {
      const auto& b = DestinationIn(p, d.code());
      auto beside = [&](const std::string& now, const std::string& before) {
        return prev ? now + " (" + before + ")" : now;
      };
      o << "| " << MdEscape(NameOf(d.name(), d.code())) << " | " << beside(std::to_string(d.cases()), std::to_string(b.cases()))
        << " | " << beside(Percent(d.acknowledged_in_time(), d.due()), Percent(b.acknowledged_in_time(), b.due()))
        << " | " << beside(Percent(d.accepted_in_time(), d.due()), Percent(b.accepted_in_time(), b.due())) << " | "
        << beside(Median(d.time_to_acknowledge()), Median(b.time_to_acknowledge())) << " | "
        << beside(Median(d.time_to_accept()), Median(b.time_to_accept())) << " | " << d.breaches() << " | "
        << d.escalations() << " | " << d.declined() << " | " << d.open() << " |\n";
    }
    if (prev) o << "\nIn brackets: " << MdEscape(p.period_label()) << ".\n";
  }

  o << "\n## Per referring agency\n\n";
  if (f.sources().empty()) {
    o << "_None._\n";
  } else {
    o << "| agency | referrals | cases |" << (prev ? " referrals before | cases before |" : "") << "\n|---|---:|---:|"
      << (prev ? "---:|---:|" : "") << "\n";
    for (const auto& s : f.sources()) {
      const auto& b = SourceIn(p, s.agency());
      o << "| " << MdEscape(NameOf(s.name(), s.agency())) << " | " << s.referrals() << " | " << s.cases() << " |";
      if (prev) o << " " << b.referrals() << " | " << b.cases() << " |";
      o << "\n";
    }
  }

  for (const Section& s : Sections(f)) {
    o << "\n## " << s.title << "\n\n";
    if (s.rows->empty()) {
      o << "_None._\n";
      continue;
    }
    o << "| " << s.key_name << " | count |" << (prev ? " before |" : "") << "\n|---|---:|" << (prev ? "---:|" : "")
      << "\n";
    for (const auto& r : *s.rows) {
      o << "| " << MdEscape(r.key()) << " | " << r.count() << " |"
        << (prev ? " " + std::to_string(CountOf(*s.previous, r.key())) + " |" : "") << "\n";
    }
  }
  if (!f.trend().empty()) {
    o << "\n## Trend: per month of submission\n\n| month | referrals | cases |\n|---|---:|---:|\n";
    for (const auto& t : f.trend()) o << "| " << t.month() << " | " << t.referrals() << " | " << t.cases() << " |\n";
  }
  return o.str();
}

std::string RenderCsv(const v1::MonitoringFigures& f) {
  const v1::MonitoringFigures& p = f.previous();
  std::vector<WideRow> rows;
  WideRow& all = rows.emplace_back(f, "all", "", "all referrals");
  all.Count("referrals", f.referrals(), p.referrals());
  all.Count("cases", f.cases(), p.cases());
  all.Count("breaches", Total(f.breaches_by_destination()), Total(p.breaches_by_destination()));
  all.Count("escalations", Total(f.escalations_by_destination()), Total(p.escalations_by_destination()));
  all.Count("open", f.open_cases(), p.open_cases());
  all.Count("withdrawn", f.withdrawn_referrals(), p.withdrawn_referrals());
  all.Minutes("median_acknowledge_minutes", f.time_to_acknowledge(), p.time_to_acknowledge());
  all.Minutes("median_accept_minutes", f.time_to_accept(), p.time_to_accept());
  auto repeats = [](const v1::ReportRepeatRate& r) { return r.available() ? r.repeats() : 0; };
  auto matched = [](const v1::ReportRepeatRate& r) {
    return r.available() ? r.person_referrals() - r.unmatchable() : 0;
  };
  all.Pct("repeat_rate_pct", repeats(f.repeat_rate()), matched(f.repeat_rate()), repeats(p.repeat_rate()),
          matched(p.repeat_rate()));
  for (const auto& d : f.destinations()) {
    const auto& b = DestinationIn(p, d.code());
    WideRow& r = rows.emplace_back(f, "destination", d.code(), NameOf(d.name(), d.code()));
    r.Count("cases", d.cases(), b.cases());
    r.Count("due", d.due(), b.due());
    r.Pct("acknowledged_in_time_pct", d.acknowledged_in_time(), d.due(), b.acknowledged_in_time(), b.due());
    r.Pct("accepted_in_time_pct", d.accepted_in_time(), d.due(), b.accepted_in_time(), b.due());
    r.Minutes("median_acknowledge_minutes", d.time_to_acknowledge(), b.time_to_acknowledge());
    r.Minutes("median_accept_minutes", d.time_to_accept(), b.time_to_accept());
    r.Count("breaches", d.breaches(), b.breaches());
    r.Count("escalations", d.escalations(), b.escalations());
    r.Count("declined", d.declined(), b.declined());
    r.Count("open", d.open(), b.open());
  }
  for (const auto& s : f.sources()) {
    const auto& b = SourceIn(p, s.agency());
    WideRow& r = rows.emplace_back(f, "source_agency", s.agency(), NameOf(s.name(), s.agency()));
    r.Count("referrals", s.referrals(), b.referrals());
    r.Count("cases", s.cases(), b.cases());
  }
  for (const Section& s : Sections(f)) {
    for (const auto& c : *s.rows) {
      const bool text = s.id == "decline_reason";  // free text: the reason is the name, no code
      WideRow& r = rows.emplace_back(f, s.id, text ? "" : c.key(), s.enum_keys ? render::Humanise(c.key()) : c.key());
      r.Count(s.id == "pathway" ? "referrals" : "count", c.count(), CountOf(*s.previous, c.key()));
    }
  }
  for (const auto& t : f.trend()) {
    WideRow& r = rows.emplace_back(f, "month", t.month(), t.month());
    r.cells["referrals"] = {std::to_string(t.referrals()), ""};
    r.cells["cases"] = {std::to_string(t.cases()), ""};
  }
  render::CsvWriter csv(/*byte_order_mark=*/true);
  std::string header = kCsvColumns;
  std::vector<std::string> names;
  for (size_t start = 0, comma; start <= header.size(); start = comma + 1) {
    comma = header.find(',', start);
    if (comma == std::string::npos) comma = header.size();
    names.push_back(header.substr(start, comma - start));
  }
  csv.Row(names);
  for (const WideRow& r : rows) r.Write(&csv);
  return csv.str();
}

Status RenderHtml(const v1::MonitoringFigures& f, std::string* out) {
  const bool prev = f.has_previous();
  const v1::MonitoringFigures& p = f.previous();
  Data page;
  page.set("partnership", f.partnership());
  page.set("has_partnership", !f.partnership().empty());
  page.set("period_label", f.period_label());
  page.set("from", f.from());
  page.set("to", f.to());
  page.set("as_of_seq", std::to_string(f.as_of_seq()));
  page.set("has_previous", prev);
  page.set("previous_label", p.period_label());

  std::vector<Data> summary;
  for (const Figure& fig : SummaryFigures()) {
    summary.push_back(Text({{"label", fig.label}, {"value", fig.value(f)}, {"previous", fig.value(prev ? p : Empty())}}));
  }
  page.set("summary", render::List(summary));
  std::vector<Data> cards;
  cards.push_back(Text({{"value", std::to_string(f.referrals())}, {"label", "referrals"},
                        {"change", prev ? Change(p.period_label(), f.referrals(), p.referrals()) : ""},
                        {"detail", std::to_string(f.cases()) + " cases at destinations"}}));
  cards.push_back(Text({{"value", std::to_string(f.cases())}, {"label", "cases"},
                        {"change", prev ? Change(p.period_label(), f.cases(), p.cases()) : ""},
                        {"detail", std::to_string(f.open_cases()) + " still open"}}));
  cards.push_back(Text({{"value", Median(f.time_to_acknowledge())}, {"label", "median time to acknowledge"},
                        {"change", prev ? p.period_label() + ": " + Median(p.time_to_acknowledge()) : ""},
                        {"detail", std::to_string(f.time_to_acknowledge().cases()) + " cases"}}));
  cards.push_back(Text({{"value", std::to_string(Total(f.breaches_by_destination()))},
                        {"label", "cases with a deadline breach"},
                        {"change", prev ? Change(p.period_label(), Total(f.breaches_by_destination()), Total(p.breaches_by_destination())) : ""},
                        {"detail", std::to_string(Total(f.escalations_by_destination())) + " escalated"}}));
  cards.push_back(Text({{"value", RepeatValue(f.repeat_rate())}, {"label", "repeat rate"},
                        {"change", prev ? p.period_label() + ": " + RepeatValue(p.repeat_rate()) : ""},
                        {"detail", RepeatText(f.repeat_rate())}}));
  page.set("cards", render::List(cards));

  std::vector<std::string> months;
  render::Series referrals{"referrals", "#2f6db5", {}}, cases{"cases", "#d35400", {}};
  for (const auto& t : f.trend()) {
    const int month = std::stoi(t.month().substr(5, 2));
    static const char* const kShort[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    months.push_back(std::string(kShort[(month + 11) % 12]) + (month == 1 || months.empty() ? " " + t.month().substr(0, 4) : ""));
    referrals.values.push_back(static_cast<double>(t.referrals()));
    cases.values.push_back(static_cast<double>(t.cases()));
  }
  page.set("has_trend", !f.trend().empty());
  page.set("trend", render::TrendChart("Referrals and cases per month", months, {referrals, cases}));

  std::vector<Data> destinations;
  std::vector<render::BarRow> bars;
  for (const auto& d : f.destinations()) {
    const auto& b = DestinationIn(p, d.code());
    Data row = Text({{"name", NameOf(d.name(), d.code())},
                                 {"code", d.code()},
                                 {"cases", std::to_string(d.cases())},
                                 {"cases_prev", std::to_string(b.cases())},
                                 {"ack", Percent(d.acknowledged_in_time(), d.due())},
                                 {"ack_prev", Percent(b.acknowledged_in_time(), b.due())},
                                 {"acc", Percent(d.accepted_in_time(), d.due())},
                                 {"acc_prev", Percent(b.accepted_in_time(), b.due())},
                                 {"due", std::to_string(d.due())},
                                 {"med_ack", Median(d.time_to_acknowledge())},
                                 {"med_ack_prev", Median(b.time_to_acknowledge())},
                                 {"med_acc", Median(d.time_to_accept())},
                                 {"med_acc_prev", Median(b.time_to_accept())},
                                 {"breaches", std::to_string(d.breaches())},
                                 {"escalations", std::to_string(d.escalations())},
                                 {"declined", std::to_string(d.declined())},
                                 {"open", std::to_string(d.open())}});
    row.set("has_name", !d.name().empty());
    destinations.push_back(row);
    bars.push_back({NameOf(d.name(), d.code()), static_cast<double>(d.cases()), std::to_string(d.cases())});
  }
  page.set("destinations", render::List(destinations));
  page.set("has_destinations", !destinations.empty());
  page.set("destination_chart", render::BarChart("Cases per destination", bars, "#2f6db5"));

  std::vector<Data> sources;
  for (const auto& s : f.sources()) {
    const auto& b = SourceIn(p, s.agency());
    Data row = Text({{"name", NameOf(s.name(), s.agency())},
                            {"code", s.agency()},
                            {"referrals", std::to_string(s.referrals())},
                            {"referrals_prev", std::to_string(b.referrals())},
                            {"cases", std::to_string(s.cases())},
                            {"cases_prev", std::to_string(b.cases())}});
    row.set("has_name", !s.name().empty());
    sources.push_back(row);
  }
  page.set("sources", render::List(sources));
  page.set("has_sources", !sources.empty());

  std::vector<Data> sections;
  for (const Section& s : Sections(f)) {
    Data section;
    section.set("title", s.title);
    section.set("key_name", s.key_name);
    std::vector<Data> rows;
    std::vector<render::BarRow> section_bars;
    for (const auto& c : *s.rows) {
      const std::string label = s.enum_keys ? render::Humanise(c.key()) : c.key();
      rows.push_back(Text({{"key", label}, {"count", std::to_string(c.count())},
                           {"previous", std::to_string(CountOf(*s.previous, c.key()))}}));
      section_bars.push_back({label, static_cast<double>(c.count()), std::to_string(c.count())});
    }
    section.set("has_rows", !rows.empty());
    section.set("rows", render::List(rows));
    section.set("chart", render::BarChart(s.title, section_bars, s.colour));
    sections.push_back(section);
  }
  page.set("sections", render::List(sections));
  return render::RenderTemplate("monitoring_report", page, out);
}

std::string RenderJson(const v1::MonitoringFigures& f) { return ToJsonLine(f) + "\n"; }

Status Render(const v1::MonitoringFigures& f, ReportFormat format, std::string* out) {
  switch (format) {
    case ReportFormat::kMarkdown: *out = RenderMarkdown(f); return Status::OK();
    case ReportFormat::kCsv: *out = RenderCsv(f); return Status::OK();
    case ReportFormat::kHtml: return RenderHtml(f, out);
    case ReportFormat::kJson: *out = RenderJson(f); return Status::OK();
  }
  return Status::InvalidArgument("unknown report format");
}

}  // namespace refx::outcomes
