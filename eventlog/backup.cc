// Backups through RocksDB's BackupEngine (see backup.h for the contract).
#include "eventlog/backup.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/utilities/backup_engine.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <system_error>

namespace refx::eventlog {

namespace {

namespace fs = std::filesystem;

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  if (s.IsNotFound()) return Status::NotFound(what + ": " + s.ToString());
  return Status::IoError(what + ": " + s.ToString());
}

// The head seq a backup was taken at is kept as its application metadata.
void FillReport(const rocksdb::BackupInfo& info, BackupReport* report) {
  report->backup_id = info.backup_id;
  report->size_bytes = info.size;
  report->file_count = info.number_files;
  report->head_seq = 0;
  try {
    report->head_seq = std::stoull(info.app_metadata);
  } catch (const std::exception&) {
    // A backup made by another tool: the head is unknown (0).
  }
}

// The BackupEngine of `backup_dir` (made there if missing), for writing.
Status OpenEngine(const std::string& backup_dir, std::unique_ptr<rocksdb::BackupEngine>* engine) {
  rocksdb::BackupEngine* raw = nullptr;
  rocksdb::BackupEngineOptions engine_options(backup_dir);
  engine_options.sync = true;  // a backup that is acknowledged, or a deletion, is on disk
  rocksdb::IOStatus s = rocksdb::BackupEngine::Open(engine_options, rocksdb::Env::Default(), &raw);
  if (!s.ok()) return FromRocks(s, "opening backup folder " + backup_dir);
  engine->reset(raw);
  return Status::OK();
}

}  // namespace

Status TakeBackup(EventLog* log, const std::string& backup_dir, BackupReport* report) {
  std::error_code ec;
  fs::create_directories(backup_dir, ec);
  if (ec) return Status::IoError("cannot create backup folder " + backup_dir + ": " + ec.message());

  std::unique_ptr<rocksdb::BackupEngine> engine;
  REFX_RETURN_IF_ERROR(OpenEngine(backup_dir, &engine));

  // Everything up to this head is in the memtables or files the flush writes.
  const uint64_t head = log->head_seq();
  rocksdb::CreateBackupOptions create;
  create.flush_before_backup = true;
  rocksdb::BackupID id = 0;
  rocksdb::IOStatus s = engine->CreateNewBackupWithMetadata(create, log->db_.get(), std::to_string(head), &id);
  if (!s.ok()) return FromRocks(s, "backing up into " + backup_dir);

  s = engine->VerifyBackup(id, /*verify_with_checksum=*/true);
  if (!s.ok()) {
    (void)engine->DeleteBackup(id);
    return Status::Corruption("backup " + std::to_string(id) + " in " + backup_dir +
                              " did not verify and was deleted: " + s.ToString());
  }
  rocksdb::BackupInfo info;
  rocksdb::Status info_status = engine->GetBackupInfo(id, &info);
  if (!info_status.ok()) return FromRocks(info_status, "reading backup info");
  FillReport(info, report);
  report->verified = true;
  return Status::OK();
}

Status RestoreLatestBackup(const std::string& backup_dir, const std::string& data_dir, BackupReport* report) {
  std::error_code ec;
  if (fs::exists(data_dir, ec) && !fs::is_empty(data_dir, ec)) {
    return Status::InvalidArgument("restore target " + data_dir + " is not empty; a restore never overwrites a log");
  }
  if (!fs::is_directory(backup_dir, ec)) return Status::NotFound("no backup folder " + backup_dir);

  rocksdb::BackupEngineReadOnly* raw = nullptr;
  rocksdb::BackupEngineOptions engine_options(backup_dir);
  rocksdb::IOStatus s = rocksdb::BackupEngineReadOnly::Open(engine_options, rocksdb::Env::Default(), &raw);
  if (!s.ok()) return FromRocks(s, "opening backup folder " + backup_dir);
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);

  std::vector<rocksdb::BackupInfo> backups;
  engine->GetBackupInfo(&backups);
  if (backups.empty()) return Status::NotFound("no backup in " + backup_dir);

  s = engine->RestoreDBFromLatestBackup(rocksdb::RestoreOptions(), data_dir, data_dir);
  if (!s.ok()) {
    fs::remove_all(data_dir, ec);
    return FromRocks(s, "restoring " + backup_dir + " into " + data_dir);
  }
  // RestoreDBFromLatestBackup skips corrupt backups: report the one restored,
  // the newest that verifies.
  for (auto it = backups.rbegin(); it != backups.rend(); ++it) {
    if (engine->VerifyBackup(it->backup_id, /*verify_with_checksum=*/false).ok()) {
      FillReport(*it, report);
      report->verified = true;
      break;
    }
  }
  return Status::OK();
}

Status ExpireBackups(const std::string& backup_dir, const BackupExpiry& expiry, ExpiryReport* report) {
  *report = ExpiryReport();
  std::error_code ec;
  if (!fs::is_directory(backup_dir, ec)) return Status::NotFound("no backup folder " + backup_dir);
  std::unique_ptr<rocksdb::BackupEngine> engine;
  REFX_RETURN_IF_ERROR(OpenEngine(backup_dir, &engine));

  std::vector<rocksdb::BackupInfo> backups;
  engine->GetBackupInfo(&backups);
  if (backups.empty()) return Status::NotFound("no backup in " + backup_dir);
  // Newest (highest id: ids only grow) first.
  std::sort(backups.begin(), backups.end(),
            [](const rocksdb::BackupInfo& a, const rocksdb::BackupInfo& b) { return a.backup_id > b.backup_id; });
  rocksdb::IOStatus s;
  for (size_t i = 0; i < backups.size(); ++i) {
    const rocksdb::BackupInfo& b = backups[i];
    const bool too_many = expiry.keep_last > 0 && i >= expiry.keep_last;
    const bool too_old = expiry.cutoff_unix > 0 && b.timestamp < expiry.cutoff_unix;
    if (i == 0 || !(too_many || too_old)) {
      ++report->kept;
      continue;
    }
    s = engine->DeleteBackup(b.backup_id);
    if (!s.ok()) return FromRocks(s, "deleting backup " + std::to_string(b.backup_id) + " in " + backup_dir);
    report->deleted_ids.push_back(b.backup_id);
  }
  std::reverse(report->deleted_ids.begin(), report->deleted_ids.end());
  s = engine->GarbageCollect();
  if (!s.ok()) return FromRocks(s, "removing unreferenced files in " + backup_dir);
  return Status::OK();
}

}  // namespace refx::eventlog
