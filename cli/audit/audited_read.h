// The rules of an audit read through the broker (`refx audit timeline,
// replay, as-of, export, verify` without --db): who reads by default, that
// a purpose is given (the broker records every read with it as a
// record_accessed event), and the read of one referral's events.
//
// Thread-safety: plain functions; ReadReferral prints on stderr, so call it
// from one thread.
#pragma once

#include <cstdint>
#include <string>

#include "cli/local_stack.h"
#include "client/broker_client.h"
#include "core/status.h"

namespace refx::cli::audit {

// The identity audit reads default to (role AUDITOR in the sample config).
inline constexpr char kDefaultAuditor[] = "ig-auditor";
// Events a bulk read (replay, online verify) lets the broker send ahead.
inline constexpr uint32_t kBulkReadCredit = 20000;

// OK if `purpose` holds more than white space; otherwise InvalidArgument
// explaining that every audit read is recorded with its purpose.
Status CheckPurpose(const std::string& purpose);

// The read behind every one-referral audit command: checks that `referral`
// is a referral id and `purpose` is given, connects as `as` (an agency id
// or a destination code, cli/caller.h), and reads every event of the
// referral that `as` may see (the broker records the read with its
// purpose), in seq order, passing each to on_event. Returns kExitOk, or the
// exit code after printing why (as Fail). A referral of which `as` sees no
// event but records of reads (record_accessed, including this read's own,
// which the broker still writes) is "no such referral": NotFound,
// kExitRefused, and nothing is passed to on_event. `to_seq` (0: none) stops
// the read after that seq (the referral as the log stood then).
int ReadReferral(const std::string& command, const ConnectionFlags& flags, const std::string& referral,
                 const std::string& purpose, const std::string& as, const BrokerClient::EventFn& on_event,
                 uint64_t to_seq = 0);

}  // namespace refx::cli::audit
