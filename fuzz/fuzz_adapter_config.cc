// libFuzzer target: one refx-adapter's configuration text (protobuf text
// format; adapters/adapter_config.h), with its CSV formats checked as the
// file drop prepares them (adapters/filedrop/csv_mapping.h CsvMapping::
// Create). Key files resolve against a scratch folder holding keys for the
// sample agencies and the broker (fuzz/fuzz_support.h). A refusal must be
// InvalidArgument naming the file.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "adapters/adapter_config.h"
#include "adapters/filedrop/csv_mapping.h"
#include "fuzz/fuzz_support.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_adapter_config: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  refx::fuzz::Quiet();
  (void)refx::fuzz::ScratchDir();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::unique_ptr<refx::adapters::AdapterConfig> config;
  refx::Status s = refx::adapters::AdapterConfig::Parse(text, "fuzz.textproto", refx::fuzz::ScratchDir(), &config);
  if (!s.ok()) {
    Check(s.code() == refx::Status::Code::kInvalidArgument, "a refusal that is not InvalidArgument");
    Check(s.message().rfind("fuzz.textproto", 0) == 0, "a refusal that does not name the file");
    return 0;
  }
  Check(config != nullptr, "OK without a configuration");
  std::string host;
  int port = 0;
  if (config->proto().has_http()) {
    (void)refx::adapters::AdapterConfig::SplitHostPort(config->proto().http().listen(), &host, &port);
    (void)refx::adapters::AdapterConfig::IsLoopbackHost(host);
  }
  for (const refx::v1::CsvFormat& format : config->proto().csv_formats()) {
    std::unique_ptr<refx::adapters::CsvMapping> mapping;
    refx::Status m = refx::adapters::CsvMapping::Create(format, &mapping);
    Check(m.ok() == (mapping != nullptr), "CsvMapping::Create's status and result disagree");
    if (m.ok()) (void)mapping->BindHeader({format.reference_column()});
  }
  return 0;
}
