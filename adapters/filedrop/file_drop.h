// The drop folder watcher: takes the .json, .jsonl and .csv files placed
// directly in an agency's inbound folder, spools their good referrals and
// files each one away.
//
// When a file is taken. Never while it may still be written: at once when
// it was renamed into the folder (inotify IN_MOVED_TO: the writer's
// "write elsewhere, then rename" is the safe way to drop a file), otherwise
// once its size, mtime and inode have not changed for stable_seconds of
// watching. Hidden files and other names (x.csv.part, x.tmp) are left alone.
//
// What happens to it (adapters/README.md says it for operators):
//   * its good rows are spooled with Spool::Append in chunks of chunk_rows
//     (one fsync per chunk, not per row) under the source "file:NAME";
//   * every row good: the file moves to done/ (its mtime set to the time it
//     was taken; done/ is emptied of files older than done_retention_days);
//   * some rows bad: the good rows still go through, the file moves to
//     rejected/ and rejected/NAME.report.txt beside it names the file, each
//     bad row, its column, field and reason. The file stays whole, so that
//     a person can correct the bad rows and `refx adapter retry` it: rows
//     spooled before land once, because the broker's idempotency key is the
//     agency with its reference;
//   * unreadable as a whole (not JSON, a CSV header without the mapped
//     columns, malformed CSV, no CSV format for the folder): rejected/ with
//     the reason in its report (and the good rows before a CSV parse error
//     spooled);
//   * the spool fails (disk full): the file stays where it is and is tried
//     again on a later scan; rows already spooled land once;
//   * spooled but the move fails: the next pass retries only the move
//     (while the file is unchanged), so a stuck file is not spooled again
//     and again.
// A name already used in done/ or rejected/ gets "~2", "~3", ... before the
// extension. A crash at any point loses nothing: a file not yet moved is
// read again and its rows re-spooled, which the idempotency key makes safe.
//
// Thread-safety: ScanOnce is for one thread at a time (the watcher's own
// thread after Start, or a test); Figures may be called from any thread.
#ifndef REFX_ADAPTERS_FILEDROP_FILE_DROP_H_
#define REFX_ADAPTERS_FILEDROP_FILE_DROP_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "adapters/filedrop/drop_file.h"
#include "adapters/spool/spool.h"
#include "core/status.h"
#include "refx/v1/adapter.pb.h"

namespace refx::adapters {

struct FileDropOptions {
  std::string agency_id;  // the adapter's agency: referrer.agencyId of every referral
  v1::FileDrop drop;      // folder, stable_seconds (default 2), done_retention_days (default 30)
  // The CsvFormat drop.csv_format names; unset: .csv files are rejected.
  std::optional<v1::CsvFormat> csv_format;
  size_t chunk_rows = 4096;  // referrals per Spool::Append
  // The clock (tests move it by hand); default the system clock.
  std::function<std::chrono::system_clock::time_point()> now;
  // How often the watcher's thread scans when no inotify event wakes it.
  std::chrono::milliseconds poll_interval{1000};
  // Called after each successful Spool::Append (the adapter wakes its
  // forwarder); may be empty.
  std::function<void()> on_spooled;
};

// What became of one file, as ScanOnce reports it.
struct FileOutcome {
  std::string name;        // the file's name in the drop folder
  std::string moved_to;    // "done/NAME" or "rejected/NAME" (relative to the folder)
  bool rejected = false;
  int64_t rows_spooled = 0;
  int64_t rows_rejected = 0;
  std::string unreadable;  // why the whole file was refused, or ""
};

// Counters for /metrics (since the process started).
struct FileDropFigures {
  uint64_t files_done = 0;
  uint64_t files_rejected = 0;
  uint64_t rows_spooled = 0;
  uint64_t rows_rejected = 0;
  uint64_t spool_failures = 0;   // scans that left a file in place because Append failed
  uint64_t files_waiting = 0;    // files seen and not yet taken (being written, or stable time not passed)
};

class FileDrop {
 public:
  // Creates the folder, done/ and rejected/ if missing and starts watching
  // for renames into the folder. `spool` must outlive the FileDrop.
  // InvalidArgument when the csv_format is wrong (CsvMapping::Create says
  // every mistake); IOError when a folder cannot be made or watched.
  static Status Open(FileDropOptions options, Spool* spool, std::unique_ptr<FileDrop>* drop);

  ~FileDrop();  // stops the thread if started

  // One pass: takes every file that is ready, oldest first, and appends
  // what became of each to *outcomes (may be nullptr); empties done/ of
  // expired files. OK unless the spool failed (the file concerned stays for
  // the next pass) or a file could not be moved (IOError).
  Status ScanOnce(std::vector<FileOutcome>* outcomes);

  // Runs ScanOnce on a thread of its own, woken by renames into the folder
  // and every poll_interval, until Stop. Errors are logged (file names and
  // counts, never the contents) and retried on the next pass.
  void Start();
  void Stop();

  FileDropFigures Figures() const;

  const std::string& folder() const { return options_.drop.folder(); }

 private:
  struct Sighting {
    int64_t size;
    int64_t mtime_ns;
    uint64_t inode;
    std::chrono::system_clock::time_point since;  // when first seen like this
  };

  // A file read and spooled whose move failed (the folder full, done/
  // gone): the next pass only moves it, while it stays the same file.
  struct ReadNotMoved {
    int64_t size;
    int64_t mtime_ns;
    uint64_t inode;
    DropReadResult result;
    std::chrono::system_clock::time_point taken;
  };

  FileDrop(FileDropOptions options, Spool* spool);
  void DrainEvents();
  Status Take(const std::string& name, FileOutcome* outcome);
  void ExpireDone();
  std::chrono::system_clock::time_point Now() const;

  FileDropOptions options_;
  Spool* spool_;
  int inotify_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Stop wakes the thread
  std::set<std::string> renamed_in_;           // names moved into the folder, not written since
  std::map<std::string, Sighting> sightings_;  // names seen, for the stability check
  std::map<std::string, ReadNotMoved> read_not_moved_;
  std::chrono::system_clock::time_point last_expiry_{};
  std::thread thread_;
  std::atomic<bool> stop_{false};

  std::atomic<uint64_t> files_done_{0}, files_rejected_{0}, rows_spooled_{0}, rows_rejected_{0},
      spool_failures_{0}, files_waiting_{0};
};

// `refx adapter retry FILE`: moves FILE, a file in a drop folder's
// rejected/, back into that drop folder under the same name, so that the
// adapter takes it again (at once if it runs: a rename into the folder),
// and removes its old report. On success *moved_to is the new path.
// NotFound when FILE does not exist; InvalidArgument when it is not in a
// folder named rejected/, is a report, or the drop folder already holds a
// file of that name (nothing is overwritten); IOError otherwise.
Status RetryRejectedFile(const std::string& file, std::string* moved_to);

}  // namespace refx::adapters

#endif  // REFX_ADAPTERS_FILEDROP_FILE_DROP_H_
