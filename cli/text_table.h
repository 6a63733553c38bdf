// Plain text tables on stdout (`refx inbox list`, `refx audit as-of`).
// Thread-safety: writes to stdout; call from one thread.
#pragma once

#include <string>
#include <vector>

namespace refx::cli {

// Prints rows to stdout as left-aligned columns two spaces apart.
void PrintTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace refx::cli
