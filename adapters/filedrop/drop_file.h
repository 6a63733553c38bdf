// Reads one file taken from a drop folder into validated referrals, handed
// over in chunks, and a list of the rows refused and why.
//
// By name: FILE.json holds one referral, FILE.jsonl one referral per line
// (blank lines skipped), FILE.csv a header row and one referral per row,
// mapped by the folder's CsvFormat (adapters/filedrop/csv_mapping.h).
// Every referral then gets the adapter's agency as referrer.agencyId when it
// names none (and is refused when it names another), and is checked with
// core/referral_validation.h, which names every bad field at once. A
// reference used twice in one file with different contents is refused the
// second time (the broker would refuse it: the reference is the idempotency
// key); the same row twice is one referral and is not a problem.
//
// Thread-safety: pure function over its arguments; callers on different
// threads need different sinks.
#ifndef REFX_ADAPTERS_FILEDROP_DROP_FILE_H_
#define REFX_ADAPTERS_FILEDROP_DROP_FILE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "adapters/filedrop/csv_mapping.h"
#include "adapters/spool/spool.h"
#include "core/civil_date.h"
#include "core/status.h"
#include "refx/v1/adapter.pb.h"
#include "refx/v1/referral.pb.h"

namespace refx::adapters {

// What kind of file a drop folder takes, by name; kNone for every other
// name (hidden files, files being written under a temporary name, ...).
enum class DropKind { kNone, kJson, kJsonl, kCsv };
DropKind DropKindOf(const std::string& file_name);

struct DropReadOptions {
  std::string agency_id;                   // the adapter's agency
  const v1::CsvFormat* csv_format = nullptr;  // for .csv; nullptr: .csv files are refused
  CivilDate today;                         // validation's "today" (London date)
  size_t chunk_rows = 4096;                // referrals per chunk handed to the sink
  size_t max_json_bytes = 1 << 20;         // a .json file, or one .jsonl line
  size_t max_problems = 100000;            // problems kept; the rest are counted
};

struct DropReadResult {
  int64_t rows_good = 0;     // referrals handed to the sink
  int64_t rows_bad = 0;      // rows refused
  // Set when the file as a whole cannot be read (cannot open it, a .json
  // that is not JSON, a CSV header without the mapped columns, malformed
  // CSV, no CSV format): the reason. Rows before a CSV parse error that
  // were good have gone to the sink.
  std::string unreadable;
  std::vector<RowProblem> problems;  // the first max_problems, in file order
  int64_t problems_not_listed = 0;
};

// Receives a chunk of good referrals (never empty). Returning an error
// stops the read: ReadDropFile returns that error.
using ChunkSink = std::function<Status(std::vector<v1::Referral>* chunk)>;
// The same for a chunk of referrals already serialised (as the file drop
// hands them to Spool::AppendEncoded: each row is serialised once).
using EncodedChunkSink = std::function<Status(std::vector<EncodedReferral>* chunk)>;

// Reads `path` (its kind from its name), calling `sink` with each full
// chunk and with the last, partial one. OK when the file was read to its
// end or found unreadable (see result->unreadable); the sink's error
// otherwise, when the caller must keep the file to try again.
Status ReadDropFile(const std::string& path, const DropReadOptions& options, const ChunkSink& sink,
                    DropReadResult* result);
// ReadDropFile handing over serialised referrals.
Status ReadDropFileEncoded(const std::string& path, const DropReadOptions& options, const EncodedChunkSink& sink,
                           DropReadResult* result);

}  // namespace refx::adapters

#endif  // REFX_ADAPTERS_FILEDROP_DROP_FILE_H_
