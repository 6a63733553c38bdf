#include "fuzz/fuzz_support.h"

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/text_format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace refx::fuzz {
namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "fuzz support: %s\n", what.c_str());
  std::abort();
}

// A distinct well-formed Z85 key for the n-th key file (not a real key pair:
// nothing here connects anywhere).
std::string KeyText(int n) {
  static const char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  return std::string(38, '0') + kDigits[(n / 62) % 62] + kDigits[n % 62];
}

std::string MakeScratch() {
  std::string base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "";
  if (const char* tmp = std::getenv("TMPDIR"); tmp != nullptr && *tmp != '\0') base = tmp;
  if (base.empty()) base = "/tmp";
  std::string templ = base + "/refx-fuzz-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) Fail("cannot make a scratch folder under " + base);
  static std::string to_remove;
  to_remove = templ;
  std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(to_remove, ec);
  });
  std::filesystem::create_directories(templ + "/keys");
  v1::PartnershipConfig sample;
  if (!google::protobuf::TextFormat::ParseFromString(SourceFile("deploy/config/sevenoaks.textproto"), &sample)) {
    Fail("the sample configuration does not parse");
  }
  int n = 0;
  for (const v1::Agency& agency : sample.agencies()) {
    WriteFile(templ + "/keys/" + agency.id() + ".pub", KeyText(n++) + "\n");
    WriteFile(templ + "/keys/" + agency.id() + ".key", KeyText(n++) + "\n");
  }
  WriteFile(templ + "/keys/broker.pub", KeyText(n++) + "\n");
  WriteFile(templ + "/keys/broker.key", KeyText(n++) + "\n");
  return templ;
}

}  // namespace

std::string SourceFile(const std::string& relative) {
  const std::string path = std::string(REFX_SOURCE_DIR) + "/" + relative;
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string& ScratchDir() {
  static const std::string dir = MakeScratch();
  return dir;
}

const PartnershipConfig& SampleConfig() {
  static const std::unique_ptr<PartnershipConfig> config = [] {
    std::unique_ptr<PartnershipConfig> out;
    Status s = PartnershipConfig::Parse(SourceFile("deploy/config/sevenoaks.textproto"), "sevenoaks.textproto",
                                        ScratchDir(), &out);
    if (!s.ok()) Fail("the sample configuration does not load: " + s.ToString());
    return out;
  }();
  return *config;
}

void Quiet() {
  google::protobuf::SetLogHandler(nullptr);
  spdlog::set_level(spdlog::level::off);
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out.flush()) Fail("cannot write " + path);
}

}  // namespace refx::fuzz
