// Broker: the only writer of the event log. It authenticates every peer
// (CURVE + ZAP), checks what the identity may do, validates the request,
// de-duplicates by idempotency key, checks lifecycle transitions against the
// case's current state, appends in group-committed synced write batches and
// only then acknowledges. It also serves reads of the log with credit-based
// flow control, filtered to what each identity may see, and case queries.
//
// Files: broker.cc (loop, dispatch, group commit and the writer thread,
// replies), broker_submit.cc (submit and submit_batch), broker_append.cc
// (lifecycle appends one at a time or in an append_batch, queries), broker_read.cc (read sessions, credit),
// broker_audit.cc (audit purposes and record_accessed, checkpoints,
// backups), broker_reload.cc (reloading the configuration). Requests a
// CONSOLE identity makes on behalf of a person (Frame.on_behalf_of) are
// checked as that person (Ledger::ActingFor) in HandleMessage. The decisions are the Ledger's, which has no sockets:
// ledger.{h,cc} (taking referrals, append checks, disclosure, visibility,
// lookups across the batch being built, the batch in flight and the log).
// Private headers: group_commit.h (a batch), read_session.h, waiter.h.
// case_lifecycle.{h,cc} (the transition rules), metrics.{h,cc} (/metrics,
// /healthz), zap_handler.{h,cc} (CURVE key -> identity), main.cc.
//
// One thread (the one calling Run) owns the frontend ROUTER socket and all
// of the broker's state; a writer thread does nothing but write batches.
// Each turn of the loop drains every request that is ready (up to
// max_batch) into the batch being built. When the writer is idle the batch
// is handed to it: one WriteBatch, one fsync (group commit). While it
// writes, the loop goes on receiving and validating the next batch against
// the log plus both batches; when the writer reports back (an eventfd in
// the poll set) the loop sends that batch's replies and hands over the next.
// A failed write fails its batch and the one built on top of it.
//
// Thread-safety: construct, Start and Run on one thread; RequestStop may be
// called from any thread or a signal handler.
#pragma once

#include <google/protobuf/arena.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <google/protobuf/timestamp.pb.h>

#include "broker/metrics.h"
#include "broker/zap_handler.h"
#include "core/civil_date.h"
#include "core/curve_keys.h"
#include "core/log_escape.h"
#include "core/partnership_config.h"
#include "core/status.h"
#include "eventlog/backup.h"
#include "eventlog/checkpoints.h"
#include "eventlog/event_log.h"
#include "refx/v1/wire.pb.h"

namespace zmq {
class context_t;
class socket_t;
class message_t;
}  // namespace zmq

namespace refx::broker {

// Private parts of the broker (waiter.h, read_session.h, group_commit.h,
// ledger.h).
struct Waiter;
struct BackupJob;
struct ReadSession;
struct ReadSessions;

// A refusal's field paths as seen from where the item sits in its frame:
// paths under `root` (e.g. "append") move under `where` (e.g.
// "append_batch.appends[3]"), others are put beneath it. Built only for a
// refusal, not for every item taken (broker_submit.cc).
Status RebasedFieldPaths(const Status& status, const std::string& root, const std::string& where);
struct GroupCommit;
struct Staged;
class Ledger;

struct BrokerOptions {
  // The broker's own CURVE key pair (clients are given its public key).
  CurveKeyPair server_keys;
  // Override the configuration's endpoints when not empty. A TCP port of
  // "*" picks a free port (see frontend_endpoint()); metrics "off" disables.
  std::string frontend_endpoint;
  std::string metrics_address;
  // The date used to reject future dates; injectable for tests.
  std::function<CivilDate()> today = TodayUtc;
  // Signs the log's head into the checkpoints family (eventlog/checkpoints.h):
  // once at start, every `checkpoint_every_events` appended events or
  // `checkpoint_every` with new events, and at a clean stop. Null: the log
  // is kept without signed checkpoints (the broker warns at start).
  std::shared_ptr<const eventlog::CheckpointSigner> signer;
  uint64_t checkpoint_every_events = 10000;
  std::chrono::seconds checkpoint_every{60};
  // The configuration file Reload reads (SIGHUP, `refx admin reload`);
  // empty: reloads are refused.
  std::string config_path;
  // The retention sweep looks at this many data_keys entries (referrals)
  // per loop turn, so requests are answered between its slices.
  size_t retention_slice = 64;
  // Tests only: asked before each slice of a sweep after its first; while
  // it returns false the sweep waits (in progress) and the loop goes on
  // serving requests.
  std::function<bool()> retention_slice_gate;
};

class Broker {
 public:
  // `config` must outlive the broker; the broker owns `log`. Configurations
  // loaded by Reload are owned by the broker and kept for its life (waiters
  // and sessions hold pointers into them).
  Broker(BrokerOptions options, const PartnershipConfig* config, std::unique_ptr<eventlog::EventLog> log);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Starts the ZAP handler, then binds the frontend (CURVE server) and the
  // metrics endpoint. On failure nothing is left bound.
  Status Start();

