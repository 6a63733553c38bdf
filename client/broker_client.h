// BrokerClient: a connection to the refx broker over a ZeroMQ DEALER socket
// with CURVE, for adapters, services and the CLI.
//
// Every request carries a fresh correlation id; the reply with that id is
// the answer. When no reply arrives within the timeout the client closes the
// socket, opens a new one and sends the same request again (the "Lazy
// Pirate" pattern), backing off exponentially, up to max_attempts times; an
// INTERNAL or UNAVAILABLE reply (nothing was written) is retried the same
// way. Submissions are idempotent on (identity, referrer_reference), and
// appends on their idempotency key, so a retry after a lost acknowledgement
// is answered with the original seq and never written twice. An append
// WITHOUT an idempotency key is never sent twice once it may have reached
// the broker.
//
// Thread-safety: not thread-safe. Use one BrokerClient per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/curve_keys.h"
#include "core/status.h"
#include "refx/v1/wire.pb.h"

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq

namespace refx {

struct ClientOptions {
  std::string endpoint = "tcp://127.0.0.1:7400";
  std::string server_public_key;  // Z85 broker key
  CurveKeyPair client_keys;       // this agency's key pair
  int request_timeout_ms = 2500;  // wait for one reply before retrying
  int max_attempts = 5;           // sends of one request, including the first
  int initial_backoff_ms = 100;   // doubled after each failed attempt
  int max_backoff_ms = 2000;
  // SubmitBatches puts at most this many bytes of referrals in one frame, so
  // a frame stays under the broker's max_frame_bytes (default 262144).
  size_t batch_frame_bytes = 192 * 1024;
  // For a CONSOLE identity: the person (configured id) every frame this
  // client sends is made for (Frame.on_behalf_of), unless the frame names
  // one itself. Empty: the client acts as its own agency.
  std::string on_behalf_of;
};

class BrokerClient {
 public:
  explicit BrokerClient(ClientOptions options);
  // As above, but sockets are made in `shared_context` (not owned; must
  // outlive the client), so that many clients in one process share I/O
  // threads.
  BrokerClient(ClientOptions options, zmq::context_t* shared_context);
  ~BrokerClient();
  BrokerClient(const BrokerClient&) = delete;
  BrokerClient& operator=(const BrokerClient&) = delete;

  // Sends `request` (its correlation_id is replaced) and waits for the
  // matching reply, retrying as described above. Returns OK with *reply set
  // (which may be an Error frame, INTERNAL or UNAVAILABLE only after
  // max_attempts such replies); PermissionDenied if the broker refused this
  // client's key during the CURVE handshake; Unavailable if no reply came
  // after max_attempts, or at once when an append without an idempotency
  // key went unanswered (it may or may not have been written).
  Status Call(v1::Frame request, v1::Frame* reply);

  // Submits one referral. OK with *ack once the broker has made it durable
  // (ack->duplicate tells a repeat). A broker refusal is returned as its
  // Status (code, message and field path from the Error frame).
  Status Submit(const v1::Referral& referral, v1::Ack* ack);

  // Appends one lifecycle event (seq, time and actor are set by the broker).
  // With an idempotency key a retry is answered with the original seq (the
  // same key with a different event is refused IDEMPOTENCY_CONFLICT);
  // without one a request that went unanswered is not sent again (see
  // Call). OK with *ack once durable; the broker's refusal as its Status.
  Status Append(const v1::Event& event, const std::string& idempotency_key, v1::Ack* ack);

  // Asks for case records (of a referral, or of a destination).
  Status Query(const v1::QueryRequest& query, v1::QueryResult* result);

  // Called for each event a read delivers, in seq order, with the exact
  // stored bytes and chain hash (with request.form READ_FORM_OPENED: the
  // bytes of the event as delivered, which for a sealed event are not what
  // the chain hash covers). Return false to stop reading.
  using EventFn = std::function<bool(const v1::Event& event, const std::string& bytes, const std::string& hash)>;

  // Reads the log as `request` describes (after_seq, to_seq, follow,
  // filters, purpose), granting credit as events are consumed: up to
  // request.initial_credit events outstanding (default 2,000; a bulk replay
  // may ask for more). Survives a
  // broker restart or a dropped connection: it re-issues the read from the
  // last event delivered, so on_event sees each seq at most once, in order.
  // Returns OK when a non-follow read reaches its end, when on_event returns
  // false, or when should_stop returns true. should_stop is called at least
  // every 200 ms and after each burst of event batches (those that had
  // arrived when the last was taken, up to ~4,096 events), never between two
  // batches of one burst: a caller may act on what a burst read there;
  // the broker's refusal as its Status; Unavailable if the broker does not
  // answer for max_attempts heartbeats in a row.
  Status Read(v1::ReadRequest request, const EventFn& on_event, const std::function<bool()>& should_stop = nullptr);

  // The highest seq the current (or last) Read has passed: the broker
  // looked at every event up to it, and delivered those the read asked
  // for (request.bodies and the other filters skip the rest). At least
  // the last seq delivered; the read's after_seq before any batch. Only
  // from the thread that calls Read (e.g. in should_stop).
  uint64_t scanned_to_seq() const { return scanned_to_seq_; }

  // The highest log head the broker has told this client's reads of (the
  // head_seq of event batches and heartbeat replies); 0 before any. With
  // the last seq handled it gives a reader's lag. The one method that may
  // be called from any thread.
  uint64_t head_seq_seen() const { return head_seq_seen_.load(std::memory_order_relaxed); }

