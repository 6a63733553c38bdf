// Test support for the file drop tests: a temporary folder, file helpers,
// an in-memory Spool (the edge a unit test may stand in for; the
// integration test uses the real one) and a hand-moved clock.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "adapters/spool/spool.h"

namespace refx::adapters::testing {

class TempFolder {
 public:
  TempFolder() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "refx-filedrop-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempFolder() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

inline void AppendFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << text;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline bool Exists(const std::string& path) { return std::filesystem::exists(path); }

// Stores appended units in memory; can be told to fail.
class MemorySpool : public Spool {
 public:
  struct Unit {
    std::string source;
    std::vector<refx::v1::Referral> referrals;
  };
  Status Append(std::vector<refx::v1::Referral> referrals, const std::string& source) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_) return Status::IoError("no space left on device");
    units_.push_back({source, std::move(referrals)});
    return Status::OK();
  }
  Status Oldest(SpoolUnit*) override { return Status::NotFound("memory spool"); }
  Status Next(const std::string&, SpoolUnit*) override { return Status::NotFound("memory spool"); }
  Status MarkAcknowledged(const std::string&, size_t) override { return Status::OK(); }
  Status FindWaiting(const std::string&) override { return Status::NotFound("memory spool"); }
  SpoolFigures Figures() override { return {}; }

  void set_fail(bool fail) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = fail;
  }
  std::vector<Unit> units() {
    std::lock_guard<std::mutex> lock(mu_);
    return units_;
  }
  std::vector<std::string> references() {
    std::vector<std::string> refs;
    for (const auto& u : units()) {
      for (const auto& r : u.referrals) refs.push_back(r.referrer_reference());
    }
    return refs;
  }

 private:
  std::mutex mu_;
  bool fail_ = false;
  std::vector<Unit> units_;
};

// A clock that moves only when told.
struct ManualClock {
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  std::function<std::chrono::system_clock::time_point()> fn() {
    return [this] { return now; };
  }
};

// A small police DA export format and rows for it (made-up people).
inline const char kPoliceFormat[] = R"pb(
  name: "test-police"
  reference_column: "Incident Ref"
  defaults_textproto: "category: DOMESTIC_ABUSE lawful_basis: LAW_ENFORCEMENT consent { position: CONSENT_GIVEN subject_aware: true }"
  columns { column: "Forename" field: "person.givenName" }
  columns { column: "Surname" field: "person.familyName" }
  columns { column: "DOB" field: "person.dateOfBirth" date_format: "%d/%m/%Y" }
  columns { column: "Risk" field: "assessment.riskLevel" enum_values { key: "High" value: "HIGH" } enum_values { key: "Medium" value: "MEDIUM" } enum_values { key: "Standard" value: "STANDARD" } }
  columns { column: "DASH Score" field: "assessment.score" }
  columns { column: "Agency" field: "referrer.agencyId" }
)pb";

inline const char kPoliceHeader[] = "Incident Ref,Forename,Surname,DOB,Risk,DASH Score,Agency\n";

// A good row with reference `ref`.
inline std::string PoliceRow(const std::string& ref) { return ref + ",Hannah,Whitlow,17/04/1991,High,16,\n"; }

}  // namespace refx::adapters::testing
