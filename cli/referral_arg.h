// The REFERRAL argument of the commands about one referral (`refx inbox
// show|ack|accept|decline|outcome`, `refx audit timeline|as-of|export`):
// "R-0000000042", or its number alone ("42").
// Thread-safety: pure functions; registration from main's thread.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace refx::cli {

// "R-0000000042" for "R-0000000042" or "42"; `text` unchanged otherwise.
std::string NormaliseReferralId(const std::string& text);

// Adds the required positional "referral" to `cmd`, normalised into
// *referral (which must outlive parsing). Returns the option.
CLI::Option* AddReferralArgument(CLI::App* cmd, std::string* referral);

}  // namespace refx::cli
