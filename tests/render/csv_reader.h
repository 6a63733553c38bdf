// Test helpers: reading back the CSV that render::CsvWriter writes (RFC
// 4180: quoted fields, doubled quotes, CRLF). Header-only; for tests.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace refx::testing {

// Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF) into rows.
inline std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false, in_quotes = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        in_quotes = false;
      } else {
        field += c;
      }
    } else if (c == '"' && field.empty() && !quoted) {
      in_quotes = quoted = true;
    } else if (c == ',') {
      rows.back().push_back(field);
      field.clear();
      quoted = false;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.back().push_back(field);
      field.clear();
      quoted = false;
      rows.emplace_back();
      ++i;
    } else {
      field += c;
    }
  }
  if (!field.empty() || !rows.back().empty()) rows.back().push_back(field);
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

// A report CSV (refx report --format csv: a UTF-8 byte order mark, a header,
// one row per breakdown key) as rows keyed "breakdown/code", or
// "breakdown/name" for rows without a code; each row maps column -> cell.
// Rows narrower or wider than the header are keyed "BAD ROW n".
inline std::map<std::string, std::map<std::string, std::string>> CsvTable(const std::string& csv) {
  const std::string bom = "\xEF\xBB\xBF";
  const auto rows = ParseCsv(csv.rfind(bom, 0) == 0 ? csv.substr(bom.size()) : csv);
  std::map<std::string, std::map<std::string, std::string>> table;
  if (rows.empty()) return table;
  for (size_t i = 1; i < rows.size(); ++i) {
    if (rows[i].size() != rows[0].size()) {
      table["BAD ROW " + std::to_string(i)] = {};
      continue;
    }
    std::map<std::string, std::string> row;
    for (size_t c = 0; c < rows[0].size(); ++c) row[rows[0][c]] = rows[i][c];
    table[row["breakdown"] + "/" + (row["code"].empty() ? row["name"] : row["code"])] = row;
  }
  return table;
}

}  // namespace refx::testing
