#include "broker/broker.h"
#include "broker/group_commit.h"
#include "broker/ledger.h"
#include "broker/read_session.h"
#include "broker/waiter.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <utility>
#include <zmq.hpp>

#include "core/event_util.h"
#include "core/frame_codec.h"
#include "core/referral_validation.h"

namespace refx::broker {

namespace {

using Clock = std::chrono::steady_clock;

// Frames above max_frame_bytes are answered FRAME_TOO_LARGE. Above this
// multiple of it libzmq drops the connection without reading the frame, so
// a hostile peer cannot make the broker buffer unbounded data.
constexpr int64_t kHardLimitFactor = 4;

// Batches of at most this many events are written by the loop itself when
// the writer is idle (StartCommit).
constexpr size_t kInlineCommitMax = 4;

// Receives without waiting; false when nothing is ready or a signal
// interrupted the call (the loop then checks whether to stop).
bool RecvNoThrow(zmq::socket_t& socket, zmq::message_t& part) {
  try {
    return socket.recv(part, zmq::recv_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return false;
    throw;
  }
}

std::unique_ptr<google::protobuf::Arena> NewFrameArena() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 64 * 1024;
  options.max_block_size = 1024 * 1024;
  return std::make_unique<google::protobuf::Arena>(options);
}

}  // namespace

Broker::Broker(BrokerOptions options, const PartnershipConfig* config, std::unique_ptr<eventlog::EventLog> log)
    : options_(std::move(options)),
      config_(config),
      log_(std::move(log)),
      context_(std::make_unique<zmq::context_t>(1)),
      ledger_(std::make_unique<Ledger>(config, log_.get())),
      reads_(std::make_unique<ReadSessions>()),
      checkpoint_schedule_(options_.checkpoint_every_events, options_.checkpoint_every) {
  metrics_.head_seq = log_->head_seq();
}

Broker::~Broker() {
  if (backup_ && backup_->thread.joinable()) backup_->thread.join();
  if (writer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(writer_mu_);
      writer_stop_ = true;
    }
    writer_cv_.notify_one();
    writer_.join();
  }
  if (writer_wake_fd_ >= 0) ::close(writer_wake_fd_);
  if (metrics_server_) metrics_server_->Stop();
  if (frontend_) frontend_->close();
  if (zap_) zap_->Stop();
  context_->close();
}

Status Broker::Start() {
  // ZAP first: with no handler bound, libzmq would let any client that knows
  // the server key in.
  zap_ = std::make_unique<ZapHandler>(context_.get(), config_);
  REFX_RETURN_IF_ERROR(zap_->Start());

  const v1::BrokerSettings& settings = config_->broker();
  const std::string endpoint =
      options_.frontend_endpoint.empty() ? settings.frontend_endpoint() : options_.frontend_endpoint;
  try {
    frontend_ = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::router);
    frontend_->set(zmq::sockopt::linger, 0);
    frontend_->set(zmq::sockopt::router_mandatory, 1);  // report, not silently drop, replies to gone peers
    frontend_->set(zmq::sockopt::zap_domain, kZapDomain);
    frontend_->set(zmq::sockopt::curve_server, 1);
    frontend_->set(zmq::sockopt::curve_secretkey, options_.server_keys.secret_key);
    frontend_->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(settings.max_frame_bytes()) * kHardLimitFactor);
    frontend_->set(zmq::sockopt::heartbeat_ivl, static_cast<int>(settings.heartbeat_ivl_ms()));
    frontend_->set(zmq::sockopt::heartbeat_timeout, static_cast<int>(settings.heartbeat_ivl_ms() * 3));
    frontend_->set(zmq::sockopt::heartbeat_ttl, static_cast<int>(settings.heartbeat_ivl_ms() * 6));
    frontend_->set(zmq::sockopt::sndhwm, 100000);
    frontend_->set(zmq::sockopt::rcvhwm, 100000);
    frontend_->bind(endpoint);
    bound_endpoint_ = frontend_->get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    frontend_.reset();
    zap_->Stop();
    return Status::Unavailable("cannot bind the broker frontend on " + endpoint + ": " + e.what());
  }

  const std::string metrics_address =
      options_.metrics_address.empty() ? settings.metrics_address() : options_.metrics_address;
  if (!metrics_address.empty() && metrics_address != "off") {
    metrics_server_ = std::make_unique<MetricsServer>(&metrics_, [this] { return !stop_.load(); });
    Status s = metrics_server_->Start(metrics_address);
    if (!s.ok()) {
      metrics_server_.reset();
      frontend_.reset();
      zap_->Stop();
      return s;
    }
  }
  spdlog::info("broker: serving on {} (CURVE, ZAP domain {}), log head seq {}", bound_endpoint_, kZapDomain,
               log_->head_seq());
  if (options_.signer) {
    spdlog::info("broker: signing checkpoints with key {}", options_.signer->key_id());
  } else {
    spdlog::warn("broker: no checkpoint signing key; the log is kept without signed checkpoints");
  }
  return Status::OK();
}

