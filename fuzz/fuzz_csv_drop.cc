// libFuzzer target: a file an agency's system drops into the adapter's
// drop folder (adapters/filedrop/drop_file.h). The input is read as FILE.csv
// under one CSV format of the sample adapter configurations
// (deploy/config/adapters/, whose exports deploy/samples/*.csv are), and as
// FILE.jsonl. Every referral handed on must validate and carry the
// adapter's agency; every row is counted good or bad. The CSV reader
// (libcsv) must give the same records whether the file arrives whole or in
// pieces split anywhere.
#include <google/protobuf/text_format.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "adapters/filedrop/csv_reader.h"
#include "adapters/filedrop/drop_file.h"
#include "core/referral_validation.h"
#include "fuzz/fuzz_support.h"
#include "refx/v1/adapter.pb.h"

namespace {

using refx::Status;
namespace v1 = refx::v1;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_csv_drop: %s\n", what);
    std::abort();
  }
}

struct Format {
  std::string agency_id;
  v1::CsvFormat csv;
};

const std::vector<Format>& Formats() {
  static const std::vector<Format> formats = [] {
    std::vector<Format> out;
    for (const char* name : {"kent-police", "sevenoaks-schools", "west-kent-housing"}) {
      v1::AdapterConfig config;
      const std::string text = refx::fuzz::SourceFile(std::string("deploy/config/adapters/") + name + ".textproto");
      Check(google::protobuf::TextFormat::ParseFromString(text, &config), "a sample adapter configuration does not parse");
      for (const v1::CsvFormat& f : config.csv_formats()) out.push_back({config.agency_id(), f});
    }
    Check(!out.empty(), "the sample adapter configurations have no CSV format");
    return out;
  }();
  return formats;
}

// The records of `data`, fed in pieces cut at `cuts` (offsets, ascending);
// the reader's status at the end.
Status Records(const std::string& data, const std::vector<size_t>& cuts, std::vector<std::vector<std::string>>* out) {
  refx::adapters::CsvReader reader(',', [out](int64_t, std::vector<std::string>& fields) {
    out->push_back(fields);
    return Status::OK();
  });
  size_t at = 0;
  for (size_t cut : cuts) {
    REFX_RETURN_IF_ERROR(reader.Feed(data.data() + at, cut - at));
    at = cut;
  }
  REFX_RETURN_IF_ERROR(reader.Feed(data.data() + at, data.size() - at));
  return reader.Finish();
}

void ReadAs(const std::string& path, const Format* format, const std::string& agency_id) {
  refx::adapters::DropReadOptions options;
  options.agency_id = agency_id;
  options.csv_format = format != nullptr ? &format->csv : nullptr;
  options.today = refx::CivilDate::FromDays(20000);
  options.chunk_rows = 3;  // several chunks from a small file
  options.max_json_bytes = 1 << 16;
  options.max_problems = 50;
  int64_t handed = 0;
  refx::adapters::DropReadResult result;
  Status s = refx::adapters::ReadDropFile(
      path, options,
      [&](std::vector<v1::Referral>* chunk) {
        Check(!chunk->empty(), "an empty chunk");
        for (const v1::Referral& r : *chunk) {
          Check(refx::ValidateReferral(r, options.today).ok(), "a referral handed on does not validate");
          Check(r.referrer().agency_id() == agency_id, "a referral handed on names another agency");
        }
        handed += static_cast<int64_t>(chunk->size());
        return Status::OK();
      },
      &result);
  Check(s.ok(), "ReadDropFile failed with a sink that never fails");
  Check(handed == result.rows_good, "rows_good is not what the sink was given");
  Check(result.rows_bad >= 0 && result.problems.size() <= options.max_problems, "problem counts out of range");
  for (const auto& p : result.problems) Check(!p.reason.empty(), "a problem without a reason");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  refx::fuzz::Quiet();
  (void)Formats();
  (void)refx::fuzz::ScratchDir();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  std::vector<std::vector<std::string>> whole, pieces;
  Status one = Records(text, {}, &whole);
  std::vector<size_t> cuts;
  for (size_t i = 1; i < size; i += 1 + (data[i] % 7)) cuts.push_back(i);
  Status many = Records(text, cuts, &pieces);
  Check(one.ok() == many.ok(), "the CSV reader's verdict depends on how the file is split");
  if (one.ok()) Check(whole == pieces, "the CSV reader's records depend on how the file is split");

  const std::string csv = refx::fuzz::ScratchDir() + "/drop.csv";
  refx::fuzz::WriteFile(csv, text);
  // One format per input (each read allocates a 1 MiB buffer, which under
  // ASan costs more than the parse): the one whose reference column the
  // first line names, else one picked by the first byte.
  const std::string first_line = text.substr(0, text.find('\n'));
  const Format* format = &Formats()[size == 0 ? 0 : data[0] % Formats().size()];
  for (const Format& f : Formats()) {
    if (first_line.find(f.csv.reference_column()) != std::string::npos) format = &f;
  }
  ReadAs(csv, format, format->agency_id);
  const std::string jsonl = refx::fuzz::ScratchDir() + "/drop.jsonl";
  refx::fuzz::WriteFile(jsonl, text);
  ReadAs(jsonl, nullptr, Formats().front().agency_id);
  return 0;
}
