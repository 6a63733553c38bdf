#include "client/broker_client.h"

#include <atomic>
#include <chrono>
#include <map>
#include <thread>
#include <zmq.hpp>

#include "client/frame_items.h"
#include "core/frame_codec.h"

namespace refx {

namespace {

using Clock = std::chrono::steady_clock;

int64_t MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : left;
}

// Replies are small; anything bigger than this is not from a broker.
constexpr size_t kMaxReplyBytes = 64 * 1024 * 1024;

// Whether sending `request` a second time cannot do anything twice: every
// request but an append without an idempotency key.
bool SafeToResend(const v1::Frame& request) {
  return !request.has_append() || !request.append().idempotency_key().empty();
}

// An error the protocol says to retry (proto/README.md §9.1): the broker
// wrote nothing of the request and may succeed later.
bool RetryableError(const v1::Frame& reply) {
  return reply.has_error() && (reply.error().code() == v1::INTERNAL || reply.error().code() == v1::UNAVAILABLE);
}

// Hands request `index` its result from a reply that is an ack or an error.
void DispatchAckReply(size_t index, const v1::Frame& reply, const BrokerClient::ResultFn& on_result) {
  if (reply.has_ack()) {
    on_result(index, Status::OK(), reply.ack());
  } else {
    on_result(index, reply.has_error() ? StatusFromError(reply.error()) : Status::Internal("unexpected reply"),
              v1::Ack());
  }
}

}  // namespace

BrokerClient::BrokerClient(ClientOptions options)
    : options_(std::move(options)), owned_context_(std::make_unique<zmq::context_t>(1)), context_(owned_context_.get()) {}

BrokerClient::BrokerClient(ClientOptions options, zmq::context_t* shared_context)
    : options_(std::move(options)), context_(shared_context) {}

BrokerClient::~BrokerClient() {
  Disconnect();
  if (owned_context_) owned_context_->close();
}

Status BrokerClient::Connect() {
  if (socket_) return Status::OK();
  try {
    socket_ = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::dealer);
    socket_->set(zmq::sockopt::linger, 0);
    socket_->set(zmq::sockopt::immediate, 1);  // queue only to a completed connection
    socket_->set(zmq::sockopt::heartbeat_ivl, 1000);
    socket_->set(zmq::sockopt::heartbeat_timeout, 5000);
    socket_->set(zmq::sockopt::heartbeat_ttl, 10000);
    socket_->set(zmq::sockopt::reconnect_ivl, 100);
    socket_->set(zmq::sockopt::reconnect_ivl_max, 2000);
    // CURVE always: the broker has no plaintext mode.
    socket_->set(zmq::sockopt::curve_serverkey, options_.server_public_key);
    socket_->set(zmq::sockopt::curve_publickey, options_.client_keys.public_key);
    socket_->set(zmq::sockopt::curve_secretkey, options_.client_keys.secret_key);
    // Handshake failures are only visible on a monitor socket: watch them so
    // a refused key is reported as such rather than as a timeout.
    // Unique in the process: a client may be built where a destroyed one
    // lived, in the same shared context.
    static std::atomic<uint64_t> monitor_counter{0};
    const std::string monitor_endpoint = "inproc://refx-client-monitor-" + std::to_string(++monitor_counter);
    // Disconnects too: a windowed call resends what was in flight on a
    // connection as soon as it drops, not after the request timeout.
    if (zmq_socket_monitor(socket_->handle(), monitor_endpoint.c_str(),
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_DISCONNECTED) != 0) {
      return Status::Internal("cannot monitor client socket: " + std::string(zmq_strerror(zmq_errno())));
    }
    monitor_ = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::pair);
    monitor_->set(zmq::sockopt::linger, 0);
    monitor_->connect(monitor_endpoint);
    socket_->connect(options_.endpoint);
  } catch (const zmq::error_t& e) {
    Disconnect();
    return Status::InvalidArgument("cannot connect to " + options_.endpoint + ": " + e.what());
  }
  return Status::OK();
}

