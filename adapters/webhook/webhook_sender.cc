#include "adapters/webhook/webhook_sender.h"

#include <google/protobuf/util/json_util.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <regex>
#include <set>
#include <thread>

#include "adapters/webhook/webhook_signature.h"
#include "core/metrics_http.h"
#include "client/run_with_restarts.h"
#include "client/cursor_file.h"

namespace refx::adapters {

namespace {

std::string CaseKey(const std::string& ref, const std::string& dest, uint32_t attempt) {
  return ref + "/" + dest + "/" + std::to_string(attempt);
}

bool IsLoopbackHost(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

// Waits `ms`, checking should_stop every 50 ms; true if asked to stop.
bool SleepUnlessStopped(int ms, const std::function<bool()>& should_stop) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (StopRequested(should_stop)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50, ms)));
  }
  return StopRequested(should_stop);
}

}  // namespace

// The receiver's URL, split for cpp-httplib, and the client kept between
// requests (keep-alive).
struct WebhookSender::Http {
  std::string scheme_host_port;
  std::string path;
  std::unique_ptr<httplib::Client> client;
};

std::string ReceivedKey(const std::string& receiver, const v1::CaseDelivered& d) {
  return "received:" + receiver + ":" + d.referral_id() + ":" + d.destination() + ":" + std::to_string(d.attempt());
}

std::string TransferFailedKey(const std::string& receiver, const v1::CaseDelivered& d) {
  return "transfer-failed:" + receiver + ":" + d.referral_id() + ":" + d.destination() + ":" +
         std::to_string(d.attempt());
}

WebhookSender::WebhookSender(WebhookOptions options) : options_(std::move(options)) {}
WebhookSender::~WebhookSender() = default;

Status WebhookSender::Create(WebhookOptions options, std::unique_ptr<WebhookSender>* out) {
  v1::Webhook& w = options.webhook;
  const std::string name = w.name().empty() ? "(unnamed)" : w.name();
  if (w.name().empty()) return Status::InvalidArgument("a webhook needs a name", "webhooks.name");
  if (w.destination().empty()) {
    return Status::InvalidArgument("webhook \"" + name + "\" needs a destination", "webhooks.destination");
  }
  static const std::regex kUrl(R"(^(https?)://(\[[0-9a-fA-F:]+\]|[^/:]+)(:[0-9]{1,5})?(/[^ ]*)?$)");
  std::smatch m;
  if (!std::regex_match(w.url(), m, kUrl)) {
    return Status::InvalidArgument("webhook \"" + name + "\": url \"" + w.url() +
                                       "\" is not http(s)://host[:port][/path]",
                                   "webhooks.url");
  }
  if (m[1] == "http" && !IsLoopbackHost(m[2])) {
    return Status::InvalidArgument("webhook \"" + name + "\": url must be https:// (plain http:// only on loopback)",
                                   "webhooks.url");
  }
  if (options.secret.size() < kMinSecretBytes) {
    return Status::InvalidArgument("webhook \"" + name + "\": the secret needs at least " +
                                       std::to_string(kMinSecretBytes) + " bytes",
                                   "webhooks.secret_file");
  }
  if (w.timeout_ms() == 0) w.set_timeout_ms(10000);
  if (w.max_tries() == 0) w.set_max_tries(5);
  if (options.state_dir.empty()) return Status::InvalidArgument("the webhook sender needs a state folder");
  std::error_code ec;
  std::filesystem::create_directories(options.state_dir, ec);
  if (ec) return Status::IoError("cannot create " + options.state_dir + ": " + ec.message());

  std::unique_ptr<WebhookSender> sender(new WebhookSender(std::move(options)));
  sender->cursor_path_ = sender->options_.state_dir + "/webhook-" + sender->options_.webhook.name() + ".cursor";
  auto http = std::make_unique<Http>();
  http->scheme_host_port = m[1].str() + "://" + m[2].str() + m[3].str();
  http->path = m[4].matched && !m[4].str().empty() ? m[4].str() : "/";
  http->client = std::make_unique<httplib::Client>(http->scheme_host_port);
  const v1::Webhook& cfg = sender->options_.webhook;
  const time_t sec = cfg.timeout_ms() / 1000;
  const time_t usec = (cfg.timeout_ms() % 1000) * 1000;
  http->client->set_connection_timeout(sec, usec);
  http->client->set_read_timeout(sec, usec);
  http->client->set_write_timeout(sec, usec);
  http->client->set_keep_alive(true);
  if (m[1] == "https") {
    http->client->enable_server_certificate_verification(true);
    if (!cfg.tls_ca_file().empty()) http->client->set_ca_cert_path(cfg.tls_ca_file().c_str());
  }
  sender->http_ = std::move(http);
  uint64_t cursor = 0;
  REFX_RETURN_IF_ERROR(CursorFile(sender->cursor_path_).Load(&cursor));
  sender->cursor_ = cursor;
  *out = std::move(sender);
  return Status::OK();
}

