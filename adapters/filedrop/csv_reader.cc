#include "adapters/filedrop/csv_reader.h"

#include <csv.h>

#include <cstring>
#include <string_view>

namespace refx::adapters {
namespace {
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
}  // namespace

CsvReader::CsvReader(char delimiter, RecordFn on_record)
    : parser_(new csv_parser), on_record_(std::move(on_record)) {
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
    if (csv_parse(parser_, rest.data(), rest.size(), OnField, OnRecordEnd, this) != rest.size()) {
      if (stopped_.ok()) stopped_ = ParseError();
    }
    return stopped_;
  }
  if (csv_parse(parser_, data, size, OnField, OnRecordEnd, this) != size) {
    if (stopped_.ok()) stopped_ = ParseError();
  }
  return stopped_;
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
