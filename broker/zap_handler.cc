#include "broker/zap_handler.h"

#include <spdlog/spdlog.h>

#include <ctime>
#include <vector>
#include <zmq.hpp>

#include "core/curve_keys.h"

namespace refx::broker {

namespace {

// The ZAP reply's metadata (ZMTP 3.0 encoding: a one-byte name length, the
// name, a four-byte big-endian value length, the value) carrying the key's
// fingerprint as kKeyProperty.
std::string KeyMetadata(const std::string& fingerprint) {
  const std::string name = kKeyProperty;
  std::string out;
  out.push_back(static_cast<char>(name.size()));
  out += name;
  const uint32_t n = static_cast<uint32_t>(fingerprint.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
  out += fingerprint;
  return out;
}

}  // namespace

ZapHandler::ZapHandler(zmq::context_t* context, const PartnershipConfig* config)
    : context_(context), config_(config) {}

ZapHandler::~ZapHandler() { Stop(); }

Status ZapHandler::Start() {
  // The socket is created and bound here, so that the bind has happened when
  // Start returns, then handed to the handler thread, which alone uses it.
  auto* socket = new zmq::socket_t(*context_, zmq::socket_type::rep);
  try {
    socket->set(zmq::sockopt::linger, 0);
    socket->bind("inproc://zeromq.zap.01");
  } catch (const zmq::error_t& e) {
    delete socket;
    return Status::Internal(std::string("cannot bind the ZAP handler: ") + e.what());
  }
  thread_ = std::thread([this, socket] {
    Run(socket);
    delete socket;
  });
  return Status::OK();
}

void ZapHandler::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ZapHandler::Run(void* raw) {
  auto& socket = *static_cast<zmq::socket_t*>(raw);
  while (!stop_) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    try {
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) <= 0) continue;
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      throw;
    }
    std::vector<zmq::message_t> request;
    while (true) {
      zmq::message_t part;
      if (!socket.recv(part, zmq::recv_flags::none)) break;
      request.push_back(std::move(part));
      if (!socket.get(zmq::sockopt::rcvmore)) break;
    }
    // version, request id, domain, address, routing id, mechanism, credentials...
    std::string request_id = request.size() > 1 ? request[1].to_string() : "";
    std::string status_code = "400", status_text = "refused", user_id, fingerprint, metadata;
    if (request.size() < 6 || request[0].to_string() != "1.0") {
      status_text = "malformed ZAP request";
    } else if (request[2].to_string() != kZapDomain) {
      status_text = "unknown ZAP domain";
    } else if (request[5].to_string() != "CURVE" || request.size() < 7 || request[6].size() != 32) {
      status_text = "CURVE is required";
    } else {
      char z85[41];
      zmq_z85_encode(z85, static_cast<const uint8_t*>(request[6].data()), 32);
      fingerprint = CurveKeyFingerprint(z85);
      const v1::Agency* agency = nullptr;
      Status s = config_.load()->CheckKey(fingerprint, std::time(nullptr), &agency);
      if (s.ok()) {
        status_code = "200";
        status_text = "OK";
        user_id = agency->id();
        metadata = KeyMetadata(fingerprint);
      } else {
        status_text = s.code() == Status::Code::kNotFound ? "unknown client key" : s.message();
      }
    }
    // The peer address is not personal data; it helps trace refused keys.
    if (status_code == "200") {
      ++accepted_;
      spdlog::debug("zap: accepted {} (key {}) from {}", user_id, fingerprint,
                    LogEscape(request.size() > 3 ? request[3].to_string() : ""));
    } else {
      ++refused_;
      const std::string address = LogEscape(request.size() > 3 ? request[3].to_string() : "?");
      uint64_t suppressed = 0;
      if (refusal_log_.Allow(address, &suppressed)) {
        spdlog::warn("zap: refused a connection from {}: {}{}", address, LogEscape(status_text),
                     suppressed == 0 ? "" : " (" + std::to_string(suppressed) + " earlier refusals suppressed)");
      }
    }
    const std::string reply[] = {"1.0", request_id, status_code, status_text, user_id, metadata};
    for (size_t i = 0; i < 6; ++i) {
      socket.send(zmq::buffer(reply[i]), i < 5 ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
}

std::string KeyFingerprintOf(const zmq::message_t& message) {
  const char* fingerprint = zmq_msg_gets(message.handle(), kKeyProperty);
  return fingerprint != nullptr ? fingerprint : "";
}

Status CheckConnectionKey(const zmq::message_t& message, const v1::Agency& agency, const PartnershipConfig& config,
                          int64_t now_unix) {
  return CheckConnectionKey(zmq_msg_gets(message.handle(), kKeyProperty), agency, config, now_unix);
}

Status CheckConnectionKey(const char* fingerprint, const v1::Agency& agency, const PartnershipConfig& config,
                          int64_t now_unix) {
  if (fingerprint == nullptr || *fingerprint == '\0') {
    return Status::PermissionDenied("the connection of agency \"" + agency.id() + "\" carries no key fingerprint");
  }
  const v1::Agency* owner = nullptr;
  Status s = config.CheckKey(fingerprint, now_unix, &owner);
  if (s.code() == Status::Code::kNotFound || (s.ok() && owner->id() != agency.id())) {
    return Status::PermissionDenied("key " + std::string(fingerprint) + " is no longer a key of agency \"" +
                                    agency.id() + "\"; reconnect with its current key");
  }
  return s;
}

}  // namespace refx::broker
