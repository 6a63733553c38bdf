#include "client/cursor_file.h"

#include "core/durable_dir.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace refx {

Status CursorFile::Load(uint64_t* seq) const {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) {
    if (ec) return Status::IoError("cannot look for " + path_ + ": " + ec.message());
    *seq = 0;
    return Status::OK();
  }
  std::ifstream in(path_);
  if (!in) return Status::IoError("cannot read " + path_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789") != std::string::npos) {
    return Status::Corruption(path_ + " does not hold a log position (one decimal number)");
  }
  *seq = std::stoull(text);
  return Status::OK();
}

Status CursorFile::Store(uint64_t seq) const { return ReplaceFileDurably(path_, std::to_string(seq) + "\n"); }

}  // namespace refx
