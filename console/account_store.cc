#include "console/account_store.h"

#include <fcntl.h>
#include <liboath/oath.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/hex.h"

namespace refx::console {

namespace {

using Json = nlohmann::json;
using Accounts = std::map<std::string, Account>;

// Raw bytes of a hex string; false when it is not hex.
bool FromHex(const std::string& hex, std::string* out) {
  out->assign(hex.size() / 2, '\0');
  size_t len = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out->data()), out->size(), hex.data(), hex.size(), nullptr, &len,
                     nullptr) != 0 || len * 2 != hex.size()) {
    return false;
  }
  return true;
}

Status Init() {
  static std::once_flag once;
  static int sodium = 0, oath = 0;
  std::call_once(once, [] {
    sodium = sodium_init();
    oath = oath_init();
  });
  if (sodium < 0) return Status::Internal("libsodium failed to initialise");
  if (oath != OATH_OK) return Status::Internal("liboath failed to initialise");
  return Status::OK();
}

// Holds an exclusive flock on DIR/accounts.lock for its lifetime.
class FileLock {
 public:
  explicit FileLock(const std::string& dir, bool create) {
    if (create) {
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      ::chmod(dir.c_str(), 0700);
    }
    fd_ = ::open((dir + "/accounts.lock").c_str(), O_RDWR | (create ? O_CREAT : 0) | O_CLOEXEC, 0600);
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

Json ToJson(const Account& a) {
  return Json{{"id", a.id},
              {"password_hash", a.password_hash},
              {"totp_secret", a.totp_secret},
              {"disabled", a.disabled},
              {"failed_logins", a.failed_logins},
              {"retry_after", a.retry_after},
              {"locked", a.locked},
              {"created", a.created},
              {"last_login", a.last_login}};
}

Account FromJson(const Json& j) {
  Account a;
  a.id = j.value("id", "");
  a.password_hash = j.value("password_hash", "");
  a.totp_secret = j.value("totp_secret", "");
  a.disabled = j.value("disabled", false);
  a.failed_logins = j.value("failed_logins", 0u);
  a.retry_after = j.value("retry_after", int64_t{0});
  a.locked = j.value("locked", false);
  a.created = j.value("created", int64_t{0});
  a.last_login = j.value("last_login", int64_t{0});
  return a;
}

// Reads DIR/accounts.json into *out (empty when the file does not exist yet).
Status Load(const std::string& dir, Accounts* out) {
  out->clear();
  const std::string path = dir + "/accounts.json";
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return Status::OK();
    return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  Json j = Json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("accounts") || !j["accounts"].is_array()) {
    return Status::Corruption(path + " is not an accounts file (expected {\"accounts\": [...]})");
  }
  for (const Json& item : j["accounts"]) {
    Account a = FromJson(item);
    (*out)[a.id] = a;
  }
  return Status::OK();
}

Status Save(const std::string& dir, const Accounts& accounts) {
  Json list = Json::array();
  for (const auto& [id, a] : accounts) list.push_back(ToJson(a));
  const std::string text = Json{{"accounts", list}}.dump(1) + "\n";
  const std::string path = dir + "/accounts.json", tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot write " + tmp + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::IoError("cannot write " + tmp + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Status::IoError("cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::IoError("cannot replace " + path + ": " + std::strerror(errno));
  return Status::OK();
}

Status Hash(const std::string& password, std::string* out) {
  if (password.size() < AccountStore::kMinPasswordLength) {
    return Status::InvalidArgument("a password needs at least " + std::to_string(AccountStore::kMinPasswordLength) +
                                   " characters", "password");
  }
  char hash[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(hash, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return Status::Internal("out of memory hashing a password");
  }
  *out = hash;
  return Status::OK();
}

// A modify-under-lock step: reads, lets `change` edit, writes.
template <typename Fn>
Status Modify(const std::string& dir, const std::string& id, Fn change) {
  REFX_RETURN_IF_ERROR(Init());
  FileLock lock(dir, true);
  if (!lock.ok()) return Status::IoError("cannot lock " + dir + "/accounts.lock: " + std::strerror(errno));
  Accounts accounts;
  REFX_RETURN_IF_ERROR(Load(dir, &accounts));
  auto it = accounts.find(id);
  if (it == accounts.end()) return Status::NotFound("no console account \"" + id + "\"");
  REFX_RETURN_IF_ERROR(change(&it->second));
  return Save(dir, accounts);
}

}  // namespace

AccountStore::AccountStore(std::string dir) : dir_(std::move(dir)) {}

bool AccountStore::ValidId(const std::string& id) {
  if (id.size() < 2 || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
           (c >= 'A' && c <= 'Z');  // destination codes in dev ids: lead-DA_MARAC
  });
}

