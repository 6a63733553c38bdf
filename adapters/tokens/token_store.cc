#include "adapters/tokens/token_store.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <ctime>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/durable_dir.h"
#include "core/hex.h"

namespace refx::adapters {
namespace {

bool ValidName(const std::string& name) {
  static const std::regex re("[A-Za-z0-9._-]{1,64}");
  return std::regex_match(name, re);
}

std::string NowUtc() {
  std::time_t t = std::time(nullptr);
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Status WriteEntries(const std::string& path, const std::vector<TokenEntry>& entries) {
  std::string text = "# refx-adapter bearer tokens: NAME BLAKE2B-256-HEX CREATED (refx tokens issue|list|revoke)\n";
  for (const TokenEntry& e : entries) text += e.name + " " + e.hash_hex + " " + e.created + "\n";
  // Mode 0600 (the hashes are secrets of a kind); the old list or the new
  // one survives a crash, never a torn file.
  return ReplaceFileDurably(path, text);
}

}  // namespace

std::string TokenFile::HashHex(const std::string& token) {
  unsigned char hash[crypto_generichash_BYTES];
  crypto_generichash(hash, sizeof(hash), reinterpret_cast<const unsigned char*>(token.data()), token.size(), nullptr, 0);
  return ToHex(std::string(reinterpret_cast<const char*>(hash), sizeof(hash)));
}

Status TokenFile::Read(const std::string& path, std::vector<TokenEntry>* entries) {
  entries->clear();
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return Status::OK();
    return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    TokenEntry e;
    std::string extra;
    fields >> e.name >> e.hash_hex >> e.created;
    if (!ValidName(e.name) || e.hash_hex.size() != 2 * crypto_generichash_BYTES ||
        e.hash_hex.find_first_not_of("0123456789abcdef") != std::string::npos || (fields >> extra)) {
      return Status::Corruption(path + ":" + std::to_string(n) + ": not \"NAME HASH-HEX CREATED\"");
    }
    entries->push_back(std::move(e));
  }
  return Status::OK();
}

Status TokenFile::Issue(const std::string& path, const std::string& name, std::string* token) {
  if (sodium_init() < 0) return Status::Internal("libsodium could not be initialised");
  if (!ValidName(name)) {
    return Status::InvalidArgument("token name \"" + name + "\" must be 1-64 letters, digits, '.', '_' or '-'", "name");
  }
  std::vector<TokenEntry> entries;
  REFX_RETURN_IF_ERROR(Read(path, &entries));
  for (const TokenEntry& e : entries) {
    if (e.name == name) return Status::InvalidArgument("a token named \"" + name + "\" exists; revoke it first", "name");
  }
  unsigned char raw[32];
  randombytes_buf(raw, sizeof(raw));
  std::string plain = ToHex(std::string(reinterpret_cast<const char*>(raw), sizeof(raw)));
  sodium_memzero(raw, sizeof(raw));
  entries.push_back(TokenEntry{name, HashHex(plain), NowUtc()});
  REFX_RETURN_IF_ERROR(WriteEntries(path, entries));
  *token = std::move(plain);
  return Status::OK();
}

Status TokenFile::Revoke(const std::string& path, const std::string& name) {
  std::vector<TokenEntry> entries;
  REFX_RETURN_IF_ERROR(Read(path, &entries));
  size_t before = entries.size();
  entries.erase(std::remove_if(entries.begin(), entries.end(), [&](const TokenEntry& e) { return e.name == name; }),
                entries.end());
  if (entries.size() == before) return Status::NotFound("no token named \"" + name + "\" in " + path);
  return WriteEntries(path, entries);
}

Status TokenVerifier::ReloadIfChanged() {
  auto now = std::chrono::steady_clock::now();
  if (loaded_ && now - checked_ < std::chrono::seconds(1)) return Status::OK();
  checked_ = now;
  struct stat st;
  int64_t mtime = -1, size = -1;
  if (::stat(path_.c_str(), &st) == 0) {
    mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    size = st.st_size;
  }
  if (loaded_ && mtime == mtime_ns_ && size == size_) return Status::OK();
  std::vector<TokenEntry> entries;
  REFX_RETURN_IF_ERROR(TokenFile::Read(path_, &entries));
  hashes_.clear();
  for (const TokenEntry& e : entries) {
    std::vector<unsigned char> raw(crypto_generichash_BYTES);
    size_t len = 0;
    if (sodium_hex2bin(raw.data(), raw.size(), e.hash_hex.data(), e.hash_hex.size(), nullptr, &len, nullptr) != 0 ||
        len != raw.size()) {
      return Status::Corruption(path_ + ": bad hash for " + e.name);
    }
    hashes_.push_back(std::move(raw));
  }
  entries_ = std::move(entries);
  loaded_ = true;
  mtime_ns_ = mtime;
  size_ = size;
  return Status::OK();
}

Status TokenVerifier::Verify(const std::string& token, std::string* caller) {
  unsigned char hash[crypto_generichash_BYTES];
  crypto_generichash(hash, sizeof(hash), reinterpret_cast<const unsigned char*>(token.data()), token.size(), nullptr, 0);
  std::lock_guard<std::mutex> lock(mu_);
  REFX_RETURN_IF_ERROR(ReloadIfChanged());
  // Every entry is compared, whatever matched, so the time taken says
  // nothing about which hash (or how much of one) matched.
  int found = -1;
  for (size_t i = 0; i < hashes_.size(); ++i) {
    int same = sodium_memcmp(hash, hashes_[i].data(), sizeof(hash)) == 0;
    found = same ? static_cast<int>(i) : found;
  }
  if (found < 0) return Status::NotFound("no such token");
  *caller = entries_[static_cast<size_t>(found)].name;
  return Status::OK();
}

}  // namespace refx::adapters
