// Status: the result of an operation that can fail, in the style of
// leveldb::Status / absl::Status. A Status is either OK or carries a code,
// a human-readable message and, for bad input, the dotted path of the
// offending field. The codes mirror refx.v1.ErrorCode on the wire so an
// error travels from validation to the client unchanged.
//
// Thread-safety: a Status is a value; distinct objects may be used from
// distinct threads, a shared one only for reading.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace refx {

// One offending field of an invalid input: its dotted path and what is
// wrong with it (refx.v1.FieldViolation on the wire).
struct FieldViolation {
  std::string field_path;
  std::string message;
};

class [[nodiscard]] Status {
 public:
  // Kept in step with refx.v1.ErrorCode (same numbers).
  enum class Code {
    kOk = 0,
    kMalformedFrame = 1,
    kUnsupportedFrame = 2,
    kFrameTooLarge = 3,
    kInvalidArgument = 4,
    kPermissionDenied = 5,
    kUnknownAgency = 6,
    kIllegalTransition = 7,
    kNotFound = 8,
    kUnavailable = 9,
    kInternal = 10,
    kIdempotencyConflict = 11,
    // Local-only codes (never sent on the wire).
    kIoError = 100,
    kCorruption = 101,
    kTimeout = 102,
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status MalformedFrame(std::string msg) { return Status(Code::kMalformedFrame, std::move(msg)); }
  static Status UnsupportedFrame(std::string msg) { return Status(Code::kUnsupportedFrame, std::move(msg)); }
  static Status FrameTooLarge(std::string msg) { return Status(Code::kFrameTooLarge, std::move(msg)); }
  static Status InvalidArgument(std::string msg, std::string field_path = {}) {
    return Status(Code::kInvalidArgument, std::move(msg), std::move(field_path));
  }
  static Status PermissionDenied(std::string msg) { return Status(Code::kPermissionDenied, std::move(msg)); }
  static Status UnknownAgency(std::string msg, std::string field_path = {}) {
    return Status(Code::kUnknownAgency, std::move(msg), std::move(field_path));
  }
  static Status IllegalTransition(std::string msg) { return Status(Code::kIllegalTransition, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status Unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }
  static Status IdempotencyConflict(std::string msg, std::string field_path = {}) {
    return Status(Code::kIdempotencyConflict, std::move(msg), std::move(field_path));
  }
  // InvalidArgument for every offending field at once (`violations` must
  // not be empty): field_path() and the start of message() are the first's,
  // and the message goes on "(and N more: PATH: MESSAGE; ...)" so a reader
  // of those two alone still sees every field. violations() lists each.
  static Status InvalidFields(std::vector<FieldViolation> violations);
  static Status IoError(std::string msg) { return Status(Code::kIoError, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status Timeout(std::string msg) { return Status(Code::kTimeout, std::move(msg)); }

  Status(Code code, std::string message, std::string field_path = {})
      : code_(code), message_(std::move(message)), field_path_(std::move(field_path)) {}
  Status(Code code, std::string message, std::string field_path, std::vector<FieldViolation> violations)
      : code_(code),
        message_(std::move(message)),
        field_path_(std::move(field_path)),
        violations_(std::move(violations)) {}

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& field_path() const { return field_path_; }
  // Every offending field (InvalidFields, or an Error that carried them);
  // empty for any other status.
  const std::vector<FieldViolation>& violations() const { return violations_; }

  // The same status with field_path() and each violation's path passed
  // through `rebase` (e.g. "referral.x" -> "submit.referral.x"); the message
  // is rebuilt to match when there are violations.
  Status WithFieldPaths(const std::function<std::string(const std::string&)>& rebase) const;

  // "INVALID_ARGUMENT: referral.assessment.dash_answers: must hold 24 answers, got 23"
  std::string ToString() const;
  static const char* CodeName(Code code);

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string field_path_;
  std::vector<FieldViolation> violations_;
};

// Returns early from the enclosing function when `expr` is not OK.
#define REFX_RETURN_IF_ERROR(expr)          \
  do {                                      \
    ::refx::Status refx_status__ = (expr);  \
    if (!refx_status__.ok()) return refx_status__; \
  } while (0)

}  // namespace refx
