// The spool (adapters/spool/spool.h): maildir-style units, grouped fsyncs.
//
// Unit file (new/NNNNNNNNNNNNNNNNNNNN.unit), written once, never changed:
//   "RFXSPL01"                      magic
//   varint32 len, bytes             source
//   varint64                        spooled_at, microseconds since the epoch
//   varint32                        number of referrals
//   per referral: varint32 len, bytes (Referral, binary protobuf)
//   32 bytes                        BLAKE2b (crypto_generichash) of all the above
// Cursor file (cursor/NNN.unit): the decimal count of acknowledged
// referrals, replaced by write-to-temporary, fsync, rename, fsync cursor/.
//
// Group commit: Append queues its request; the first caller with no writer
// active becomes the writer, takes every queued request, writes one unit per
// source (so concurrent HTTP requests share one file and one fsync), fsyncs
// new/ once, and wakes the callers it served.
#include "adapters/spool/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <deque>
#include <map>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "core/durable_dir.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace refx::adapters {
namespace {

constexpr char kMagic[] = "RFXSPL01";
constexpr size_t kMagicLen = 8;
constexpr size_t kHashLen = crypto_generichash_BYTES;  // 32
constexpr char kUnitSuffix[] = ".unit";

std::string Errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// Creates `path` (and missing parents) durably: a unit fsynced into new/ is
// lost with new/ if the folder's own entry was never synced (found by the
// power-loss trials, tests/faults).
Status MakeDir(const std::string& path) {
  Status made = CreateDirDurably(path, 0700);
  if (!made.ok()) return Status::IoError("cannot create folder " + path + ": " + made.message());
  return Status::OK();
}

Status FsyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Status::IoError(Errno("cannot open", path));
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  if (rc != 0) {
    errno = saved;
    return Status::IoError(Errno("cannot fsync", path));
  }
  return Status::OK();
}

Status FsyncDir(const std::string& path) { return FsyncPath(path, O_RDONLY | O_DIRECTORY); }

// Names of regular entries of `dir` (no dot files), sorted.
Status ListDir(const std::string& dir, std::vector<std::string>* names) {
  names->clear();
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::IoError(Errno("cannot read folder", dir));
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    names->emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names->begin(), names->end());
  return Status::OK();
}

// Writes `data` to `path` (created, truncated) and fsyncs it.
Status WriteFileSynced(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError(Errno("cannot create", path));
  Status s = WriteAll(fd, data, path);
  if (s.ok() && ::fdatasync(fd) != 0) s = Status::IoError(Errno("cannot fsync", path));
  ::close(fd);
  if (!s.ok()) ::unlink(path.c_str());
  return s;
}

