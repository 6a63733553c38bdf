// For the data-protection tests (erasure, backup expiry, the other copies):
// a referral about a synthetic person made of sentinel strings, which files
// under a folder hold a byte string, and the wrapped data key of a referral
// as the log stores it. No state; thread-compatible.
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

// The file names (not paths) of every regular file under `dir`, sub-folders
// included, whose bytes contain `needle`. Empty when none does.
std::vector<std::string> FilesHolding(const std::string& dir, const std::string& needle);

// `names` joined with a space after each, for test messages ("" for none).
std::string JoinNames(const std::vector<std::string>& names);

// The wrapped data key of `referral_id` in the log at `data_dir` (opened
// read-only beside a running broker); "" (with a gtest failure if the log
// cannot be opened) when there is none.
std::string StoredDataKey(const std::string& data_dir, const std::string& referral_id);

}  // namespace refx::testing
