#include "adapters/http/intake.h"
#include "core/log_escape.h"

#include <httplib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "adapters/tokens/token_store.h"
#include "core/civil_date.h"
#include "core/json.h"
#include "core/referral_validation.h"

namespace refx::adapters {

// Per-caller token buckets: `per_minute` requests a minute, in bursts of
// up to that many. Thread-safe.
class RateLimiter {
 public:
  explicit RateLimiter(uint32_t per_minute) : per_minute_(per_minute) {}
  // True when `caller` may make a request now; otherwise false with
  // *retry_after_s the seconds until it may.
  bool Allow(const std::string& caller, int* retry_after_s) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, fresh] = buckets_.try_emplace(caller, Bucket{static_cast<double>(per_minute_), now});
    Bucket& b = it->second;
    if (!fresh) {
      const double elapsed = std::chrono::duration<double>(now - b.at).count();
      b.tokens = std::min<double>(per_minute_, b.tokens + elapsed * per_minute_ / 60.0);
      b.at = now;
    }
    if (b.tokens >= 1.0) {
      b.tokens -= 1.0;
      return true;
    }
    *retry_after_s = static_cast<int>((1.0 - b.tokens) * 60.0 / per_minute_) + 1;
    return false;
  }

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  const uint32_t per_minute_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

namespace {

using nlohmann::json;

const char kProblemType[] = "urn:refx:problem:";

// A body as one line of JSON. Strings in it can hold what a caller sent (a
// Content-Type, a reference from the path) that is not UTF-8: such bytes
// are written as U+FFFD instead of making dump() throw, which httplib would
// answer with a bare 500 (found by fuzz/fuzz_http_intake.cc).
std::string Dump(const json& body) { return body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; }

void Problem(httplib::Response& res, int status, const std::string& slug, const std::string& title,
             const std::string& detail, json extra = json::object()) {
  json body = {{"type", std::string(kProblemType) + slug}, {"title", title}, {"status", status}, {"detail", detail}};
  for (auto& [k, v] : extra.items()) body[k] = v;
  res.status = status;
  res.set_content(Dump(body), "application/problem+json");
}

// "referral.asb_incidents[1].incident_date" -> "/asbIncidents/1/incidentDate"
std::string JsonPointer(const std::string& field_path) {
  std::string path = field_path.rfind("referral.", 0) == 0 ? field_path.substr(9) : field_path;
  std::string out = "/";
  bool upper = false;
  for (char c : path) {
    if (c == '.') {
      out += '/';
    } else if (c == '[') {
      out += '/';
    } else if (c == ']') {
      continue;
    } else if (c == '_') {
      upper = true;
      continue;
    } else {
      out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    }
    upper = false;
  }
  return out;
}

std::string PercentEncode(const std::string& s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string StatusUrl(const std::string& reference) { return "/v1/referrals/" + PercentEncode(reference); }

// The caller named by a verified TLS client certificate: "cert:CN".
bool CallerFromCertificate(const httplib::Request& req, std::string* caller) {
  if (req.ssl == nullptr) return false;
  SSL* ssl = const_cast<SSL*>(req.ssl);
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return false;
  bool ok = SSL_get_verify_result(ssl) == X509_V_OK;
  char cn[256] = {0};
  if (ok) ok = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) > 0;
  X509_free(cert);
  if (ok) *caller = std::string("cert:") + cn;
  return ok;
}

// A refusal by the broker as the HTTP status that says it.
int HttpStatusOf(const Status& s) {
  switch (s.code()) {
    case Status::Code::kPermissionDenied:
      return 403;
    case Status::Code::kIdempotencyConflict:
      return 409;
    default:
      return 400;
  }
}

}  // namespace

HttpIntake::HttpIntake(IntakeDeps deps) : deps_(std::move(deps)) {}

HttpIntake::~HttpIntake() { Stop(); }

void HttpIntake::AppendMetrics(std::string* out) const {
  responses_.Render("refx_adapter_http_responses_total", "HTTP intake responses by status code.", "code", out);
}

