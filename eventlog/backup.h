// Backups of the event log with RocksDB's BackupEngine, and restoring them.
//
// A backup folder holds any number of backups (BackupEngine's layout: meta/,
// private/, shared_checksum/); files shared between backups are stored once.
// A backup is consistent: it is taken from the live database after a flush,
// so it holds every event, index entry, case state and checkpoint up to the
// head at that moment and nothing half-written.
//
// Thread-safety: TakeBackup may run on any thread while the log's writer
// keeps appending (BackupEngine reads a consistent set of live files); only
// one backup into the same folder at a time. RestoreLatestBackup works on
// folders no process has open.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "eventlog/event_log.h"

namespace refx::eventlog {

struct BackupReport {
  uint32_t backup_id = 0;
  uint64_t head_seq = 0;    // the log's head when the backup began: all of it is in the backup
  uint64_t size_bytes = 0;  // bytes of the backup (files shared with earlier backups included)
  uint32_t file_count = 0;
  bool verified = false;    // every file's size and checksum checked after writing
};

// Which backups ExpireBackups deletes: every backup taken before
// `cutoff_unix` (seconds since the epoch; 0: no age limit) and every backup
// beyond the `keep_last` newest (0: no count limit). The newest backup is
// never deleted, whatever the limits say.
struct BackupExpiry {
  int64_t cutoff_unix = 0;
  uint32_t keep_last = 0;
};

struct ExpiryReport {
  std::vector<uint32_t> deleted_ids;  // oldest first
  uint32_t kept = 0;                  // backups left in the folder
};

// Takes a new backup of `log` into `backup_dir` (created if missing), then
// verifies it (sizes and checksums). On success fills *report. IoError or
// Corruption with RocksDB's message otherwise; a backup that fails to verify
// is deleted again and reported as Corruption.
Status TakeBackup(EventLog* log, const std::string& backup_dir, BackupReport* report);

// Restores the latest backup in `backup_dir` into `data_dir`, which must not
// exist or be empty (a restore never overwrites a log). Checks the backup's
// checksums while copying. On success the folder can be opened with
// EventLog::Open or checked with `refx audit verify --db`. InvalidArgument if
// data_dir holds files, NotFound if there is no backup, IoError/Corruption
// otherwise (a half-restored data_dir is removed again).
Status RestoreLatestBackup(const std::string& backup_dir, const std::string& data_dir, BackupReport* report);

// Deletes the backups in `backup_dir` that `expiry` says have expired
// (BackupEngine's DeleteBackup: each backup's private files, and every
// shared file no remaining backup uses, leave the disk), then removes files
// a crashed backup left behind. On success fills *report. NotFound if the
// folder holds no backup; IoError/Corruption otherwise (backups deleted
// before the error stay deleted and are listed in *report). Must not run
// while a backup is written into the same folder.
Status ExpireBackups(const std::string& backup_dir, const BackupExpiry& expiry, ExpiryReport* report);

}  // namespace refx::eventlog
