#include "render/csv.h"

#include <cstdio>

namespace refx::render {

std::string CsvTextCell(const std::string& text) {
  std::string cell = text;
  if (!cell.empty() && std::string("=+-@\t\r").find(cell[0]) != std::string::npos) cell.insert(0, 1, '\'');
  const bool quote = cell.find_first_of(",\"\r\n") != std::string::npos ||
                     (!cell.empty() && (cell.front() == ' ' || cell.back() == ' '));
  if (!quote) return cell;
  std::string out = "\"";
  for (char ch : cell) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

CsvWriter::CsvWriter(bool byte_order_mark) {
  if (byte_order_mark) out_ = "\xEF\xBB\xBF";
}

void CsvWriter::Separate() {
  if (row_started_) out_ += ',';
  row_started_ = true;
}

CsvWriter& CsvWriter::Text(const std::string& text) {
  Separate();
  out_ += CsvTextCell(text);
  return *this;
}

CsvWriter& CsvWriter::Number(uint64_t value) {
  Separate();
  out_ += std::to_string(value);
  return *this;
}

CsvWriter& CsvWriter::Number(int64_t value) {
  Separate();
  out_ += std::to_string(value);
  return *this;
}

CsvWriter& CsvWriter::Number(double value, int decimals, bool present) {
  Separate();
  if (!present) return *this;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  out_ += buf;
  return *this;
}

CsvWriter& CsvWriter::Empty() {
  Separate();
  return *this;
}

CsvWriter& CsvWriter::EndRow() {
  out_ += "\r\n";
  row_started_ = false;
  return *this;
}

CsvWriter& CsvWriter::Row(const std::vector<std::string>& cells) {
  for (const std::string& cell : cells) Text(cell);
  return EndRow();
}

}  // namespace refx::render
