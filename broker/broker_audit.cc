// Audit duties of the broker: recording audit reads as record_accessed
// events, serving signed checkpoints, signing the head on a schedule, and
// taking backups on a worker thread (see broker.h).
#include <google/protobuf/util/time_util.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "broker/broker.h"
#include "broker/group_commit.h"
#include "broker/ledger.h"
#include "broker/read_session.h"
#include "broker/waiter.h"
#include "core/frame_codec.h"

namespace refx::broker {

namespace {
constexpr size_t kMaxPurposeBytes = 500;
using Clock = std::chrono::steady_clock;
}  // namespace

bool Broker::IsAuditedReader(const v1::Agency& actor, const v1::StaffMember* person, const std::string& purpose) const {
  if (person != nullptr && !purpose.empty()) return true;
  return PartnershipConfig::HasRole(actor, v1::AUDITOR) && !PartnershipConfig::HasRole(actor, v1::SERVICE);
}

bool Broker::CheckAuditPurpose(const std::string& purpose, const Waiter& waiter) {
  const bool blank = std::all_of(purpose.begin(), purpose.end(), [](unsigned char c) { return std::isspace(c); });
  if (blank) {
    ReplyError(waiter, Status::InvalidArgument("an audit read needs a purpose (why you are reading); it is recorded "
                                               "with the read",
                                               "purpose"));
    return false;
  }
  if (purpose.size() > kMaxPurposeBytes ||
      std::any_of(purpose.begin(), purpose.end(), [](unsigned char c) { return c < 0x20; })) {
    ReplyError(waiter, Status::InvalidArgument("purpose must be one line of at most " +
                                                   std::to_string(kMaxPurposeBytes) + " bytes",
                                               "purpose"));
    return false;
  }
  return true;
}

void Broker::StageAccess(const v1::Agency& actor, const std::string& what, const std::string& purpose,
                         const std::string& referral_id, const v1::StaffMember* person) {
  const uint64_t seq = ledger_->StageAccess(actor, what, purpose, referral_id, person);
  spdlog::info("broker: audit read by {}{}{} recorded at seq {} ({})", actor.id(), person ? " for " : "",
               person ? person->id() : std::string(), seq, LogEscape(what));
  ++metrics_.audit_reads;
}

void Broker::HandleCheckpoints(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter) {
  if (!Ledger::MaySeeAll(actor) && !PartnershipConfig::HasRole(actor, v1::ADMIN)) {
    return ReplyError(waiter, Status::PermissionDenied("agency \"" + actor.id() +
                                                       "\" may not read checkpoints (needs SERVICE, AUDITOR or ADMIN)"));
  }
  std::vector<v1::Checkpoint> checkpoints;
  Status s = eventlog::ReadCheckpoints(*log_, &checkpoints);
  if (!s.ok()) return ReplyError(waiter, s);
  v1::Frame reply;
  reply.set_correlation_id(waiter.correlation_id);
  v1::CheckpointList* list = reply.mutable_checkpoint_list();
  list->set_head_seq(log_->head_seq());
  for (v1::Checkpoint& c : checkpoints) {
    if (c.seq() > frame.checkpoints().after_seq()) *list->add_checkpoints() = std::move(c);
  }
  Reply(waiter, reply);
}

void Broker::HandleBackup(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter) {
  if (!PartnershipConfig::HasRole(actor, v1::ADMIN)) {
    return ReplyError(waiter, Status::PermissionDenied("agency \"" + actor.id() + "\" may not take backups (needs ADMIN)"));
  }
  const std::string& dir = frame.backup().dir();
  if (dir.empty() || dir[0] != '/') {
    return ReplyError(waiter, Status::InvalidArgument("backup.dir must be an absolute path on the broker's host",
                                                      "backup.dir"));
  }
  if (backup_) {
    return ReplyError(waiter, Status::Unavailable("a backup is already running; try again when it has finished"));
  }
  backup_ = std::make_unique<BackupJob>();
  backup_->waiter = waiter;
  BackupJob* job = backup_.get();
  eventlog::EventLog* log = log_.get();
  spdlog::info("broker: backup into {} requested by {}", LogEscape(dir), actor.id());
  // Backup expiry (broker { backup { } }): counted in UTC days back from the
  // broker's today, so a backup taken keep_days days ago or later is kept.
  const v1::BackupRetention& retention = config_->proto().broker().backup();
  eventlog::BackupExpiry expiry;
  expiry.keep_last = retention.keep_last();
  if (retention.keep_days() > 0) {
    expiry.cutoff_unix = (options_.today().ToDays() - static_cast<int64_t>(retention.keep_days())) * 86400;
  }
  const bool expire = retention.keep_last() > 0 || retention.keep_days() > 0;
  // BackupEngine copies the live files while this thread keeps appending;
  // the expiry runs after the new backup verified, so the newest backup is
  // always a good one.
  job->thread = std::thread([job, log, dir, expiry, expire] {
    const auto start = Clock::now();
    eventlog::BackupReport report;
    eventlog::ExpiryReport expired;
    Status s = eventlog::TakeBackup(log, dir, &report);
    if (s.ok() && expire) {
      Status e = eventlog::ExpireBackups(dir, expiry, &expired);
      if (!e.ok()) {
        s = Status::IoError("backup " + std::to_string(report.backup_id) +
                            " was taken and verified, but expiring old backups failed (they are kept): " + e.message());
      }
    }
    std::lock_guard<std::mutex> lock(job->mu);
    job->status = s;
    job->report = report;
    job->expiry = expired;
    job->seconds = std::chrono::duration<double>(Clock::now() - start).count();
    job->done = true;
  });
}

void Broker::FinishBackup(bool wait) {
  {
    std::lock_guard<std::mutex> lock(backup_->mu);
    if (!backup_->done && !wait) return;
  }
  backup_->thread.join();
  if (!backup_->status.ok()) {
    spdlog::error("broker: backup failed: {}", backup_->status.ToString());
    ReplyError(backup_->waiter, backup_->status);
  } else {
    const eventlog::BackupReport& r = backup_->report;
    spdlog::info("broker: backup {} done: head seq {}, {} files, {} bytes, {:.2f} s, verified", r.backup_id,
                 r.head_seq, r.file_count, r.size_bytes, backup_->seconds);
    const eventlog::ExpiryReport& expired = backup_->expiry;
    if (!expired.deleted_ids.empty()) {
      spdlog::info("broker: backup expiry deleted {} backup(s) ({}); {} kept", expired.deleted_ids.size(),
                   fmt::join(expired.deleted_ids, ", "), expired.kept);
    }
    v1::Frame reply;
    reply.set_correlation_id(backup_->waiter.correlation_id);
    v1::BackupResult* result = reply.mutable_backup_result();
    result->set_backup_id(r.backup_id);
    result->set_head_seq(r.head_seq);
    result->set_size_bytes(r.size_bytes);
    result->set_file_count(r.file_count);
    result->set_verified(r.verified);
    result->set_seconds(backup_->seconds);
    for (uint32_t id : expired.deleted_ids) result->add_expired_backup_ids(id);
    result->set_backups_kept(expired.kept);
    Reply(backup_->waiter, reply);
  }
  backup_.reset();
}

void Broker::MaybeCheckpoint(bool force) {
  if (!options_.signer) return;
  const uint64_t head = log_->head_seq();
  const auto now = Clock::now();
  if (!checkpoint_schedule_.Due(head, now) && !(force && head > 0 && head != last_checkpoint_seq_)) return;
  v1::Checkpoint checkpoint;
  Status s = eventlog::SignAndStoreHead(*options_.signer, log_.get(), &checkpoint);
  if (!s.ok()) {
    // Not fatal: the events are durable; the next turn tries again.
    spdlog::error("broker: could not store a checkpoint of seq {}: {}", head, s.ToString());
    return;
  }
  checkpoint_schedule_.Done(head, now);
  last_checkpoint_seq_ = head;
  ++metrics_.checkpoints;
  spdlog::info("broker: signed checkpoint of seq {}", head);
}

}  // namespace refx::broker
