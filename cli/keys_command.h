// `refx keys gen NAME... --dir DIR`: creates CURVE key pairs (NAME.pub,
// NAME.key with mode 0600), skipping names that already have keys.
// `refx keys rotate NAME --dir DIR [--overlap-days N]`: creates the agency's
// next pair NAME.YYYYMMDD.pub / .key and prints the configuration lines for
// the overlap (docs/SECURITY.md). `refx keys fingerprint FILE...`: prints
// each public key's fingerprint (core/curve_keys.h).
// `refx keys gen-subject-key FILE`: creates the subject-matching secret.
#pragma once

#include <CLI/CLI.hpp>

namespace refx::cli {

void AddKeysCommand(CLI::App& app, int* exit_code);

}  // namespace refx::cli
