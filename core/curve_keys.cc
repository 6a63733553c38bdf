#include "core/curve_keys.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/hex.h"

namespace refx {

namespace fs = std::filesystem;

std::string CurveKeyFingerprint(const std::string& z85) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(z85.data()), z85.size());
  return ToHex(std::string_view(reinterpret_cast<const char*>(digest), 8));
}

bool IsCurveKeyFingerprint(const std::string& text) {
  if (text.size() != 16) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The rules of libzmq's zmq_z85_decode for a 40-character key: every
// character from the Z85 alphabet, and each group of five a base-85 number
// that fits 32 bits.
bool IsZ85Key(const std::string& z85) {
  static constexpr char kAlphabet[] =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  if (z85.size() != 40) return false;
  for (size_t group = 0; group < z85.size(); group += 5) {
    uint64_t value = 0;
    for (size_t i = group; i < group + 5; ++i) {
      const char* digit = z85[i] == '\0' ? nullptr : std::strchr(kAlphabet, z85[i]);
      if (digit == nullptr) return false;
      value = value * 85 + static_cast<uint64_t>(digit - kAlphabet);
    }
    if (value > UINT32_MAX) return false;
  }
  return true;
}

Status ReadCurveKeyFile(const std::string& path, std::string* z85) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read key file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  const auto begin = text.find_first_not_of(" \t\r\n");
  const auto end = text.find_last_not_of(" \t\r\n");
  text = begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
  if (!IsZ85Key(text)) return Status::InvalidArgument("key file " + path + " does not hold a 40-character Z85 key");
  *z85 = text;
  return Status::OK();
}

Status SaveCurveKeyPair(const std::string& dir, const std::string& name, const CurveKeyPair& pair) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create " + dir + ": " + ec.message());
  const std::string pub = dir + "/" + name + ".pub";
  const std::string key = dir + "/" + name + ".key";
  if (fs::exists(pub) || fs::exists(key)) return Status::InvalidArgument("key files for " + name + " already exist in " + dir);
  {
    // Create the secret file with 0600 before writing anything to it.
    const mode_t old = umask(077);
    std::ofstream k(key);
    umask(old);
    if (!k) return Status::IoError("cannot write " + key);
    k << pair.secret_key << "\n";
  }
  std::ofstream p(pub);
  if (!p) return Status::IoError("cannot write " + pub);
  p << pair.public_key << "\n";
  return Status::OK();
}

Status LoadCurveKeyPair(const std::string& dir, const std::string& name, CurveKeyPair* out) {
  REFX_RETURN_IF_ERROR(ReadCurveKeyFile(dir + "/" + name + ".pub", &out->public_key));
  return ReadCurveKeyFile(dir + "/" + name + ".key", &out->secret_key);
}

}  // namespace refx