void BrokerClient::Disconnect() {
  if (socket_) {
    zmq_socket_monitor(socket_->handle(), nullptr, 0);
    socket_->close();
    socket_.reset();
  }
  if (monitor_) {
    monitor_->close();
    monitor_.reset();
  }
}

Status BrokerClient::DrainMonitor() {
  zmq::message_t event, address;
  while (monitor_ && monitor_->recv(event, zmq::recv_flags::dontwait)) {
    if (monitor_->get(zmq::sockopt::rcvmore)) (void)monitor_->recv(address, zmq::recv_flags::dontwait);
    if (event.size() >= 6) {
      uint16_t id;
      std::memcpy(&id, event.data(), sizeof id);
      if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) auth_failed_ = true;
      // A protocol failure means the peers cannot agree (e.g. the broker is
      // not a CURVE server): retrying cannot help. A handshake cut short
      // (NO_DETAIL) is also what a wrong broker key looks like, but so is a
      // broker dying mid-handshake, so it is only counted for the message.
      if (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) handshake_failed_ = true;
      if (id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) ++handshakes_cut_short_;
      if (id == ZMQ_EVENT_DISCONNECTED) ++disconnects_;
    }
  }
  return HandshakeVerdict();
}

Status BrokerClient::HandshakeVerdict() const {
  if (auth_failed_) {
    return Status::PermissionDenied("the broker refused this client's CURVE key (unknown or not authorised)");
  }
  if (handshake_failed_) {
    return Status::PermissionDenied("the CURVE handshake with " + options_.endpoint +
                                    " failed (protocol mismatch): is the endpoint a refx broker with CURVE on?");
  }
  return Status::OK();
}

Status BrokerClient::SendWhenReady(const std::string& bytes, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    REFX_RETURN_IF_ERROR(HandshakeVerdict());
    zmq::message_t msg(bytes.data(), bytes.size());
    if (socket_->send(msg, zmq::send_flags::dontwait)) return Status::OK();
    // Not taken: no completed connection (immediate is on) or the
    // high-water mark. A refused handshake shows only on the monitor.
    REFX_RETURN_IF_ERROR(DrainMonitor());
    const int64_t left = MillisLeft(deadline);
    if (left == 0) return Status::Timeout("broker not reachable at " + options_.endpoint);
    zmq::pollitem_t items[] = {{socket_->handle(), 0, ZMQ_POLLOUT, 0}, {monitor_->handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::milliseconds(std::min<int64_t>(left, 50)));
  }
}

Status BrokerClient::Receive(int timeout_ms, v1::Frame* reply, const uint64_t* disconnects_since) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    REFX_RETURN_IF_ERROR(HandshakeVerdict());
    zmq::message_t msg;
    if (socket_->recv(msg, zmq::recv_flags::dontwait)) {
      // A reply that does not parse is dropped; the request will time out and
      // be retried, which idempotency makes safe.
      if (DecodeFrame(msg.data(), msg.size(), kMaxReplyBytes, reply).ok()) return Status::OK();
      continue;
    }
    if (disconnects_since != nullptr && disconnects_ != *disconnects_since) {
      return Status::Unavailable("the connection to the broker dropped");
    }
    const int64_t left = MillisLeft(deadline);
    if (left == 0) {
      REFX_RETURN_IF_ERROR(DrainMonitor());
      return Status::Timeout("no reply from the broker within " + std::to_string(timeout_ms) + " ms");
    }
    zmq::pollitem_t items[] = {{socket_->handle(), 0, ZMQ_POLLIN, 0}, {monitor_->handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::milliseconds(left));
    if (items[1].revents & ZMQ_POLLIN) REFX_RETURN_IF_ERROR(DrainMonitor());
  }
}

