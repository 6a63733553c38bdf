#include "audit/online_verify.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include "core/frame_codec.h"
#include "eventlog/chain_checker.h"
#include "eventlog/checkpoint_signing.h"
#include "eventlog/findings.h"
#include "eventlog/hash_chain.h"

namespace refx::audit {

namespace {

using eventlog::CheckpointRef;
using eventlog::LogProblem;

std::string Seq(uint64_t seq) { return std::to_string(seq); }

// Fetches every checkpoint the broker stores. The broker's refusal as its Status.
Status FetchCheckpoints(BrokerClient* client, std::vector<v1::Checkpoint>* out, uint64_t* head) {
  v1::Frame request, reply;
  uint64_t after = 0;
  while (true) {
    request.mutable_checkpoints()->set_after_seq(after);
    REFX_RETURN_IF_ERROR(client->Call(request, &reply));
    if (reply.has_error()) return StatusFromError(reply.error());
    if (!reply.has_checkpoint_list()) return Status::Internal("unexpected reply to a CheckpointsRequest");
    const v1::CheckpointList& list = reply.checkpoint_list();
    if (after == 0) *head = list.head_seq();
    uint64_t highest = after;
    for (const v1::Checkpoint& cp : list.checkpoints()) {
      out->push_back(cp);
      highest = std::max(highest, cp.seq());
    }
    // A broker may page a long list: ask again after the last one until an
    // empty answer (or one that does not move on).
    if (list.checkpoints().empty() || highest <= after) return Status::OK();
    after = highest;
  }
}

}  // namespace

Status LoadSigningKeys(const std::vector<std::string>& paths, std::vector<SigningKey>* out) {
  if (!eventlog::InitCrypto()) return Status::Internal("libsodium cannot start");
  for (const std::string& path : paths) {
    SigningKey key;
    REFX_RETURN_IF_ERROR(eventlog::LoadSigningPublicKey(path, &key.public_key));
    key.name = std::filesystem::path(path).filename().string();
    const std::string suffix = ".sign.pub";
    if (key.name.size() > suffix.size() && key.name.compare(key.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      key.name.resize(key.name.size() - suffix.size());
    }
    key.key_id = eventlog::SigningKeyId(key.public_key);
    out->push_back(std::move(key));
  }
  return Status::OK();
}

Status VerifyThroughBroker(BrokerClient* client, const OnlineVerifyOptions& options, OnlineVerification* out) {
  using Clock = std::chrono::steady_clock;
  if (!eventlog::InitCrypto()) return Status::Internal("libsodium cannot start");
  *out = OnlineVerification();
  std::vector<std::string> keys;
  for (const SigningKey& k : options.keys) keys.push_back(k.public_key);
  std::vector<CheckpointRef> checkpoints;
  for (const v1::Checkpoint& cp : options.trusted) checkpoints.push_back({cp, true});

  const auto start = Clock::now();
  // The checkpoints first: they and the head they came with were made
  // before the read, so the stream must reach that head.
  std::vector<v1::Checkpoint> stored;
  uint64_t head_before = 0;
  REFX_RETURN_IF_ERROR(FetchCheckpoints(client, &stored, &head_before));
  for (auto& cp : stored) checkpoints.push_back({std::move(cp), false});
  const uint64_t checkpoints_checked = checkpoints.size();
  const std::vector<CheckpointRef> all = checkpoints;

  eventlog::Finding found;
  std::vector<CheckpointRef> good = eventlog::AuthenticCheckpoints(std::move(checkpoints), keys, &found);
  const uint64_t resume_seq =
      options.resume_after.chain_hash().size() == eventlog::kHashBytes ? options.resume_after.seq() : 0;
  if (resume_seq > 0) {
    // What is before the resume point was verified then; only later
    // checkpoints are held to this stream.
    good.erase(std::remove_if(good.begin(), good.end(),
                              [&](const CheckpointRef& r) { return r.checkpoint.seq() <= resume_seq; }),
               good.end());
  }
  std::map<uint64_t, std::string> captured;  // checkpoint seq -> recomputed hash
  for (const CheckpointRef& ref : all) captured[ref.checkpoint.seq()];

  // The stream: every event, recomputing the chain.
  eventlog::ChainChecker chain = resume_seq > 0
                                     ? eventlog::ChainChecker(resume_seq + 1, options.resume_after.chain_hash())
                                     : eventlog::ChainChecker();
  uint64_t checked = 0;
  bool broken = false;
  v1::ReadRequest request;
  request.set_after_seq(resume_seq);
  request.set_purpose(options.purpose);
  request.set_initial_credit(options.initial_credit);
  REFX_RETURN_IF_ERROR(
      client->Read(request, [&](const v1::Event& event, const std::string& bytes, const std::string& stored_hash) {
        const uint64_t seq = event.seq();
        const uint64_t expected = chain.expected();
        switch (chain.Feed(seq, bytes, stored_hash)) {
          case eventlog::ChainBreak::kNone: break;
          case eventlog::ChainBreak::kMissing:
          case eventlog::ChainBreak::kOutOfOrder:
            found.Offer(expected, LogProblem::kMissingEvent,
                        "seq " + Seq(expected) + " is missing: the broker sent seq " + Seq(seq) + " after seq " +
                            Seq(expected - 1));
            broken = true;
            return false;
          case eventlog::ChainBreak::kBadHashSize:
            found.Offer(seq, LogProblem::kAlteredBytes, "the broker sent no 32-byte chain hash with seq " + Seq(seq));
            broken = true;
            return false;
          default:
            found.Offer(seq, LogProblem::kAlteredBytes,
                        "the bytes of seq " + Seq(seq) + " (or the stored hash of seq " + Seq(seq - 1) +
                            ") do not chain: recomputed " + eventlog::ToHex(chain.recomputed_hash()).substr(0, 16) +
                            "..., stored " + eventlog::ToHex(stored_hash).substr(0, 16) + "...");
            broken = true;
            return false;
        }
        auto it = captured.find(seq);
        if (it != captured.end()) it->second = std::string(chain.last_hash_bytes());
        ++checked;
        if (options.progress) options.progress(checked, head_before);
        return true;
      }));
  const uint64_t last = chain.last_seq();  // last seq whose link verified
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  // The stream must reach the head the broker reported before it began.
  if (!broken && last < head_before) {
    found.Offer(last + 1, LogProblem::kTruncated,
                "the stream ends at seq " + Seq(last) + " but the broker's head was seq " + Seq(head_before));
  }
  // The checkpoints against the recomputed chain (a broken stream already
  // explains checkpoints beyond its end).
  uint64_t last_match = eventlog::HoldCheckpointsAgainstChain(
      good, last,
      [&](uint64_t seq) -> const unsigned char* {
        const std::string& hash = captured[seq];
        return hash.size() == eventlog::kHashBytes ? reinterpret_cast<const unsigned char*>(hash.data()) : nullptr;
      },
      "the stream", /*beyond_last_explained=*/broken, &found);
  // The checkpoint resumed from vouches for everything up to it.
  last_match = std::max(last_match, resume_seq);

  const bool ok = found.problem == LogProblem::kNone;
  v1::VerifyResult& result = out->result;
  result.set_ok(ok);
  result.set_problem(eventlog::LogProblemName(found.problem));
  result.set_first_bad_seq(ok ? 0 : found.seq);
  result.set_detail(found.detail);
  result.set_events_checked(checked);
  result.set_last_seq(last);
  result.set_head_seq(head_before);
  result.set_index_entries_checked(0);
  result.set_checkpoints_checked(checkpoints_checked);
  result.set_last_checkpoint_seq(last_match);
  result.set_checkpoints_authenticated(!keys.empty());
  result.set_seconds(seconds);

  // Each checkpoint's own standing, for a page that lists them.
  std::set<std::pair<bool, std::string>> authentic;  // (trusted, signature)
  for (const CheckpointRef& ref : good) authentic.insert({ref.trusted, ref.checkpoint.signature()});
  for (const CheckpointRef& ref : all) {
    CheckpointStatus st;
    st.checkpoint = ref.checkpoint;
    st.trusted = ref.trusted;
    st.authentic = authentic.count({ref.trusted, ref.checkpoint.signature()}) > 0;
    const std::string& hash = captured[ref.checkpoint.seq()];
    st.matches_chain = ref.checkpoint.seq() <= last && !hash.empty() && hash == ref.checkpoint.chain_hash();
    for (const SigningKey& k : options.keys) {
      if (k.key_id == ref.checkpoint.key_id()) st.signer = k.name;
    }
    out->checkpoints.push_back(std::move(st));
  }
  std::sort(out->checkpoints.begin(), out->checkpoints.end(),
            [](const CheckpointStatus& a, const CheckpointStatus& b) { return a.checkpoint.seq() < b.checkpoint.seq(); });
  return Status::OK();
}

}  // namespace refx::audit
