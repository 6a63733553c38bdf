#include "cli/progress_bar.h"

#include <cstdio>

namespace refx::cli {

void DrawProgress(const char* label, uint64_t done, uint64_t total, const std::string& detail) {
  constexpr int kWidth = 30;
  double share = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  if (share > 1.0) share = 1.0;
  const int filled = static_cast<int>(share * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '.');
  std::fprintf(stderr, "\r%s [%s] %3d%%  %s\033[K", label, bar.c_str(), static_cast<int>(share * 100), detail.c_str());
  std::fflush(stderr);
}

std::string EventsDetail(uint64_t done, uint64_t total, double rate) {
  std::string text = std::to_string(done) + " / " + std::to_string(total) + " events";
  if (rate >= 0) text += "  " + std::to_string(static_cast<uint64_t>(rate)) + "/s";
  return text;
}

void ClearProgress() {
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

}  // namespace refx::cli