Status BrokerClient::Call(v1::Frame request, v1::Frame* reply) {
  request.set_correlation_id(next_correlation_id_++);
  if (request.on_behalf_of().empty()) request.set_on_behalf_of(options_.on_behalf_of);
  const std::string bytes = EncodeFrame(request);
  const bool resendable = SafeToResend(request);
  int backoff = options_.initial_backoff_ms;
  Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    REFX_RETURN_IF_ERROR(Connect());
    last = SendWhenReady(bytes, options_.request_timeout_ms);
    const bool sent = last.ok();
    if (sent) {
      const auto deadline = Clock::now() + std::chrono::milliseconds(options_.request_timeout_ms);
      while (true) {
        last = Receive(static_cast<int>(MillisLeft(deadline)), reply);
        if (!last.ok()) break;
        // An error for a request the broker could not decode carries id 0;
        // with one request outstanding it can only be ours.
        const bool ours = reply->correlation_id() == request.correlation_id() ||
                          (reply->correlation_id() == 0 && reply->has_error());
        if (!ours) continue;  // a late reply to an earlier request
        // INTERNAL and UNAVAILABLE: nothing was written; try again (the
        // last such reply is returned if every attempt gets one).
        if (!RetryableError(*reply) || attempt == options_.max_attempts) return Status::OK();
        last = StatusFromError(reply->error());
        break;
      }
    }
    if (last.code() == Status::Code::kPermissionDenied) return last;
    if (sent && !resendable && last.code() == Status::Code::kTimeout) {
      // Sent and unanswered: it may have been written, and a second copy
      // would be written again.
      return Status::Unavailable("broker at " + options_.endpoint + " did not answer an append that has no " +
                                 "idempotency key; it may or may not have been written, so it was not sent again " +
                                 "(query the case before trying again)" + HandshakeHint());
    }
    // Lazy Pirate: the old socket may hold a broken connection; start afresh.
    Disconnect();
    if (attempt < options_.max_attempts) {
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
      backoff = std::min(backoff * 2, options_.max_backoff_ms);
    }
  }
  return Status::Unavailable("broker at " + options_.endpoint + " did not answer after " +
                             std::to_string(options_.max_attempts) + " attempts (" + last.message() + ")" +
                             HandshakeHint());
}

std::string BrokerClient::HandshakeHint() const {
  if (handshakes_cut_short_ == 0) return "";
  return "; " + std::to_string(handshakes_cut_short_) +
         " CURVE handshakes were cut short — if the broker is up, check the broker public key this client uses "
         "and this client's key pair (its secret key must match the public key the partnership lists)";
}

Status BrokerClient::Submit(const v1::Referral& referral, v1::Ack* ack) {
  v1::Frame request, reply;
  *request.mutable_submit()->mutable_referral() = referral;
  REFX_RETURN_IF_ERROR(Call(std::move(request), &reply));
  if (reply.has_ack()) {
    *ack = reply.ack();
    return Status::OK();
  }
  if (reply.has_error()) return StatusFromError(reply.error());
  return Status::Internal("unexpected reply to submit");
}

Status BrokerClient::Append(const v1::Event& event, const std::string& idempotency_key, v1::Ack* ack) {
  v1::Frame request, reply;
  *request.mutable_append()->mutable_event() = event;
  request.mutable_append()->set_idempotency_key(idempotency_key);
  REFX_RETURN_IF_ERROR(Call(std::move(request), &reply));
  if (reply.has_ack()) {
    *ack = reply.ack();
    return Status::OK();
  }
  if (reply.has_error()) return StatusFromError(reply.error());
  return Status::Internal("unexpected reply to append");
}

Status BrokerClient::Query(const v1::QueryRequest& query, v1::QueryResult* result) {
  v1::Frame request, reply;
  *request.mutable_query() = query;
  REFX_RETURN_IF_ERROR(Call(std::move(request), &reply));
  if (reply.has_query_result()) {
    *result = reply.query_result();
    return Status::OK();
  }
  if (reply.has_error()) return StatusFromError(reply.error());
  return Status::Internal("unexpected reply to query");
}

