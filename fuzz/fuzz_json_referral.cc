// libFuzzer target: a referral in protobuf's JSON mapping, as `refx submit`
// reads it from a file and the adapter's HTTP intake and file drop read it
// from an agency's system (core/json.h MessageFromJson: strict JSON, then
// protobuf's mapping). A referral that parses is validated
// (core/referral_validation.h); printed with ToJsonLine (core/fast_json
// where it can) it must read back equal, and fast_json must print exactly
// protobuf's bytes. Unparsable input must be refused with InvalidArgument.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/civil_date.h"
#include "core/fast_json.h"
#include "core/json.h"
#include "core/referral_validation.h"
#include "fuzz/fuzz_support.h"
#include "refx/v1/referral.pb.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_json_referral: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  refx::fuzz::Quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  refx::v1::Referral referral;
  refx::Status s = refx::MessageFromJson(json, &referral);
  if (!s.ok()) {
    Check(s.code() == refx::Status::Code::kInvalidArgument, "MessageFromJson failed with a code other than InvalidArgument");
    Check(!s.message().empty(), "MessageFromJson failed without a message");
    return 0;
  }
  refx::Status valid = refx::ValidateReferral(referral, refx::CivilDate::FromDays(20000));
  Check(valid.ok() || !valid.violations().empty(), "ValidateReferral refused without naming a field");

  std::string fast;
  if (refx::AppendFastJson(referral, &fast)) {
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = false;
    options.preserve_proto_field_names = false;
    std::string slow;
    (void)google::protobuf::util::MessageToJsonString(referral, &slow, options);
    if (fast != slow) std::fprintf(stderr, "fast: %s\nprotobuf: %s\n", fast.c_str(), slow.c_str());
    Check(fast == slow, "core/fast_json differs from protobuf's JSON printer");
  }
  // What refx prints, refx reads back as the same referral.
  const std::string line = refx::ToJsonLine(referral);
  refx::v1::Referral again;
  refx::Status back = refx::MessageFromJson(line, &again);
  if (!back.ok()) std::fprintf(stderr, "%s\n%s\n", line.c_str(), back.ToString().c_str());
  Check(back.ok(), "ToJsonLine printed JSON that MessageFromJson refuses");
  Check(google::protobuf::util::MessageDifferencer::Equals(referral, again), "ToJsonLine's JSON reads back different");
  return 0;
}
