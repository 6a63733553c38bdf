// An RFC 4180 CSV reader over libcsv (Debian's libcsv-dev): quoted fields
// may hold the delimiter, doubled quotes and line breaks; CRLF or LF ends a
// record; blank lines are skipped; a UTF-8 byte-order mark at the start is
// dropped. Strict: a quote inside an unquoted field, text after a closing
// quote or an unclosed quote at the end is a parse error, never guessed at.
//
// Records are numbered as a spreadsheet numbers rows: the first record (the
// header, for the file drop) is row 1.
//
// Plain lines (no quote inside a field, no line break inside quotes) are
// split without libcsv's per-byte state machine, into the same fields;
// libcsv reads the rest.
//
// Not thread-safe: one reader per file, used by one thread.
#ifndef REFX_ADAPTERS_FILEDROP_CSV_READER_H_
#define REFX_ADAPTERS_FILEDROP_CSV_READER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

struct csv_parser;

namespace refx::adapters {

class CsvReader {
 public:
  // Called once per record with its row number and fields. Returning a
  // non-OK status stops the reader: Feed and Finish then return it.
  using RecordFn = std::function<Status(int64_t row, std::vector<std::string>& fields)>;

  CsvReader(char delimiter, RecordFn on_record);
  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Parses the next `size` bytes of the file, calling on_record for each
  // record they complete. InvalidArgument naming the row on malformed CSV,
  // or the callback's error; after an error the reader takes no more input.
  Status Feed(const char* data, size_t size);

  // Ends the input: the last record (with or without a final line break) is
  // delivered. InvalidArgument when a quoted field was never closed.
  Status Finish();

  // Rows delivered so far.
  int64_t rows() const { return row_; }

 private:
  static void OnField(void* data, size_t size, void* self);
  static void OnRecordEnd(int terminator, void* self);
  Status ParseError() const;
  // Feeds `data` line by line: SplitPlainLine, else libcsv.
  Status Parse(const char* data, size_t size);
  // Delivers [line, newline) as a record when libcsv is between records and
  // the line is plain (a delimiter, no lone CR, fields unquoted or quoted
  // without quotes or edge spaces inside); false, nothing delivered, otherwise.
  bool SplitPlainLine(const char* line, const char* newline);

  csv_parser* parser_;
  RecordFn on_record_;
  char delimiter_;
  std::vector<std::pair<const char*, size_t>> spans_;  // a plain line's fields
  std::vector<std::string> fields_;  // the record's fields; [0, used_) filled so far
  size_t used_ = 0;
  int64_t row_ = 0;
  bool at_start_ = true;
  std::string bom_prefix_;  // bytes held back while a BOM may be starting
  Status stopped_;          // the first error; nothing is read after it
};

}  // namespace refx::adapters

#endif  // REFX_ADAPTERS_FILEDROP_CSV_READER_H_
