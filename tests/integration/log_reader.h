// Reads a stopped broker's event log for assertions: every submission by
// (agency, reference), and the chain verification report.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "eventlog/event_log.h"
#include "test_stack.h"

namespace refx::testing {

struct LogContents {
  uint64_t head_seq = 0;
  // (agency, referrer_reference) -> seqs of its referral_submitted events.
  std::map<std::pair<std::string, std::string>, std::vector<uint64_t>> submissions;
  eventlog::VerifyReport verify;
};

// Opens the log at `data_dir` read-only; fails the test if it cannot.
LogContents ReadLog(const std::string& data_dir);

// Stops the stack's broker with SIGTERM (a clean exit is expected), reads
// its log, and expects `head_seq` events and a chain that verifies.
LogContents StopAndCheckLog(TestStack& stack, uint64_t head_seq);

}  // namespace refx::testing
