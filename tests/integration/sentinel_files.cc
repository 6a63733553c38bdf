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

}  // namespace refx::testing
