// Data minimisation: the copy of a referral a destination may see.
//
// Every field of refx.v1.Referral carries a (refx.v1.field_group) option.
// A view keeps a field only if its group is among the destination's
// need-to-know groups (ENVELOPE is always kept); message fields without a
// group are descended into. A field with no group at all is removed: the
// safe default for a field someone forgot to mark.
// Pure functions; thread-safe.
#pragma once

#include <set>

#include "refx/v1/options.pb.h"
#include "refx/v1/referral.pb.h"

namespace refx {

v1::Referral NeedToKnowView(const v1::Referral& referral, const std::set<v1::FieldGroup>& groups);

}  // namespace refx
