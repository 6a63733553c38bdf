#include "services/common/state_snapshot.h"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>

#include "core/durable_dir.h"
#include "core/log_escape.h"
#include "refx/v1/snapshot.pb.h"

namespace refx {

namespace {

constexpr char kMagic[] = "refx-snapshot-2\n";
constexpr size_t kMagicSize = sizeof kMagic - 1;
constexpr size_t kChecksumSize = crypto_generichash_BYTES;

// The file mapped read-only; unmapped when it goes.
class Mapped {
 public:
  Mapped() = default;
  Mapped(const Mapped&) = delete;
  Mapped& operator=(const Mapped&) = delete;
  ~Mapped() {
    if (data_ != nullptr) munmap(data_, size_);
  }
  // NotFound, IoError naming the file, or OK (an empty file maps nothing).
  Status Open(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return Status::NotFound("no snapshot " + path);
      return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (fstat(fd, &st) != 0) {
      const int e = errno;
      close(fd);
      return Status::IoError("cannot read " + path + ": " + std::strerror(e));
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int e = errno;
        close(fd);
        size_ = 0;
        return Status::IoError("cannot map " + path + ": " + std::strerror(e));
      }
      data_ = p;
      madvise(data_, size_, MADV_SEQUENTIAL);
    }
    close(fd);
    return Status::OK();
  }
  const uint8_t* data() const { return static_cast<const uint8_t*>(data_); }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

// An opened, checked snapshot: the header read, the chunks still to parse.
struct OpenedSnapshot {
  Mapped file;
  uint64_t seq = 0;
  std::string event_hash;
  size_t chunks_at = 0;   // offset of the first chunk
  size_t chunks_end = 0;  // offset of the checksum
};

// Reads one varint32 length at `*at` (before `end`); false when torn.
bool ReadLength(const uint8_t* data, size_t end, size_t* at, uint32_t* length) {
  google::protobuf::io::CodedInputStream in(data + *at, static_cast<int>(std::min<size_t>(end - *at, 5)));
  if (!in.ReadVarint32(length)) return false;
  *at += static_cast<size_t>(in.CurrentPosition());
  return *length <= end - *at;
}

Status OpenSnapshot(const std::string& path, const std::string& service, const std::string& key_check,
                    OpenedSnapshot* out) {
  REFX_RETURN_IF_ERROR(out->file.Open(path));
  const uint8_t* data = out->file.data();
  const size_t size = out->file.size();
  if (size < kMagicSize + kChecksumSize || std::memcmp(data, kMagic, kMagicSize) != 0) {
    return Status::Corruption(path + " is not a snapshot of this format (an older refx, or torn)");
  }
  const size_t end = size - kChecksumSize;
  unsigned char sum[kChecksumSize];
  crypto_generichash(sum, sizeof sum, data, end, nullptr, 0);
  if (std::memcmp(sum, data + end, kChecksumSize) != 0) return Status::Corruption(path + " fails its checksum");
  size_t at = kMagicSize;
  uint32_t length = 0;
  v1::ServiceSnapshot header;
  if (!ReadLength(data, end, &at, &length) || !header.ParseFromArray(data + at, static_cast<int>(length))) {
    return Status::Corruption(path + " is not a snapshot (its header does not parse)");
  }
  if (header.service() != service) {
    return Status::Corruption(path + " is a snapshot of \"" + header.service() + "\", not of " + service);
  }
  if (header.key_check() != key_check) {
    return Status::InvalidArgument(path + (header.key_check().empty() ? " was taken without the key this start has"
                                                                      : " was taken with another key than this start's"));
  }
  out->seq = header.seq();
  out->event_hash = header.event_hash();
  out->chunks_at = at + length;
  out->chunks_end = end;
  return Status::OK();
}

Status ApplyChunks(const std::string& path, const OpenedSnapshot& opened, google::protobuf::MessageLite* chunk,
                   const SnapshotFile::ChunkFn& apply) {
  const uint8_t* data = opened.file.data();
  size_t at = opened.chunks_at;
  while (at < opened.chunks_end) {
    uint32_t length = 0;
    if (!ReadLength(data, opened.chunks_end, &at, &length) ||
        !chunk->ParseFromArray(data + at, static_cast<int>(length))) {
      return Status::Corruption(path + ": a chunk of its state does not parse as " + chunk->GetTypeName());
    }
    at += length;
    apply(*chunk);
  }
  return Status::OK();
}

void AppendDelimited(const google::protobuf::MessageLite& m, std::string* out) {
  const size_t n = m.ByteSizeLong();
  uint8_t length[10];
  const uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(n), length);
  out->append(reinterpret_cast<const char*>(length), static_cast<size_t>(end - length));
  m.AppendPartialToString(out);
}

}  // namespace

SnapshotFile::SnapshotFile(const std::string& dir, std::string service)
    : dir_(dir), service_(std::move(service)), path_(dir + "/" + service_ + ".snapshot") {}

Status SnapshotFile::Load(uint64_t* seq, std::string* event_hash, google::protobuf::MessageLite* chunk,
                          const ChunkFn& apply) const {
  OpenedSnapshot opened;
  REFX_RETURN_IF_ERROR(OpenSnapshot(path_, service_, key_check_, &opened));
  REFX_RETURN_IF_ERROR(ApplyChunks(path_, opened, chunk, apply));
  *seq = opened.seq;
  *event_hash = opened.event_hash;
  return Status::OK();
}