Status ReadFile(const std::string& path, std::string* data) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError(Errno("cannot open", path));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Status::IoError(Errno("cannot stat", path));
  }
  data->resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < data->size()) {
    ssize_t n = ::read(fd, data->data() + done, data->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return Status::IoError(Errno("cannot read", path));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return Status::OK();
}

int64_t ToMicros(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

// The unit file's bytes for `referrals` (each a binary Referral) from `source`.
std::string EncodeUnit(const std::vector<const std::string*>& referrals, const std::string& source,
                       std::chrono::system_clock::time_point spooled_at) {
  std::string out;
  size_t total = kMagicLen + source.size() + 32 + kHashLen;
  for (const std::string* r : referrals) total += r->size() + 5;
  out.reserve(total);
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.WriteRaw(kMagic, kMagicLen);
    coded.WriteVarint32(static_cast<uint32_t>(source.size()));
    coded.WriteString(source);
    coded.WriteVarint64(static_cast<uint64_t>(ToMicros(spooled_at)));
    coded.WriteVarint32(static_cast<uint32_t>(referrals.size()));
    for (const std::string* bytes : referrals) {
      coded.WriteVarint32(static_cast<uint32_t>(bytes->size()));
      coded.WriteString(*bytes);
    }
  }
  unsigned char hash[kHashLen];
  crypto_generichash(hash, kHashLen, reinterpret_cast<const unsigned char*>(out.data()), out.size(), nullptr, 0);
  out.append(reinterpret_cast<const char*>(hash), kHashLen);
  return out;
}

// Parses a unit file's bytes. With `unit` set its referrals' bytes go to
// unit->encoded (not parsed: the checksum vouches for them). With
// `references` set each referral is parsed (Open checks every unit so) and
// its reference kept.
Status DecodeUnit(const std::string& path, const std::string& data, SpoolUnit* unit, size_t* count,
                  std::vector<std::string>* references) {
  auto corrupt = [&path](const std::string& why) { return Status::Corruption("spool unit " + path + ": " + why); };
  if (data.size() < kMagicLen + kHashLen || data.compare(0, kMagicLen, kMagic) != 0) return corrupt("not a unit file");
  unsigned char hash[kHashLen];
  size_t body = data.size() - kHashLen;
  crypto_generichash(hash, kHashLen, reinterpret_cast<const unsigned char*>(data.data()), body, nullptr, 0);
  if (sodium_memcmp(hash, data.data() + body, kHashLen) != 0) return corrupt("checksum mismatch");
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(data.data()) + kMagicLen,
                                            static_cast<int>(body - kMagicLen));
  in.SetTotalBytesLimit(INT32_MAX);
  uint32_t len = 0;
  uint64_t micros = 0;
  uint32_t n = 0;
  std::string source;
  if (!in.ReadVarint32(&len) || !in.ReadString(&source, static_cast<int>(len)) || !in.ReadVarint64(&micros) ||
      !in.ReadVarint32(&n)) {
    return corrupt("bad header");
  }
  *count = n;
  if (unit != nullptr) {
    unit->source = source;
    unit->spooled_at = std::chrono::system_clock::time_point(std::chrono::microseconds(micros));
    unit->encoded.clear();
    unit->encoded.reserve(n);
  }
  std::string bytes;
  for (uint32_t i = 0; i < n; ++i) {
    if (!in.ReadVarint32(&len) || !in.ReadString(&bytes, static_cast<int>(len))) return corrupt("truncated");
    if (references != nullptr) {
      refx::v1::Referral r;
      if (!r.ParseFromString(bytes)) return corrupt("bad referral " + std::to_string(i));
      references->push_back(r.referrer_reference());
    }
    if (unit != nullptr) unit->encoded.push_back(std::move(bytes));
  }
  if (in.CurrentPosition() != static_cast<int>(body - kMagicLen)) {
    return corrupt("trailing bytes");
  }
  return Status::OK();
}

class DiskSpool : public Spool {
 public:
  explicit DiskSpool(std::string dir)
      : dir_(std::move(dir)), tmp_(dir_ + "/tmp"), new_(dir_ + "/new"), cursor_(dir_ + "/cursor") {}

  Status Load() {
    REFX_RETURN_IF_ERROR(MakeDir(dir_));
    REFX_RETURN_IF_ERROR(MakeDir(tmp_));
    REFX_RETURN_IF_ERROR(MakeDir(new_));
    REFX_RETURN_IF_ERROR(MakeDir(cursor_));
    std::vector<std::string> names;
    // tmp/: never acknowledged to anyone.
    REFX_RETURN_IF_ERROR(ListDir(tmp_, &names));
    for (const std::string& name : names) ::unlink((tmp_ + "/" + name).c_str());
    REFX_RETURN_IF_ERROR(ListDir(new_, &names));
    for (const std::string& name : names) {
      if (!IsUnitName(name)) continue;
      std::string data;
      REFX_RETURN_IF_ERROR(ReadFile(new_ + "/" + name, &data));
      SpoolUnit header;
      size_t count = 0;
      std::vector<std::string> refs;
      REFX_RETURN_IF_ERROR(DecodeUnit(new_ + "/" + name, data, nullptr, &count, &refs));
      REFX_RETURN_IF_ERROR(DecodeUnit(new_ + "/" + name, data, &header, &count, nullptr));
      size_t acked = 0;
      REFX_RETURN_IF_ERROR(ReadCursor(name, &acked));
      acked = std::min(acked, count);
      UnitInfo info{count, acked, header.spooled_at, ReferenceIndex(refs)};
      next_number_ = std::max<uint64_t>(next_number_, std::strtoull(name.c_str(), nullptr, 10) + 1);
      units_.emplace(name, std::move(info));
    }
    // A cursor whose unit is gone: the unit was removed, the cursor not yet.
    REFX_RETURN_IF_ERROR(ListDir(cursor_, &names));
    for (const std::string& name : names) {
      if (units_.count(name) == 0) ::unlink((cursor_ + "/" + name).c_str());
    }
    for (auto it = units_.begin(); it != units_.end();) {
      // Fully acknowledged but not yet removed (crash between the two).
      if (it->second.acknowledged >= it->second.count) {
        std::string name = it->first;
        ++it;
        REFX_RETURN_IF_ERROR(RemoveUnit(name));
      } else {
        ++it;
      }
    }
    return Status::OK();
  }

