// CsvWriter: builds one CSV document (RFC 4180: cells quoted when they hold
// a comma, quote, CR or LF or start/end with a space; CRLF line ends) that
// opens cleanly in a spreadsheet.
//
// Formula guard: a text cell that a spreadsheet would run as a formula
// (first character = + - @ TAB or CR) is written with a leading apostrophe,
// so "=HYPERLINK(...)" typed into a note stays text. Numbers are written as
// they are (a negative number is not a formula).
//
// Example:
//   CsvWriter csv;
//   csv.Text("destination").Text("cases").EndRow();
//   csv.Text("DA_MARAC").Number(uint64_t{3}).EndRow();
//   std::string out = csv.str();
//
// Thread-safety: not thread-safe; one writer per thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace refx::render {

class CsvWriter {
 public:
  // `byte_order_mark`: start with the UTF-8 BOM, so that Excel reads the
  // file as UTF-8 (names with accents, dashes); for files meant for people.
  explicit CsvWriter(bool byte_order_mark = false);

  // Appends one text cell (formula-guarded, quoted as needed).
  CsvWriter& Text(const std::string& text);
  // Appends one number cell.
  CsvWriter& Number(uint64_t value);
  CsvWriter& Number(int64_t value);
  // `decimals` places; an empty cell when `present` is false (no data).
  CsvWriter& Number(double value, int decimals, bool present = true);
  // Appends an empty cell.
  CsvWriter& Empty();
  // Ends the current row (CRLF).
  CsvWriter& EndRow();
  // A whole row of text cells.
  CsvWriter& Row(const std::vector<std::string>& cells);

  const std::string& str() const { return out_; }

 private:
  void Separate();
  std::string out_;
  bool row_started_ = false;
};

// One text cell as CsvWriter::Text writes it. Pure function.
std::string CsvTextCell(const std::string& text);

}  // namespace refx::render
