#include "core/frame_codec.h"

namespace refx {

Status DecodeFrame(const void* data, size_t size, size_t max_bytes, v1::Frame* out) {
  if (size > max_bytes) {
    return Status::FrameTooLarge("frame of " + std::to_string(size) + " bytes exceeds the limit of " +
                                 std::to_string(max_bytes));
  }
  if (!out->ParseFromArray(data, static_cast<int>(size))) {
    return Status::MalformedFrame("frame is not a valid refx.v1.Frame protobuf");
  }
  if (out->body_case() == v1::Frame::BODY_NOT_SET) {
    return Status::UnsupportedFrame("frame has no body (or a body this broker does not know)");
  }
  return Status::OK();
}

std::string EncodeFrame(const v1::Frame& frame) { return frame.SerializeAsString(); }

v1::Frame ErrorFrame(uint64_t correlation_id, const Status& status) {
  v1::Frame f;
  f.set_correlation_id(correlation_id);
  FillError(status, f.mutable_error());
  return f;
}

void FillError(const Status& status, v1::Error* error) {
  const int code = static_cast<int>(status.code());
  error->set_code(v1::ErrorCode_IsValid(code) ? static_cast<v1::ErrorCode>(code) : v1::INTERNAL);
  error->set_message(status.message());
  error->set_field_path(status.field_path());
  for (const FieldViolation& v : status.violations()) {
    v1::FieldViolation* out = error->add_violations();
    out->set_field_path(v.field_path);
    out->set_message(v.message);
  }
}

Status StatusFromError(const v1::Error& error) {
  // Only wire codes map across; anything else (unset, unknown to this
  // version, or a local-only number) is INTERNAL.
  const int wire = static_cast<int>(error.code());
  const bool known = error.code() != v1::ERROR_CODE_UNSPECIFIED && v1::ErrorCode_IsValid(wire);
  std::vector<FieldViolation> violations;
  for (const v1::FieldViolation& v : error.violations()) violations.push_back({v.field_path(), v.message()});
  return Status(known ? static_cast<Status::Code>(wire) : Status::Code::kInternal, error.message(),
                error.field_path(), std::move(violations));
}

uint64_t PeekCorrelationId(const void* data, size_t size) {
  // Protobuf writes fields in field-number order, so a Frame's bytes start
  // with field 1 (correlation_id, varint: tag byte 0x08) when it is set.
  const auto* p = static_cast<const uint8_t*>(data);
  if (size < 2 || p[0] != 0x08) return 0;
  uint64_t value = 0;
  for (size_t i = 1; i < size && i <= 10; ++i) {
    value |= static_cast<uint64_t>(p[i] & 0x7f) << (7 * (i - 1));
    if ((p[i] & 0x80) == 0) return value;
  }
  return 0;
}

}  // namespace refx
