// Helpers that read the routing keys out of an event: which referral and
// which destination (case) it concerns, and the referral id format.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "refx/v1/event.pb.h"

namespace refx {

// Referral ids are "R-" followed by the ten-digit seq of the submission event,
// so an id is unique, stable and needs no separate counter.
std::string ReferralIdForSeq(uint64_t seq);
// The submission seq a referral id names; false if `id` is not of that form.
bool SeqForReferralId(const std::string& id, uint64_t* seq);

// The referral id an event concerns, or "" for none.
const std::string& ReferralIdOf(const v1::Event& event);

// The destination (case) an event concerns, or "" for referral-wide events.
const std::string& DestinationOf(const v1::Event& event);

// A short, personal-data-free name for the event body, e.g. "case_routed".
const char* EventTypeName(const v1::Event& event);

}  // namespace refx
