// Helpers shared by the unit tests: a unique temporary directory that is
// removed when the test ends.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/status.h"

namespace refx {
// Makes gtest print status codes by name ("CORRUPTION") in failures.
inline void PrintTo(Status::Code code, std::ostream* os) { *os << Status::CodeName(code); }
}  // namespace refx

namespace refx::testing {

// Creates <temp>/refx-unit-XXXXXX with mkdtemp and removes it (recursively)
// on destruction.
class TempDir {
 public:
  TempDir() {
    const std::string tmpl = (std::filesystem::temp_directory_path() / "refx-unit-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace refx::testing
