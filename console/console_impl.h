// Console::Impl: the server's state and the helpers its pages share
// (sessions, rights, the broker, rendering). Private to console/.
//
// Thread-safety: the server's workers call in concurrently; the mutable
// parts (configuration, stream counts) have their own mutexes, the session
// table and account store are thread-safe.
#pragma once

#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include <httplib.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "console/account_store.h"
#include "console/console.h"
#include "console/sessions.h"
#include "core/http_listen_thread.h"
#include "core/partnership_config.h"
#include "render/templates.h"
#include "refx/v1/event.pb.h"

namespace refx::console {

// The signed-in person making a request.
struct Caller {
  Session session;
  v1::StaffMember person;
  std::shared_ptr<const PartnershipConfig> config;

  bool Is(v1::StaffMember::PersonRole role) const;
  // True when the person is a LEAD who works `destination`.
  bool Works(const std::string& destination) const;
};

class Console::Impl {
 public:
  explicit Impl(ConsoleOptions options);

  Status Start();
  void Stop();
  void Wait();
  int port() const { return port_; }

  // --- shared helpers ---
  int64_t Now() const;
  // The configuration, read again when its file changed (at most once a second).
  std::shared_ptr<const PartnershipConfig> Config();
  // Checks the session cookie (and, for a state change, the CSRF token).
  // On failure writes the refusal into `res` and returns false: a page
  // request without a session goes to the sign-in page (303), anything else
  // is refused 401 (no or expired session) or 403 (bad CSRF token, a
  // disabled person). Nothing reaches the broker.
  bool Authenticate(const httplib::Request& req, httplib::Response& res, bool state_change, Caller* caller);
  // Writes a 403 page unless the caller has `role`.
  bool RequireRole(const Caller& caller, v1::StaffMember::PersonRole role, httplib::Response& res);
  // A broker client for requests on behalf of `person` ("" = as the console itself).
  std::unique_ptr<BrokerClient> BrokerFor(const std::string& person, int timeout_ms = 5000) const;
  // Appends an account_activity event (best effort: a failure is logged,
  // not shown; the sign-in itself does not depend on it).
  void RecordActivity(v1::AccountActivity::Kind kind, const std::string& account, const std::string& detail);
  // Data every page's frame needs (title, the person, navigation, CSRF token).
  render::Data PageData(const Caller* caller, const std::string& title);
  // Renders template `name` into res with `status`.
  void Page(httplib::Response& res, const std::string& name, const render::Data& data, int status = 200);
  // A page that says why a request was refused (or failed).
  void Message(httplib::Response& res, const Caller* caller, int status, const std::string& title,
               const std::string& text);
  // HTTP status for a broker refusal.
  static int HttpStatusFor(const Status& s);

  // Live-update stream slots: TakeStream is false when the person (or the
  // console) already has as many as allowed.
  bool TakeStream(const std::string& person);
  void ReleaseStream(const std::string& person);
  bool stopping() const { return stopping_.load(); }

  // --- pages (console.cc, console_lead.cc, console_audit.cc, console_records.cc) ---
  void AddRoutes();
  void AddLeadRoutes();
  void AddAuditRoutes();
  void AddRecordRoutes();  // console_records.cc: integrity, exports
  void AddSubjectRoutes();  // console_subject.cc

  ConsoleOptions options_;
  AccountStore accounts_;
  SessionTable sessions_;

 private:
  std::unique_ptr<httplib::SSLServer> server_;
  HttpListenThread listener_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};

  std::mutex config_mu_;
  std::shared_ptr<const PartnershipConfig> config_;
  int64_t config_mtime_ns_ = 0;
  int64_t config_checked_ = 0;

  std::mutex streams_mu_;
  std::map<std::string, int> streams_;
  int streams_total_ = 0;

 public:
  httplib::SSLServer& server() { return *server_; }
};

// Value of cookie `name` in the request, "" when absent.
std::string CookieValue(const httplib::Request& req, const std::string& name);
// A form or query parameter, "" when absent.
std::string Param(const httplib::Request& req, const std::string& name);
// Constant-time comparison of two tokens (false when either is empty).
bool SameToken(const std::string& a, const std::string& b);
// "acknowledged", "case_routed" -> words for people.
std::string StateWords(v1::CaseState state);
// The person as "Name (id)".
std::string PersonLabel(const v1::StaffMember& person);
// The columns every event row shows: seq, time, actor, person, what.
render::Data EventRow(const v1::Event& event);
const v1::StaffMember* FindPerson(const PartnershipConfig& config, const std::string& id);

}  // namespace refx::console