Status WebhookSender::Run(const std::function<bool()>& should_stop) {
  const std::string name = "webhook " + options_.webhook.name();
  return RunWithRestarts(name.c_str(), options_.retry_delay_ms, should_stop,
                         [this](const std::function<bool()>& stop) { return RunOnce(stop); });
}

Status WebhookSender::StoreCursor(uint64_t seq) {
  if (seq <= cursor_.load()) return Status::OK();
  REFX_RETURN_IF_ERROR(CursorFile(cursor_path_).Store(seq));
  cursor_ = seq;
  return Status::OK();
}

Status WebhookSender::RunOnce(const std::function<bool()>& should_stop) {
  const v1::Webhook& w = options_.webhook;
  BrokerClient reader(options_.client);
  BrokerClient appender(options_.client);
  uint64_t cursor = 0;
  REFX_RETURN_IF_ERROR(CursorFile(cursor_path_).Load(&cursor));
  cursor_ = cursor;

  // 1. Catch up from the cursor to the head: the deliveries still to pass
  // on, less those this receiver already recorded (the record is in the
  // log, the cursor did not move before a stop).
  std::vector<v1::Event> backlog;
  std::set<std::string> settled;
  uint64_t last_seen = cursor;
  v1::ReadRequest catch_up;
  catch_up.set_after_seq(cursor);
  catch_up.set_destination(w.destination());
  catch_up.set_purpose("refx-adapter: webhook " + w.name());
  Status s = reader.Read(
      catch_up,
      [&](const v1::Event& e, const std::string&, const std::string&) {
        last_seen = e.seq();
        if (e.has_case_delivered()) backlog.push_back(e);
        if (e.has_case_received_by_system() && e.case_received_by_system().receiver() == w.name()) {
          const auto& r = e.case_received_by_system();
          settled.insert(CaseKey(r.referral_id(), r.destination(), r.attempt()));
        }
        if (e.has_case_transfer_failed() && e.case_transfer_failed().receiver() == w.name()) {
          const auto& f = e.case_transfer_failed();
          settled.insert(CaseKey(f.referral_id(), f.destination(), f.attempt()));
        }
        return true;
      },
      should_stop);
  REFX_RETURN_IF_ERROR(s);
  if (StopRequested(should_stop)) return Status::OK();
  spdlog::info("webhook {}: from seq {}: {} deliveries to pass on, {} recorded before", w.name(), cursor,
               backlog.size() - std::min(backlog.size(), settled.size()), settled.size());
  for (const v1::Event& e : backlog) {
    const auto& d = e.case_delivered();
    if (!settled.count(CaseKey(d.referral_id(), d.destination(), d.attempt()))) {
      bool stopped = false;
      REFX_RETURN_IF_ERROR(Pass(e, &appender, should_stop, &stopped));
      if (stopped) return Status::OK();
    }
    REFX_RETURN_IF_ERROR(StoreCursor(e.seq()));
  }
  REFX_RETURN_IF_ERROR(StoreCursor(last_seen));

  // 2. Follow: deliveries are queued as they arrive and passed on between
  // the read's batches, in seq order; the cursor follows the last settled.
  std::deque<v1::Event> queue;
  uint64_t read_to = last_seen;
  Status failure;
  bool stopped = false;
  v1::ReadRequest follow = catch_up;
  follow.set_after_seq(last_seen);
  follow.set_follow(true);
  s = reader.Read(
      follow,
      [&](const v1::Event& e, const std::string&, const std::string&) {
        read_to = e.seq();
        if (e.has_case_delivered()) queue.push_back(e);
        return true;
      },
      [&]() {
        while (!queue.empty()) {
          failure = Pass(queue.front(), &appender, should_stop, &stopped);
          if (!failure.ok() || stopped) return true;
          failure = StoreCursor(queue.front().seq());
          if (!failure.ok()) return true;
          queue.pop_front();
        }
        failure = StoreCursor(read_to);
        return !failure.ok() || StopRequested(should_stop);
      });
  REFX_RETURN_IF_ERROR(failure);
  REFX_RETURN_IF_ERROR(s);
  if (stopped || StopRequested(should_stop)) return Status::OK();
  return Status::Unavailable("the broker ended the webhook's read");
}

