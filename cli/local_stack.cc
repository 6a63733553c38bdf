#include "cli/local_stack.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace refx::cli {

namespace fs = std::filesystem;

namespace {

// The checkout a refx binary at CHECKOUT/build/bin/refx belongs to, and so
// the stack it uses by default (CHECKOUT/var); "" if unknown.
std::string CheckoutOfBinary() {
  const std::string folder = BinaryFolder();
  if (folder.empty()) return "";
  return (fs::path(folder) / ".." / "..").lexically_normal().string();
}

// True if the current directory is `dir` or below it.
bool WorkingIn(const std::string& dir) {
  std::error_code ec;
  const fs::path here = fs::weakly_canonical(fs::current_path(ec), ec);
  const fs::path root = fs::weakly_canonical(dir, ec);
  if (root.empty()) return false;
  auto r = root.begin(), h = here.begin();
  for (; r != root.end(); ++r, ++h) {
    if (r->empty()) continue;  // a trailing separator
    if (h == here.end() || *r != *h) return false;
  }
  return true;
}

// One connect attempt to `address` within `timeout_ms`: 0, or the errno.
int ConnectWithin(const sockaddr* address, socklen_t length, int family, int timeout_ms) {
  const int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  int error = 0;
  if (connect(fd, address, length) != 0) {
    error = errno;
    if (error == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      const int ready = poll(&p, 1, timeout_ms);
      if (ready <= 0) {
        error = ETIMEDOUT;
      } else {
        socklen_t len = sizeof error;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
      }
    }
  }
  close(fd);
  return error;
}

}  // namespace

std::string BinaryFolder() {
  char exe[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return "";
  exe[n] = '\0';
  return fs::path(exe).parent_path().string();
}

std::string ResolveHome(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("REFX_HOME"); env && *env) return env;
  const std::string checkout = CheckoutOfBinary();
  if (checkout.empty()) return "var";
  const std::string home = (fs::path(checkout) / "var").string();
  // Run from elsewhere, the stack of the binary's checkout may not be the
  // one meant: say which it is (once per run).
  static bool said = false;
  if (!said && !WorkingIn(checkout)) {
    said = true;
    std::fprintf(stderr,
                 "refx: using the stack in %s (that of this refx binary's checkout; --home DIR or REFX_HOME=DIR "
                 "chooses another)\n",
                 home.c_str());
  }
  return home;
}

Status CheckBrokerListening(const std::string& endpoint, int timeout_ms) {
  const std::string hint = "; is the broker running? try `deploy/refx.sh status`";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto left = [&] {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    return static_cast<int>(ms < 0 ? 0 : ms);
  };
  int error = 0;
  if (endpoint.rfind("ipc://", 0) == 0) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string path = endpoint.substr(6);
    if (path.empty() || path.size() >= sizeof address.sun_path || path[0] == '@') return Status::OK();
    std::memcpy(address.sun_path, path.data(), path.size());
    error = ConnectWithin(reinterpret_cast<const sockaddr*>(&address), sizeof address, AF_UNIX, left());
  } else if (endpoint.rfind("tcp://", 0) == 0) {
    const std::string rest = endpoint.substr(6);
    const size_t colon = rest.rfind(':');
    if (colon == std::string::npos || rest.find(';') != std::string::npos) return Status::OK();
    std::string host = rest.substr(0, colon);
    const std::string port = rest.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host == "*") host = "127.0.0.1";
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
      return Status::OK();  // ZeroMQ will say what is wrong with the address
    }
    error = ECONNREFUSED;
    for (addrinfo* a = found; a != nullptr && left() > 0; a = a->ai_next) {
      error = ConnectWithin(a->ai_addr, a->ai_addrlen, a->ai_family, left());
      if (error == 0) break;
    }
    freeaddrinfo(found);
  } else {
    return Status::OK();  // another transport: no quick check
  }
  if (error == 0) return Status::OK();
  return Status::Unavailable("no broker listening at " + endpoint + " (" + std::strerror(error) + ")" + hint);
}

Status ClientOptionsFor(const ConnectionFlags& flags, const std::string& agency_id, ClientOptions* out) {
  const std::string home = ResolveHome(flags.home);
  const std::string key_dir = flags.key_dir.empty() ? home + "/keys" : flags.key_dir;
  out->endpoint = flags.endpoint;
  if (out->endpoint.empty()) {
    std::unique_ptr<PartnershipConfig> config;
    Status s = PartnershipConfig::Load(home + "/config.textproto", &config);
    if (!s.ok()) {
      return Status::NotFound("no local stack configuration (" + s.message() +
                              "); run deploy/refx.sh up, or pass --broker and keys");
    }
    out->endpoint = config->broker().frontend_endpoint();
  }
  const std::string server_key = flags.server_key_file.empty() ? key_dir + "/broker.pub" : flags.server_key_file;
  REFX_RETURN_IF_ERROR(ReadCurveKeyFile(server_key, &out->server_public_key));
  Status s = LoadCurveKeyPair(key_dir, agency_id, &out->client_keys);
  if (!s.ok()) return Status::NotFound("no key pair for agency \"" + agency_id + "\" in " + key_dir + ": " + s.message());
  out->request_timeout_ms = flags.timeout_ms;
  out->max_attempts = flags.attempts;
  return Status::OK();
}

Status ConnectedClientOptions(const ConnectionFlags& flags, const std::string& agency_id, ClientOptions* out) {
  REFX_RETURN_IF_ERROR(ClientOptionsFor(flags, agency_id, out));
  return CheckBrokerListening(out->endpoint, kListenCheckMs);
}

}  // namespace refx::cli
