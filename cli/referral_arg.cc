#include "cli/referral_arg.h"

#include <algorithm>
#include <cstdint>

#include "core/event_util.h"

namespace refx::cli {

std::string NormaliseReferralId(const std::string& text) {
  if (!text.empty() && text.size() <= 10 && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    const uint64_t seq = std::stoull(text);
    if (seq != 0) return ReferralIdForSeq(seq);
  }
  return text;
}

CLI::Option* AddReferralArgument(CLI::App* cmd, std::string* referral) {
  return cmd->add_option("referral", *referral, "Referral id, e.g. R-0000000042 (or 42)")
      ->required()
      ->transform([](std::string value) { return NormaliseReferralId(value); });
}

}  // namespace refx::cli
