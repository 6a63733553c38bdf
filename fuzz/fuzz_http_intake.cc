// libFuzzer target: the bytes a caller sends the adapter's HTTP intake
// (adapters/http/intake.h), below the socket: cpp-httplib's request
// handling (Server::process_request) over an in-memory stream, with the
// intake's routes, its bearer tokens (a token file holding the hash of
// kFuzzToken, which the seeds send), its rate limiter, a real outcome index
// and an in-memory spool (the edge: nothing here tests durability). Up to
// four requests per input (keep-alive). The intake must answer every
// request with one of its documented statuses, never 500 (a handler that
// threw), and an error's body must be problem+json.
#include <httplib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "adapters/adapter_config.h"
#include "adapters/forward/outcome_index.h"
#include "adapters/http/intake.h"
#include "adapters/spool/spool.h"
#include "adapters/tokens/token_store.h"
#include "fuzz/fuzz_support.h"

namespace {

using refx::Status;
namespace v1 = refx::v1;
namespace adapters = refx::adapters;

// The token the seeds send (Authorization: Bearer ...).
const char kFuzzToken[] = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0";

void Check(bool ok, const char* what, const std::string& detail = "") {
  if (!ok) {
    std::fprintf(stderr, "fuzz_http_intake: %s\n%s\n", what, detail.c_str());
    std::abort();
  }
}

// The spool, in memory: remembers the references it holds (a few thousand).
class MemorySpool : public adapters::Spool {
 public:
  Status Append(std::vector<v1::Referral> referrals, const std::string&) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (waiting_.size() > 4096) waiting_.clear();
    for (const auto& r : referrals) waiting_.insert(r.referrer_reference());
    return Status::OK();
  }
  Status Oldest(adapters::SpoolUnit*) override { return Status::NotFound("empty"); }
  Status Next(const std::string&, adapters::SpoolUnit*) override { return Status::NotFound("empty"); }
  Status MarkAcknowledged(const std::string&, size_t) override { return Status::OK(); }
  Status FindWaiting(const std::string& reference) override {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_.count(reference) ? Status::OK() : Status::NotFound("not waiting");
  }
  adapters::SpoolFigures Figures() override { return {}; }

 private:
  std::mutex mu_;
  std::set<std::string> waiting_;
};

// The request bytes to read, the response bytes written.
class MemoryStream : public httplib::Stream {
 public:
  MemoryStream(const uint8_t* data, size_t size) : data_(reinterpret_cast<const char*>(data)), size_(size) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, size_ - at_);
    std::memcpy(ptr, data_ + at_, n);
    at_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 40000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 7480;
  }
  socket_t socket() const override { return 0; }
  bool done() const { return at_ >= size_; }
  std::string& out() { return out_; }

 private:
  const char* data_;
  size_t size_;
  size_t at_ = 0;
  std::string out_;
};

// Exposes httplib::Server's per-request entry (protected) for the stream.
class InMemoryServer : public httplib::Server {
 public:
  bool Serve(httplib::Stream& stream, bool* closed) {
    bool connection_closed = false;
    const bool ok = process_request(stream, false, connection_closed, nullptr);
    *closed = connection_closed;
    return ok;
  }
};

struct Intake {
  std::unique_ptr<adapters::AdapterConfig> config;
  MemorySpool spool;
  std::unique_ptr<adapters::OutcomeIndex> outcomes;
  std::unique_ptr<adapters::HttpIntake> intake;
  InMemoryServer server;
};

Intake& TheIntake() {
  static Intake* intake = [] {
    auto* in = new Intake;
    const std::string& dir = refx::fuzz::ScratchDir();
    refx::fuzz::WriteFile(dir + "/keys/kent-police.tokens",
                          "fuzz-client " + adapters::TokenFile::HashHex(kFuzzToken) + " 2026-01-01T00:00:00Z\n");
    std::string text = refx::fuzz::SourceFile("deploy/config/adapters/kent-police.textproto");
    // A limit the fuzzer will not reach in one run (the limiter is still run).
    const std::string limit = "rate_limit_per_minute: 600";
    Check(text.find(limit) != std::string::npos, "the sample adapter configuration has changed");
    text.replace(text.find(limit), limit.size(), "rate_limit_per_minute: 1000000000");
    Status s = adapters::AdapterConfig::Parse(text, "kent-police.textproto", dir, &in->config);
    Check(s.ok(), "the sample adapter configuration does not load", s.ToString());
    s = adapters::OutcomeIndex::Open(dir + "/outcomes.log", &in->outcomes);
    Check(s.ok(), "cannot open the outcome index", s.ToString());
    // Outcomes for the seeds' status requests: one accepted, one refused.
    adapters::ForwardOutcome accepted;
    accepted.referrer_reference = "KP-FUZZ-1";
    accepted.accepted = true;
    accepted.referral_id = "R-000000000042";
    accepted.seq = 42;
    adapters::ForwardOutcome refused;
    refused.referrer_reference = "KP-FUZZ-2";
    refused.refusal = Status::InvalidArgument("a synthetic refusal");
    s = in->outcomes->Record({accepted, refused});
    Check(s.ok(), "cannot record outcomes", s.ToString());
    adapters::IntakeDeps deps;
    deps.config = in->config.get();
    deps.spool = &in->spool;
    deps.outcomes = in->outcomes.get();
    deps.durable_wait = std::chrono::milliseconds(0);
    deps.query = [](const std::string& referral_id, v1::QueryResult* result) {
      v1::CaseRecord* c = result->add_cases();
      c->set_referral_id(referral_id);
      c->set_destination("marac");
      c->set_state(v1::DELIVERED);
      return Status::OK();
    };
    in->intake = std::make_unique<adapters::HttpIntake>(std::move(deps));
    in->server.set_payload_max_length(in->config->proto().http().max_body_bytes());
    in->intake->RouteOn(&in->server);
    return in;
  }();
  return *intake;
}

// Checks one response in `out` (the bytes written for one request).
void CheckResponse(const std::string& out) {
  static const std::set<int> kDocumented = {200, 201, 202, 400, 401, 403, 404, 409, 413, 414, 415, 429, 503};
  Check(out.rfind("HTTP/1.1 ", 0) == 0 && out.size() >= 12, "a response without a status line", out.substr(0, 200));
  const int status = std::atoi(out.substr(9, 3).c_str());
  Check(kDocumented.count(status) == 1, "an undocumented status (500: a handler threw)", out.substr(0, 600));
  const size_t body_at = out.find("\r\n\r\n");
  if (status >= 400 && status != 414 && body_at != std::string::npos && out.size() > body_at + 4) {
    const std::string body = out.substr(body_at + 4);
    Check(nlohmann::json::accept(body), "an error body that is not JSON", out.substr(0, 600));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  refx::fuzz::Quiet();
  (void)TheIntake();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Intake& intake = TheIntake();
  MemoryStream stream(data, size);
  for (int i = 0; i < 4 && !stream.done(); ++i) {
    stream.out().clear();
    bool closed = false;
    intake.server.Serve(stream, &closed);
    if (!stream.out().empty()) CheckResponse(stream.out());
    if (closed) break;
  }
  return 0;
}