Status Broker::Run() {
  const size_t max_batch = config_->broker().max_batch();
  writer_wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (writer_wake_fd_ < 0) return Status::IoError(std::string("eventfd: ") + std::strerror(errno));
  writer_ = std::thread([this] { WriterLoop(); });
  std::vector<zmq::message_t> parts;
  Status failed = Status::OK();
  while (!stop_.load()) {
    if (reload_requested_.exchange(false)) (void)Reload(nullptr);  // SIGHUP; a bad file is logged
    // While the writer is busy and a full batch is already waiting, stop
    // taking requests (they queue in ZeroMQ): back-pressure, bounded memory.
    const bool full = ledger_->in_flight_active() && ledger_->building().events.size() >= max_batch;
    zmq::pollitem_t items[2] = {{frontend_->handle(), 0, static_cast<short>(full ? 0 : ZMQ_POLLIN), 0},
                                {nullptr, writer_wake_fd_, ZMQ_POLLIN, 0}};
    // Reads owed to clients are served between batches; while any remain
    // the loop only peeks for requests instead of sleeping.
    const bool reads_pending = ServeReads();
    if (backup_) FinishBackup(/*wait=*/false);
    if (!ledger_->in_flight_active()) MaybeCheckpoint(/*force=*/false);
    if (!ledger_->in_flight_active()) MaybeSweepRetention();
    try {
      if (zmq::poll(items, 2, std::chrono::milliseconds(reads_pending ? 0 : 100)) <= 0) continue;
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;  // a signal: look at stop_ again
      throw;
    }
    if (items[1].revents & ZMQ_POLLIN) {
      failed = CompleteInFlight(/*wait=*/false);
      if (!failed.ok()) break;
      // The writer is idle: give it what was built while it wrote before
      // reading more requests, so it does not wait on the loop. A batch of a
      // few events is left to grow instead (StartCommit would write that
      // one on the loop itself, which then could not read meanwhile).
      if (ledger_->building().events.size() > kInlineCommitMax) {
        failed = StartCommit();
        if (!failed.ok()) break;
      }
    }
    if (items[0].revents & ZMQ_POLLIN) {
      today_ = options_.today();
      if (!frame_arena_) frame_arena_ = NewFrameArena();
      const size_t staged_before = ledger_->building().events.size();
      // Drain what is ready, up to max_batch requests (or, with batch frames,
      // max_batch staged events), into the pending batch.
      for (size_t n = 0; n < max_batch && ledger_->building().events.size() < max_batch; ++n) {
        parts.clear();
        zmq::message_t part;
        if (!RecvNoThrow(*frontend_, part)) break;
        parts.push_back(std::move(part));
        while (frontend_->get(zmq::sockopt::rcvmore)) {
          zmq::message_t more;
          (void)frontend_->recv(more, zmq::recv_flags::none);
          parts.push_back(std::move(more));
        }
        HandleMessage(parts);
      }
      // The batch keeps the arena while any event staged from it lives.
      if (ledger_->building().events.size() > staged_before) {
        ledger_->building().arenas.push_back(std::move(frame_arena_));
      } else {
        frame_arena_->Reset();
      }
    }
    failed = StartCommit();
    if (!failed.ok()) break;
    answered_.reset();
  }
  // Finish and answer what was taken in, then sign the final head.
  if (failed.ok()) failed = Flush();
  {
    std::lock_guard<std::mutex> lock(writer_mu_);
    writer_stop_ = true;
  }
  writer_cv_.notify_one();
  writer_.join();
  if (!failed.ok()) return failed;
  if (backup_) FinishBackup(/*wait=*/true);
  MaybeCheckpoint(/*force=*/true);
  spdlog::info("broker: stopped at log head seq {}", log_->head_seq());
  return Status::OK();
}