int64_t AccountStore::DelayAfter(uint32_t failures) {
  if (failures <= kFreeFailures) return 0;
  const uint32_t doublings = std::min<uint32_t>(failures - kFreeFailures - 1, 7);
  return std::min<int64_t>(int64_t{30} << doublings, 3600);
}

Status AccountStore::Add(const std::string& id, const std::string& password, bool with_totp,
                         std::string* totp_base32) {
  REFX_RETURN_IF_ERROR(Init());
  if (!ValidId(id)) return Status::InvalidArgument("\"" + id + "\" is not a person id ([a-z0-9._-]{2,64})", "id");
  Account account;
  account.id = id;
  REFX_RETURN_IF_ERROR(Hash(password, &account.password_hash));
  account.created = static_cast<int64_t>(::time(nullptr));
  if (with_totp) {
    unsigned char secret[20];
    randombytes_buf(secret, sizeof secret);
    account.totp_secret = ToHex(std::string_view(reinterpret_cast<const char*>(secret), sizeof secret));
    char* b32 = nullptr;
    size_t len = 0;
    if (oath_base32_encode(reinterpret_cast<const char*>(secret), sizeof secret, &b32, &len) != OATH_OK) {
      return Status::Internal("cannot encode the TOTP secret");
    }
    if (totp_base32 != nullptr) totp_base32->assign(b32, len);
    ::free(b32);
  }
  FileLock lock(dir_, true);
  if (!lock.ok()) return Status::IoError("cannot lock " + dir_ + "/accounts.lock: " + std::strerror(errno));
  Accounts accounts;
  REFX_RETURN_IF_ERROR(Load(dir_, &accounts));
  if (accounts.count(id)) return Status::InvalidArgument("console account \"" + id + "\" already exists", "id");
  accounts[id] = account;
  return Save(dir_, accounts);
}

Status AccountStore::SetPassword(const std::string& id, const std::string& password) {
  std::string hash;
  REFX_RETURN_IF_ERROR(Init());
  REFX_RETURN_IF_ERROR(Hash(password, &hash));
  return Modify(dir_, id, [&](Account* a) {
    a->password_hash = hash;
    a->failed_logins = 0;
    a->retry_after = 0;
    a->locked = false;
    return Status::OK();
  });
}

std::string AccountStore::NewPassword() {
  if (!Init().ok()) return "";
  static const char kAlphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::string fresh;
  for (int i = 0; i < 20; ++i) fresh += kAlphabet[randombytes_uniform(sizeof kAlphabet - 1)];
  return fresh;
}

Status AccountStore::ResetPassword(const std::string& id, std::string* password) {
  REFX_RETURN_IF_ERROR(Init());
  const std::string fresh = NewPassword();
  REFX_RETURN_IF_ERROR(SetPassword(id, fresh));
  *password = fresh;
  return Status::OK();
}

Status AccountStore::SetDisabled(const std::string& id, bool disabled) {
  return Modify(dir_, id, [&](Account* a) {
    a->disabled = disabled;
    return Status::OK();
  });
}

Status AccountStore::Unlock(const std::string& id) {
  return Modify(dir_, id, [&](Account* a) {
    a->failed_logins = 0;
    a->retry_after = 0;
    a->locked = false;
    return Status::OK();
  });
}

