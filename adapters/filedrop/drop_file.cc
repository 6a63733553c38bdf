#include "adapters/filedrop/drop_file.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <memory>
#include <unordered_map>

#include "adapters/filedrop/csv_reader.h"
#include "core/json.h"
#include "core/referral_validation.h"

namespace refx::adapters {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Checks and hands over the referrals of one file, row by row.
class Admitter {
 public:
  // Exactly one of `sink` and `encoded_sink` is set.
  Admitter(const DropReadOptions& options, const ChunkSink* sink, const EncodedChunkSink* encoded_sink,
           DropReadResult* result)
      : options_(options), sink_(sink), encoded_sink_(encoded_sink), result_(result) {}

  void set_mapping(const CsvMapping* mapping) { mapping_ = mapping; }

  void Problem(int64_t row, std::string column, std::string field, std::string reason) {
    if (result_->problems.size() >= options_.max_problems) {
      ++result_->problems_not_listed;
      return;
    }
    result_->problems.push_back({row, std::move(column), std::move(field), std::move(reason)});
  }

  // A row that could not become a referral.
  void Refuse(int64_t row, std::vector<RowProblem>* problems) {
    ++result_->rows_bad;
    for (auto& p : *problems) Problem(row, std::move(p.column), std::move(p.field), std::move(p.reason));
    problems->clear();
  }

  // A referral read from `row`: checked, then queued for the sink.
  Status Admit(int64_t row, v1::Referral&& referral) {
    std::vector<RowProblem> problems;
    auto* referrer = referral.mutable_referrer();
    if (referrer->agency_id().empty()) {
      referrer->set_agency_id(options_.agency_id);
    } else if (referrer->agency_id() != options_.agency_id) {
      problems.push_back({row, Column("referrer.agency_id"), "referrer.agencyId",
                          "names another agency than this adapter's (" + options_.agency_id + ")"});
    }
    Status valid = ValidateReferral(referral, options_.today);
    for (const FieldViolation& v : valid.violations()) {
      problems.push_back({row, Column(v.field_path), JsonPathOf(v.field_path), v.message});
    }
    std::string bytes;
    if (problems.empty()) {
      const std::string& reference = referral.referrer_reference();
      referral.SerializeToString(&bytes);
      const size_t content = std::hash<std::string>()(bytes);
      auto [it, fresh] = seen_.try_emplace(std::hash<std::string>()(reference), Seen{row, content});
      if (!fresh) {
        if (it->second.content == content) return Status::OK();  // the same referral again: lands once
        problems.push_back({row, Column("referrer_reference"), "referrerReference",
                            "row " + std::to_string(it->second.row) +
                                " has the same reference with different contents (a reference is one referral)"});
      }
    }
    if (!problems.empty()) {
      Refuse(row, &problems);
      return Status::OK();
    }
    ++result_->rows_good;
    if (encoded_sink_ != nullptr) {
      encoded_chunk_.push_back({referral.referrer_reference(), std::move(bytes)});
    } else {
      chunk_.push_back(std::move(referral));
    }
    if (chunk_.size() + encoded_chunk_.size() >= options_.chunk_rows) return Flush();
    return Status::OK();
  }

  Status Flush() {
    if (chunk_.empty() && encoded_chunk_.empty()) return Status::OK();
    Status s = encoded_sink_ != nullptr ? (*encoded_sink_)(&encoded_chunk_) : (*sink_)(&chunk_);
    chunk_.clear();
    encoded_chunk_.clear();
    return s;
  }

 private:
  struct Seen {
    int64_t row;
    size_t content;
  };
  std::string Column(const std::string& proto_path) const {
    return mapping_ ? mapping_->ColumnsFor(proto_path) : "";
  }

  const DropReadOptions& options_;
  const ChunkSink* sink_;
  const EncodedChunkSink* encoded_sink_;
  DropReadResult* result_;
  const CsvMapping* mapping_ = nullptr;
  std::vector<v1::Referral> chunk_;
  std::vector<EncodedReferral> encoded_chunk_;
  std::unordered_map<size_t, Seen> seen_;  // reference hash -> first row and content hash
};

Status ReadJson(const std::string& path, const DropReadOptions& options, Admitter* admitter, DropReadResult* result) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    result->unreadable = "cannot read the file";
    return Status::OK();
  }
  if (static_cast<size_t>(st.st_size) > options.max_json_bytes) {
    result->unreadable = "larger than " + std::to_string(options.max_json_bytes) + " bytes: one referral per .json file";
    return Status::OK();
  }
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) {
    result->unreadable = "cannot read the file";
    return Status::OK();
  }
  v1::Referral referral;
  Status parsed = MessageFromJson(text, &referral);
  if (!parsed.ok()) {
    result->unreadable = parsed.message();
    return Status::OK();
  }
  REFX_RETURN_IF_ERROR(admitter->Admit(1, std::move(referral)));
  return admitter->Flush();
}

