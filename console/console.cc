#include "console/console.h"

#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>

#include "console/assets.h"
#include "console/console_impl.h"
#include "render/fields.h"
#include "render/format.h"

namespace refx::console {

namespace {

// Every response carries these; a handler may set its own
// Content-Security-Policy (the monitoring report's inline style).
const char kContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

std::string SessionCookie(const std::string& value, int64_t max_age) {
  return std::string(kSessionCookie) + "=" + value + "; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=" +
         std::to_string(max_age);
}

std::string LoginCookie(const std::string& value) {
  return std::string(kLoginCookie) + "=" + value + "; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=1800";
}

}  // namespace

// --- small helpers -----------------------------------------------------------

std::string CookieValue(const httplib::Request& req, const std::string& name) {
  const std::string header = req.get_header_value("Cookie");
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    std::string part = header.substr(pos, end - pos);
    part.erase(0, part.find_first_not_of(' '));
    if (part.compare(0, name.size() + 1, name + "=") == 0) return part.substr(name.size() + 1);
    pos = end + 1;
  }
  return "";
}

std::string Param(const httplib::Request& req, const std::string& name) {
  // Parsed here rather than from req.params: this cpp-httplib (0.11) keeps
  // a '+' of a form as '+', where browsers mean a space.
  std::string text;
  if (req.method == "POST" &&
      req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0) {
    text = req.body;
  } else if (size_t q = req.target.find('?'); q != std::string::npos) {
    text = req.target.substr(q + 1);
  }
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('&', pos);
    if (end == std::string::npos) end = text.size();
    const std::string pair = text.substr(pos, end - pos);
    const size_t eq = pair.find('=');
    if (httplib::detail::decode_url(pair.substr(0, eq), true) == name) {
      return eq == std::string::npos ? "" : httplib::detail::decode_url(pair.substr(eq + 1), true);
    }
    pos = end + 1;
  }
  return "";
}