Status BrokerClient::Read(v1::ReadRequest request, const EventFn& on_event, const std::function<bool()>& should_stop) {
  // The credit kept open: the request's initial_credit if it sets one (a
  // bulk replay may ask for much more), else 2,000 events.
  const uint32_t window = request.initial_credit() > 0 ? request.initial_credit() : 2000;
  constexpr int kTickMs = 200;
  uint64_t last_delivered = request.after_seq();
  scanned_to_seq_ = last_delivered;
  uint64_t read_id = 0, heartbeat_id = 0;
  uint64_t credit_left = 0;
  int silent_heartbeats = 0;
  bool got_events_since_heartbeat = false;
  auto idle_since = Clock::now();

  // (Re)starts the read after the last event delivered.
  auto start = [&]() -> Status {
    REFX_RETURN_IF_ERROR(Connect());
    request.set_after_seq(last_delivered);
    request.set_initial_credit(window);
    v1::Frame f;
    read_id = next_correlation_id_++;
    f.set_correlation_id(read_id);
    f.set_on_behalf_of(options_.on_behalf_of);
    *f.mutable_read() = request;
    credit_left = window;
    return SendWhenReady(EncodeFrame(f), options_.request_timeout_ms);
  };
  Status s = start();
  if (s.code() == Status::Code::kPermissionDenied) return s;

  v1::Frame reply;
  v1::Event event;
  // Events delivered since should_stop was last called. Batches that have
  // already arrived are taken together before should_stop runs, so a caller
  // that acts in should_stop (appends, a cursor) pays that once per burst
  // rather than once per broker batch; kMaxBurst bounds the wait for it.
  constexpr uint64_t kMaxBurst = 4096;
  uint64_t burst = 0;
  while (true) {
    if (burst == 0 || burst >= kMaxBurst) {
      burst = 0;
      if (should_stop && should_stop()) return Status::OK();
    }
    s = socket_ ? Receive(burst > 0 ? 0 : kTickMs, &reply) : Status::Timeout("not connected");
    if (s.code() == Status::Code::kPermissionDenied) return s;
    if (!s.ok() && burst > 0) {
      burst = 0;  // nothing more has arrived: the burst ends here
      continue;
    }
    if (s.ok()) {
      if (reply.correlation_id() == read_id && reply.has_events()) {
        const v1::EventBatch& batch = reply.events();
        NoteHead(batch.head_seq());
        for (int i = 0; i < batch.events_size(); ++i) {
          // A sealed event's content comes opened beside its stored bytes.
          const bool opened = i < batch.opened_size() && !batch.opened(i).empty();
          if (!event.ParseFromString(opened ? batch.opened(i) : batch.events(i))) {
            return Status::Corruption("the broker sent an unparseable event");
          }
          if (event.seq() <= last_delivered) continue;  // already delivered before a restart
          last_delivered = event.seq();
          if (last_delivered > scanned_to_seq_) scanned_to_seq_ = last_delivered;
          if (!on_event(event, batch.events(i), i < batch.chain_hashes_size() ? batch.chain_hashes(i) : "")) {
            return Status::OK();
          }
        }
        // Events the broker skipped (another kind, filtered out) up to
        // scanned_to_seq are not sent again after a restart either.
        if (batch.scanned_to_seq() > scanned_to_seq_) scanned_to_seq_ = batch.scanned_to_seq();
        last_delivered = std::max(last_delivered, scanned_to_seq_);
        got_events_since_heartbeat = true;
        burst += std::max(1, batch.events_size());
        credit_left -= std::min<uint64_t>(credit_left, batch.events_size());
        if (batch.end_of_log()) return Status::OK();
        if (credit_left < window / 2) {
          v1::Frame credit;
          credit.set_correlation_id(read_id);
          credit.set_on_behalf_of(options_.on_behalf_of);
          credit.mutable_credit()->set_events(window - static_cast<uint32_t>(credit_left));
          credit_left = window;
          (void)SendWhenReady(EncodeFrame(credit), options_.request_timeout_ms);
        }
        idle_since = Clock::now();
        silent_heartbeats = 0;
      } else if (reply.correlation_id() == read_id && reply.has_error()) {
        return StatusFromError(reply.error());
      } else if (reply.correlation_id() == heartbeat_id && reply.has_heartbeat()) {
        silent_heartbeats = 0;
        NoteHead(reply.heartbeat().head_seq());
        // The broker has events past what we have seen, yet sent none since
        // the last heartbeat: our read is gone (e.g. the broker restarted and
        // ZeroMQ reconnected underneath). Ask again from where we are.
        if (reply.heartbeat().head_seq() > last_delivered && !got_events_since_heartbeat && credit_left > 0) {
          s = start();
          if (s.code() == Status::Code::kPermissionDenied) return s;
        }
      }
      continue;
    }
    // Quiet for a while: check the broker is there and the read is alive.
    const auto quiet = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - idle_since).count();
    if (quiet < options_.request_timeout_ms / 2) continue;
    idle_since = Clock::now();
    if (++silent_heartbeats > options_.max_attempts) {
      return Status::Unavailable("broker at " + options_.endpoint + " stopped answering during a read" + HandshakeHint());
    }
    if (silent_heartbeats > 1) {
      // The previous heartbeat went unanswered: start afresh on a new socket.
      Disconnect();
      s = start();
      if (s.code() == Status::Code::kPermissionDenied) return s;
    }
    if (!socket_ && !Connect().ok()) continue;
    v1::Frame hb;
    heartbeat_id = next_correlation_id_++;
    hb.set_correlation_id(heartbeat_id);
    hb.set_on_behalf_of(options_.on_behalf_of);
    hb.mutable_heartbeat();
    got_events_since_heartbeat = false;
    (void)SendWhenReady(EncodeFrame(hb), kTickMs);
  }
}

