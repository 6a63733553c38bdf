// Lower-case hex of bytes (libsodium's sodium_bin2hex), for printing hashes,
// key ids and digests. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace refx {

// "0001abff" for the bytes 00 01 ab ff; "" for none.
std::string ToHex(std::string_view bytes);

}  // namespace refx