bool SameToken(const std::string& a, const std::string& b) {
  return !a.empty() && a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string StateWords(v1::CaseState state) {
  std::string name = v1::CaseState_Name(state);
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '_') {
      out += ' ';
    } else {
      out += static_cast<char>(i == 0 ? c : std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

std::string PersonLabel(const v1::StaffMember& person) {
  return person.name().empty() ? person.id() : person.name() + " (" + person.id() + ")";
}

const v1::StaffMember* FindPerson(const PartnershipConfig& config, const std::string& id) {
  for (const auto& p : config.proto().people()) {
    if (p.id() == id) return &p;
  }
  return nullptr;
}

bool Caller::Is(v1::StaffMember::PersonRole role) const {
  return std::find(person.roles().begin(), person.roles().end(), role) != person.roles().end();
}

bool Caller::Works(const std::string& destination) const {
  return Is(v1::StaffMember::LEAD) &&
         std::find(person.destinations().begin(), person.destinations().end(), destination) !=
             person.destinations().end();
}

// --- Console -----------------------------------------------------------------

Console::Console(ConsoleOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Console::~Console() { impl_->Stop(); }
Status Console::Start() { return impl_->Start(); }
int Console::port() const { return impl_->port(); }
void Console::Stop() { impl_->Stop(); }
void Console::Wait() { impl_->Wait(); }

Console::Impl::Impl(ConsoleOptions options)
    : options_(std::move(options)),
      accounts_(options_.state_dir + "/accounts"),
      sessions_(options_.idle_timeout_s, options_.absolute_timeout_s) {}

int64_t Console::Impl::Now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::shared_ptr<const PartnershipConfig> Console::Impl::Config() {
  std::lock_guard<std::mutex> lock(config_mu_);
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now().time_since_epoch()).count();
  if (config_ && now == config_checked_) return config_;
  config_checked_ = now;
  struct stat st {};
  if (::stat(options_.config_path.c_str(), &st) != 0) return config_;
  const int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (config_ && mtime == config_mtime_ns_) return config_;
  std::unique_ptr<PartnershipConfig> fresh;
  Status s = PartnershipConfig::Load(options_.config_path, &fresh);
  if (!s.ok()) {
    // Keep serving with the configuration that was good.
    spdlog::error("console: configuration not reloaded: {}", s.ToString());
    return config_;
  }
  if (config_) spdlog::info("console: configuration reloaded ({} people)", fresh->proto().people_size());
  config_ = std::move(fresh);
  config_mtime_ns_ = mtime;
  return config_;
}

bool Console::Impl::Authenticate(const httplib::Request& req, httplib::Response& res, bool state_change,
                                 Caller* caller) {
  const std::string id = CookieValue(req, kSessionCookie);
  const bool page = req.method == "GET" && req.get_header_value("Accept").find("text/html") != std::string::npos;
  Status s = id.empty() ? Status::NotFound("no session") : sessions_.Touch(id, Now(), &caller->session);
  if (!s.ok()) {
    const bool expired = s.code() == Status::Code::kTimeout;
    if (expired) RecordActivity(v1::AccountActivity::SESSION_EXPIRED, caller->session.person, s.message());
    res.set_header("Set-Cookie", SessionCookie("", 0));
    if (page) {
      res.status = 303;
      res.set_header("Location", expired ? "/?expired=1" : "/");
      return false;
    }
    Message(res, nullptr, 401, "Please sign in", expired ? "Your session has ended. Please sign in again." :
                                                           "You are not signed in.");
    return false;
  }
  caller->config = Config();
  const v1::StaffMember* person = FindPerson(*caller->config, caller->session.person);
  Account account;
  if (person == nullptr || person->disabled() || !accounts_.Get(caller->session.person, &account).ok() ||
      account.disabled) {
    sessions_.Remove(id);
    res.set_header("Set-Cookie", SessionCookie("", 0));
    Message(res, nullptr, 403, "Account not active",
            "This account is disabled or no longer in the partnership's configuration.");
    return false;
  }
  caller->person = *person;
  if (state_change && !SameToken(Param(req, "csrf"), caller->session.csrf_token)) {
    Message(res, caller, 403, "Request refused",
            "The form's security token is missing or out of date. Go back, reload the page and try again.");
    return false;
  }
  return true;
}

bool Console::Impl::RequireRole(const Caller& caller, v1::StaffMember::PersonRole role, httplib::Response& res) {
  if (caller.Is(role)) return true;
  Message(res, &caller, 403, "Not allowed",
          "This page is for people with the " + render::Humanise(v1::StaffMember::PersonRole_Name(role)) + " role.");
  return false;
}

std::unique_ptr<BrokerClient> Console::Impl::BrokerFor(const std::string& person, int timeout_ms) const {
  ClientOptions o = options_.broker;
  o.on_behalf_of = person;
  o.request_timeout_ms = timeout_ms;
  o.max_attempts = 2;
  return std::make_unique<BrokerClient>(o);
}

void Console::Impl::RecordActivity(v1::AccountActivity::Kind kind, const std::string& account,
                                   const std::string& detail) {
  v1::Event event;
  auto* a = event.mutable_account_activity();
  a->set_kind(kind);
  a->set_account(account.empty() ? "unknown" : account);
  a->set_detail(detail);
  v1::Ack ack;
  // A fresh key: each sign-in is its own event, and a retry is written once.
  Status s = BrokerFor("")->Append(event, "account:" + SessionTable::RandomToken(), &ack);
  if (!s.ok()) {
    spdlog::warn("console: account activity {} not recorded: {}", v1::AccountActivity::Kind_Name(kind), s.ToString());
  }
}

render::Data Console::Impl::PageData(const Caller* caller, const std::string& title) {
  render::Data d;
  d.set("title", title);
  if (caller != nullptr) {
    d.set("signed_in", true);
    d.set("person_label", PersonLabel(caller->person));
    d.set("csrf", caller->session.csrf_token);
    if (caller->Is(v1::StaffMember::LEAD)) d.set("nav_lead", true);
    if (caller->Is(v1::StaffMember::AUDITOR)) d.set("nav_audit", true);
    if (caller->Is(v1::StaffMember::ADMIN)) d.set("nav_admin", true);
  }
  return d;
}

void Console::Impl::Page(httplib::Response& res, const std::string& name, const render::Data& data, int status) {
  std::string html;
  Status s = render::RenderTemplate(name, data, &html);
  if (!s.ok()) {
    spdlog::error("console: {}", s.ToString());
    res.status = 500;
    res.set_content("The page could not be made.", "text/plain; charset=utf-8");
    return;
  }
  res.status = status;
  res.set_content(html, "text/html; charset=utf-8");
}

void Console::Impl::Message(httplib::Response& res, const Caller* caller, int status, const std::string& title,
                            const std::string& text) {
  render::Data d = PageData(caller, title);
  d.set("text", text);
  Page(res, "console_message", d, status);
}

int Console::Impl::HttpStatusFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kInvalidArgument:
    case Status::Code::kUnknownAgency:
      return 400;
    case Status::Code::kPermissionDenied:
      return 403;
    case Status::Code::kNotFound:
      return 404;
    case Status::Code::kIllegalTransition:
    case Status::Code::kIdempotencyConflict:
      return 409;
    case Status::Code::kUnavailable:
    case Status::Code::kTimeout:
      return 503;
    default:
      return 500;
  }
}

bool Console::Impl::TakeStream(const std::string& person) {
  std::lock_guard<std::mutex> lock(streams_mu_);
  if (streams_total_ >= options_.max_streams || streams_[person] >= options_.max_streams_per_person) return false;
  ++streams_[person];
  ++streams_total_;
  return true;
}

void Console::Impl::ReleaseStream(const std::string& person) {
  std::lock_guard<std::mutex> lock(streams_mu_);
  if (--streams_[person] <= 0) streams_.erase(person);
  --streams_total_;
}

Status Console::Impl::Start() {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  if (!Config()) return Status::InvalidArgument("cannot load the configuration " + options_.config_path);
  server_ = std::make_unique<httplib::SSLServer>(options_.cert_file.c_str(), options_.key_file.c_str());
  if (!server_->is_valid()) {
    return Status::IoError("cannot use the certificate " + options_.cert_file + " and key " + options_.key_file);
  }
  const int workers = std::max(4, options_.workers);
  server_->new_task_queue = [workers] { return new httplib::ThreadPool(static_cast<size_t>(workers)); };
  server_->set_payload_max_length(64 * 1024);
  server_->set_keep_alive_max_count(100);
  server_->set_read_timeout(10, 0);
  server_->set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.has_header("Content-Security-Policy")) res.set_header("Content-Security-Policy", kContentSecurityPolicy);
    res.set_header("Strict-Transport-Security", "max-age=31536000");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("Cross-Origin-Opener-Policy", "same-origin");
    res.set_header("Cross-Origin-Resource-Policy", "same-origin");
    res.set_header("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()");
    if (!res.has_header("Cache-Control")) res.set_header("Cache-Control", "no-store");
  });
  AddRoutes();
  AddLeadRoutes();
  AddAuditRoutes();
  AddRecordRoutes();
  AddSubjectRoutes();
  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(options_.host);
    if (port_ <= 0) return Status::IoError("cannot bind " + options_.host);
  } else {
    if (!server_->bind_to_port(options_.host, options_.port)) {
      return Status::IoError("cannot bind " + options_.host + ":" + std::to_string(options_.port));
    }
    port_ = options_.port;
  }
  listener_.Start(server_.get());
  return Status::OK();
}