  // Serves requests until RequestStop; the batch in flight is finished and
  // answered before it returns. Returns an error only if the log failed.
  Status Run();

  void RequestStop() { stop_.store(true); }
  // Asks the loop to reload the configuration (Reload) at its next turn;
  // safe from a signal handler (SIGHUP).
  void RequestReload() { reload_requested_.store(true); }

  // Reads and checks options.config_path and, if it is good, uses it from
  // the next request on (the ledger, the ZAP handler for new connections,
  // reads in progress); *result (may be null) says what changed. A bad
  // file changes nothing: InvalidArgument "FILE:LINE:COLUMN: ...", also
  // logged. Loop thread only.
  Status Reload(v1::ReloadResult* result);

  // The bound frontend endpoint, e.g. "tcp://127.0.0.1:41234".
  const std::string& frontend_endpoint() const { return bound_endpoint_; }
  int metrics_port() const { return metrics_server_ ? metrics_server_->port() : 0; }
  const BrokerMetrics& metrics() const { return metrics_; }
  eventlog::EventLog* log() { return log_.get(); }

 private:
  void HandleMessage(std::vector<zmq::message_t>& parts);
  // Submissions (broker_submit.cc). Each takes the referrals it stages out
  // of `frame`.
  void HandleSubmit(const v1::Agency& submitter, v1::Frame& frame, Waiter waiter);
  void HandleSubmitBatch(const v1::Agency& submitter, v1::Frame& frame, const Waiter& waiter);
  // Answers a request the ledger accepted: adds `waiter` to the batch it
  // waits for, or acks a duplicate of a logged event at once.
  void WaitOrAck(const Staged& staged, Waiter waiter);
  // Adds a SubmitBatchResult's acks to the submission and duplicate counters.
  void CountBatchAcks(const std::string& agency, const v1::SubmitBatchResult& result);
  // `actor` holds the rights checked; `person` is set for a request a
  // CONSOLE identity made on behalf of that person (actor is then
  // Ledger::ActingFor's agency).
  void HandleAppend(const v1::Agency& actor, const v1::Frame& frame, Waiter waiter, const v1::StaffMember* person);
  void HandleQuery(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter,
                   const v1::StaffMember* person);
  // The error for a QueryRequest that names more than one of its keys.
  static constexpr const char* kOneQueryKey =
      "give one of subject_key, referrer_reference, referral_id or destination, not several";
  // QueryRequest.referrer_reference: the caller's own referral under that
  // reference, looked up by its idempotency key. NotFound when there is
  // none in the log; PermissionDenied on behalf of a person.
  void HandleReferenceQuery(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter,
                            const v1::StaffMember* person);
  // A QueryRequest with subject_key (broker_subject.cc): every referral
  // indexed under it, always audited.
  void HandleSubjectQuery(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter,
                          const v1::StaffMember* person);
  void HandleRead(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter,
                  const v1::StaffMember* person);
  // EraseRequest (ADMIN, broker_erase.cc): destroys a referral's data key
  // with a subject_erased event (and its history key with a second one when
  // its ROUTING_HISTORY period has ended too, or none is configured), purges
  // the keys' bytes from the files and only then answers with EraseResult.
  // Blocks the loop meanwhile.
  void HandleErase(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter);
  // The retention periods that apply to a referral (broker_erase.cc),
  // counted in months from its last activity.
  struct Retention {
    // Its record (the data key): the record type's name ("" when no period
    // applies), the months and the date the period ends.
    std::string record_type;
    uint32_t months = 0;
    CivilDate ends;
    // Its keyed subject hash (the history key): whether a ROUTING_HISTORY
    // period is configured (without one the hash goes with the record),
    // its months and end.
    bool history = false;
    uint32_t history_months = 0;
    CivilDate history_ends;
  };
  // An error when the state cannot be read.
  Status RetentionOf(const std::string& referral_id, Retention* out);
  // Stages the subject_erased event that destroys `referral_id`'s history
  // key as `actor` (rule ROUTING_HISTORY).
  void StageHistoryErasure(const v1::Agency& actor, const std::string& referral_id, const Retention& r);
  // The retention sweep (broker_erase.cc): once a day (at start and
  // whenever options_.today() moves on) it erases every referral whose
  // record's period has ended, and destroys every history key whose
  // ROUTING_HISTORY period has ended, each with a subject_erased event
  // naming the rule. Incremental: each call looks at the next
  // options_.retention_slice entries of data_keys, writes that slice's
  // erasures and purges their keys, and returns, so the loop answers
  // requests between slices. Loop thread.
  void MaybeSweepRetention();
  // ReloadRequest (ADMIN): Reload, answered with ReloadResult or the error.
  void HandleReload(const v1::Agency& actor, const Waiter& waiter);
  // Several appends in one frame (broker_append.cc): each taken as HandleAppend
  // takes it, one AppendBatchResult once all it accepted are durable.
  void HandleAppendBatch(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter);
  // Adds an AppendBatchResult's acks to the append and duplicate counters.
  void CountAppendBatchAcks(const v1::AppendBatchResult& result);
  void HandleCredit(const v1::Frame& frame, const Waiter& waiter);
  void HandleCheckpoints(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter);
  void HandleBackup(const v1::Agency& actor, const v1::Frame& frame, const Waiter& waiter);
  // Sends the reply of a finished backup; with `wait`, joins a running one first.
  void FinishBackup(bool wait);
  // Audit reads: an AUDITOR (not SERVICE) must give a purpose, and the read
  // is recorded as a record_accessed event staged in the pending batch; its
  // reply or read session waits in deferred_* until the batch is durable.
  // A read on behalf of a person that gives a purpose is recorded too (the
  // console opening a case).
  bool IsAuditedReader(const v1::Agency& actor, const v1::StaffMember* person, const std::string& purpose) const;
  // False (having replied with the error) when the purpose is blank or too long.
  bool CheckAuditPurpose(const std::string& purpose, const Waiter& waiter);
  // `what` names what was read with ids and seqs only (no personal data).
  void StageAccess(const v1::Agency& actor, const std::string& what, const std::string& purpose,
                   const std::string& referral_id, const v1::StaffMember* person = nullptr);
  // Whether an event passes a read's time and agency filters.
  bool PassesFilters(const ReadSession& session, const v1::Event& event);
  // Signs the head when the schedule says so (or `force` and it moved).
  void MaybeCheckpoint(bool force);
  // Sends what read sessions are owed, a bounded amount per call so writes
  // are not held up. Returns true if some session still has work now.
  bool ServeReads();
  bool ServeSession(ReadSession& session);
  // Refuses a request whose state could not be read: logs `status` as an
  // error and answers INTERNAL (retryable; nothing was staged).
  void ReplyStateError(const Waiter& waiter, const Status& status);
  // Sends a reply; false if the client has gone (the reply is dropped).
  bool Reply(const Waiter& waiter, const v1::Frame& frame);
  void ReplyError(const Waiter& waiter, const Status& status);
  // Logs one refusal of `agency`'s request (escaped, rate-limited per
  // agency by refusal_log_); `item` is the batch index or -1.
  void LogRefusal(uint64_t correlation_id, int item, const std::string& agency, const Status& status);
  // Hands the pending batch to the writer thread if it is idle and there is
  // something to write; replies come from CompleteInFlight. A small batch is
  // written and answered here at once. Returns CompleteInFlight's error then.
  Status StartCommit();
  // Writes the in-flight batch's events (AppendBatch) and records the metrics; run by
  // the writer thread, or by the loop for a small batch.
  Status WriteInFlight();
  // Once the writer has finished (waits for it when `wait`): answers
  // everyone waiting on the batch it wrote, and keeps that batch in
  // answered_ to be freed later. Returns the write's error when the log can
  // no longer be written (I/O error, corruption).
  Status CompleteInFlight(bool wait);
  // Writes whatever is pending or in flight and answers it (at stop).
  Status Flush();
  void WriterLoop();