Status WebhookSender::Pass(const v1::Event& delivered, BrokerClient* appender,
                           const std::function<bool()>& should_stop, bool* stopped) {
  const v1::Webhook& w = options_.webhook;
  const v1::CaseDelivered& d = delivered.case_delivered();
  std::string body;
  google::protobuf::util::JsonPrintOptions json;
  json.always_print_primitive_fields = false;
  if (!google::protobuf::util::MessageToJsonString(delivered, &body, json).ok()) {
    return Status::Internal("cannot write seq " + std::to_string(delivered.seq()) + " as JSON");
  }
  const std::string delivery = CaseKey(d.referral_id(), d.destination(), d.attempt());

  int backoff = std::max(1, options_.backoff_initial_ms);
  uint32_t tries = 0;
  int http_status = 0;
  std::string reason;
  while (tries < w.max_tries()) {
    if (tries > 0) {
      if (SleepUnlessStopped(backoff, should_stop)) {
        *stopped = true;
        return Status::OK();
      }
      backoff = std::min(backoff * 2, std::max(options_.backoff_max_ms, 1));
    }
    if (StopRequested(should_stop)) {
      *stopped = true;
      return Status::OK();
    }
    ++tries;
    ++posts_;
    const std::string timestamp = std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    httplib::Headers headers = {{kTimestampHeader, timestamp},
                                {kSignatureHeader, WebhookSignature(options_.secret, timestamp, body)},
                                {kDeliveryHeader, delivery}};
    httplib::Result res = http_->client->Post(http_->path.c_str(), headers, body, "application/json");
    if (res) {
      http_status = res->status;
      if (http_status >= 200 && http_status < 300) break;
      reason = "HTTP " + std::to_string(http_status);
      spdlog::warn("webhook {}: {} try {}: {}", w.name(), delivery, tries, reason);
      if (http_status >= 400 && http_status < 500 && http_status != 408 && http_status != 429) break;
    } else {
      http_status = 0;
      const httplib::Error error = res.error();
      reason = error == httplib::Error::Read || error == httplib::Error::Write || error == httplib::Error::ConnectionTimeout
                   ? "no answer within " + std::to_string(w.timeout_ms()) + " ms (" + httplib::to_string(error) + ")"
                   : httplib::to_string(error);
      spdlog::warn("webhook {}: {} try {}: {}", w.name(), delivery, tries, reason);
    }
  }

  v1::Event record;
  std::string key;
  const bool received = http_status >= 200 && http_status < 300;
  if (received) {
    auto* r = record.mutable_case_received_by_system();
    r->set_referral_id(d.referral_id());
    r->set_destination(d.destination());
    r->set_attempt(d.attempt());
    r->set_receiver(w.name());
    r->set_http_status(static_cast<uint32_t>(http_status));
    key = ReceivedKey(w.name(), d);
  } else {
    auto* f = record.mutable_case_transfer_failed();
    f->set_referral_id(d.referral_id());
    f->set_destination(d.destination());
    f->set_attempt(d.attempt());
    f->set_receiver(w.name());
    f->set_reason(reason);
    f->set_tries(tries);
    key = TransferFailedKey(w.name(), d);
  }
  v1::Ack ack;
  Status s = appender->Append(record, key, &ack);
  if (s.code() == Status::Code::kIllegalTransition) {
    spdlog::warn("webhook {}: {} cannot be recorded: {}", w.name(), delivery, s.message());
    return Status::OK();
  }
  if (!s.ok()) {
    spdlog::error("webhook {}: cannot record {}: {}", w.name(), delivery, s.ToString());
    return s;
  }
  if (received) {
    ++received_;
    spdlog::info("webhook {}: {} received (HTTP {}, try {}) seq {}", w.name(), delivery, http_status, tries, ack.seq());
  } else {
    ++failed_;
    spdlog::warn("webhook {}: {} failed after {} tries ({}) seq {}", w.name(), delivery, tries, reason, ack.seq());
  }
  return Status::OK();
}

std::string WebhookSender::RenderMetrics() const {
  const std::string label = "{webhook=\"" + PrometheusLabelValue(options_.webhook.name()) + "\"}";
  std::string out;
  auto add = [&](const char* name, const char* type, const char* help, uint64_t value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + label + " " +
           std::to_string(value) + "\n";
  };
  add("refx_webhook_posts_total", "counter", "HTTP POSTs the webhook made (every try).", posts_.load());
  add("refx_webhook_received_total", "counter", "Deliveries recorded as case_received_by_system.", received_.load());
  add("refx_webhook_transfer_failed_total", "counter", "Deliveries recorded as case_transfer_failed.", failed_.load());
  add("refx_webhook_cursor_seq", "gauge", "The seq up to which every delivery is settled.", cursor_.load());
  return out;
}

}  // namespace refx::adapters