Status ReadJsonl(const std::string& path, const DropReadOptions& options, Admitter* admitter,
                 DropReadResult* result) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    result->unreadable = "cannot read the file";
    return Status::OK();
  }
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::vector<RowProblem> problems;
    v1::Referral referral;
    Status parsed = line.size() > options.max_json_bytes
                        ? Status::InvalidArgument("longer than " + std::to_string(options.max_json_bytes) + " bytes")
                        : MessageFromJson(line, &referral);
    if (!parsed.ok()) {
      problems.push_back({number, "", "", parsed.message()});
      admitter->Refuse(number, &problems);
      continue;
    }
    REFX_RETURN_IF_ERROR(admitter->Admit(number, std::move(referral)));
  }
  if (in.bad()) result->unreadable = "the read failed part-way; the lines before were taken";
  return admitter->Flush();
}

Status ReadCsv(const std::string& path, const DropReadOptions& options, Admitter* admitter, DropReadResult* result) {
  if (options.csv_format == nullptr) {
    result->unreadable = "this drop folder has no csv_format in the adapter's configuration";
    return Status::OK();
  }
  std::unique_ptr<CsvMapping> mapping;
  Status made = CsvMapping::Create(*options.csv_format, &mapping);
  if (!made.ok()) {
    result->unreadable = "the CSV format is wrong: " + made.message();
    return Status::OK();
  }
  admitter->set_mapping(mapping.get());
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    result->unreadable = "cannot read the file";
    return Status::OK();
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(file, std::fclose);
  // Stops the reader without being a problem of the file: the sink failed.
  Status sink_error;
  bool header_bad = false;
  std::vector<RowProblem> problems;
  v1::Referral referral;
  CsvReader reader(mapping->delimiter(), [&](int64_t row, std::vector<std::string>& fields) -> Status {
    if (row == 1) {
      Status bound = mapping->BindHeader(fields);
      if (!bound.ok()) {
        header_bad = true;
        std::string missing;
        for (const auto& v : bound.violations()) missing += (missing.empty() ? "" : ", ") + v.field_path.substr(7);
        result->unreadable = "the header row lacks the column(s) " + missing + " that format " +
                             mapping->format().name() + " maps";
        return bound;
      }
      return Status::OK();
    }
    if (!mapping->MapRow(fields, &referral, &problems)) {
      admitter->Refuse(row, &problems);
      return Status::OK();
    }
    Status s = admitter->Admit(row, std::move(referral));
    if (!s.ok()) sink_error = s;
    return s;
  });
  std::vector<char> buffer(1 << 20);
  Status read;
  for (;;) {
    const size_t n = std::fread(buffer.data(), 1, buffer.size(), file);
    if (n > 0) {
      read = reader.Feed(buffer.data(), n);
      if (!read.ok()) break;
    }
    if (n < buffer.size()) {
      if (std::ferror(file)) {
        result->unreadable = "the read failed part-way; the rows before were taken";
        break;
      }
      read = reader.Finish();
      break;
    }
  }
  if (!sink_error.ok()) return sink_error;
  if (!read.ok() && !header_bad) result->unreadable = read.message();
  if (reader.rows() == 0 && result->unreadable.empty()) result->unreadable = "empty: no header row";
  return admitter->Flush();
}

}  // namespace

DropKind DropKindOf(const std::string& file_name) {
  if (file_name.empty() || file_name[0] == '.') return DropKind::kNone;
  std::string lower = file_name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (EndsWith(lower, ".json")) return DropKind::kJson;
  if (EndsWith(lower, ".jsonl")) return DropKind::kJsonl;
  if (EndsWith(lower, ".csv")) return DropKind::kCsv;
  return DropKind::kNone;
}

namespace {

Status ReadWith(const std::string& path, const DropReadOptions& options, Admitter* admitter, DropReadResult* result) {
  const std::string name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  switch (DropKindOf(name)) {
    case DropKind::kJson:
      return ReadJson(path, options, admitter, result);
    case DropKind::kJsonl:
      return ReadJsonl(path, options, admitter, result);
    case DropKind::kCsv:
      return ReadCsv(path, options, admitter, result);
    case DropKind::kNone:
      break;
  }
  result->unreadable = "not a .json, .jsonl or .csv file";
  return Status::OK();
}

}  // namespace

Status ReadDropFile(const std::string& path, const DropReadOptions& options, const ChunkSink& sink,
                    DropReadResult* result) {
  *result = DropReadResult();
  Admitter admitter(options, &sink, nullptr, result);
  return ReadWith(path, options, &admitter, result);
}

Status ReadDropFileEncoded(const std::string& path, const DropReadOptions& options, const EncodedChunkSink& sink,
                           DropReadResult* result) {
  *result = DropReadResult();
  Admitter admitter(options, nullptr, &sink, result);
  return ReadWith(path, options, &admitter, result);
}

}  // namespace refx::adapters