void Broker::HandleMessage(std::vector<zmq::message_t>& parts) {
  Waiter waiter;
  waiter.routing_id = parts[0].to_string();
  // A DEALER client sends [payload]; a REQ client [empty][payload]. Anything
  // else has no single payload to answer.
  size_t payload_index = 1;
  if (parts.size() == 3 && parts[1].size() == 0) {
    waiter.req_envelope = true;
    payload_index = 2;
  } else if (parts.size() != 2) {
    ReplyError(waiter, Status::MalformedFrame("a request must be exactly one frame; got " +
                                              std::to_string(parts.size() - 1)));
    return;
  }
  zmq::message_t& payload = parts[payload_index];
  const char* user_id = payload.gets("User-Id");
  if (user_id != nullptr) waiter.agency = config_->AgencyById(user_id);
  // The connection's key is checked on every request, so a revocation or
  // the end of a rotation's overlap reaches connections already open.
  const Status key_status =
      waiter.agency != nullptr ? CheckConnectionKey(payload, *waiter.agency, *config_, std::time(nullptr)) : Status::OK();
  // A connection whose agency a reload removed has no identity any more.
  v1::Frame& frame = *google::protobuf::Arena::CreateMessage<v1::Frame>(frame_arena_.get());
  Status s = DecodeFrame(payload.data(), payload.size(), config_->broker().max_frame_bytes(), &frame);
  if (!s.ok()) {
    // Address the error to the request if its id can be read at all.
    waiter.correlation_id = s.code() == Status::Code::kUnsupportedFrame
                                ? frame.correlation_id()
                                : PeekCorrelationId(payload.data(), payload.size());
    if (s.code() == Status::Code::kFrameTooLarge) ++metrics_.oversize;
    ReplyError(waiter, s);
    return;
  }
  waiter.correlation_id = frame.correlation_id();
  if (waiter.agency == nullptr) {
    // With ZAP in place: the agency was removed by a reload. Never trust
    // the payload instead.
    ReplyError(waiter, Status::PermissionDenied(user_id != nullptr
                                                    ? "agency \"" + std::string(user_id) + "\" is no longer configured"
                                                    : std::string("connection has no authenticated identity")));
    return;
  }
  if (!key_status.ok()) return ReplyError(waiter, key_status);
  const v1::Agency* acting = waiter.agency;
  const v1::StaffMember* person = nullptr;
  if (!frame.on_behalf_of().empty()) {
    // Checked against the person's rights, not the console's (ledger.h).
    Status s = ledger_->ActingFor(*waiter.agency, frame.on_behalf_of(), &acting_, &person);
    if (!s.ok()) return ReplyError(waiter, s);
    switch (frame.body_case()) {
      case v1::Frame::kAppend:
      case v1::Frame::kQuery:
      case v1::Frame::kRead:
      case v1::Frame::kCredit:
      case v1::Frame::kCheckpoints:
      case v1::Frame::kHeartbeat:
        break;
      default:
        return ReplyError(waiter, Status::PermissionDenied("this request cannot be made on behalf of a person"));
    }
    acting = &acting_;
  }
  const v1::Agency& agency = *acting;
  switch (frame.body_case()) {
    case v1::Frame::kSubmit:
      HandleSubmit(agency, frame, std::move(waiter));
      return;
    case v1::Frame::kSubmitBatch:
      HandleSubmitBatch(agency, frame, waiter);
      return;
    case v1::Frame::kAppend:
      HandleAppend(agency, frame, std::move(waiter), person);
      return;
    case v1::Frame::kAppendBatch:
      HandleAppendBatch(agency, frame, waiter);
      return;
    case v1::Frame::kQuery:
      HandleQuery(agency, frame, waiter, person);
      return;
    case v1::Frame::kRead:
      read_key_ = KeyFingerprintOf(payload);
      HandleRead(agency, frame, waiter, person);
      return;
    case v1::Frame::kReload:
      HandleReload(agency, waiter);
      return;
    case v1::Frame::kErase:
      HandleErase(agency, frame, waiter);
      return;
    case v1::Frame::kCredit:
      HandleCredit(frame, waiter);
      return;
    case v1::Frame::kCheckpoints:
      HandleCheckpoints(agency, frame, waiter);
      return;
    case v1::Frame::kBackup:
      HandleBackup(agency, frame, waiter);
      return;
    case v1::Frame::kHeartbeat: {
      v1::Frame reply;
      reply.set_correlation_id(frame.correlation_id());
      reply.mutable_heartbeat()->set_head_seq(log_->head_seq());
      Reply(waiter, reply);
      return;
    }
    default:
      ReplyError(waiter, Status::UnsupportedFrame("the broker does not accept this frame type from clients"));
      return;
  }
}

