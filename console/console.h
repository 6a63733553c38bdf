// Console: the refx web console (refx-console), an HTTPS server for
// safeguarding leads, auditors and the console's admins.
//
// Every page but the sign-in page needs a server-side session (see
// sessions.h); every state change (POST) needs the session's CSRF token.
// The console reaches the broker with its own CURVE identity (role CONSOLE)
// and makes every request on behalf of the signed-in person
// (Frame.on_behalf_of): the broker checks that person's rights from the
// configuration's `people` and records the person on each event. The console
// checks the same rights first (a lead acts only at their destinations), so
// a refused request never reaches the broker. The configuration file is read
// again when it changes, so a person added there may sign in without a
// restart (their credentials come from `refx users add`).
//
// Sign-ins, failures, lock-outs, sign-outs and expired sessions are
// appended as account_activity events (no passwords).
//
// Thread-safety: Start and Stop from one thread; the server's workers share
// the object safely.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/broker_client.h"
#include "core/status.h"

namespace refx::console {

struct ConsoleOptions {
  std::string config_path;  // the partnership configuration (people, destinations)
  std::string state_dir;    // the console's own folder: accounts/ holds the credentials
  std::string cert_file;    // PEM certificate and key of the HTTPS server
  std::string key_file;
  std::string host = "127.0.0.1";
  int port = 7443;  // 0: any free port (see Console::port)
  // The console's identity at the broker (an agency with role CONSOLE).
  ClientOptions broker;
  // Worker threads of the HTTPS server. Each open connection holds one,
  // live-update streams for as long as they are open, so the stream caps
  // below leave workers for pages.
  int workers = 32;
  int max_streams_per_person = 2;
  int max_streams = 16;
  int64_t idle_timeout_s = 15 * 60;
  int64_t absolute_timeout_s = 8 * 3600;
  // The broker's checkpoint signing public keys (NAME.sign.pub) the
  // integrity page checks signatures with; none: signatures not checked.
  std::vector<std::string> signing_pubs;
  // Unix seconds now; the wall clock when unset (tests move time).
  std::function<int64_t()> clock;
};

class Console {
 public:
  explicit Console(ConsoleOptions options);
  ~Console();  // stops the server
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  // Loads the configuration and the certificate, binds and starts serving
  // on a thread of its own. InvalidArgument for a bad configuration or a
  // missing console identity; IoError when the certificate cannot be read
  // or the address cannot be bound.
  Status Start();

  // The bound port (after Start).
  int port() const;

  // Stops serving and waits for the workers (open streams end).
  void Stop();

  // Blocks until the server stops.
  void Wait();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Cookie names, for tests.
inline constexpr char kSessionCookie[] = "refx_session";
inline constexpr char kLoginCookie[] = "refx_login";

}  // namespace refx::console
