// AccountStore: the console's sign-in credentials, kept apart from the
// partnership configuration (which says only who a person is and what they
// may do). One JSON file, DIR/accounts.json (mode 0600, folder 0700), holds
// for each person id an Argon2id hash (libsodium crypto_pwhash_str), an
// optional TOTP secret (RFC 6238, 30 s steps, liboath), whether the account
// is disabled, and its failed sign-ins. Never a password in clear.
//
// Failed sign-ins slow an attacker down: from the third failure in a row
// each further attempt must wait 30 s, then 60 s, 120 s ... (at most 1 h);
// after kLockAfterFailures failures the account is locked until an admin
// unlocks it (`refx users unlock`, or the console's admin page).
//
// Every operation takes an exclusive flock on DIR/accounts.lock and reads
// the file afresh, so the console and `refx users` can work on the same
// folder at once; writes go to a temporary file that is renamed over the
// old one (a crash leaves the old or the new file, never half of one).
//
// Thread-safety: thread-safe (the file lock serialises operations; the
// object holds no mutable state).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace refx::console {

struct Account {
  std::string id;             // person id from the configuration's `people`
  std::string password_hash;  // crypto_pwhash_str output ("$argon2id$...")
  std::string totp_secret;    // hex of the raw TOTP key; empty = no second factor
  bool disabled = false;
  uint32_t failed_logins = 0;  // failures in a row since the last success
  int64_t retry_after = 0;     // unix seconds: no attempt is checked before this
  bool locked = false;         // locked after too many failures: an admin must unlock
  int64_t created = 0;         // unix seconds
  int64_t last_login = 0;      // unix seconds of the last successful sign-in; 0 = never
};

// What a sign-in attempt came to.
enum class LoginVerdict {
  kOk,
  kBadCredentials,  // unknown user, wrong password or wrong TOTP code (not told apart)
  kTotpNeeded,      // password right; the account needs a TOTP code and none was given
  kWait,            // too soon after failures; *retry_after says when
  kLocked,          // locked until an admin unlocks it
  kDisabled,
};

struct LoginResult {
  LoginVerdict verdict = LoginVerdict::kBadCredentials;
  int64_t retry_after = 0;  // for kWait
  bool just_locked = false; // this failure locked the account
  bool known_account = false;
};

class AccountStore {
 public:
  static constexpr uint32_t kFreeFailures = 2;        // failures before delays start
  static constexpr uint32_t kLockAfterFailures = 10;  // failures that lock the account
  static constexpr size_t kMinPasswordLength = 12;

  // The store in folder `dir` (created, mode 0700, on the first write).
  explicit AccountStore(std::string dir);

  const std::string& dir() const { return dir_; }

  // Creates account `id` with `password`. With `with_totp` a fresh TOTP
  // secret is made and its base32 form (for an authenticator app) put in
  // *totp_base32. InvalidArgument for a malformed id or a password shorter
  // than kMinPasswordLength; InvalidArgument when the id is
  // taken; IoError when the folder cannot be written. Nothing is changed
  // on failure.
  Status Add(const std::string& id, const std::string& password, bool with_totp, std::string* totp_base32);

  // Sets a new password (and clears failures and a lock). NotFound for an
  // unknown id; InvalidArgument for a short password.
  Status SetPassword(const std::string& id, const std::string& password);

  // Makes a new random password (returned in *password, 20 characters, no
  // spaces), clears failures and a lock. NotFound for an unknown id.
  Status ResetPassword(const std::string& id, std::string* password);

  // Disables or re-enables the account. NotFound for an unknown id.
  Status SetDisabled(const std::string& id, bool disabled);

  // Clears failures, delays and a lock. NotFound for an unknown id.
  Status Unlock(const std::string& id);

  // Every account, sorted by id (hashes and secrets included: callers that
  // show them must not).
  Status List(std::vector<Account>* out) const;

  // NotFound for an unknown id.
  Status Get(const std::string& id, Account* out) const;

  // Checks a sign-in at unix time `now` and records its result (failures,
  // delays, lock, last_login). A wrong password, an unknown id and a wrong
  // TOTP code give the same verdict (and an unknown id costs the same hash
  // work), so a caller cannot tell which. OK with *result set; IoError when
  // the store cannot be read or written.
  Status CheckLogin(const std::string& id, const std::string& password, const std::string& totp_code, int64_t now,
                    LoginResult* result);

  // Seconds to wait after `failures` failures in a row (0 for the first
  // kFreeFailures).
  static int64_t DelayAfter(uint32_t failures);

  // A new random password: 20 characters from letters and digits without
  // look-alikes (no 0/O, 1/l/I), no spaces.
  static std::string NewPassword();

  // True for a well-formed person id ([a-z0-9._-]{2,64}, as in the configuration).
  static bool ValidId(const std::string& id);

  // The current TOTP code for a hex secret at `now` (for tests and for
  // showing to a person who sets up their app).
  static Status TotpCode(const std::string& secret_hex, int64_t now, std::string* code);

 private:
  std::string dir_;
};

}  // namespace refx::console
