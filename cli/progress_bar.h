// The progress bar long reads draw on stderr when it is a terminal
// (`refx audit replay`, `refx audit verify`, online and offline).
//
// Thread-safety: the functions write to stderr; call them from one thread.
#pragma once

#include <cstdint>
#include <string>

namespace refx::cli {

// Draws "\rLABEL [#####.....]  52%  DETAIL" on stderr, the bar filled to
// done / total (full when total is 0).
void DrawProgress(const char* label, uint64_t done, uint64_t total, const std::string& detail);
// "523000 / 1000000 events", then "  12000/s" unless `rate` is negative.
std::string EventsDetail(uint64_t done, uint64_t total, double rate);
// Clears the progress line.
void ClearProgress();

}  // namespace refx::cli