Status BrokerClient::SubmitWindowed(const std::vector<v1::Referral>& referrals, size_t window,
                                    const ResultFn& on_result) {
  // Each referral serialised straight into its frame (frame_items.h), not
  // copied into a Frame first.
  return CallWindowedEncoded(
      referrals.size(), window,
      [&](size_t i, uint64_t correlation_id, std::string* bytes) {
        EncodeFrameItems(FrameHead(correlation_id), v1::Frame::kSubmitFieldNumber,
                         v1::SubmitRequest::kReferralFieldNumber, {referrals[i]}, bytes);
        return Status::OK();
      },
      [&](size_t index, const v1::Frame& reply) { DispatchAckReply(index, reply, on_result); });
}

v1::Frame BrokerClient::FrameHead(uint64_t correlation_id) const {
  v1::Frame head;
  head.set_correlation_id(correlation_id);
  head.set_on_behalf_of(options_.on_behalf_of);
  return head;
}

namespace {

// Frame f of a batched send holds items [first[f], first[f + 1]): at most
// per_frame of them and at most max_bytes (each item costs its size plus a
// few bytes of tag and length in the frame; a larger item gets a frame of
// its own).
std::vector<size_t> FrameBounds(size_t count, size_t per_frame, size_t max_bytes,
                                const std::function<size_t(size_t)>& size_of) {
  if (per_frame == 0) per_frame = 1;
  std::vector<size_t> first = {0};
  size_t bytes = 0;
  for (size_t i = 0; i < count; ++i) {
    const size_t size = size_of(i) + 8;
    const size_t in_frame = i - first.back();
    if (in_frame > 0 && (in_frame == per_frame || bytes + size > max_bytes)) {
      first.push_back(i);
      bytes = 0;
    }
    bytes += size;
  }
  first.push_back(count);
  return first;
}

// Hands each item of frame [begin, end) its result: its own ack or error
// from the batch reply's items, or the whole frame's error.
template <class Items>
void DispatchBatchReply(const v1::Frame& reply, bool has_result, const Items& items, size_t begin, size_t end,
                        const char* what, const BrokerClient::ResultFn& on_result) {
  if (has_result && static_cast<size_t>(items.size()) == end - begin) {
    for (size_t i = begin; i < end; ++i) {
      const auto& item = items[static_cast<int>(i - begin)];
      if (item.has_ack()) {
        on_result(i, Status::OK(), item.ack());
      } else {
        on_result(i, item.has_error() ? StatusFromError(item.error()) : Status::Internal("empty batch result"),
                  v1::Ack());
      }
    }
    return;
  }
  const Status whole = reply.has_error() ? StatusFromError(reply.error())
                                         : Status::Internal("unexpected reply to a batch of " +
                                                            std::to_string(end - begin) + " " + what);
  for (size_t i = begin; i < end; ++i) on_result(i, whole, v1::Ack());
}

}  // namespace

