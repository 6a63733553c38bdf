#include "log_reader.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace refx::testing {

LogContents ReadLog(const std::string& data_dir) {
  LogContents out;
  std::unique_ptr<eventlog::EventLog> log;
  eventlog::OpenOptions options;
  options.path = data_dir;
  options.read_only = true;
  options.create_if_missing = false;
  Status s = eventlog::EventLog::Open(options, &log);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return out;
  out.head_seq = log->head_seq();
  EXPECT_TRUE(log->Scan(1, 0, [&](const eventlog::StoredEvent& ev) {
                    v1::Event e;
                    EXPECT_TRUE(e.ParseFromString(ev.bytes));
                    if (e.has_referral_submitted()) {
                      out.submissions[{e.actor(), e.referral_submitted().referral().referrer_reference()}].push_back(ev.seq);
                    }
                    return true;
                  }).ok());
  out.verify = log->VerifyChain();
  return out;
}

LogContents StopAndCheckLog(TestStack& stack, uint64_t head_seq) {
  EXPECT_EQ(stack.StopBroker(SIGTERM), 0) << "clean exit on SIGTERM";
  LogContents log = ReadLog(stack.data_dir());
  EXPECT_EQ(log.head_seq, head_seq);
  EXPECT_TRUE(log.verify.ok) << "seq " << log.verify.first_bad_seq << ": " << log.verify.problem;
  return log;
}

}  // namespace refx::testing
