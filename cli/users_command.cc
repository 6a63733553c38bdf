#include "cli/users_command.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/exit_codes.h"
#include "console/account_store.h"
#include "render/format.h"

namespace refx::cli {

namespace {

struct UsersArgs {
  std::string store;  // empty: HOME/console/accounts
  std::string id;
  bool totp = false;
  bool password_stdin = false;
};

// One line from stdin; the terminal does not echo it when stdin is one.
std::string ReadPassword(const char* prompt) {
  const bool tty = isatty(STDIN_FILENO);
  termios old {};
  if (tty) {
    std::fprintf(stderr, "%s", prompt);
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "refx users %s: %s\n", what.c_str(), s.message().c_str());
  if (s.code() == Status::Code::kIoError || s.code() == Status::Code::kCorruption) return kExitSetupError;
  return kExitRefused;
}

int Run(const std::string& action, const ConnectionFlags& flags, const UsersArgs& args) {
  const std::string dir = args.store.empty() ? ResolveHome(flags.home) + "/console/accounts" : args.store;
  console::AccountStore store(dir);
  Status s;
  if (action == "add") {
    std::string password, totp;
    if (args.password_stdin) {
      password = ReadPassword("Password: ");
    } else {
      // A generated password, shown once: the account holder changes it with `refx users passwd`.
      password = console::AccountStore::NewPassword();
      s = store.Add(args.id, password, args.totp, &totp);
      if (!s.ok()) return Fail(action, s);
      std::printf("%s %s\n", args.id.c_str(), password.c_str());
      if (!totp.empty()) std::printf("TOTP secret (base32, for an authenticator app): %s\n", totp.c_str());
      return kExitOk;
    }
    s = store.Add(args.id, password, args.totp, &totp);
    if (!s.ok()) return Fail(action, s);
    std::printf("added %s\n", args.id.c_str());
    if (!totp.empty()) std::printf("TOTP secret (base32, for an authenticator app): %s\n", totp.c_str());
    return kExitOk;
  }
  if (action == "passwd") {
    s = store.SetPassword(args.id, ReadPassword("New password: "));
    if (!s.ok()) return Fail(action, s);
    std::printf("password of %s changed\n", args.id.c_str());
    return kExitOk;
  }
  if (action == "reset") {
    std::string password;
    s = store.ResetPassword(args.id, &password);
    if (!s.ok()) return Fail(action, s);
    std::printf("%s %s\n", args.id.c_str(), password.c_str());
    return kExitOk;
  }
  if (action == "disable" || action == "enable") {
    s = store.SetDisabled(args.id, action == "disable");
    if (!s.ok()) return Fail(action, s);
    std::printf("%s %sd\n", args.id.c_str(), action.c_str());
    return kExitOk;
  }
  if (action == "unlock") {
    s = store.Unlock(args.id);
    if (!s.ok()) return Fail(action, s);
    std::printf("%s unlocked\n", args.id.c_str());
    return kExitOk;
  }
  std::vector<console::Account> accounts;
  s = store.List(&accounts);
  if (!s.ok()) return Fail(action, s);
  std::printf("%-28s %-9s %-5s %-8s %s\n", "ID", "STATUS", "TOTP", "FAILURES", "LAST SIGN-IN");
  for (const auto& a : accounts) {
    const char* status = a.disabled ? "disabled" : a.locked ? "locked" : "active";
    std::printf("%-28s %-9s %-5s %-8u %s\n", a.id.c_str(), status, a.totp_secret.empty() ? "no" : "yes",
                a.failed_logins, a.last_login ? render::LondonTime(a.last_login).c_str() : "never");
  }
  return kExitOk;
}

}  // namespace

void AddUsersCommand(CLI::App& app, const ConnectionFlags* flags, int* exit_code) {
  auto* users = app.add_subcommand("users", "The web console's sign-in accounts (its own store, not the configuration)");
  users->require_subcommand(1);
  auto args = std::make_shared<UsersArgs>();
  struct Sub {
    const char* name;
    const char* help;
    bool takes_id;
  };
  for (const Sub& sub : {Sub{"add", "Create an account for a person of the configuration; prints ID PASSWORD", true},
                         Sub{"passwd", "Set a person's password (read from stdin)", true},
                         Sub{"reset", "Give a person a new random password; prints ID PASSWORD", true},
                         Sub{"disable", "Disable an account (its sessions end)", true},
                         Sub{"enable", "Enable a disabled account", true},
                         Sub{"unlock", "Clear failed sign-ins and a lock", true},
                         Sub{"list", "List the accounts (no secrets)", false}}) {
    auto* cmd = users->add_subcommand(sub.name, sub.help);
    cmd->add_option("--store", args->store, "The console's accounts folder (default HOME/console/accounts)");
    if (sub.takes_id) cmd->add_option("ID", args->id, "The person's id in the configuration's people")->required();
    if (std::string(sub.name) == "add") {
      cmd->add_flag("--totp", args->totp, "Also make a TOTP second factor (prints its secret once)");
      cmd->add_flag("--password-stdin", args->password_stdin, "Read the password from stdin instead of making one");
    }
    const std::string action = sub.name;
    cmd->callback([action, args, flags, exit_code] { *exit_code = Run(action, *flags, *args); });
  }
}

}  // namespace refx::cli