Status BrokerClient::SubmitBatches(const std::vector<v1::Referral>& referrals, size_t per_frame, size_t window,
                                   const ResultFn& on_result) {
  const std::vector<size_t> first = FrameBounds(referrals.size(), per_frame, options_.batch_frame_bytes,
                                                [&](size_t i) { return referrals[i].ByteSizeLong(); });
  const size_t frames = referrals.empty() ? 0 : first.size() - 1;
  return CallWindowedEncoded(
      frames, window,
      [&](size_t f, uint64_t correlation_id, std::string* bytes) {
        EncodeFrameItems(FrameHead(correlation_id), v1::Frame::kSubmitBatchFieldNumber,
                         v1::SubmitBatchRequest::kReferralsFieldNumber, FrameItemsOf(referrals, first[f], first[f + 1]),
                         bytes);
        return Status::OK();
      },
      [&](size_t f, const v1::Frame& reply) {
        DispatchBatchReply(reply, reply.has_submit_batch_result(), reply.submit_batch_result().results(), first[f],
                           first[f + 1], "referrals", on_result);
      });
}

Status BrokerClient::AppendBatches(const std::vector<v1::AppendRequest>& appends, size_t per_frame, size_t window,
                                   const ResultFn& on_result) {
  for (size_t i = 0; i < appends.size(); ++i) {
    if (appends[i].idempotency_key().empty()) {
      return Status::InvalidArgument("append " + std::to_string(i) +
                                     " has no idempotency key: not safe to send in a batch");
    }
  }
  const std::vector<size_t> first = FrameBounds(appends.size(), per_frame, options_.batch_frame_bytes,
                                                [&](size_t i) { return appends[i].ByteSizeLong(); });
  const size_t frames = appends.empty() ? 0 : first.size() - 1;
  return CallWindowedEncoded(
      frames, window,
      [&](size_t f, uint64_t correlation_id, std::string* bytes) {
        EncodeFrameItems(FrameHead(correlation_id), v1::Frame::kAppendBatchFieldNumber,
                         v1::AppendBatchRequest::kAppendsFieldNumber, FrameItemsOf(appends, first[f], first[f + 1]),
                         bytes);
        return Status::OK();
      },
      [&](size_t f, const v1::Frame& reply) {
        DispatchBatchReply(reply, reply.has_append_batch_result(), reply.append_batch_result().results(), first[f],
                           first[f + 1], "appends", on_result);
      });
}

Status BrokerClient::SubmitBatchesEncoded(const std::vector<std::string_view>& referrals, size_t per_frame,
                                          size_t window, const ResultFn& on_result) {
  const std::vector<size_t> first = FrameBounds(referrals.size(), per_frame, options_.batch_frame_bytes,
                                                [&](size_t i) { return referrals[i].size(); });
  const size_t frames = referrals.empty() ? 0 : first.size() - 1;
  return CallWindowedEncoded(
      frames, window,
      [&](size_t f, uint64_t correlation_id, std::string* bytes) {
        // The referrals' own bytes in the frame, without parsing or copying
        // each into a message first (frame_items.h).
        EncodeFrameItems(FrameHead(correlation_id), v1::Frame::kSubmitBatchFieldNumber,
                         v1::SubmitBatchRequest::kReferralsFieldNumber, FrameItemsOf(referrals, first[f], first[f + 1]),
                         bytes);
        return Status::OK();
      },
      [&](size_t f, const v1::Frame& reply) {
        DispatchBatchReply(reply, reply.has_submit_batch_result(), reply.submit_batch_result().results(), first[f],
                           first[f + 1], "referrals", on_result);
      });
}

