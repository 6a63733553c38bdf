// How the rows of one CSV export become referrals: a CsvFormat from the
// adapter's configuration (refx.v1.CsvFormat, proto/refx/v1/adapter.proto)
// made ready to map rows. Each mapped column names a Referral field by its
// path in protobuf JSON names ("person.dateOfBirth"; proto names work too);
// the field is set through protobuf reflection, so every scalar field of the
// Referral, and every repeated scalar (crime references, DASH answers), can
// be mapped without code. Cells are converted by the field's type:
//   string  copied (trimmed; must be UTF-8), or, with date_format, read
//           with strptime and written "YYYY-MM-DD" (a format with a time,
//           %H/%M/%T/%R/%I, gives RFC 3339 in London time with its offset);
//   bool    the column's yes_values / no_values, case-insensitive (default
//           yes/y/true/1 and no/n/false/0);
//   enum    enum_values (file value -> value name, case-insensitive), else
//           the value name itself ("HIGH", "high");
//   integer decimal digits.
// An empty cell leaves the field unset. Repeated fields take several values
// from one cell split by `separator`, or one value from each of several
// columns naming the field, in the order listed (a row must then fill all
// of those columns or none: 24 DASH answers, not 23). The reference column
// is required in every row and becomes referrer_reference.
//
// Problems never quote a cell: cells hold personal data.
//
// Thread-safety: Create and BindHeader before use; after that MapRow is
// const and may run on several threads.
#ifndef REFX_ADAPTERS_FILEDROP_CSV_MAPPING_H_
#define REFX_ADAPTERS_FILEDROP_CSV_MAPPING_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "refx/v1/adapter.pb.h"
#include "refx/v1/referral.pb.h"

namespace google::protobuf {
class FieldDescriptor;
class Descriptor;
}  // namespace google::protobuf

namespace refx::adapters {

// One problem with one row of a dropped file (or with the whole file).
struct RowProblem {
  int64_t row = 0;     // CSV: spreadsheet row (header = 1); JSONL: line; 0: the whole file
  std::string column;  // the CSV column(s) concerned, "" when none
  std::string field;   // the referral field, protobuf JSON names ("person.dateOfBirth"), "" when none
  std::string reason;  // what is wrong, never quoting the data
};

class CsvMapping {
 public:
  // Checks `format` and prepares it. InvalidArgument naming every mistake
  // ("columns[2] (DOB): field person.dateOfBrith: no such field"): no name
  // or reference column, a field path that is not a scalar field of the
  // Referral, date_format on a non-string field, yes/no words on a
  // non-bool, enum_values on a non-enum or naming an unknown value, two
  // columns setting one singular field, defaults_textproto that does not
  // parse, a delimiter longer than one character. On success *mapping owns
  // the prepared mapping.
  static Status Create(const v1::CsvFormat& format, std::unique_ptr<CsvMapping>* mapping);

  ~CsvMapping();

  const v1::CsvFormat& format() const { return format_; }
  char delimiter() const { return delimiter_; }

  // Finds each mapped column (and the reference column) in the file's
  // header row, matching names exactly after trimming. InvalidArgument
  // listing every column the header lacks; columns the mapping does not
  // name are ignored.
  Status BindHeader(const std::vector<std::string>& header);

  // Builds the referral of one row (after BindHeader): the defaults, then
  // each mapped cell. Appends one problem per bad cell (row left 0 for the
  // caller to fill) and returns false when there were any.
  bool MapRow(const std::vector<std::string>& cells, v1::Referral* referral, std::vector<RowProblem>* problems) const;

  // The column(s) whose cells set the field at `proto_path` (proto names,
  // without "referral.": "person.date_of_birth"), joined by ", "; "" when
  // no column does (the field came from the defaults or is missing).
  std::string ColumnsFor(const std::string& proto_path) const;

 private:
  struct Column;
  CsvMapping() = default;

  v1::CsvFormat format_;
  char delimiter_ = ',';
  v1::Referral defaults_;
  std::vector<Column> columns_;
  // The distinct message paths (a column's path without its leaf) the
  // columns set fields in (an empty path: the referral itself).
  std::vector<std::vector<const google::protobuf::FieldDescriptor*>> parents_;
  size_t header_size_ = 0;
  int reference_index_ = -1;
  std::map<std::string, std::vector<size_t>> columns_by_field_;  // proto path -> columns_ indices
};

// The path `proto_path` (proto names, "person.date_of_birth", optionally
// starting "referral.") in protobuf JSON names ("person.dateOfBirth");
// segments it cannot resolve are kept as they are.
std::string JsonPathOf(const std::string& proto_path);

// Whether `text` is well-formed UTF-8 (protobuf refuses strings that are not).
bool IsUtf8(const std::string& text);

}  // namespace refx::adapters

#endif  // REFX_ADAPTERS_FILEDROP_CSV_MAPPING_H_