Status HttpIntake::Start() {
  const v1::HttpIntake& h = deps_.config->proto().http();
  std::string host;
  int port = 0;
  REFX_RETURN_IF_ERROR(AdapterConfig::SplitHostPort(h.listen(), &host, &port));
  if (!h.tls_cert_file().empty()) {
    const std::string cert = h.tls_cert_file(), key = h.tls_key_file(), ca = h.tls_client_ca_file();
    auto ssl = std::make_unique<httplib::SSLServer>([cert, key, ca](SSL_CTX& ctx) {
      SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
      if (SSL_CTX_use_certificate_chain_file(&ctx, cert.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(&ctx, key.c_str(), SSL_FILETYPE_PEM) != 1 ||
          SSL_CTX_check_private_key(&ctx) != 1) {
        return false;
      }
      if (!ca.empty()) {
        // A client certificate is optional (bearer tokens work too) but,
        // when presented, must chain to this CA.
        if (SSL_CTX_load_verify_locations(&ctx, ca.c_str(), nullptr) != 1) return false;
        SSL_CTX_set_client_CA_list(&ctx, SSL_load_client_CA_file(ca.c_str()));
        SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, nullptr);
      }
      return true;
    });
    if (!ssl->is_valid()) return Status::InvalidArgument("cannot load the TLS certificate, key or client CA");
    server_ = std::move(ssl);
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  const size_t workers = h.worker_threads();
  server_->new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  server_->set_payload_max_length(h.max_body_bytes());
  // Headers and body go out in separate writes: without TCP_NODELAY,
  // Nagle's algorithm and the peer's delayed ACK add ~40 ms to each answer.
  server_->set_tcp_nodelay(true);
  server_->set_keep_alive_max_count(10000);
  server_->set_keep_alive_timeout(10);
  server_->set_read_timeout(10, 0);
  Routes(*server_);
  port_ = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (port_ <= 0) {
    server_.reset();
    return Status::Unavailable("cannot listen for HTTP on " + h.listen());
  }
  listener_.Start(server_.get());
  return Status::OK();
}

void HttpIntake::Stop() {
  listener_.Stop();
  server_.reset();
}

void HttpIntake::RouteOn(httplib::Server* server) { Routes(*server); }

void HttpIntake::Routes(httplib::Server& server) {
  const v1::HttpIntake& h = deps_.config->proto().http();
  if (!h.token_file().empty()) tokens_ = std::make_unique<TokenVerifier>(h.token_file());
  limiter_ = std::make_unique<RateLimiter>(h.rate_limit_per_minute());
  const std::string agency = deps_.config->agency_id();
  const bool certificates = !h.tls_client_ca_file().empty();

  // Who calls: OK with *caller, or the 401/429 problem written.
  auto admit = [this, certificates](const httplib::Request& req, httplib::Response& res, std::string* caller) {
    bool known = certificates && CallerFromCertificate(req, caller);
    if (!known) {
      const std::string auth = req.get_header_value("Authorization");
      if (tokens_ && auth.size() > 7 && strncasecmp(auth.c_str(), "Bearer ", 7) == 0) {
        Status s = tokens_->Verify(auth.substr(7), caller);
        if (!s.ok() && s.code() != Status::Code::kNotFound) {
          spdlog::error("http: cannot read the token file: {}", LogEscape(s.ToString()));
          Problem(res, 503, "unavailable", "Service unavailable", "the adapter cannot check tokens now");
          return false;
        }
        known = s.ok();
      }
    }
    if (!known) {
      res.set_header("WWW-Authenticate", "Bearer realm=\"refx-adapter\"");
      Problem(res, 401, "unauthenticated", "Unauthorized",
              "give a valid bearer token (Authorization: Bearer TOKEN)" +
                  std::string(certificates ? " or a client certificate" : ""));
      return false;
    }
    int retry_after = 1;
    if (!limiter_->Allow(*caller, &retry_after)) {
      res.set_header("Retry-After", std::to_string(retry_after));
      Problem(res, 429, "too-many-requests", "Too many requests",
              "more than " + std::to_string(deps_.config->proto().http().rate_limit_per_minute()) +
                  " requests a minute from " + *caller);
      return false;
    }
    return true;
  };

  server.Post("/v1/referrals", [this, admit, agency](const httplib::Request& req, httplib::Response& res) {
    std::string caller;
    if (!admit(req, res, &caller)) return;
    const std::string type = req.get_header_value("Content-Type");
    const std::string media = type.substr(0, type.find(';'));
    if (media != "application/json") {
      return Problem(res, 415, "unsupported-media-type", "Unsupported media type",
                     "send the referral as application/json (protobuf JSON mapping), not \"" + media + "\"");
    }
    v1::Referral referral;
    Status s = MessageFromJson(req.body, &referral);
    if (!s.ok()) {
      return Problem(res, 400, "malformed-json", "The body is not a referral in JSON", s.message());
    }
    if (referral.referrer().agency_id().empty()) referral.mutable_referrer()->set_agency_id(agency);
    if (referral.referrer().agency_id() != agency) {
      return Problem(res, 403, "wrong-agency", "Forbidden",
                     "this adapter submits for \"" + agency + "\" only; referrer.agencyId names another agency");
    }
    s = ValidateReferral(referral, TodayUtc());
    if (!s.ok()) {
      json errors = json::array();
      std::vector<FieldViolation> violations = s.violations();
      if (violations.empty()) violations.push_back({s.field_path(), s.message()});
      for (const FieldViolation& v : violations) {
        errors.push_back({{"field", v.field_path}, {"pointer", JsonPointer(v.field_path)}, {"detail", v.message}});
      }
      return Problem(res, 400, "invalid-referral", "The referral is not valid",
                     std::to_string(violations.size()) + " field(s) are wrong", {{"errors", errors}});
    }
    const std::string reference = referral.referrer_reference();
    const uint64_t version = deps_.outcomes->Version(reference);
    s = deps_.spool->Append({referral}, "http");
    if (!s.ok()) {
      spdlog::error("http: cannot spool a referral: {}", LogEscape(s.ToString()));
      return Problem(res, 503, "unavailable", "Service unavailable", "the referral could not be stored; send it again");
    }
    if (deps_.spooled) deps_.spooled();
    json body = {{"referrerReference", reference}, {"statusUrl", StatusUrl(reference)}};
    if (req.get_param_value("wait") == "durable") {
      ForwardOutcome outcome;
      s = deps_.outcomes->WaitNewer(reference, version, std::chrono::steady_clock::now() + deps_.durable_wait, &outcome);
      if (s.ok() && outcome.accepted && outcome.refusal.ok()) {
        body["state"] = "accepted";
        body["referralId"] = outcome.referral_id;
        body["seq"] = outcome.seq;
        res.status = 201;
        res.set_header("Location", StatusUrl(reference));
        res.set_content(Dump(body), "application/json");
        return;
      }
      if (s.ok()) {
        return Problem(res, HttpStatusOf(outcome.refusal), "refused-by-broker", "The broker refused the referral",
                       outcome.refusal.message(), {{"code", Status::CodeName(outcome.refusal.code())}});
      }
      body["note"] = "stored; the broker has not answered yet";
    }
    body["state"] = "spooled";
    res.status = 202;
    res.set_header("Location", StatusUrl(reference));
    res.set_content(Dump(body), "application/json");
  });

  server.Get(R"(/v1/referrals/(.+))", [this, admit](const httplib::Request& req, httplib::Response& res) {
    std::string caller;
    if (!admit(req, res, &caller)) return;
    const std::string reference = req.matches[1].str();
    json body = {{"referrerReference", reference}};
    ForwardOutcome outcome;
    const bool found = deps_.outcomes->Find(reference, &outcome).ok();
    const bool waiting = deps_.spool->FindWaiting(reference).ok();
    if (waiting) body["spooled"] = true;
    const std::string keep = std::to_string(deps_.outcomes_keep_days);
    // The broker knows every referral this agency submitted, by its
    // reference: it answers for what this adapter no longer holds (older
    // than outcomes_keep_days) or holds only a refusal of (the acceptance
    // may be the older answer).
    v1::QueryResult looked_up;
    bool in_log = false;
    // (Not for a reference only waiting in the spool: that is answered
    // "spooled" at once, without a round trip, even while the broker is down.)
    if (found ? !outcome.accepted : !waiting) {
      const Status l = deps_.lookup ? deps_.lookup(reference, &looked_up) : Status::Unavailable("no broker");
      in_log = l.ok() && looked_up.referrals_size() == 1;
      if (!l.ok() && l.code() != Status::Code::kNotFound && !found) {
        return Problem(res, 503, "unavailable", "Service unavailable",
                       "this adapter keeps the broker's answers for " + keep +
                           " days and the broker, which knows older ones, cannot be reached; try again");
      }
    }
    if (!found && !waiting && !in_log) {
      return Problem(res, 404, "not-found", "Not found",
                     "this agency has no referral with that reference in the broker's log, and none was refused in "
                     "the last " + keep + " days");
    }
    // An acceptance: its id and seq, the refusal of a later resubmission
    // if any, and the cases as the submitter sees them (`cases` when
    // already at hand, else asked for).
    auto describe_accepted = [&](const std::string& referral_id, uint64_t seq, const Status& later_refusal,
                                 const v1::QueryResult* cases) {
      body["state"] = "accepted";
      body["referralId"] = referral_id;
      body["seq"] = seq;
      if (!later_refusal.ok()) {
        body["resubmissionRefused"] = {{"code", Status::CodeName(later_refusal.code())},
                                       {"detail", later_refusal.message()}};
      }
      v1::QueryResult asked;
      Status q = Status::OK();
      if (cases == nullptr) {
        q = deps_.query ? deps_.query(referral_id, &asked) : Status::Unavailable("no broker");
        cases = &asked;
      }
      if (!q.ok()) {
        body["casesUnavailable"] = q.message();
        return;
      }
      // Case records carry states, deadlines and outcomes, never notes.
      json case_list = json::array();
      json destinations = json::array();
      for (const v1::CaseRecord& c : cases->cases()) {
        case_list.push_back(json::parse(ToJsonLine(c)));
        destinations.push_back(c.destination());
      }
      if (!destinations.empty()) body["state"] = "routed";
      body["destinations"] = destinations;
      body["cases"] = case_list;
    };
    if (in_log) {
      const v1::SubjectReferral& r = looked_up.referrals(0);
      describe_accepted(r.referral().referral_id(), r.seq(), found ? outcome.refusal : Status::OK(), &looked_up);
    } else if (!found) {
      body["state"] = "spooled";
    } else if (!outcome.accepted) {
      body["state"] = "refused";
      body["refusal"] = {{"code", Status::CodeName(outcome.refusal.code())}, {"detail", outcome.refusal.message()}};
    } else {
      describe_accepted(outcome.referral_id, outcome.seq, outcome.refusal, nullptr);
    }
    res.status = 200;
    res.set_content(Dump(body), "application/json");
  });

  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    switch (res.status) {
      case 413:
        Problem(res, 413, "payload-too-large", "Payload too large", "the body is larger than http.max_body_bytes");
        break;
      case 404:
        Problem(res, 404, "not-found", "Not found", "no such endpoint (see docs/openapi.yaml)");
        break;
      default:
        Problem(res, res.status, "error", "HTTP error " + std::to_string(res.status), "");
    }
  });
  server.set_logger([this](const httplib::Request&, const httplib::Response& res) {
    responses_.Add(std::to_string(res.status));
  });
}

}  // namespace refx::adapters
