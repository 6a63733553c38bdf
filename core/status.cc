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

Status Status::InvalidFields(std::vector<FieldViolation> violations) {
  if (violations.empty()) return InvalidArgument("invalid input");
  std::string message = violations.front().message;
  if (violations.size() > 1) {
    message += " (and " + std::to_string(violations.size() - 1) + " more: ";
    for (size_t i = 1; i < violations.size(); ++i) {
      if (i > 1) message += "; ";
      message += violations[i].field_path + ": " + violations[i].message;
    }
    message += ")";
  }
  std::string path = violations.front().field_path;
  return Status(Code::kInvalidArgument, std::move(message), std::move(path), std::move(violations));
}

Status Status::WithFieldPaths(const std::function<std::string(const std::string&)>& rebase) const {
  std::vector<FieldViolation> moved = violations_;
  for (FieldViolation& v : moved) v.field_path = rebase(v.field_path);
  // The message of InvalidFields names the paths: build it again.
  if (!moved.empty() && code_ == Code::kInvalidArgument) return InvalidFields(std::move(moved));
  return Status(code_, message_, field_path_.empty() ? field_path_ : rebase(field_path_), std::move(moved));
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
