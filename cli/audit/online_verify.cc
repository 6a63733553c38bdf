// `refx audit verify` without --db: verification through the running broker.
// The chain is recomputed over the exact bytes the broker streams
// (eventlog/chain_checker.h), so a broker or database that altered an
// event, dropped one or reordered them is caught; the signed checkpoints
// (CheckpointsRequest, and --checkpoint files kept elsewhere) catch a log
// whose chain was recomputed after a rewrite. The indexes are not checked:
// that needs the database (`--db`).
#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/audit/audit_command.h"
#include "cli/audit/audited_read.h"
#include "cli/audit/subcommands.h"
#include "cli/caller.h"
#include "cli/checkpoint_file.h"
#include "cli/connect.h"
#include "cli/progress_bar.h"
#include "core/frame_codec.h"
#include "core/json.h"
#include "eventlog/chain_checker.h"
#include "eventlog/checkpoint_signing.h"
#include "eventlog/findings.h"
#include "eventlog/hash_chain.h"
#include "refx/v1/cli.pb.h"

namespace refx::cli {

namespace {

using Clock = std::chrono::steady_clock;
using eventlog::CheckpointRef;
using eventlog::LogProblem;

std::string Seq(uint64_t seq) { return std::to_string(seq); }

// Fetches every checkpoint the broker stores. The broker's refusal as its Status.
Status FetchCheckpoints(BrokerClient* client, std::vector<v1::Checkpoint>* out, uint64_t* head) {
  v1::Frame request, reply;
  request.mutable_checkpoints()->set_after_seq(0);
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

// The default verified file for an endpoint: ~/.local/state/refx/verified/
// with the endpoint's letters and digits as its name; "" without HOME.
std::string DefaultVerifiedFile(const std::string& endpoint) {
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return "";
  std::string name;
  for (char c : endpoint) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return std::string(home) + "/.local/state/refx/verified/" + name + ".json";
}

}  // namespace

int RunOnlineVerify(const ConnectionFlags& flags, const OnlineVerifyArgs& args) {
  const std::string command = "audit verify";
  Status s = audit::CheckPurpose(args.purpose);
  if (!s.ok()) {
    return Fail(command,
                       Status::InvalidArgument(s.message() + " (or pass --db DIR to verify a log folder offline)"),
                       kExitRefused);
  }
  if (!eventlog::InitCrypto()) return Fail(command, Status::Internal("libsodium cannot start"), kExitSetupError);
  std::vector<std::string> keys;
  for (const std::string& path : args.signing_pubs) {
    std::string key;
    s = eventlog::LoadSigningPublicKey(path, &key);
    if (!s.ok()) return Fail(command, s, kExitSetupError);
    keys.push_back(std::move(key));
  }
  std::vector<CheckpointRef> checkpoints;
  for (const std::string& path : args.checkpoint_files) {
    std::vector<v1::Checkpoint> trusted;
    s = ReadCheckpointFile(path, &trusted);
    if (!s.ok()) return Fail(command, s, kExitSetupError);
    for (auto& cp : trusted) checkpoints.push_back({std::move(cp), true});
  }
  std::unique_ptr<BrokerClient> client;
  s = ConnectAs(flags, AgencyFor(flags, args.as), &client);
  if (!s.ok()) return Fail(command, s, ExitCodeForConnect(s));

  const auto start = Clock::now();
  // The checkpoints first: they and the head they came with were made
  // before the read, so the stream must reach that head.
  std::vector<v1::Checkpoint> stored;
  uint64_t head_before = 0;
  s = FetchCheckpoints(client.get(), &stored, &head_before);
  if (!s.ok()) return Fail(command, s, ExitCodeFor(s));
  for (auto& cp : stored) checkpoints.push_back({std::move(cp), false});
  uint64_t checkpoints_checked = checkpoints.size();

  eventlog::Finding found;
  std::vector<CheckpointRef> good = eventlog::AuthenticCheckpoints(std::move(checkpoints), keys, &found);

  // Resume after the newest signed checkpoint verified before, if any (and
  // its signature still holds under the keys given).
  ClientOptions where;
  const std::string endpoint = ClientOptionsFor(flags, args.as, &where).ok() ? where.endpoint : flags.endpoint;
  const std::string verified_file = args.verified_file.empty() ? DefaultVerifiedFile(endpoint) : args.verified_file;
  v1::Checkpoint resume;
  if (!args.full && !keys.empty() && !verified_file.empty() && ::access(verified_file.c_str(), F_OK) == 0) {
    std::vector<v1::Checkpoint> kept;
    s = ReadCheckpointFile(verified_file, &kept);
    eventlog::Finding ignored;
    std::vector<CheckpointRef> kept_refs;
    if (s.ok() && kept.size() == 1) kept_refs.push_back({kept[0], true});
    const std::vector<CheckpointRef> authentic = eventlog::AuthenticCheckpoints(std::move(kept_refs), keys, &ignored);
    if (authentic.size() == 1 && authentic[0].checkpoint.chain_hash().size() == eventlog::kHashBytes) {
      resume = authentic[0].checkpoint;
    } else {
      std::fprintf(stderr, "refx %s: %s does not hold one checkpoint signed by the keys given; verifying from seq "
                   "1\n", command.c_str(), verified_file.c_str());
    }
  }
  const uint64_t resume_seq = resume.seq();
  if (resume_seq > 0) {
    // What is before the resume point was verified then; only later checkpoints are held to this stream.
    good.erase(std::remove_if(good.begin(), good.end(),
                              [&](const CheckpointRef& r) { return r.checkpoint.seq() <= resume_seq; }),
               good.end());
  }
  std::map<uint64_t, std::string> captured;  // checkpoint seq -> recomputed hash
  for (const CheckpointRef& ref : good) captured[ref.checkpoint.seq()];

  // The stream: every event, recomputing the chain.
  const bool bar = ::isatty(STDERR_FILENO) == 1;
  auto drawn = start;
  eventlog::ChainChecker chain = resume_seq > 0 ? eventlog::ChainChecker(resume_seq + 1, resume.chain_hash())
                                                 : eventlog::ChainChecker();
  uint64_t checked = 0;
  bool broken = false;
  v1::ReadRequest request;
  request.set_after_seq(resume_seq);
  request.set_purpose(args.purpose);
  request.set_initial_credit(audit::kBulkReadCredit);  // the whole log: keep the broker streaming
  s = client->Read(request, [&](const v1::Event& event, const std::string& bytes, const std::string& stored_hash) {
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
    if (bar) {
      const auto now = Clock::now();
      if (now - drawn >= std::chrono::milliseconds(100)) {
        drawn = now;
        const double elapsed = std::chrono::duration<double>(now - start).count();
        const uint64_t total = std::max(head_before > resume_seq ? head_before - resume_seq : 0, checked);
        DrawProgress("verifying", checked, total,
                            EventsDetail(checked, total, elapsed > 0 ? static_cast<double>(checked) / elapsed : 0.0));
      }
    }
    return true;
  });
  if (bar) ClearProgress();
  if (!s.ok()) return Fail(command, s, ExitCodeFor(s));
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
  if (ok && !keys.empty() && last_match > resume_seq && !verified_file.empty()) {
    for (const CheckpointRef& ref : good) {
      if (ref.checkpoint.seq() != last_match) continue;
      const Status kept = WriteCheckpointFile(verified_file, ref.checkpoint);
      if (!kept.ok()) std::fprintf(stderr, "refx %s: %s\n", command.c_str(), kept.ToString().c_str());
      break;
    }
  }
  if (args.json) {
    v1::VerifyResult result;
    result.set_db("broker at " + endpoint);  // online: index_entries_checked stays 0 (indexes need --db)
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
    std::printf("%s\n", ToJsonLine(result).c_str());
  } else if (ok) {
    std::printf("intact: %llu events through the broker at %s (head seq %llu when the read began), %llu "
                "checkpoints, %.2f s (%.0f events/s)\n",
                static_cast<unsigned long long>(checked), endpoint.c_str(), static_cast<unsigned long long>(head_before),
                static_cast<unsigned long long>(checkpoints_checked), seconds,
                seconds > 0 ? static_cast<double>(checked) / seconds : 0.0);
    if (last_match == 0) {
      std::printf("warning: no signed checkpoint vouches for this log: a rewrite with a recomputed chain would "
                  "not be detected\n");
    } else if (keys.empty()) {
      std::printf("warning: checkpoint signatures were NOT checked (pass --signing-pub FILE); last checkpoint seq "
                  "%llu\n",
                  static_cast<unsigned long long>(last_match));
    } else {
      std::printf("signed checkpoints verified up to seq %llu", static_cast<unsigned long long>(last_match));
      if (last_match < last) {
        std::printf("; seqs %llu..%llu are not yet covered by a checkpoint",
                    static_cast<unsigned long long>(last_match + 1), static_cast<unsigned long long>(last));
      }
      std::printf("\n");
    }
    if (resume_seq > 0) {
      std::printf("resumed after the signed checkpoint at seq %llu verified before (%s); pass --full to verify "
                  "from seq 1\n",
                  static_cast<unsigned long long>(resume_seq), verified_file.c_str());
    }
    std::printf("note: online verification does not check the indexes; run `refx audit verify --db DIR` on a "
                "stopped broker's folder or a restored backup for that\n");
  } else {
    std::printf("first bad seq %llu: %s: %s\n", static_cast<unsigned long long>(found.seq),
                eventlog::LogProblemName(found.problem), found.detail.c_str());
    if (resume_seq > 0) {
      std::printf("(resumed after the signed checkpoint at seq %llu verified before; --full checks from seq 1)\n",
                  static_cast<unsigned long long>(resume_seq));
    }
  }
  return ok ? kExitOk : kExitTampered;
}

}  // namespace refx::cli
