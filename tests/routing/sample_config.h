// Helpers shared by the routing tests: the Sevenoaks sample configuration
// loaded with generated CURVE keys, and a routing history held in memory.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include <google/protobuf/text_format.h>

#include "client/curve_keygen.h"
#include "core/curve_keys.h"
#include "core/partnership_config.h"
#include "domain/routing/condition.h"
#include "tests/unit/test_util.h"

namespace refx {
// Makes gtest print dates as "YYYY-MM-DD" in failures.
inline void PrintTo(const CivilDate& date, std::ostream* os) { *os << date.ToString(); }
}  // namespace refx

namespace refx::testing {

inline std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string SampleConfigPath() { return std::string(REFX_SOURCE_DIR) + "/deploy/config/sevenoaks.textproto"; }

// Copies deploy/config/sevenoaks.textproto into a temporary folder, writes a
// fresh CURVE key pair for every agency whose key is a file (as the
// development stack does) and loads it with PartnershipConfig::Load. The
// keys are read at load time, so the folder may go afterwards.
inline Status LoadSampleConfig(std::unique_ptr<PartnershipConfig>* out) {
  namespace fs = std::filesystem;
  TempDir dir;
  const std::string copy = dir.Sub("sevenoaks.textproto");
  fs::copy_file(SampleConfigPath(), copy);
  v1::PartnershipConfig raw;
  if (!google::protobuf::TextFormat::ParseFromString(ReadTextFile(copy), &raw)) {
    return Status::InvalidArgument("the sample configuration does not parse");
  }
  for (const v1::Agency& a : raw.agencies()) {
    if (a.key_case() != v1::Agency::kPublicKeyFile) continue;
    CurveKeyPair pair;
    REFX_RETURN_IF_ERROR(GenerateCurveKeyPair(&pair));
    const fs::path file = a.public_key_file();
    REFX_RETURN_IF_ERROR(
        SaveCurveKeyPair((fs::path(dir.path()) / file.parent_path()).string(), file.stem().string(), pair));
  }
  return PartnershipConfig::Load(copy, out);
}

// A RoutingHistory over a map (subject key, destination) -> date.
class FakeRoutingHistory : public RoutingHistory {
 public:
  void Add(const std::string& subject_key, const std::string& destination, const CivilDate& date) {
    entries_[{subject_key, destination}] = date;
  }
  std::optional<CivilDate> LastRoutedOn(const std::string& subject_key,
                                        const std::string& destination) const override {
    ++lookups_;
    auto it = entries_.find({subject_key, destination});
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }
  int lookups() const { return lookups_; }

 private:
  std::map<std::pair<std::string, std::string>, CivilDate> entries_;
  mutable int lookups_ = 0;
};

inline CivilDate Date(const std::string& text) {
  CivilDate d;
  if (!ParseCivilDate(text, &d)) throw std::invalid_argument("bad test date " + text);
  return d;
}

}  // namespace refx::testing
