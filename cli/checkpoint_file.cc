#include "cli/checkpoint_file.h"

#include <fstream>
#include <utility>

#include "core/json.h"

namespace refx::cli {

Status ReadCheckpointFile(const std::string& path, std::vector<v1::Checkpoint>* out) {
  std::ifstream in(path);
  if (!in) return Status::IoError(path + ": cannot read");
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    v1::Checkpoint cp;
    Status s = MessageFromJson(line, &cp);
    if (!s.ok()) return Status::InvalidArgument(path + ":" + std::to_string(number) + ": " + s.message());
    out->push_back(std::move(cp));
  }
  return Status::OK();
}

}  // namespace refx::cli