void Console::Impl::Stop() {
  stopping_ = true;
  listener_.Stop();
}

void Console::Impl::Wait() {
  listener_.Join();
}

// --- sign-in, sign-out, home, assets, admin ---------------------------------

void Console::Impl::AddRoutes() {
  auto& s = *server_;
  s.Get("/static/console.css", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kConsoleCss, "text/css; charset=utf-8");
    res.set_header("Cache-Control", "private, max-age=300");
  });
  s.Get("/static/console.js", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kConsoleJs, "text/javascript; charset=utf-8");
    res.set_header("Cache-Control", "private, max-age=300");
  });

  // The first page: sign in (or, when signed in, the person's home page).
  s.Get("/", [this](const httplib::Request& req, httplib::Response& res) {
    Session session;
    const std::string id = CookieValue(req, kSessionCookie);
    if (!id.empty() && sessions_.Touch(id, Now(), &session).ok()) {
      res.status = 303;
      res.set_header("Location", "/home");
      return;
    }
    // Login CSRF: the form's token must match this cookie.
    const std::string token = SessionTable::RandomToken();
    res.set_header("Set-Cookie", LoginCookie(token));
    render::Data d = PageData(nullptr, "Sign in");
    d.set("login_csrf", token);
    if (req.has_param("expired")) d.set("notice", "Your session has ended. Please sign in again.");
    if (req.has_param("signed_out")) d.set("notice", "You have signed out.");
    Page(res, "console_login", d);
  });

  s.Post("/login", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string user = Param(req, "username");
    auto fail = [&](int status, const std::string& why) {
      const std::string token = SessionTable::RandomToken();
      res.set_header("Set-Cookie", LoginCookie(token));
      render::Data d = PageData(nullptr, "Sign in");
      d.set("login_csrf", token);
      d.set("error", why);
      d.set("username", user);
      Page(res, "console_login", d, status);
    };
    if (!SameToken(Param(req, "csrf"), CookieValue(req, kLoginCookie))) {
      fail(403, "The sign-in form had expired. Please try again.");
      return;
    }
    auto config = Config();
    const v1::StaffMember* person = FindPerson(*config, user);
    LoginResult result;
    Status st = accounts_.CheckLogin(user, Param(req, "password"), Param(req, "totp"), Now(), &result);
    if (!st.ok()) {
      spdlog::error("console: account store: {}", st.ToString());
      fail(503, "Sign-in is not available just now. Please try again later.");
      return;
    }
    const std::string account = result.known_account && person != nullptr ? user : "unknown";
    switch (result.verdict) {
      case LoginVerdict::kOk:
        break;
      case LoginVerdict::kTotpNeeded: {
        render::Data d = PageData(nullptr, "Sign in");
        const std::string token = SessionTable::RandomToken();
        res.set_header("Set-Cookie", LoginCookie(token));
        d.set("login_csrf", token);
        d.set("username", user);
        d.set("need_totp", true);
        d.set("notice", "Enter the 6-digit code from your authenticator app, with your password.");
        Page(res, "console_login", d, 401);
        return;
      }
      case LoginVerdict::kWait:
        RecordActivity(v1::AccountActivity::SIGN_IN_FAILED, account, "refused: too soon after failed sign-ins");
        fail(429, "Too many failed sign-ins. Wait " + std::to_string(result.retry_after - Now()) +
                      " seconds and try again.");
        return;
      case LoginVerdict::kLocked:
        if (result.just_locked) {
          RecordActivity(v1::AccountActivity::LOCKED, account, "locked after repeated failed sign-ins");
        } else {
          RecordActivity(v1::AccountActivity::SIGN_IN_FAILED, account, "refused: account locked");
        }
        fail(423, "This account is locked after repeated failed sign-ins. Ask a console admin to unlock it.");
        return;
      case LoginVerdict::kDisabled:
        RecordActivity(v1::AccountActivity::SIGN_IN_FAILED, account, "refused: account disabled");
        fail(403, "This account is disabled.");
        return;
      case LoginVerdict::kBadCredentials:
        RecordActivity(v1::AccountActivity::SIGN_IN_FAILED, account, "wrong user name, password or code");
        fail(401, "The user name or password is not right.");
        return;
    }
    if (person == nullptr || person->disabled()) {
      RecordActivity(v1::AccountActivity::SIGN_IN_FAILED, account, "refused: not a person in the configuration");
      fail(403, "This account is not (or no longer) a person in the partnership's configuration.");
      return;
    }
    Session session = sessions_.Create(user, Now());
    RecordActivity(v1::AccountActivity::SIGNED_IN, user, "");
    res.set_header("Set-Cookie", SessionCookie(session.id, options_.absolute_timeout_s));
    res.status = 303;
    res.set_header("Location", "/home");
  });

  s.Post("/logout", [this](const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Authenticate(req, res, true, &caller)) return;
    sessions_.Remove(caller.session.id);
    RecordActivity(v1::AccountActivity::SIGNED_OUT, caller.person.id(), "");
    res.set_header("Set-Cookie", SessionCookie("", 0));
    res.status = 303;
    res.set_header("Location", "/?signed_out=1");
  });

  s.Get("/home", [this](const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Authenticate(req, res, false, &caller)) return;
    res.status = 303;
    res.set_header("Location", caller.Is(v1::StaffMember::LEAD)      ? "/inbox"
                               : caller.Is(v1::StaffMember::AUDITOR) ? "/audit"
                                                                      : "/admin");
  });

  // Admin: people and their accounts; unlock, disable, enable. Nothing more.
  s.Get("/admin", [this](const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Authenticate(req, res, false, &caller) || !RequireRole(caller, v1::StaffMember::ADMIN, res)) return;
    std::vector<Account> accounts;
    Status st = accounts_.List(&accounts);
    if (!st.ok()) {
      Message(res, &caller, 500, "Accounts unavailable", st.message());
      return;
    }
    std::map<std::string, const Account*> by_id;
    for (const auto& a : accounts) by_id[a.id] = &a;
    std::vector<render::Data> rows;
    for (const auto& p : caller.config->proto().people()) {
      render::Data row;
      row.set("id", p.id());
      row.set("name", p.name());
      row.set("agency", p.agency_id());
      std::string roles, dests;
      for (int r : p.roles()) roles += (roles.empty() ? "" : ", ") + render::Humanise(v1::StaffMember::PersonRole_Name(r));
      for (const auto& d : p.destinations()) dests += (dests.empty() ? "" : ", ") + d;
      row.set("roles", roles);
      row.set("destinations", dests);
      auto it = by_id.find(p.id());
      std::string status;
      if (p.disabled()) status = "Disabled in the configuration";
      if (it == by_id.end()) {
        status = status.empty() ? "No console account" : status;
      } else {
        const Account& a = *it->second;
        row.set("has_account", true);
        if (a.disabled) {
          status = "Disabled";
          row.set("can_enable", true);
        } else {
          row.set("can_disable", true);
        }
        if (a.locked) {
          status += status.empty() ? "Locked" : ", locked";
          row.set("can_unlock", true);
        } else if (a.failed_logins > 0) {
          status += (status.empty() ? "" : ", ") + std::to_string(a.failed_logins) + " failed sign-ins";
          row.set("can_unlock", true);
        }
        if (status.empty()) status = "Active";
        row.set("last_login", a.last_login ? render::LondonTime(a.last_login) : "never");
      }
      row.set("status", status);
      rows.push_back(row);
    }
    render::Data d = PageData(&caller, "People and accounts");
    d.set("people", render::List(rows));
    if (req.has_param("done")) d.set("notice", Param(req, "done"));
    Page(res, "console_admin", d);
  });

  s.Post("/admin/account", [this](const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Authenticate(req, res, true, &caller) || !RequireRole(caller, v1::StaffMember::ADMIN, res)) return;
    const std::string id = Param(req, "id"), action = Param(req, "action");
    Status st;
    std::string done;
    if (action == "unlock") {
      st = accounts_.Unlock(id);
      if (st.ok()) RecordActivity(v1::AccountActivity::UNLOCKED, id, "by " + caller.person.id());
      done = id + " unlocked";
    } else if (action == "disable") {
      st = accounts_.SetDisabled(id, true);
      if (st.ok()) {
        sessions_.RemovePerson(id);
        RecordActivity(v1::AccountActivity::DISABLED, id, "by " + caller.person.id());
      }
      done = id + " disabled";
    } else if (action == "enable") {
      st = accounts_.SetDisabled(id, false);
      if (st.ok()) RecordActivity(v1::AccountActivity::UNLOCKED, id, "enabled by " + caller.person.id());
      done = id + " enabled";
    } else {
      st = Status::InvalidArgument("unknown action \"" + action + "\" (unlock, disable or enable)");
    }
    if (!st.ok()) {
      Message(res, &caller, HttpStatusFor(st), "Not done", st.message());
      return;
    }
    res.status = 303;
    res.set_header("Location", "/admin?done=" + httplib::detail::encode_query_param(done));
  });
}

}  // namespace refx::console