Status AccountStore::List(std::vector<Account>* out) const {
  FileLock lock(dir_, false);
  Accounts accounts;
  REFX_RETURN_IF_ERROR(Load(dir_, &accounts));
  out->clear();
  for (const auto& [id, a] : accounts) out->push_back(a);
  return Status::OK();
}

Status AccountStore::Get(const std::string& id, Account* out) const {
  FileLock lock(dir_, false);
  Accounts accounts;
  REFX_RETURN_IF_ERROR(Load(dir_, &accounts));
  auto it = accounts.find(id);
  if (it == accounts.end()) return Status::NotFound("no console account \"" + id + "\"");
  *out = it->second;
  return Status::OK();
}

Status AccountStore::TotpCode(const std::string& secret_hex, int64_t now, std::string* code) {
  REFX_RETURN_IF_ERROR(Init());
  std::string secret;
  if (!FromHex(secret_hex, &secret)) return Status::InvalidArgument("the TOTP secret is not hex");
  char otp[16] = {};
  if (oath_totp_generate(secret.data(), secret.size(), static_cast<time_t>(now), OATH_TOTP_DEFAULT_TIME_STEP_SIZE, 0,
                         6, otp) != OATH_OK) {
    return Status::Internal("cannot make a TOTP code");
  }
  *code = otp;
  return Status::OK();
}

Status AccountStore::CheckLogin(const std::string& id, const std::string& password, const std::string& totp_code,
                                int64_t now, LoginResult* result) {
  REFX_RETURN_IF_ERROR(Init());
  *result = LoginResult();
  FileLock lock(dir_, true);
  if (!lock.ok()) return Status::IoError("cannot lock " + dir_ + "/accounts.lock: " + std::strerror(errno));
  Accounts accounts;
  REFX_RETURN_IF_ERROR(Load(dir_, &accounts));
  auto it = accounts.find(id);
  if (it == accounts.end()) {
    // The same Argon2id work as for a real account, so the answer's timing
    // does not tell whether the name exists.
    static const std::string dummy = [] {
      std::string h;
      (void)Hash("not-a-password-of-anyone", &h);
      return h;
    }();
    if (crypto_pwhash_str_verify(dummy.c_str(), password.data(), password.size()) == 0) {
      // Cannot match: the dummy's password is not one anybody signs in with.
    }
    return Status::OK();
  }
  Account& a = it->second;
  result->known_account = true;
  if (a.disabled) {
    result->verdict = LoginVerdict::kDisabled;
    return Status::OK();
  }
  if (a.locked) {
    result->verdict = LoginVerdict::kLocked;
    return Status::OK();
  }
  if (now < a.retry_after) {
    result->verdict = LoginVerdict::kWait;
    result->retry_after = a.retry_after;
    return Status::OK();
  }
  bool good = crypto_pwhash_str_verify(a.password_hash.c_str(), password.data(), password.size()) == 0;
  if (good && !a.totp_secret.empty()) {
    if (totp_code.empty()) {
      result->verdict = LoginVerdict::kTotpNeeded;
      return Status::OK();
    }
    std::string secret;
    good = FromHex(a.totp_secret, &secret) &&
           oath_totp_validate(secret.data(), secret.size(), static_cast<time_t>(now), OATH_TOTP_DEFAULT_TIME_STEP_SIZE,
                              0, 1, totp_code.c_str()) >= 0;
  }
  if (good) {
    a.failed_logins = 0;
    a.retry_after = 0;
    a.last_login = now;
    result->verdict = LoginVerdict::kOk;
  } else {
    ++a.failed_logins;
    a.retry_after = now + DelayAfter(a.failed_logins);
    if (a.failed_logins >= kLockAfterFailures) {
      a.locked = true;
      result->just_locked = true;
      result->verdict = LoginVerdict::kLocked;
    } else {
      result->verdict = LoginVerdict::kBadCredentials;
    }
  }
  return Save(dir_, accounts);
}

}  // namespace refx::console