void Broker::WriterLoop() {
  std::unique_lock<std::mutex> lock(writer_mu_);
  for (;;) {
    writer_cv_.wait(lock, [this] { return writer_has_work_ || writer_stop_; });
    if (!writer_has_work_) return;  // stopping with nothing to write
    lock.unlock();
    // The loop does not touch the in-flight events while the writer has work.
    Status written = WriteInFlight();
    lock.lock();
    writer_result_ = std::move(written);
    writer_has_work_ = false;
    writer_done_ = true;
    const uint64_t one = 1;
    (void)!::write(writer_wake_fd_, &one, sizeof one);
    writer_cv_.notify_all();
  }
}

Status Broker::WriteInFlight() {
  const auto start = Clock::now();
  Status written = log_->AppendBatch(ledger_->in_flight().events);
  metrics_.fsync_seconds.Observe(std::chrono::duration<double>(Clock::now() - start).count());
  metrics_.batch_size.Observe(static_cast<double>(ledger_->in_flight().events.size()));
  return written;
}

Status Broker::StartCommit() {
  if (!ledger_->BeginCommit()) return Status::OK();
  if (ledger_->in_flight().events.size() <= kInlineCommitMax) {
    // Small batch, idle writer: write it here. Handing it to the writer and
    // back costs two thread wake-ups, which at low load are a large part of
    // an acknowledgement's latency, while the loop would have little to do
    // meanwhile. Larger batches go to the writer so receiving overlaps the
    // fsync.
    Status written = WriteInFlight();
    {
      std::lock_guard<std::mutex> lock(writer_mu_);
      writer_result_ = std::move(written);
      writer_done_ = true;
    }
    return CompleteInFlight(/*wait=*/false);
  }
  {
    std::lock_guard<std::mutex> lock(writer_mu_);
    writer_has_work_ = true;
    writer_done_ = false;
  }
  writer_cv_.notify_one();
  return Status::OK();
}

Status Broker::CompleteInFlight(bool wait) {
  if (!ledger_->in_flight_active()) return Status::OK();
  Status written;
  {
    std::unique_lock<std::mutex> lock(writer_mu_);
    if (wait) writer_cv_.wait(lock, [this] { return writer_done_; });
    if (!writer_done_) return Status::OK();
    uint64_t count = 0;
    (void)!::read(writer_wake_fd_, &count, sizeof count);
    writer_done_ = false;
    written = writer_result_;
  }
  if (written.ok()) {
    answered_ = ledger_->CommitSucceeded();
    GroupCommit* done = answered_.get();
    metrics_.head_seq = ledger_->committed_head();
    for (const Waiter& w : done->waiters) {
      const v1::Event& event = done->events[w.pending_index].event;
      v1::Frame reply;
      reply.set_correlation_id(w.correlation_id);
      reply.mutable_ack()->set_referral_id(ReferralIdOf(event));
      reply.mutable_ack()->set_seq(event.seq());
      reply.mutable_ack()->set_duplicate(w.duplicate);
      if (w.duplicate) {
        ++metrics_.duplicates;
      } else if (event.has_referral_submitted()) {
        ++metrics_.submissions;
        metrics_.agency_submissions.Add(event.actor());
      } else {
        ++metrics_.appends;
      }
      Reply(w, reply);
    }
    for (const auto& [waiter, reply] : done->deferred_replies) {
      if (reply.has_submit_batch_result()) CountBatchAcks(AgencyIdOf(waiter), reply.submit_batch_result());
      if (reply.has_append_batch_result()) CountAppendBatchAcks(reply.append_batch_result());
      Reply(waiter, reply);
    }
    for (ReadSession& session : done->deferred_sessions) {
      std::string routing_id = session.waiter.routing_id;
      reads_->ended.erase(routing_id);
      reads_->open[routing_id] = std::move(session);
    }
    metrics_.read_sessions = reads_->open.size();
    if (!done->events.empty()) {
      spdlog::debug("broker: committed seq {}..{} ({} events)", done->events.front().event.seq(),
                    done->events.back().event.seq(), done->events.size());
    }
    return Status::OK();
  }
  // Nothing of the batch is in the log, and the batch built on top of it
  // assumed its seqs and state: tell every client of both so they retry.
  const auto [done, built_on] = ledger_->CommitFailed();
  ++metrics_.write_failures;
  spdlog::error("broker: group commit of {} events failed: {}", done->events.size(), written.ToString());
  const Status retry = Status::Internal("the event log could not be written; retry");
  for (const Waiter& w : done->waiters) ReplyError(w, retry);
  for (const auto& deferred : done->deferred_replies) ReplyError(deferred.first, retry);
  for (const ReadSession& session : done->deferred_sessions) ReplyError(session.waiter, retry);
  for (const Waiter& w : built_on->waiters) ReplyError(w, retry);
  for (const auto& deferred : built_on->deferred_replies) ReplyError(deferred.first, retry);
  for (const ReadSession& session : built_on->deferred_sessions) ReplyError(session.waiter, retry);
  // An I/O failure of the log is not something to serve on through.
  const bool fatal = written.code() == Status::Code::kIoError || written.code() == Status::Code::kCorruption;
  if (fatal) {
    // The broker exits next: give the error replies just queued up to two
    // seconds to leave (the frontend's linger is 0 for a quick stop), so
    // their clients hear "retry" instead of waiting out their timeout.
    try {
      frontend_->set(zmq::sockopt::linger, 2000);
    } catch (const zmq::error_t&) {
    }
  }
  return fatal ? written : Status::OK();
}

