#include "adapters/filedrop/csv_reader.h"

#include <csv.h>

#include <cstring>
#include <string_view>

namespace refx::adapters {
namespace {
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
}  // namespace

CsvReader::CsvReader(char delimiter, RecordFn on_record)
    : parser_(new csv_parser), on_record_(std::move(on_record)), delimiter_(delimiter) {
  // CSV_STRICT: malformed quoting is an error; CSV_STRICT_FINI: so is a
  // quoted field left open at the end of the file.
  if (csv_init(parser_, CSV_STRICT | CSV_STRICT_FINI) != 0) {
    stopped_ = Status::Internal("cannot start the CSV parser (out of memory)");
  }
  csv_set_delim(parser_, static_cast<unsigned char>(delimiter));
}

CsvReader::~CsvReader() {
  csv_free(parser_);
  delete parser_;
}

void CsvReader::OnField(void* data, size_t size, void* self) {
  auto* reader = static_cast<CsvReader*>(self);
  // The strings of earlier records are reused (assign keeps their capacity):
  // no allocation per cell once the first rows have been read.
  if (reader->used_ < reader->fields_.size()) {
    reader->fields_[reader->used_].assign(static_cast<const char*>(data), size);
  } else {
    reader->fields_.emplace_back(static_cast<const char*>(data), size);
  }
  ++reader->used_;
}

void CsvReader::OnRecordEnd(int /*terminator*/, void* self) {
  auto* reader = static_cast<CsvReader*>(self);
  const size_t used = reader->used_;
  reader->used_ = 0;
  if (!reader->stopped_.ok()) return;
  // A record shorter than an earlier one: the callback sees its own fields only.
  if (reader->fields_.size() > used) reader->fields_.resize(used);
  ++reader->row_;
  Status status = reader->on_record_(reader->row_, reader->fields_);
  if (!status.ok()) reader->stopped_ = status;
}

Status CsvReader::ParseError() const {
  return Status::InvalidArgument("row " + std::to_string(row_ + 1) +
                                 ": malformed CSV (a quote inside an unquoted field, text after a closing quote, "
                                 "or a quoted field never closed); nothing from this row on was read");
}

bool CsvReader::SplitPlainLine(const char* line, const char* newline) {
  // libcsv's state between records is ROW_NOT_BEGUN (0, as csv_init leaves it).
  if (parser_->pstate != 0 || used_ != 0 || delimiter_ == ' ' || delimiter_ == '\t' || delimiter_ == '"') return false;
  const char* end = newline;
  if (end > line && end[-1] == '\r') --end;
  // A lone CR (libcsv ends a record there) and lines without a delimiter
  // (blank or spaces only: libcsv skips them) go to libcsv.
  if (std::memchr(line, '\r', end - line) != nullptr || std::memchr(line, delimiter_, end - line) == nullptr) {
    return false;
  }
  auto space = [](char c) { return c == ' ' || c == '\t'; };
  spans_.clear();
  for (const char* field = line;;) {
    const char* field_end;
    if (field < end && *field == '"') {
      // Quoted: only the plain form, "text" with no quote inside, no space
      // or tab at either end inside, and the delimiter or the line's end
      // right after; doubled quotes, spaces around the quotes and the rest
      // go to libcsv.
      const char* close = static_cast<const char*>(std::memchr(field + 1, '"', end - field - 1));
      if (close == nullptr) return false;
      field_end = close + 1;
      if (field_end != end && *field_end != delimiter_) return false;
      const size_t size = close - field - 1;
      if (size > 0 && (space(field[1]) || space(close[-1]))) return false;
      spans_.emplace_back(field + 1, size);
    } else {
      // Unquoted: without its leading and trailing spaces and tabs, as libcsv
      // gives it; a quote inside is libcsv's to refuse.
      const char* next = static_cast<const char*>(std::memchr(field, delimiter_, end - field));
      field_end = next != nullptr ? next : end;
      if (std::memchr(field, '"', field_end - field) != nullptr) return false;
      const char* a = field;
      const char* b = field_end;
      while (a < b && space(*a)) ++a;
      while (b > a && space(b[-1])) --b;
      spans_.emplace_back(a, b - a);
    }
    if (field_end == end) break;
    field = field_end + 1;
  }
  for (const auto& [data, size] : spans_) OnField(const_cast<char*>(data), size, this);
  OnRecordEnd('\n', this);
  return true;
}

Status CsvReader::Parse(const char* data, size_t size) {
  const char* at = data;
  const char* const end = data + size;
  while (at < end && stopped_.ok()) {
    const char* newline = static_cast<const char*>(std::memchr(at, '\n', end - at));
    const char* next = newline != nullptr ? newline + 1 : end;
    // A whole line without quotes at a record boundary is split here: the
    // same fields libcsv gives, without its per-byte state machine and a
    // call per byte. Anything else, and a line cut by the end of `data`,
    // goes through libcsv.
    if (newline != nullptr && SplitPlainLine(at, newline)) {
      at = next;
      continue;
    }
    if (csv_parse(parser_, at, next - at, OnField, OnRecordEnd, this) != static_cast<size_t>(next - at)) {
      if (stopped_.ok()) stopped_ = ParseError();
      break;
    }
    at = next;
  }
  return stopped_;
}

Status CsvReader::Feed(const char* data, size_t size) {
  if (!stopped_.ok()) return stopped_;
  if (at_start_) {
    // Hold back the first bytes until we know whether they are a BOM.
    bom_prefix_.append(data, size);
    if (bom_prefix_.size() < kUtf8Bom.size() && kUtf8Bom.substr(0, bom_prefix_.size()) == bom_prefix_) {
      return Status::OK();
    }
    at_start_ = false;
    std::string first;
    first.swap(bom_prefix_);
    std::string_view rest = first;
    if (rest.substr(0, kUtf8Bom.size()) == kUtf8Bom) rest.remove_prefix(kUtf8Bom.size());
    if (rest.empty()) return Status::OK();
    return Parse(rest.data(), rest.size());
  }
  return Parse(data, size);
}

Status CsvReader::Finish() {
  if (!stopped_.ok()) return stopped_;
  if (at_start_ && !bom_prefix_.empty()) {
    // Fewer bytes than a BOM in the whole file: they are data.
    at_start_ = false;
    std::string first;
    first.swap(bom_prefix_);
    if (first != kUtf8Bom.substr(0, first.size()) &&
        csv_parse(parser_, first.data(), first.size(), OnField, OnRecordEnd, this) != first.size()) {
      if (stopped_.ok()) stopped_ = ParseError();
      return stopped_;
    }
  }
  if (csv_fini(parser_, OnField, OnRecordEnd, this) != 0) {
    if (stopped_.ok()) stopped_ = ParseError();
  }
  return stopped_;
}

}  // namespace refx::adapters