  BrokerOptions options_;
  const PartnershipConfig* config_;  // the configuration in use
  std::vector<std::unique_ptr<PartnershipConfig>> reloaded_;
  std::atomic<bool> reload_requested_{false};
  // The rights of the request being handled on behalf of a person
  // (Ledger::ActingFor); valid while it is handled.
  v1::Agency acting_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<zmq::context_t> context_;
  std::unique_ptr<ZapHandler> zap_;
  std::unique_ptr<zmq::socket_t> frontend_;
  std::unique_ptr<MetricsServer> metrics_server_;
  std::string bound_endpoint_;
  std::atomic<bool> stop_{false};
  BrokerMetrics metrics_;
  // At most this many refusal lines per agency per second; the rest are
  // counted in metrics_ and summarised in the agency's next refusal line.
  static constexpr int kRefusalLinesPerSecond = 20;
  LogRateLimiter refusal_log_{kRefusalLinesPerSecond};

  // The decisions and the batches being built and written (ledger.h).
  std::unique_ptr<Ledger> ledger_;
  // The last batch answered, freed at the end of the loop's turn rather
  // than in CompleteInFlight: freeing a batch (its frames' arenas, every
  // string of every referral) takes long enough that the writer would sit
  // idle meanwhile; after StartCommit it overlaps the next write.
  std::unique_ptr<GroupCommit> answered_;
  std::thread writer_;
  std::mutex writer_mu_;
  std::condition_variable writer_cv_;
  bool writer_has_work_ = false;  // guarded by writer_mu_
  bool writer_done_ = false;      // guarded by writer_mu_
  bool writer_stop_ = false;      // guarded by writer_mu_
  Status writer_result_;          // guarded by writer_mu_
  int writer_wake_fd_ = -1;       // eventfd: the writer finished a batch

  // Frames are decoded into this arena, one per drain of the socket; it
  // joins the building batch's arenas if a referral of it was staged, else is reset.
  // Decoding into an arena and freeing it whole, instead of allocating and
  // freeing every string and sub-message, saves a large part of the loop's
  // time with batch frames.
  std::unique_ptr<google::protobuf::Arena> frame_arena_;

  std::unique_ptr<ReadSessions> reads_;  // read_session.h
  // The key fingerprint of the connection whose read HandleRead is starting.
  std::string read_key_;
  std::unique_ptr<BackupJob> backup_;
  eventlog::CheckpointSchedule checkpoint_schedule_{0, std::chrono::seconds(0)};
  uint64_t last_checkpoint_seq_ = 0;
  CivilDate today_;
  CivilDate last_sweep_day_;  // the day of the last (or the running) retention sweep
  // The sweep in progress (its day is last_sweep_day_): the data_keys name
  // it resumes from, its slices so far and the erasures it made.
  bool sweeping_ = false;
  std::string sweep_from_;
  size_t sweep_slices_ = 0;
  size_t sweep_erased_ = 0;
};

}  // namespace refx::broker
