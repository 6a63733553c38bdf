#include "cli/local_stack.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>

namespace refx::cli {

namespace fs = std::filesystem;

std::string ResolveHome(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("REFX_HOME"); env && *env) return env;
  char exe[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    return (fs::path(exe).parent_path() / ".." / ".." / "var").lexically_normal().string();
  }
  return "var";
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

}  // namespace refx::cli
