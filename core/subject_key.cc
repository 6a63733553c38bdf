#include "core/subject_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/civil_date.h"
#include "core/durable_dir.h"
#include "core/hex.h"

namespace refx {

namespace {

bool InitSodium() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

}  // namespace

std::string NormaliseName(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if (c >= 'a' && c <= 'z') {
      out.push_back(ch);
    } else if (c >= 0x80) {
      out.push_back(ch);
    }
  }
  return out;
}

std::string SubjectIdentity(const v1::Referral& referral) {
  if (referral.has_person()) {
    const v1::Person& p = referral.person();
    const std::string name = NormaliseName(p.given_name() + p.family_name());
    CivilDate dob;
    if (name.empty() || !ParseCivilDate(p.date_of_birth(), &dob)) return "";
    return "p|" + name + "|" + dob.ToString();
  }
  if (referral.has_context()) {
    const v1::ContextSubject& c = referral.context();
    const std::string name = NormaliseName(c.name());
    if (name.empty()) return "";
    return "c|" + v1::ContextKind_Name(c.kind()) + "|" + name + "|" + NormaliseName(c.ward());
  }
  return "";
}

std::string SubjectKey(const std::string& secret, const v1::Referral& referral) {
  if (secret.size() != kSubjectSecretBytes || !InitSodium()) return "";
  std::string identity = SubjectIdentity(referral);
  if (identity.empty()) return "";
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(identity.data()), identity.size());
  crypto_auth_hmacsha256_final(&state, mac);
  sodium_memzero(identity.data(), identity.size());
  return ToHex(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac));
}

Status PersonSubjectKey(const std::string& secret, const std::string& name, const std::string& date_of_birth,
                        std::string* key) {
  if (NormaliseName(name).empty()) return Status::InvalidArgument("the name has no letters", "name");
  CivilDate dob;
  if (!ParseCivilDate(date_of_birth, &dob)) return Status::InvalidArgument("the date of birth must be a YYYY-MM-DD date", "dob");
  if (secret.size() != kSubjectSecretBytes) return Status::InvalidArgument("the subject key is not loaded");
  v1::Referral referral;
  referral.mutable_person()->set_given_name(name);
  referral.mutable_person()->set_date_of_birth(date_of_birth);
  *key = SubjectKey(secret, referral);
  if (key->empty()) return Status::Internal("the subject key could not be computed");
  return Status::OK();
}

Status LoadConfiguredSubjectKey(const std::string& key_file, const std::string& config_path, std::string* secret) {
  if (key_file.empty()) return Status::InvalidArgument("the configuration names no subject_key_file");
  return LoadSubjectKeyFile(ConfiguredSubjectKeyPath(key_file, config_path), secret);
}

std::string ConfiguredSubjectKeyPath(const std::string& key_file, const std::string& config_path) {
  std::filesystem::path path(key_file);
  if (path.is_relative()) path = std::filesystem::path(config_path).parent_path() / path;
  return path.string();
}

Status LoadSecretKeyFile(const std::string& path, const std::string& what, std::string* secret) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError(path + ": cannot read the " + what + " file");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  const size_t begin = text.find_first_not_of(" \t\r\n");
  const size_t end = text.find_last_not_of(" \t\r\n");
  const std::string hex = begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
  sodium_memzero(text.data(), text.size());
  if (hex.size() != 2 * kSubjectSecretBytes) {
    return Status::InvalidArgument(path + ": a " + what + " file holds 64 hexadecimal characters");
  }
  if (!InitSodium()) return Status::Internal("libsodium failed to initialise");
  std::string bytes(kSubjectSecretBytes, '\0');
  size_t len = 0;
  const char* hex_end = nullptr;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(), hex.data(), hex.size(), nullptr,
                     &len, &hex_end) != 0 ||
      len != kSubjectSecretBytes || hex_end != hex.data() + hex.size()) {
    return Status::InvalidArgument(path + ": a " + what + " file holds 64 hexadecimal characters");
  }
  *secret = std::move(bytes);
  return Status::OK();
}

Status GenerateSecretKeyFile(const std::string& path, const std::string& what) {
  if (!InitSodium()) return Status::Internal("libsodium failed to initialise");
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return Status::IoError(parent.string() + ": cannot create folder: " + ec.message());
  unsigned char key[kSubjectSecretBytes];
  randombytes_buf(key, sizeof key);
  char hex[2 * kSubjectSecretBytes + 2];
  sodium_bin2hex(hex, sizeof hex, key, sizeof key);
  sodium_memzero(key, sizeof key);
  hex[2 * kSubjectSecretBytes] = '\n';
  const size_t n = 2 * kSubjectSecretBytes + 1;
  const Status s = CreateFileDurably(path, std::string_view(hex, n), 0600, what);
  sodium_memzero(hex, sizeof hex);
  return s;
}

Status LoadSubjectKeyFile(const std::string& path, std::string* secret) {
  return LoadSecretKeyFile(path, "subject key", secret);
}

Status GenerateSubjectKeyFile(const std::string& path) { return GenerateSecretKeyFile(path, "subject key"); }

}  // namespace refx
