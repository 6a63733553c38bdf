// One referral's events folded (domain/monitoring/case_fold.h) into the
// broker's case records, with what the fold alone does not keep (rule,
// reason, deliveries, last outcome): the cases of `refx audit as-of` and
// `refx audit export`.
//
// Thread-safety: a pure function; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "refx/v1/event.pb.h"

namespace refx::audit {

struct FoldedReferral {
  std::string submitter;  // agency that submitted it ("" if not seen)
  bool withdrawn = false;
  uint64_t last_seq = 0;  // last event folded
  std::vector<v1::CaseRecord> cases;  // in the order they were routed
};

// Folds `events` (one referral's, in seq order) into *out.
void FoldReferral(const std::vector<v1::Event>& events, FoldedReferral* out);

}  // namespace refx::audit