Status BrokerClient::CallWindowedEncoded(size_t count, size_t window, const EncodeFn& encode,
                                         const ReplyFn& on_reply) {
  if (window == 0) window = 1;
  // Correlation id = base + index, so a reply names its request directly.
  const uint64_t base = next_correlation_id_;
  next_correlation_id_ += count;
  std::map<uint64_t, std::string> in_flight;  // correlation id -> encoded request
  std::map<uint64_t, int> refusals;            // correlation id -> INTERNAL/UNAVAILABLE replies so far
  size_t next = 0, done = 0;
  int attempt = 1, backoff = options_.initial_backoff_ms;
  REFX_RETURN_IF_ERROR(Connect());
  // Every request in the window is resent when the connection it went out
  // on drops (idempotency makes that safe), without waiting for a timeout.
  // Drops reported before this call (an idle client's) are read first, so
  // they do not count against it.
  REFX_RETURN_IF_ERROR(DrainMonitor());
  uint64_t connection_disconnects = disconnects_;
  auto last_progress = Clock::now();
  v1::Frame reply;
  while (done < count) {
    while (next < count && in_flight.size() < window) {
      std::string bytes;
      REFX_RETURN_IF_ERROR(encode(next, base + next, &bytes));
      Status s = SendWhenReady(bytes, options_.request_timeout_ms);
      if (s.code() == Status::Code::kPermissionDenied) return s;
      if (!s.ok()) break;  // handled as a timeout below
      in_flight.emplace(base + next, std::move(bytes));
      ++next;
    }
    const int64_t wait = options_.request_timeout_ms -
                         std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_progress).count();
    Status s = wait > 0 ? Receive(static_cast<int>(wait), &reply, &connection_disconnects)
                        : Status::Timeout("no progress");
    if (s.code() == Status::Code::kPermissionDenied) return s;
    if (s.ok()) {
      auto it = in_flight.find(reply.correlation_id());
      if (it == in_flight.end()) continue;  // duplicate reply after a resend
      if (RetryableError(reply) && ++refusals[it->first] < options_.max_attempts) {
        // Nothing of it was written: send it again after a back-off.
        const int wait_ms = std::min(options_.initial_backoff_ms << std::min(refusals[it->first] - 1, 16),
                                     options_.max_backoff_ms);
        std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
        Status resent = SendWhenReady(it->second, options_.request_timeout_ms);
        if (resent.code() == Status::Code::kPermissionDenied) return resent;
        last_progress = Clock::now();
        continue;  // if the send failed, the timeout below resends it
      }
      refusals.erase(it->first);
      in_flight.erase(it);
      ++done;
      last_progress = Clock::now();
      attempt = 1;
      backoff = options_.initial_backoff_ms;
      on_reply(reply.correlation_id() - base, reply);
      continue;
    }
    // No progress within the timeout, or the connection dropped: reconnect
    // and resend what is in flight.
    if (++attempt > options_.max_attempts) {
      return Status::Unavailable("broker at " + options_.endpoint + " stopped answering; " +
                                 std::to_string(count - done) + " requests not answered" +
                                 HandshakeHint());
    }
    Disconnect();
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
    backoff = std::min(backoff * 2, options_.max_backoff_ms);
    REFX_RETURN_IF_ERROR(Connect());
    connection_disconnects = disconnects_;
    for (const auto& [id, bytes] : in_flight) {
      Status sent = SendWhenReady(bytes, options_.request_timeout_ms);
      if (sent.code() == Status::Code::kPermissionDenied) return sent;
      if (!sent.ok()) break;
    }
    last_progress = Clock::now();
  }
  return Status::OK();
}

}  // namespace refx