  Status Append(std::vector<refx::v1::Referral> referrals, const std::string& source) override {
    std::vector<EncodedReferral> encoded(referrals.size());
    for (size_t i = 0; i < referrals.size(); ++i) {
      encoded[i].reference = referrals[i].referrer_reference();
      referrals[i].SerializeToString(&encoded[i].bytes);
    }
    return AppendEncoded(std::move(encoded), source);
  }

  Status AppendEncoded(std::vector<EncodedReferral> referrals, const std::string& source) override {
    if (referrals.empty()) return Status::InvalidArgument("no referrals to spool");
    for (size_t i = 0; i < referrals.size(); ++i) {
      if (referrals[i].reference.empty()) {
        return Status::InvalidArgument("referral " + std::to_string(i) + " has no referrer_reference",
                                       "referrer_reference");
      }
    }
    Request request{std::move(referrals), source, false, Status::OK()};
    std::unique_lock<std::mutex> lock(append_mu_);
    queue_.push_back(&request);
    while (!request.done && writing_) append_cv_.wait(lock);
    if (request.done) return request.status;
    // Become the writer for everything queued so far.
    writing_ = true;
    std::vector<Request*> batch(queue_.begin(), queue_.end());
    queue_.clear();
    lock.unlock();
    WriteBatch(batch);
    lock.lock();
    for (Request* r : batch) r->done = true;
    writing_ = false;
    append_cv_.notify_all();
    return request.status;
  }

  Status Oldest(SpoolUnit* unit) override { return ReadUnit(nullptr, unit); }

  Status Next(const std::string& after, SpoolUnit* unit) override { return ReadUnit(&after, unit); }

