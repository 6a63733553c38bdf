// libFuzzer target: the partnership configuration's text (protobuf text
// format; core/partnership_config.h), as the broker and refx load it at
// start and on reload. Key files resolve against a scratch folder holding
// keys for the sample's agencies (fuzz/fuzz_support.h). A refusal must say
// where (FILE:LINE:COLUMN, or FILE: for the whole file); a configuration
// that loads must answer its lookups for every id it holds.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "core/partnership_config.h"
#include "fuzz/fuzz_support.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_partnership_config: %s\n", what);
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
  std::unique_ptr<refx::PartnershipConfig> config;
  refx::Status s = refx::PartnershipConfig::Parse(text, "fuzz.textproto", refx::fuzz::ScratchDir(), &config);
  if (!s.ok()) {
    Check(s.code() == refx::Status::Code::kInvalidArgument, "a refusal that is not InvalidArgument");
    Check(s.message().rfind("fuzz.textproto:", 0) == 0, "a refusal that does not name the file");
    return 0;
  }
  Check(config != nullptr, "OK without a configuration");
  for (const auto& a : config->proto().agencies()) {
    Check(config->AgencyById(a.id()) == &a, "an agency not found by its id");
    Check(config->AgencyByPublicKey(a.public_key()) == &a, "an agency not found by its key");
  }
  for (const auto& d : config->proto().destinations()) {
    Check(config->DestinationByCode(d.code()) == &d, "a destination not found by its code");
  }
  for (const auto& p : config->proto().people()) {
    Check(config->PersonById(p.id()) == &p, "a person not found by their id");
  }
  return 0;
}