Status Broker::Flush() {
  REFX_RETURN_IF_ERROR(CompleteInFlight(/*wait=*/true));
  REFX_RETURN_IF_ERROR(StartCommit());
  return CompleteInFlight(/*wait=*/true);
}

bool Broker::Reply(const Waiter& waiter, const v1::Frame& frame) {
  const std::string bytes = EncodeFrame(frame);
  try {
    if (!frontend_->send(zmq::buffer(waiter.routing_id), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      ++metrics_.unroutable_replies;
      return false;
    }
    if (waiter.req_envelope) frontend_->send(zmq::message_t(), zmq::send_flags::sndmore);
    frontend_->send(zmq::buffer(bytes), zmq::send_flags::none);
    return true;
  } catch (const zmq::error_t& e) {
    // EHOSTUNREACH: the client went away; it will retry and be answered from
    // the dedupe index.
    ++metrics_.unroutable_replies;
    return false;
  }
}

void Broker::ReplyStateError(const Waiter& waiter, const Status& status) {
  spdlog::error("broker: request {}: cannot read the log's state: {}", waiter.correlation_id,
                LogEscape(status.ToString()));
  ReplyError(waiter, Status::Internal("the event log's state could not be read; nothing was written — retry"));
}

void Broker::ReplyError(const Waiter& waiter, const Status& status) {
  ++metrics_.errors;
  metrics_.agency_refusals.Add(AgencyIdOf(waiter));
  LogRefusal(waiter.correlation_id, -1, waiter.agency != nullptr ? waiter.agency->id() : std::string("(no identity)"),
             status);
  Reply(waiter, ErrorFrame(waiter.correlation_id, status));
}

void Broker::LogRefusal(uint64_t correlation_id, int item, const std::string& agency, const Status& status) {
  uint64_t suppressed = 0;
  if (!refusal_log_.Allow(agency, &suppressed)) return;
  // Names the request and the authenticated agency, never payload data
  // (messages and field paths name fields and ids, not their contents); the
  // message can quote what the client sent (an agency id, a destination
  // code), so it is escaped.
  const std::string held_back =
      suppressed == 0 ? "" : " (" + std::to_string(suppressed) + " earlier refusals of " + LogEscape(agency) +
                                 " suppressed)";
  if (item < 0) {
    spdlog::info("broker: refused request {} from {}: {}{}", correlation_id, LogEscape(agency),
                 LogEscape(status.ToString()), held_back);
  } else {
    spdlog::info("broker: refused request {} item {} from {}: {}{}", correlation_id, item, LogEscape(agency),
                 LogEscape(status.ToString()), held_back);
  }
}

}  // namespace refx::broker
