#include "console/sessions.h"

#include <sodium.h>

#include "core/hex.h"

namespace refx::console {

std::string SessionTable::RandomToken() {
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  return ToHex(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

Session SessionTable::Create(const std::string& person, int64_t now) {
  Session s;
  s.id = RandomToken();
  s.person = person;
  s.csrf_token = RandomToken();
  s.created = now;
  s.last_seen = now;
  std::lock_guard<std::mutex> lock(mu_);
  // Expired sessions are dropped here as well, so the table stays small.
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    const Session& old = it->second;
    if (now - old.last_seen > idle_timeout_s_ || now - old.created > absolute_timeout_s_) {
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  sessions_[s.id] = s;
  return s;
}

Status SessionTable::Touch(const std::string& id, int64_t now, Session* out) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return Status::NotFound("no such session");
  *out = it->second;
  if (now - it->second.last_seen > idle_timeout_s_) {
    sessions_.erase(it);
    return Status::Timeout("the session was idle too long");
  }
  if (now - it->second.created > absolute_timeout_s_) {
    sessions_.erase(it);
    return Status::Timeout("the session reached its time limit");
  }
  it->second.last_seen = now;
  out->last_seen = now;
  return Status::OK();
}

Status SessionTable::Check(const std::string& id, int64_t now) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return Status::NotFound("no such session");
  if (now - it->second.last_seen > idle_timeout_s_) return Status::Timeout("the session was idle too long");
  if (now - it->second.created > absolute_timeout_s_) return Status::Timeout("the session reached its time limit");
  return Status::OK();
}

void SessionTable::Remove(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(id);
}

size_t SessionTable::RemovePerson(const std::string& person) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.person == person) {
      it = sessions_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

size_t SessionTable::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.size();
}

}  // namespace refx::console
