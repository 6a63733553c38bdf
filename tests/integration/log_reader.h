// Reads a stopped broker's event log for assertions: every submission by
// (agency, reference), and the chain verification report.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "eventlog/event_log.h"

namespace refx::testing {

struct LogContents {
  uint64_t head_seq = 0;
  // (agency, referrer_reference) -> seqs of its referral_submitted events.
  std::map<std::pair<std::string, std::string>, std::vector<uint64_t>> submissions;
  eventlog::VerifyReport verify;
};

// Opens the log at `data_dir` read-only; fails the test if it cannot.
LogContents ReadLog(const std::string& data_dir);

}  // namespace refx::testing
