#include "eventlog/checkpoints.h"

#include <string>
#include <utility>

namespace refx::eventlog {

Status SignAndStoreHead(const CheckpointSigner& signer, EventLog* log, v1::Checkpoint* out) {
  const uint64_t seq = log->head_seq();
  if (seq == 0) return Status::OK();
  v1::Checkpoint checkpoint;
  REFX_RETURN_IF_ERROR(signer.Sign(seq, log->head_hash(), &checkpoint));
  std::string bytes;
  if (!checkpoint.SerializeToString(&bytes)) return Status::Internal("checkpoint failed to serialise");
  REFX_RETURN_IF_ERROR(log->PutCheckpoint(seq, bytes));
  if (out != nullptr) *out = std::move(checkpoint);
  return Status::OK();
}

Status ReadCheckpoints(const EventLog& log, std::vector<v1::Checkpoint>* out) {
  out->clear();
  Status bad;
  REFX_RETURN_IF_ERROR(log.ScanCheckpoints([&](uint64_t seq, const std::string& bytes) {
    v1::Checkpoint checkpoint;
    if (!checkpoint.ParseFromString(bytes)) {
      bad = Status::Corruption("checkpoint stored at seq " + std::to_string(seq) + " does not parse");
      return false;
    }
    out->push_back(std::move(checkpoint));
    return true;
  }));
  return bad;
}

bool CheckpointSchedule::Due(uint64_t head_seq, Clock::time_point now) const {
  if (head_seq == 0 || (ever_signed_ && head_seq == signed_seq_)) return false;
  if (!ever_signed_) return true;
  if (every_events_ != 0 && head_seq >= signed_seq_ + every_events_) return true;
  return every_.count() != 0 && now - signed_at_ >= every_;
}

}  // namespace refx::eventlog
