#include "eventlog/findings.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/status.h"
#include "eventlog/checkpoint_signing.h"
#include "eventlog/hash_chain.h"

namespace refx::eventlog {

namespace {

std::string Seq(uint64_t seq) { return std::to_string(seq); }

std::string SignedAt(const v1::Checkpoint& cp) {
  return "signed at " + google::protobuf::util::TimeUtil::ToString(cp.signed_at());
}

}  // namespace

std::vector<CheckpointRef> AuthenticCheckpoints(std::vector<CheckpointRef> all,
                                                const std::vector<std::string>& public_keys, Finding* found) {
  std::vector<CheckpointRef> good;
  for (CheckpointRef& ref : all) {
    const v1::Checkpoint& cp = ref.checkpoint;
    const std::string where = std::string(ref.trusted ? "the given checkpoint" : "the checkpoint") + " at seq " +
                              Seq(cp.seq());
    if (cp.seq() == 0 || cp.chain_hash().size() != kHashBytes) {
      found->Offer(cp.seq(), LogProblem::kBadSignature, where + " is malformed");
      continue;
    }
    if (!public_keys.empty()) {
      Status verdict = Status::InvalidArgument("signed by key " + cp.key_id() + ", which is not among the given keys");
      for (const std::string& key : public_keys) {
        if (SigningKeyId(key) == cp.key_id()) {
          verdict = VerifyCheckpoint(cp, key);
          break;
        }
      }
      if (!verdict.ok()) {
        found->Offer(cp.seq(), LogProblem::kBadSignature, where + ": " + verdict.message());
        continue;
      }
    }
    good.push_back(std::move(ref));
  }
  std::sort(good.begin(), good.end(), [](const CheckpointRef& a, const CheckpointRef& b) {
    return a.checkpoint.seq() < b.checkpoint.seq();
  });
  return good;
}

uint64_t HoldCheckpointsAgainstChain(const std::vector<CheckpointRef>& checkpoints, uint64_t last,
                                     const std::function<const unsigned char*(uint64_t seq)>& hash_at,
                                     const std::string& source, bool beyond_last_explained, Finding* found) {
  uint64_t last_match = 0;
  for (const CheckpointRef& ref : checkpoints) {
    const v1::Checkpoint& cp = ref.checkpoint;
    const uint64_t seq = cp.seq();
    if (seq > last) {
      if (!beyond_last_explained) {
        if (found->Beats(last + 1, LogProblem::kTruncated)) {
          found->Offer(last + 1, LogProblem::kTruncated,
                       source + " ends at seq " + Seq(last) + ", before the checkpoint at seq " + Seq(seq) + " (" +
                           SignedAt(cp) + ")");
        }
      }
      continue;
    }
    const unsigned char* hash = hash_at(seq);
    if (hash == nullptr) continue;
    if (std::memcmp(hash, cp.chain_hash().data(), kHashBytes) == 0) {
      last_match = std::max(last_match, seq);
      continue;
    }
    found->Offer(last_match + 1, LogProblem::kChainRecomputed,
                 "the chain hash at seq " + Seq(seq) + " contradicts the " +
                     (ref.trusted ? "given checkpoint" : "checkpoint") + " " + SignedAt(cp) + " by key " +
                     cp.key_id() +
                     (last_match == 0 ? std::string("; no earlier checkpoint matches")
                                      : "; the last matching checkpoint is seq " + Seq(last_match)) +
                     ", so the log was rewritten from a seq between " + Seq(last_match + 1) + " and " + Seq(seq) +
                     " and its chain recomputed");
    break;
  }
  return last_match;
}

const char* LogProblemName(LogProblem problem) {
  switch (problem) {
    case LogProblem::kNone: return "NONE";
    case LogProblem::kMissingEvent: return "MISSING_EVENT";
    case LogProblem::kReordered: return "REORDERED";
    case LogProblem::kAlteredBytes: return "ALTERED_BYTES";
    case LogProblem::kChainRecomputed: return "CHAIN_RECOMPUTED";
    case LogProblem::kTruncated: return "TRUNCATED";
    case LogProblem::kHeadMismatch: return "HEAD_MISMATCH";
    case LogProblem::kBadSignature: return "BAD_SIGNATURE";
    case LogProblem::kIndexMismatch: return "INDEX_MISMATCH";
  }
  return "NONE";
}

}  // namespace refx::eventlog
