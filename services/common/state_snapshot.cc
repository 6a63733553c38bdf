#include "services/common/state_snapshot.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/durable_dir.h"
#include "core/log_escape.h"
#include "refx/v1/snapshot.pb.h"

namespace refx {

namespace {

void AddField(crypto_generichash_state* st, const std::string& field) {
  const uint64_t n = field.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  crypto_generichash_update(st, len, sizeof len);
  crypto_generichash_update(st, reinterpret_cast<const unsigned char*>(field.data()), field.size());
}

std::string Checksum(const v1::ServiceSnapshot& s) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, crypto_generichash_BYTES);
  AddField(&st, s.service());
  AddField(&st, std::to_string(s.seq()));
  AddField(&st, s.event_hash());
  AddField(&st, s.state());
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash_final(&st, reinterpret_cast<unsigned char*>(out.data()), out.size());
  return out;
}

}  // namespace

SnapshotFile::SnapshotFile(const std::string& dir, std::string service)
    : dir_(dir), service_(std::move(service)), path_(dir + "/" + service_ + ".snapshot") {}

Status SnapshotFile::Load(google::protobuf::Message* state, uint64_t* seq, std::string* event_hash) const {
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return Status::NotFound("no snapshot " + path_);
    return Status::IoError("cannot read " + path_ + ": " + std::strerror(errno));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IoError("cannot read " + path_);
  v1::ServiceSnapshot snapshot;
  if (!snapshot.ParseFromString(ss.str())) return Status::Corruption(path_ + " is not a snapshot (does not parse)");
  if (snapshot.service() != service_) {
    return Status::Corruption(path_ + " is a snapshot of \"" + snapshot.service() + "\", not of " + service_);
  }
  if (snapshot.checksum() != Checksum(snapshot)) return Status::Corruption(path_ + " fails its checksum");
  if (!state->ParseFromString(snapshot.state())) {
    return Status::Corruption(path_ + ": its state does not parse as " + state->GetTypeName());
  }
  *seq = snapshot.seq();
  *event_hash = snapshot.event_hash();
  return Status::OK();
}

Status SnapshotFile::Store(uint64_t seq, const std::string& event_hash, const google::protobuf::Message& state) const {
  v1::ServiceSnapshot snapshot;
  snapshot.set_service(service_);
  snapshot.set_seq(seq);
  snapshot.set_event_hash(event_hash);
  if (!state.SerializeToString(snapshot.mutable_state())) {
    return Status::Internal("cannot serialise the " + service_ + " state");
  }
  snapshot.set_checksum(Checksum(snapshot));
  return ReplaceFileDurably(path_, snapshot.SerializeAsString());
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
                            google::protobuf::Message* state, uint64_t* seq,
                            std::string* event_hash) {
  *seq = 0;
  event_hash->clear();
  std::string hash;
  uint64_t at = 0;
  const Status loaded = file.Load(state, &at, &hash);
  if (loaded.code() == Status::Code::kNotFound) {
    spdlog::info("{}: no snapshot yet; replaying the whole log", service);
    state->Clear();
    return Status::OK();
  }
  if (!loaded.ok()) {
    spdlog::warn("{}: cannot use the snapshot ({}); replaying the whole log", service, LogEscape(loaded.ToString()));
    state->Clear();
    return Status::OK();
  }
  bool same = false;
  REFX_RETURN_IF_ERROR(CheckSnapshotEvent(reader, service + ": check the snapshot", at, hash, &same));
  if (!same) {
    spdlog::warn("{}: the snapshot {} covers seq {}, which this log does not hold (another log?); replaying the "
                 "whole log",
                 service, LogEscape(file.path()), at);
    state->Clear();
    return Status::OK();
  }
  *seq = at;
  *event_hash = hash;
  spdlog::info("{}: loaded the snapshot at seq {}; reading the log after it", service, at);
  return Status::OK();
}

}  // namespace refx
