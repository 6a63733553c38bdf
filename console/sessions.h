// SessionTable: the console's server-side sessions. A session id (256
// random bits, hex) is all the browser holds, in an HttpOnly; Secure;
// SameSite=Strict cookie; the person, the CSRF token and the times stay
// here. A session ends when it has been idle longer than the idle timeout,
// when it is older than the absolute timeout, at sign-out, or when the
// person's account is disabled.
//
// Thread-safety: thread-safe (one mutex).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"

namespace refx::console {

struct Session {
  std::string id;
  std::string person;
  std::string csrf_token;  // 256 random bits, hex; sent with every state change
  int64_t created = 0;     // unix seconds
  int64_t last_seen = 0;
};

class SessionTable {
 public:
  SessionTable(int64_t idle_timeout_s, int64_t absolute_timeout_s)
      : idle_timeout_s_(idle_timeout_s), absolute_timeout_s_(absolute_timeout_s) {}

  // Starts a session for `person` at `now`; returns it.
  Session Create(const std::string& person, int64_t now);

  // Finds session `id` at `now` and marks it used. OK with *out set;
  // NotFound for an unknown id; Timeout (and the session is removed) when
  // it has expired — *out still gets the session, so the caller can record
  // whose session it was.
  Status Touch(const std::string& id, int64_t now, Session* out);

  // As Touch, but does not mark the session used: a live-update stream
  // checks its session with this, so an open inbox does not keep a session
  // from idling out.
  Status Check(const std::string& id, int64_t now) const;

  // Ends session `id` (nothing when unknown).
  void Remove(const std::string& id);

  // Ends every session of `person`; returns how many.
  size_t RemovePerson(const std::string& person);

  size_t size() const;

  // A fresh random token (256 bits, hex).
  static std::string RandomToken();

 private:
  const int64_t idle_timeout_s_, absolute_timeout_s_;
  mutable std::mutex mu_;
  std::map<std::string, Session> sessions_;
};

}  // namespace refx::console
