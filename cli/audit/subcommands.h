// The online `refx audit` subcommands, which read the log through the
// running broker as an auditor (default identity ig-auditor, --as to change
// it). Every such read must give --purpose: the broker records it in the log
// as a record_accessed event (who, what, purpose) before it sends anything.
//
//   timeline REFERRAL   every event of one referral, in seq order
//   replay              the history, filtered by the broker (seqs, times,
//                       agency, destination), with a progress bar
//   as-of TIME REFERRAL the referral's cases at a moment, and what each
//                       agency had been told by then
//   export REFERRAL     a self-contained record (json, csv or html) for a
//                       case review or a subject access request
//   subject             every referral about a person (name and date of
//                       birth, through the keyed subject hash)
//   export --subject    the subject access pack: every such referral, with
//                       --redact-third-parties
//   verify (no --db)    the hash chain and signed checkpoints, recomputed
//                       from the bytes the broker streams
//
// The text forms (timeline, replay, as-of) carry ids, codes, rule ids,
// routing reasons, disclosed groups and times only — never personal data.
// --json prints full refx.v1.Event messages, and `export` is the subject's
// record: both DO contain personal data.
//
// Thread-safety: registration and Run functions are called from main's
// thread only.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "cli/local_stack.h"

namespace refx::cli {

// Each adds its subcommand to `audit`; running it sets *exit_code (an
// ExitCode, cli/exit_codes.h). `flags` and `exit_code` must outlive parsing.
void AddAuditTimelineCommand(CLI::App* audit, ConnectionFlags* flags, int* exit_code);
void AddAuditReplayCommand(CLI::App* audit, ConnectionFlags* flags, int* exit_code);
void AddAuditAsOfCommand(CLI::App* audit, ConnectionFlags* flags, int* exit_code);
void AddAuditExportCommand(CLI::App* audit, ConnectionFlags* flags, int* exit_code);
void AddAuditSubjectCommand(CLI::App* audit, ConnectionFlags* flags, int* exit_code);

namespace audit {
struct SubjectSearch;
}
// --name, --dob and --config of a subject search (subject and export --subject).
void AddSubjectSearchOptions(CLI::App* cmd, audit::SubjectSearch* search);

// What `refx audit verify` takes when no --db is given.
struct OnlineVerifyArgs {
  std::string as;                              // reading identity (AUDITOR)
  std::string purpose;                         // required
  std::vector<std::string> signing_pubs;       // NAME.sign.pub files
  std::vector<std::string> checkpoint_files;   // trusted refx.v1.Checkpoint JSON lines
  bool json = false;
  bool full = false;          // from seq 1 even when a verified checkpoint is kept
  std::string verified_file;  // "" = ~/.local/state/refx/verified/ENDPOINT.json
};

// Resuming: with --signing-pub, the newest signed checkpoint that matched is
// kept in the verified file; the next run (unless --full) re-checks its
// signature, then streams only the events after it, its chain hash as the
// predecessor's. A rewrite before it that recomputed the chain breaks the
// first link after it; bytes altered before it with the stored hashes left
// alone are outside this check and need --full.
// Verifies the log through the broker: streams every event, recomputes the
// hash chain over the exact bytes, checks the seqs run from 1 without a gap
// and that each recomputed hash equals the one the broker stores, then
// checks the broker's signed checkpoints (and the trusted ones) against the
// recomputed chain and, with keys, their signatures. Prints like the
// offline mode and returns kExitOk, kExitTampered, kExitSetupError, or
// kExitRefused / kExitUnreachable when the broker refused or is gone.
int RunOnlineVerify(const ConnectionFlags& flags, const OnlineVerifyArgs& args);

}  // namespace refx::cli
