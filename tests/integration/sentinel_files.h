// For the data-protection tests (erasure, backup expiry, the other copies):
// a referral about a synthetic person made of sentinel strings (the raw-file
// searches are FilesHolding and StoredWrappedKey in test_stack.h). No state;
// thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "refx/v1/referral.pb.h"

namespace refx::testing {

// SampleReferral(agency, reference) about a person whose given name, family
// name, address and phone are s[0..3], with narrative s[4] (five strings
// that appear nowhere else, so that finding one in a file means a copy).
v1::Referral SentinelReferral(const std::string& agency, const std::string& reference,
                              const std::vector<std::string>& s);

}  // namespace refx::testing
