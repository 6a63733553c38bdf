#include "sentinel_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "eventlog/event_log.h"
#include "test_stack.h"

namespace refx::testing {

v1::Referral SentinelReferral(const std::string& agency, const std::string& reference,
                              const std::vector<std::string>& s) {
  v1::Referral r = SampleReferral(agency, reference);
  r.mutable_person()->set_given_name(s.at(0));
  r.mutable_person()->set_family_name(s.at(1));
  r.mutable_person()->set_address(s.at(2));
  r.mutable_person()->set_phone(s.at(3));
  r.set_narrative(s.at(4));
  return r;
}

std::vector<std::string> FilesHolding(const std::string& dir, const std::string& needle) {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().find(needle) != std::string::npos) found.push_back(entry.path().filename().string());
  }
  return found;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& s : names) out += s + " ";
  return out;
}

std::string StoredDataKey(const std::string& data_dir, const std::string& referral_id) {
  eventlog::OpenOptions open;
  open.path = data_dir;
  open.read_only = true;
  open.create_if_missing = false;
  std::unique_ptr<eventlog::EventLog> log;
  Status s = eventlog::EventLog::Open(open, &log);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::string wrapped;
  if (!log) return wrapped;
  s = log->ScanFamily("data_keys", referral_id, "", false, [&](std::string_view key, std::string_view value) {
    if (key == referral_id) wrapped.assign(value);
    return false;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return wrapped;
}

}  // namespace refx::testing