Status SnapshotFile::Load(google::protobuf::Message* state, uint64_t* seq, std::string* event_hash) const {
  std::unique_ptr<google::protobuf::Message> chunk(state->New());
  state->Clear();
  return Load(seq, event_hash, chunk.get(), [state](const google::protobuf::MessageLite& c) {
    state->MergeFrom(static_cast<const google::protobuf::Message&>(c));
  });
}

Status SnapshotFile::Store(uint64_t seq, const std::string& event_hash,
                           const std::function<void(const ChunkSink&)>& write) const {
  std::string out(kMagic, kMagicSize);
  v1::ServiceSnapshot header;
  header.set_service(service_);
  header.set_seq(seq);
  header.set_event_hash(event_hash);
  header.set_key_check(key_check_);
  AppendDelimited(header, &out);
  bool too_big = false;
  write([&](const google::protobuf::MessageLite& chunk) {
    if (chunk.ByteSizeLong() > static_cast<size_t>(INT32_MAX)) {
      too_big = true;
      return;
    }
    AppendDelimited(chunk, &out);
  });
  if (too_big) return Status::Internal("cannot serialise the " + service_ + " state (a chunk over 2 GB)");
  unsigned char sum[kChecksumSize];
  crypto_generichash(sum, sizeof sum, reinterpret_cast<const unsigned char*>(out.data()), out.size(), nullptr, 0);
  out.append(reinterpret_cast<const char*>(sum), sizeof sum);
  return ReplaceFileDurably(path_, out);
}

Status SnapshotFile::Store(uint64_t seq, const std::string& event_hash, const google::protobuf::Message& state) const {
  return Store(seq, event_hash, [&state](const ChunkSink& add) { add(state); });
}

std::string SnapshotKeyCheck(const std::string& secret, const std::string& purpose) {
  if (secret.empty()) return "";
  const std::string constant = "refx snapshot key check: " + purpose;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(constant.data()), constant.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return std::string(reinterpret_cast<const char*>(mac), sizeof mac);
}

void SnapshotSchedule::Taken(uint64_t seq) {
  seq_ = seq;
  at_ = std::chrono::steady_clock::now();
}

bool SnapshotSchedule::Due(uint64_t seq) const {
  if (!enabled() || seq <= seq_) return false;
  if (seq - seq_ >= policy_.every_events) return true;
  return std::chrono::steady_clock::now() - at_ >= std::chrono::seconds(policy_.every_seconds);
}

Status CheckSnapshotEvent(BrokerClient* reader, const std::string& purpose, uint64_t seq,
                          const std::string& event_hash, bool* same) {
  *same = false;
  if (seq == 0) return Status::OK();
  v1::ReadRequest request;
  request.set_after_seq(seq - 1);
  request.set_to_seq(seq);
  request.set_follow(false);
  request.set_purpose(purpose);
  return reader->Read(request, [&](const v1::Event& event, const std::string&, const std::string& hash) {
    *same = event.seq() == seq && hash == event_hash;
    return false;
  });
}

Status LoadSnapshotOrReplay(const std::string& service, const SnapshotFile& file, BrokerClient* reader,
                            google::protobuf::MessageLite* chunk, const SnapshotFile::ChunkFn& apply,
                            const std::function<void()>& clear, uint64_t* seq, std::string* event_hash) {
  *seq = 0;
  event_hash->clear();
  clear();
  OpenedSnapshot opened;
  Status loaded = OpenSnapshot(file.path(), file.service(), file.key_check(), &opened);
  if (loaded.code() == Status::Code::kNotFound) {
    spdlog::info("{}: no snapshot yet; replaying the whole log", service);
    return Status::OK();
  }
  if (!loaded.ok()) {
    spdlog::warn("{}: cannot use the snapshot ({}); replaying the whole log", service, LogEscape(loaded.ToString()));
    return Status::OK();
  }
  bool same = false;
  REFX_RETURN_IF_ERROR(
      CheckSnapshotEvent(reader, service + ": check the snapshot", opened.seq, opened.event_hash, &same));
  if (!same) {
    spdlog::warn("{}: the snapshot {} covers seq {}, which this log does not hold (another log?); replaying the "
                 "whole log",
                 service, LogEscape(file.path()), opened.seq);
    return Status::OK();
  }
  loaded = ApplyChunks(file.path(), opened, chunk, apply);
  if (!loaded.ok()) {
    clear();
    spdlog::warn("{}: cannot use the snapshot ({}); replaying the whole log", service, LogEscape(loaded.ToString()));
    return Status::OK();
  }
  *seq = opened.seq;
  *event_hash = opened.event_hash;
  spdlog::info("{}: loaded the snapshot at seq {}; reading the log after it", service, opened.seq);
  return Status::OK();
}

Status LoadSnapshotOrReplay(const std::string& service, const SnapshotFile& file, BrokerClient* reader,
                            google::protobuf::Message* state, uint64_t* seq, std::string* event_hash) {
  std::unique_ptr<google::protobuf::Message> chunk(state->New());
  return LoadSnapshotOrReplay(
      service, file, reader, chunk.get(),
      [state](const google::protobuf::MessageLite& c) {
        state->MergeFrom(static_cast<const google::protobuf::Message&>(c));
      },
      [state] { state->Clear(); }, seq, event_hash);
}

}  // namespace refx
