#include "core/status.h"

namespace refx {

const char* Status::CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kMalformedFrame: return "MALFORMED_FRAME";
    case Code::kUnsupportedFrame: return "UNSUPPORTED_FRAME";
    case Code::kFrameTooLarge: return "FRAME_TOO_LARGE";
    case Code::kInvalidArgument: return "INVALID_ARGUMENT";
    case Code::kPermissionDenied: return "PERMISSION_DENIED";
    case Code::kUnknownAgency: return "UNKNOWN_AGENCY";
    case Code::kIllegalTransition: return "ILLEGAL_TRANSITION";
    case Code::kNotFound: return "NOT_FOUND";
    case Code::kUnavailable: return "UNAVAILABLE";
    case Code::kInternal: return "INTERNAL";
    case Code::kIdempotencyConflict: return "IDEMPOTENCY_CONFLICT";
    case Code::kIoError: return "IO_ERROR";
    case Code::kCorruption: return "CORRUPTION";
    case Code::kTimeout: return "TIMEOUT";
  }
  return "UNKNOWN";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = CodeName(code_);
  out += ": ";
  if (!field_path_.empty()) {
    out += field_path_;
    out += ": ";
  }
  out += message_;
  return out;
}

}  // namespace refx