  // The first unit (after `*after`, when given) read from new/.
  Status ReadUnit(const std::string* after, SpoolUnit* unit) {
    std::string name;
    size_t acked = 0;
    std::string data;
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = name.empty() ? (after == nullptr ? units_.begin() : units_.upper_bound(*after))
                               : units_.upper_bound(name);
        if (it == units_.end()) return Status::NotFound(after == nullptr ? "the spool is empty" : "no later unit");
        name = it->first;
        acked = it->second.acknowledged;
      }
      Status read = ReadFile(new_ + "/" + name, &data);
      if (read.ok()) break;
      // MarkAcknowledged (the forwarder's recording thread) may have removed
      // the unit since it was looked up: then it is simply no longer there.
      std::lock_guard<std::mutex> lock(mu_);
      if (units_.count(name) != 0) return read;
    }
    size_t count = 0;
    REFX_RETURN_IF_ERROR(DecodeUnit(new_ + "/" + name, data, unit, &count, nullptr));
    unit->name = name;
    unit->acknowledged = acked;
    return Status::OK();
  }

  Status MarkAcknowledged(const std::string& unit_name, size_t acknowledged) override {
    size_t count = 0;
    size_t before = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = units_.find(unit_name);
      if (it == units_.end()) return Status::NotFound("no spool unit " + unit_name);
      count = it->second.count;
      before = it->second.acknowledged;
    }
    if (acknowledged > count) {
      return Status::InvalidArgument("unit " + unit_name + " holds " + std::to_string(count) +
                                     " referrals, not " + std::to_string(acknowledged));
    }
    if (acknowledged <= before) return Status::OK();
    if (acknowledged == count) return RemoveUnit(unit_name);
    std::string tmp = cursor_ + "/." + unit_name + ".tmp";
    REFX_RETURN_IF_ERROR(WriteFileSynced(tmp, std::to_string(acknowledged) + "\n"));
    if (::rename(tmp.c_str(), (cursor_ + "/" + unit_name).c_str()) != 0) {
      Status s = Status::IoError(Errno("cannot rename", tmp));
      ::unlink(tmp.c_str());
      return s;
    }
    REFX_RETURN_IF_ERROR(FsyncDir(cursor_));
    std::lock_guard<std::mutex> lock(mu_);
    units_[unit_name].acknowledged = acknowledged;
    return Status::OK();
  }

  Status FindWaiting(const std::string& referrer_reference) override {
    const uint64_t hash = ReferenceHash(referrer_reference);
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, info] : units_) {
      auto at = std::lower_bound(info.references.begin(), info.references.end(), std::make_pair(hash, uint32_t{0}));
      for (; at != info.references.end() && at->first == hash; ++at) {
        if (at->second >= info.acknowledged) return Status::OK();
      }
    }
    return Status::NotFound("not waiting in the spool");
  }

  SpoolFigures Figures() override {
    std::lock_guard<std::mutex> lock(mu_);
    SpoolFigures f;
    f.units = units_.size();
    for (const auto& [name, info] : units_) f.referrals += info.count - info.acknowledged;
    if (!units_.empty()) {
      auto age = std::chrono::system_clock::now() - units_.begin()->second.spooled_at;
      f.oldest_age_seconds = std::max(0.0, std::chrono::duration<double>(age).count());
    }
    return f;
  }

 private:
  struct Request {
    std::vector<EncodedReferral> referrals;
    std::string source;
    bool done;
    Status status;
  };

  struct UnitInfo {
    size_t count = 0;
    size_t acknowledged = 0;
    std::chrono::system_clock::time_point spooled_at;
    // (ReferenceHash of its reference, position) of every referral of
    // the unit, sorted: FindWaiting's index. A position below
    // `acknowledged` is no longer waiting. Built once per unit, off the
    // index's lock; nothing per referral changes as the cursor moves
    // (a map of references kept up to date per referral cost the spool's
    // writer a quarter of its time in a bulk import).
    std::vector<std::pair<uint64_t, uint32_t>> references;
  };

  // 64 bits of the reference: two references of one spool share it with a
  // chance of about n / 2^64, and then FindWaiting could say "waiting" for
  // one that is not (never the reverse).
  static uint64_t ReferenceHash(std::string_view reference) {
    return static_cast<uint64_t>(std::hash<std::string_view>()(reference));
  }

  template <typename References>
  static std::vector<std::pair<uint64_t, uint32_t>> ReferenceIndex(const References& references) {
    std::vector<std::pair<uint64_t, uint32_t>> index;
    index.reserve(references.size());
    uint32_t position = 0;
    for (const auto& reference : references) index.emplace_back(ReferenceHash(reference), position++);
    std::sort(index.begin(), index.end());
    return index;
  }

  static bool IsUnitName(const std::string& name) {
    size_t n = sizeof(kUnitSuffix) - 1;
    return name.size() > n && name.compare(name.size() - n, n, kUnitSuffix) == 0;
  }

  Status ReadCursor(const std::string& name, size_t* acked) {
    *acked = 0;
    std::string path = cursor_ + "/" + name;
    if (::access(path.c_str(), F_OK) != 0) return Status::OK();
    std::string data;
    REFX_RETURN_IF_ERROR(ReadFile(path, &data));
    char* end = nullptr;
    unsigned long long v = std::strtoull(data.c_str(), &end, 10);
    if (end == data.c_str()) return Status::Corruption("spool cursor " + path + " holds no number");
    *acked = static_cast<size_t>(v);
    return Status::OK();
  }

  Status RemoveUnit(const std::string& name) {
    // Neither removal is fsynced: a unit that comes back after a crash
    // (with its cursor, or without it: then from its start) is forwarded
    // again, and the broker answers each of its referrals as a duplicate
    // with the original id and seq. A cursor left without its unit is
    // removed by Open.
    // Out of the index first, so that a reader never finds it there with
    // its file gone (ReadUnit).
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = units_.find(name);
      if (it != units_.end()) units_.erase(it);
    }
    std::string unit_path = new_ + "/" + name;
    if (::unlink(unit_path.c_str()) != 0 && errno != ENOENT) return Status::IoError(Errno("cannot remove", unit_path));
    std::string cursor_path = cursor_ + "/" + name;
    (void)::unlink(cursor_path.c_str());
    return Status::OK();
  }

  // Writes the requests of `batch` as one unit per source, fsyncs new/
  // once, and sets each request's status.
  void WriteBatch(const std::vector<Request*>& batch) {
    std::map<std::string, std::vector<Request*>> by_source;
    for (Request* r : batch) by_source[r->source].push_back(r);
    auto now = std::chrono::system_clock::now();
    struct Written {
      std::string name;
      UnitInfo info;
      std::vector<Request*> requests;
    };
    std::vector<Written> written;
    for (auto& [source, requests] : by_source) {
      std::vector<const std::string*> all;
      for (Request* r : requests) {
        for (const auto& referral : r->referrals) all.push_back(&referral.bytes);
      }
      char name[40];
      std::snprintf(name, sizeof(name), "%020" PRIu64 "%s", static_cast<uint64_t>(next_number_++), kUnitSuffix);
      std::string tmp_path = tmp_ + "/" + name;
      Status s = WriteFileSynced(tmp_path, EncodeUnit(all, source, now));
      if (s.ok() && ::rename(tmp_path.c_str(), (new_ + "/" + name).c_str()) != 0) {
        s = Status::IoError(Errno("cannot rename", tmp_path));
        ::unlink(tmp_path.c_str());
      }
      if (!s.ok()) {
        for (Request* r : requests) r->status = s;
        continue;
      }
      std::vector<std::string_view> references;
      references.reserve(all.size());
      for (Request* r : requests) {
        for (const auto& referral : r->referrals) references.emplace_back(referral.reference);
      }
      Written w{name, UnitInfo{all.size(), 0, now, ReferenceIndex(references)}, requests};
      written.push_back(std::move(w));
    }
    if (written.empty()) return;
    Status synced = FsyncDir(new_);
    std::lock_guard<std::mutex> lock(mu_);
    for (Written& w : written) {
      for (Request* r : w.requests) r->status = synced;
      // Even when the folder fsync failed the unit is in new/ and will be
      // forwarded (harmless: the caller was told it failed and may resend;
      // the broker keeps one per reference).
      units_.emplace(w.name, std::move(w.info));
    }
  }

  const std::string dir_, tmp_, new_, cursor_;

  // Append's group commit.
  std::mutex append_mu_;
  std::condition_variable append_cv_;
  std::deque<Request*> queue_;
  bool writing_ = false;
  uint64_t next_number_ = 1;  // only the writer (or Load) touches it

  // The index of new/: units, their cursors and references.
  std::mutex mu_;
  std::map<std::string, UnitInfo> units_;
};

}  // namespace

