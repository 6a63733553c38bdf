#include "cli/checkpoint_file.h"

#include <filesystem>
#include <fstream>
#include <utility>

#include "core/durable_dir.h"
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

Status WriteCheckpointFile(const std::string& path, const v1::Checkpoint& checkpoint) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (!dir.empty()) REFX_RETURN_IF_ERROR(CreateDirDurably(dir, 0700));
  return ReplaceFileDurably(path, ToJsonLine(checkpoint) + "\n");
}

}  // namespace refx::cli
