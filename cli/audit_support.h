// Internals shared by the online `refx audit` subcommands (timeline, replay,
// verify without --db, as-of, export) and `refx admin`: the connection as
// the reading identity, the purpose rule, exit codes and error messages,
// time arguments, the personal-data-free line written for an event, the
// progress bar, and the fold of one referral's events into case records.
//
// Thread-safety: plain functions; the printing ones write to stdout /
// stderr, so call them from one thread.
#pragma once

#include <google/protobuf/timestamp.pb.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cli/local_stack.h"
#include "client/broker_client.h"
#include "core/status.h"
#include "refx/v1/checkpoint.pb.h"
#include "refx/v1/event.pb.h"

namespace refx::cli::audit {

// The identity audit reads default to (role AUDITOR in the sample config).
inline constexpr char kDefaultAuditor[] = "ig-auditor";
// Events a bulk read (replay, online verify) lets the broker send ahead.
inline constexpr uint32_t kBulkReadCredit = 20000;

// The agency `as` names: an agency id, or the agency owning a destination
// code (as `refx inbox --as` takes them; cli/inbox_support.h). `as` itself
// when there is no local configuration to resolve it with.
std::string AgencyFor(const ConnectionFlags& flags, const std::string& as);

// A client acting as the agency `as` names (AgencyFor), with its key pair
// from the local stack's keys or --key-dir. NotFound naming the missing
// file when not set up.
Status ConnectAs(const ConnectionFlags& flags, const std::string& as, std::unique_ptr<BrokerClient>* out);

// OK if `purpose` holds more than white space; otherwise InvalidArgument
// explaining that every audit read is recorded with its purpose.
Status CheckPurpose(const std::string& purpose);

// The read behind every one-referral audit command: checks that `referral`
// is a referral id and `purpose` is given, connects as `as`, and reads every
// event of the referral that `as` may see (the broker records the read with
// its purpose), in seq order, passing each to on_event. Returns kExitOk, or
// the exit code after printing why (as Fail). A referral of which `as` sees
// no event but records of reads (record_accessed, including this read's
// own, which the broker still writes) is "no such referral": NotFound,
// kExitRefused, and nothing is passed to on_event.
int ReadReferral(const std::string& command, const ConnectionFlags& flags, const std::string& referral,
                 const std::string& purpose, const std::string& as, const BrokerClient::EventFn& on_event);

// Appends the refx.v1.Checkpoint JSON lines of file `path` (blank lines
// ignored) to *out. IoError if unreadable; InvalidArgument naming the line.
Status ReadCheckpointFile(const std::string& path, std::vector<v1::Checkpoint>* out);

// The broker's head seq now (a heartbeat answer). The Status of the call.
Status HeadSeq(BrokerClient* client, uint64_t* head);

// One line for an event, without personal data: "seq N  TIME  ACTOR  KIND
// [REFERRAL] [DESTINATION]  details" where the details are ids, codes,
// rule ids, routing reasons, disclosed groups, deadlines and purposes.
// Free text written by people (accept and outcome notes, decline and
// withdrawal reasons, erasure reasons) is never printed, only flagged.
std::string AuditLine(const v1::Event& event);

// The details part of AuditLine. With `free_text` the notes and reasons
// written by people are included (quoted) — only for outputs that are
// personal data anyway (`audit export`).
std::string EventDetail(const v1::Event& event, bool free_text);

// The rule id a case_routed or case_delivered event names, else "".
std::string RuleOf(const v1::Event& event);

// "ENVELOPE,SUBJECT_IDENTITY,..." for a case_delivered event's groups.
std::string GroupsText(const v1::CaseDelivered& delivered);


// Draws "\rLABEL [#####.....]  52%  DETAIL" on stderr, the bar filled to
// done / total (full when total is 0).
void DrawProgress(const char* label, uint64_t done, uint64_t total, const std::string& detail);
// "523000 / 1000000 events", then "  12000/s" unless `rate` is negative.
std::string EventsDetail(uint64_t done, uint64_t total, double rate);
// Clears the progress line.
void ClearProgress();

// One referral's events folded (domain/monitoring/case_fold.h) into the
// broker's case records.
struct FoldedReferral {
  std::string submitter;  // agency that submitted it ("" if not seen)
  bool withdrawn = false;
  uint64_t last_seq = 0;  // last event folded
  std::vector<v1::CaseRecord> cases;  // in the order they were routed
};

// Folds `events` (one referral's, in seq order) into *out.
void FoldReferral(const std::vector<v1::Event>& events, FoldedReferral* out);

}  // namespace refx::cli::audit
