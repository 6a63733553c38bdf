// `refx audit verify` without --db: verification through the running broker
// (audit/online_verify.h, which the web console's integrity page shares):
// this file loads the keys and trusted checkpoints, draws the progress bar
// and prints the result.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "audit/online_verify.h"
#include "cli/audit/audit_command.h"
#include "cli/audit/audited_read.h"
#include "cli/audit/subcommands.h"
#include "cli/caller.h"
#include "cli/checkpoint_file.h"
#include "cli/connect.h"
#include "cli/progress_bar.h"
#include "core/json.h"
#include "eventlog/checkpoint_signing.h"
#include "eventlog/findings.h"
#include "eventlog/hash_chain.h"
#include "refx/v1/cli.pb.h"

namespace refx::cli {

namespace {

// The default verified file for an endpoint: ~/.local/state/refx/verified/
// with the endpoint's letters and digits as its name; "" without HOME.
std::string DefaultVerifiedFile(const std::string& endpoint) {
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return "";
  std::string name;
  for (char c : endpoint) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return std::string(home) + "/.local/state/refx/verified/" + name + ".json";
}

// The checkpoint kept in `verified_file` by an earlier run, if it is one
// checkpoint signed by one of `keys`; else a checkpoint with seq 0 (and a
// line on stderr when the file exists but does not qualify).
v1::Checkpoint KeptCheckpoint(const std::string& command, const std::string& verified_file,
                              const std::vector<refx::audit::SigningKey>& keys) {
  if (keys.empty() || verified_file.empty() || ::access(verified_file.c_str(), F_OK) != 0) return {};
  std::vector<v1::Checkpoint> kept;
  Status s = ReadCheckpointFile(verified_file, &kept);
  if (s.ok() && kept.size() == 1) {
    std::vector<std::string> public_keys;
    for (const auto& k : keys) public_keys.push_back(k.public_key);
    eventlog::Finding ignored;
    std::vector<eventlog::CheckpointRef> refs{{kept[0], true}};
    const auto authentic = eventlog::AuthenticCheckpoints(std::move(refs), public_keys, &ignored);
    if (authentic.size() == 1 && authentic[0].checkpoint.chain_hash().size() == eventlog::kHashBytes) {
      return authentic[0].checkpoint;
    }
  }
  std::fprintf(stderr, "refx %s: %s does not hold one checkpoint signed by the keys given; verifying from seq 1\n",
               command.c_str(), verified_file.c_str());
  return {};
}

}  // namespace

int RunOnlineVerify(const ConnectionFlags& flags, const OnlineVerifyArgs& args) {
  using Clock = std::chrono::steady_clock;
  const std::string command = "audit verify";
  Status s = audit::CheckPurpose(args.purpose);
  if (!s.ok()) {
    return Fail(command,
                       Status::InvalidArgument(s.message() + " (or pass --db DIR to verify a log folder offline)"),
                       kExitRefused);
  }
  refx::audit::OnlineVerifyOptions options;
  options.purpose = args.purpose;
  options.initial_credit = audit::kBulkReadCredit;  // the whole log: keep the broker streaming
  s = refx::audit::LoadSigningKeys(args.signing_pubs, &options.keys);
  if (!s.ok()) return Fail(command, s, kExitSetupError);
  for (const std::string& path : args.checkpoint_files) {
    s = ReadCheckpointFile(path, &options.trusted);
    if (!s.ok()) return Fail(command, s, kExitSetupError);
  }
  std::unique_ptr<BrokerClient> client;
  s = ConnectAs(flags, AgencyFor(flags, args.as), &client);
  if (!s.ok()) return Fail(command, s, ExitCodeForConnect(s));
  ClientOptions where;
  const std::string endpoint = ClientOptionsFor(flags, args.as, &where).ok() ? where.endpoint : flags.endpoint;
  const std::string verified_file = args.verified_file.empty() ? DefaultVerifiedFile(endpoint) : args.verified_file;
  if (!args.full) options.resume_after = KeptCheckpoint(command, verified_file, options.keys);
  const uint64_t resume_seq = options.resume_after.seq();

  const bool bar = ::isatty(STDERR_FILENO) == 1;
  const auto start = Clock::now();
  auto drawn = start;
  if (bar) {
    options.progress = [&](uint64_t checked, uint64_t head) {
      const auto now = Clock::now();
      if (now - drawn < std::chrono::milliseconds(100)) return;
      drawn = now;
      const double elapsed = std::chrono::duration<double>(now - start).count();
      const uint64_t total = std::max(head > resume_seq ? head - resume_seq : 0, checked);
      DrawProgress("verifying", checked, total,
                   EventsDetail(checked, total, elapsed > 0 ? static_cast<double>(checked) / elapsed : 0.0));
    };
  }
  refx::audit::OnlineVerification verification;
  s = refx::audit::VerifyThroughBroker(client.get(), options, &verification);
  if (bar) ClearProgress();
  if (!s.ok()) return Fail(command, s, ExitCodeFor(s));
  v1::VerifyResult& result = verification.result;
  // Keep the newest signed checkpoint this run verified, for the next run.
  if (result.ok() && result.checkpoints_authenticated() && result.last_checkpoint_seq() > resume_seq &&
      !verified_file.empty()) {
    for (const refx::audit::CheckpointStatus& st : verification.checkpoints) {
      if (st.checkpoint.seq() != result.last_checkpoint_seq() || !st.authentic || !st.matches_chain) continue;
      const Status kept = WriteCheckpointFile(verified_file, st.checkpoint);
      if (!kept.ok()) std::fprintf(stderr, "refx %s: %s\n", command.c_str(), kept.ToString().c_str());
      break;
    }
  }
  result.set_db("broker at " + endpoint);  // online: index_entries_checked stays 0 (indexes need --db)
  const unsigned long long checked = result.events_checked(), last = result.last_seq(),
                           last_match = result.last_checkpoint_seq();
  const double seconds = result.seconds();
  if (args.json) {
    std::printf("%s\n", ToJsonLine(result).c_str());
  } else if (result.ok()) {
    std::printf("intact: %llu events through the broker at %s (head seq %llu when the read began), %llu "
                "checkpoints, %.2f s (%.0f events/s)\n",
                checked, endpoint.c_str(), static_cast<unsigned long long>(result.head_seq()),
                static_cast<unsigned long long>(result.checkpoints_checked()), seconds,
                seconds > 0 ? static_cast<double>(checked) / seconds : 0.0);
    if (last_match == 0) {
      std::printf("warning: no signed checkpoint vouches for this log: a rewrite with a recomputed chain would "
                  "not be detected\n");
    } else if (!result.checkpoints_authenticated()) {
      std::printf("warning: checkpoint signatures were NOT checked (pass --signing-pub FILE); last checkpoint seq "
                  "%llu\n",
                  last_match);
    } else {
      std::printf("signed checkpoints verified up to seq %llu", last_match);
      if (last_match < last) std::printf("; seqs %llu..%llu are not yet covered by a checkpoint", last_match + 1, last);
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
    std::printf("first bad seq %llu: %s: %s\n", static_cast<unsigned long long>(result.first_bad_seq()),
                result.problem().c_str(), result.detail().c_str());
    if (resume_seq > 0) {
      std::printf("(resumed after the signed checkpoint at seq %llu verified before; --full checks from seq 1)\n",
                  static_cast<unsigned long long>(resume_seq));
    }
  }
  return result.ok() ? kExitOk : kExitTampered;
}

}  // namespace refx::cli
