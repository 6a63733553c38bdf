// WebhookSender: the outbound webhook of an agency adapter. It follows the
// log as the agency (a LEAD identity: it sees only its own destinations'
// cases), and POSTs each case_delivered of the webhook's destination — the
// case's need-to-know view, as the broker disclosed it — to the agency's
// case system, then records the outcome in the log as the agency:
//   2xx                       -> case_received_by_system {attempt, receiver,
//                                http_status}
//   max_tries failures        -> case_transfer_failed {attempt, receiver,
//                                reason (e.g. "HTTP 503", "no answer within
//                                10000 ms"; never personal data), tries}
// under the idempotency keys "received:<receiver>:<ref>:<dest>:<attempt>"
// and "transfer-failed:<receiver>:<ref>:<dest>:<attempt>". It decides
// nothing else: the delivery service reads those events and decides about
// redelivery, undeliverable and escalation (each redelivery is a new attempt,
// POSTed again).
//
// The request: POST to the configured URL, body the case_delivered event in
// protobuf's JSON mapping (seq, time, actor, caseDelivered {referralId,
// destination, attempt, view, deadline, ...}), Content-Type
// application/json, signed as webhook_signature.h describes, with
// X-Refx-Delivery "<referral>/<destination>/<attempt>" (the same on every
// try of one attempt: receivers de-duplicate on it). Between tries it waits
// backoff_initial_ms, doubling to backoff_max_ms. A 4xx other than 408 and
// 429 is not tried again (the receiver refuses the request as such).
//
// Durable cursor: STATE_DIR/webhook-<name>.cursor holds the seq up to which
// every delivery has been settled (recorded as received or failed). On
// start the sender reads from the cursor to the log's head first and skips
// the deliveries this receiver has already recorded, so a restart re-POSTs
// only an attempt whose outcome never reached the log (a crash between the
// POST and the record: the receiver sees that attempt twice, with the same
// X-Refx-Delivery).
//
// Plain http:// is allowed only to loopback addresses (development and
// tests); anything else must be https://, checked against the system's CAs
// or tls_ca_file.
//
// Logs referral ids, seqs and HTTP statuses only.
//
// Thread-safety: Run blocks the calling thread; the const accessors may be
// called from any thread while it runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "client/broker_client.h"
#include "core/status.h"
#include "refx/v1/adapter.pb.h"
#include "refx/v1/event.pb.h"

namespace refx::adapters {

struct WebhookOptions {
  // name, destination, url, timeout_ms (default 10000), max_tries (default
  // 5), tls_ca_file. secret_file is read by the caller (LoadWebhookSecret).
  v1::Webhook webhook;
  // The HMAC key.
  std::string secret;
  // The agency's link to the broker (its own key pair).
  ClientOptions client;
  // Folder for the cursor file; created when missing.
  std::string state_dir;
  int backoff_initial_ms = 1000;
  int backoff_max_ms = 60000;
  // Wait before starting again after the broker stopped answering.
  int retry_delay_ms = 1000;
};

class WebhookSender {
 public:
  // Checks the options: a name, a destination, an http(s) URL (https unless
  // the host is loopback), a secret of at least kMinSecretBytes; creates
  // the state folder. InvalidArgument naming the webhook and the field;
  // IoError for the folder.
  static Status Create(WebhookOptions options, std::unique_ptr<WebhookSender>* out);
  ~WebhookSender();

  // Catches up from the cursor, then follows the log, POSTing and recording
  // as above, until should_stop (polled about every 200 ms, and between
  // tries) returns true: then OK. A broker that stops answering is waited
  // for. Returns the Status of a broker refusal other than "the case moved
  // on" (e.g. PermissionDenied: the agency does not own the destination).
  Status Run(const std::function<bool()>& should_stop);

  const std::string& name() const { return options_.webhook.name(); }
  // The stored cursor (seq).
  uint64_t cursor() const { return cursor_.load(); }
  // Figures in Prometheus text format, labelled with the webhook's name:
  // refx_webhook_posts_total (HTTP tries), _received_total,
  // _transfer_failed_total, _cursor_seq. Any thread.
  std::string RenderMetrics() const;

 private:
  explicit WebhookSender(WebhookOptions options);
  struct Http;

  Status RunOnce(const std::function<bool()>& should_stop);
  // POSTs one delivery with its tries and records the outcome. OK when
  // recorded (or the broker says the case can take no record); Aborted-like
  // OK with *stopped when should_stop interrupted it (nothing recorded).
  Status Pass(const v1::Event& delivered, BrokerClient* appender, const std::function<bool()>& should_stop,
              bool* stopped);
  Status StoreCursor(uint64_t seq);

  WebhookOptions options_;
  std::string cursor_path_;
  std::unique_ptr<Http> http_;
  std::atomic<uint64_t> cursor_{0};
  std::atomic<uint64_t> posts_{0};
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> failed_{0};
};

// "received:<receiver>:<ref>:<dest>:<attempt>" and
// "transfer-failed:<receiver>:<ref>:<dest>:<attempt>".
std::string ReceivedKey(const std::string& receiver, const v1::CaseDelivered& delivered);
std::string TransferFailedKey(const std::string& receiver, const v1::CaseDelivered& delivered);

}  // namespace refx::adapters