std::vector<refx::v1::Referral> SpoolUnit::Decoded() const {
  std::vector<refx::v1::Referral> out(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) out[i].ParseFromString(encoded[i]);
  return out;
}

bool ReferenceOfEncoded(const std::string& bytes, std::string* reference) {
  // Tag of field 1, length-delimited (0x0A), then a varint length < 2^14.
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  if (n >= 2 && p[0] == 0x0A) {
    size_t len = p[1], at = 2;
    if (len & 0x80) {
      if (n >= 3 && !(p[2] & 0x80)) {
        len = (len & 0x7f) | (static_cast<size_t>(p[2]) << 7);
        at = 3;
      } else {
        len = SIZE_MAX;
      }
    }
    if (len != SIZE_MAX && at + len <= n) {
      reference->assign(bytes.data() + at, len);
      return true;
    }
  }
  refx::v1::Referral r;
  if (!r.ParseFromString(bytes)) return false;
  *reference = r.referrer_reference();
  return true;
}

Status Spool::AppendEncoded(std::vector<EncodedReferral> referrals, const std::string& source) {
  std::vector<refx::v1::Referral> parsed(referrals.size());
  for (size_t i = 0; i < referrals.size(); ++i) {
    if (!parsed[i].ParseFromString(referrals[i].bytes)) {
      return Status::InvalidArgument("referral " + std::to_string(i) + " is not a binary refx.v1.Referral");
    }
  }
  return Append(std::move(parsed), source);
}

Status Spool::Open(const std::string& dir, std::unique_ptr<Spool>* spool) {
  if (sodium_init() < 0) return Status::Internal("libsodium could not be initialised");
  auto s = std::make_unique<DiskSpool>(dir);
  REFX_RETURN_IF_ERROR(s->Load());
  *spool = std::move(s);
  return Status::OK();
}

}  // namespace refx::adapters
