// libFuzzer target: the bytes of one ZeroMQ message as the broker receives
// it from a client. Runs what the broker runs before it touches its log:
// PeekCorrelationId, DecodeFrame (into an arena, as the broker's loop does,
// and onto the heap: the two must agree), the error reply for a refused
// frame, and for the bodies clients send, ValidateReferral (submit,
// submit_batch), the need-to-know views of an accepted referral, and
// CheckTransition (append, append_batch) for every case state against the
// sample partnership. Also checks that a decoded frame re-encodes to one
// that decodes equal, and that core/fast_json prints exactly what
// protobuf's JSON printer prints.
#include <google/protobuf/arena.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstdio>
#include <cstdlib>
#include <set>

#include "broker/case_lifecycle.h"
#include "core/civil_date.h"
#include "core/event_util.h"
#include "core/fast_json.h"
#include "core/frame_codec.h"
#include "core/need_to_know.h"
#include "core/referral_validation.h"
#include "fuzz/fuzz_support.h"

namespace {

using refx::Status;
namespace v1 = refx::v1;

constexpr size_t kMaxFrameBytes = 1 << 20;  // the broker's default max_frame_bytes

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_frame: %s\n", what);
    std::abort();
  }
}

// core/fast_json must print protobuf's bytes whenever it prints at all.
void CheckJson(const google::protobuf::Message& m) {
  std::string fast;
  if (!refx::AppendFastJson(m, &fast)) return;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.preserve_proto_field_names = false;
  std::string slow;
  (void)google::protobuf::util::MessageToJsonString(m, &slow, options);
  if (fast != slow) {
    std::fprintf(stderr, "fast: %s\nprotobuf: %s\n", fast.c_str(), slow.c_str());
    Check(false, "core/fast_json differs from protobuf's JSON printer");
  }
}

void CheckReferral(const v1::Referral& referral) {
  const refx::CivilDate today = refx::CivilDate::FromDays(20000);  // 2024-10-04: a fixed "today"
  Status s = refx::ValidateReferral(referral, today);
  if (!s.ok()) {
    Check(s.code() == Status::Code::kInvalidArgument, "ValidateReferral refused with another code");
    Check(!s.violations().empty(), "ValidateReferral refused without naming a field");
    for (const auto& v : s.violations()) Check(v.field_path.rfind("referral", 0) == 0, "violation path not under referral");
    return;
  }
  // What each destination of the sample partnership would be shown.
  for (const v1::Destination& d : refx::fuzz::SampleConfig().proto().destinations()) {
    std::set<v1::FieldGroup> groups;
    for (int g : d.need_to_know()) groups.insert(static_cast<v1::FieldGroup>(g));
    v1::Referral view = refx::NeedToKnowView(referral, groups);
    CheckJson(view);
  }
}

void CheckAppend(const v1::Event& event, uint64_t pick) {
  const refx::PartnershipConfig& config = refx::fuzz::SampleConfig();
  const auto& agencies = config.proto().agencies();
  const v1::Agency& actor = agencies.Get(static_cast<int>(pick % agencies.size()));
  v1::ReferralRecord referral;
  referral.set_referral_id(refx::ReferralIdOf(event));
  referral.set_submitter(agencies.Get(static_cast<int>((pick / 7) % agencies.size())).id());
  referral.set_withdrawn(pick & 1);
  for (int state = v1::CaseState_MIN; state <= v1::CaseState_MAX + 1; ++state) {
    v1::CaseRecord current;
    current.set_referral_id(referral.referral_id());
    current.set_destination(refx::DestinationOf(event));
    current.set_state(static_cast<v1::CaseState>(state));
    refx::broker::LifecycleContext context;
    context.referral = state == v1::CaseState_MIN ? nullptr : &referral;
    context.current = state > v1::CaseState_MIN && state <= v1::CaseState_MAX ? &current : nullptr;
    v1::CaseRecord next;
    v1::ReferralRecord referral_next;
    bool changed = false;
    Status s = refx::broker::CheckTransition(event, actor, config, context, &next, &referral_next, &changed);
    if (s.ok()) {
      CheckJson(next);
      if (changed) CheckJson(referral_next);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  refx::fuzz::Quiet();
  (void)refx::fuzz::SampleConfig();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)refx::PeekCorrelationId(data, size);
  google::protobuf::Arena arena;
  v1::Frame& frame = *google::protobuf::Arena::CreateMessage<v1::Frame>(&arena);
  Status s = refx::DecodeFrame(data, size, kMaxFrameBytes, &frame);
  v1::Frame heap;
  Status heap_status = refx::DecodeFrame(data, size, kMaxFrameBytes, &heap);
  Check(s.code() == heap_status.code(), "DecodeFrame differs between an arena and the heap");
  if (!s.ok()) {
    const uint64_t id = s.code() == Status::Code::kUnsupportedFrame ? frame.correlation_id()
                                                                   : refx::PeekCorrelationId(data, size);
    v1::Frame reply = refx::ErrorFrame(id, s);
    Check(refx::StatusFromError(reply.error()).code() == s.code(), "an error reply does not say its status");
    v1::Frame back;
    const std::string bytes = refx::EncodeFrame(reply);
    Check(refx::DecodeFrame(bytes.data(), bytes.size(), kMaxFrameBytes, &back).ok(), "an error reply does not decode");
    return 0;
  }
  // Unknown fields are kept, so the re-encoded frame decodes to the same one.
  const std::string bytes = refx::EncodeFrame(frame);
  v1::Frame again;
  Check(refx::DecodeFrame(bytes.data(), bytes.size(), bytes.size() + 1, &again).ok(), "a re-encoded frame does not decode");
  Check(google::protobuf::util::MessageDifferencer::Equals(frame, again), "a re-encoded frame decodes differently");
  CheckJson(frame);

  switch (frame.body_case()) {
    case v1::Frame::kSubmit:
      CheckReferral(frame.submit().referral());
      break;
    case v1::Frame::kSubmitBatch:
      for (const v1::Referral& r : frame.submit_batch().referrals()) CheckReferral(r);
      break;
    case v1::Frame::kAppend:
      CheckAppend(frame.append().event(), frame.correlation_id());
      break;
    case v1::Frame::kAppendBatch:
      for (const v1::AppendRequest& a : frame.append_batch().appends()) CheckAppend(a.event(), frame.correlation_id());
      break;
    case v1::Frame::kError: {
      v1::Error copy;
      refx::FillError(refx::StatusFromError(frame.error()), &copy);
      break;
    }
    default:
      break;
  }
  return 0;
}