  // Result of one request (one referral or append) of a windowed or batched call.
  using ResultFn = std::function<void(size_t index, const Status& status, const v1::Ack& ack)>;

  // Submits all `referrals` keeping up to `window` requests in flight, as a
  // bulk adapter does. on_result is called once per referral, in completion
  // order. Requests without a reply within the timeout are re-sent on a new
  // socket (safe: submissions are idempotent). Returns OK when every
  // referral has a result; Unavailable if the broker stopped answering
  // (referrals without a result were not acknowledged and must be retried);
  // PermissionDenied as for Call.
  Status SubmitWindowed(const std::vector<v1::Referral>& referrals, size_t window, const ResultFn& on_result);

  // Submits all `referrals` in SubmitBatchRequest frames of up to
  // `per_frame` referrals each (at most the broker's max_batch) and up to
  // options.batch_frame_bytes (a referral larger than that goes in a frame
  // of its own), keeping up to `window` frames in flight: the fastest way
  // in for a bulk adapter.
  // on_result is called once per referral (index into `referrals`), in
  // completion order, with its own ack or refusal: one bad referral does
  // not stop the others. A frame refused as a whole (e.g. too large, or
  // this identity may not submit) gives every referral of it that error.
  // Frames without a reply within the timeout are re-sent (safe: each
  // referral is idempotent by its reference). Returns as SubmitWindowed.
  Status SubmitBatches(const std::vector<v1::Referral>& referrals, size_t per_frame, size_t window,
                       const ResultFn& on_result);

  // SubmitBatches for referrals already serialised (each a binary
  // refx.v1.Referral, e.g. as a spool keeps them): the frames carry these
  // bytes as they are, so nothing is parsed or copied into messages. The
  // same framing, window, retries, results and return.
  Status SubmitBatchesEncoded(const std::vector<std::string_view>& referrals, size_t per_frame, size_t window,
                              const ResultFn& on_result);

  // Appends all `appends` in AppendBatchRequest frames, framed and windowed
  // as SubmitBatches frames referrals: one request, one validation pass and
  // one group commit for many appends. Every append must carry an
  // idempotency key (InvalidArgument, nothing sent, otherwise), so frames
  // without a reply are re-sent safely. on_result is called once per append
  // (index into `appends`) with its own ack or refusal. Returns as
  // SubmitWindowed.
  Status AppendBatches(const std::vector<v1::AppendRequest>& appends, size_t per_frame, size_t window,
                       const ResultFn& on_result);

 private:
  // Encodes request `index` of a window with `correlation_id` into *bytes;
  // an error stops the window and is returned.
  using EncodeFn = std::function<Status(size_t index, uint64_t correlation_id, std::string* bytes)>;
  // Called with each whole reply frame (Ack, Error, SubmitBatchResult...).
  using ReplyFn = std::function<void(size_t index, const v1::Frame& reply)>;
  // The window loop under the windowed and batched submits and appends,
  // which write their frames without a copy (frame_items.h): encode(i)
  // writes request i, on_reply gets each reply as it came, in completion
  // order. A request answered INTERNAL or UNAVAILABLE is sent again after a
  // back-off, up to max_attempts times.
  Status CallWindowedEncoded(size_t count, size_t window, const EncodeFn& encode, const ReplyFn& on_reply);
  // A frame's head for a windowed request: `correlation_id` and this
  // client's on_behalf_of.
  v1::Frame FrameHead(uint64_t correlation_id) const;

  Status Connect();
  void Disconnect();
  // Waits up to timeout_ms for one reply; Timeout if none. With
  // `disconnects_since` set: Unavailable as soon as no reply is waiting and
  // the connection has dropped since disconnects_ was *disconnects_since
  // (the requests sent on it are lost with it: only a caller that may
  // resend them asks for this).
  Status Receive(int timeout_ms, v1::Frame* reply, const uint64_t* disconnects_since = nullptr);
  // Sends bytes once the socket can take them, waiting up to timeout_ms.
  Status SendWhenReady(const std::string& bytes, int timeout_ms);
  // Reads pending monitor events, then returns HandshakeVerdict(). Each call
  // costs system calls even with nothing pending (a non-blocking ZeroMQ
  // receive polls the socket's mailbox), so the send and receive paths call
  // it only where a handshake failure can be what they see: a send the
  // socket does not take, a poll that wakes on the monitor, a timeout.
  Status DrainMonitor();
  // PermissionDenied if a handshake failure has been seen (auth refused, or
  // CURVE not spoken at the other end); OK otherwise. No system calls.
  Status HandshakeVerdict() const;
  // Advice appended to "unavailable" errors when handshakes kept failing.
  std::string HandshakeHint() const;
  // Raises head_seq_seen_ to `head`.
  void NoteHead(uint64_t head) {
    if (head > head_seq_seen_.load(std::memory_order_relaxed)) head_seq_seen_.store(head, std::memory_order_relaxed);
  }

  ClientOptions options_;
  std::unique_ptr<zmq::context_t> owned_context_;
  zmq::context_t* context_;
  std::unique_ptr<zmq::socket_t> socket_;
  std::unique_ptr<zmq::socket_t> monitor_;
  uint64_t disconnects_ = 0;  // ZMQ_EVENT_DISCONNECTED seen (DrainMonitor)
  uint64_t next_correlation_id_ = 1;
  bool auth_failed_ = false;
  bool handshake_failed_ = false;
  int handshakes_cut_short_ = 0;
  std::atomic<uint64_t> head_seq_seen_{0};
  uint64_t scanned_to_seq_ = 0;
};

}  // namespace refx
