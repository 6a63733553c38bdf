// Errors of protobuf's text-format parser as "FILE:LINE:COLUMN: message",
// shared by every configuration loader (the partnership configuration, the
// adapter's), so each reports a bad file the same way.
#ifndef REFX_CORE_TEXT_FORMAT_ERRORS_H_
#define REFX_CORE_TEXT_FORMAT_ERRORS_H_

#include <google/protobuf/io/tokenizer.h>

#include <string>
#include <utility>

namespace refx {

// Keeps the first error the parser reports, located in the file `name`
// (lines and columns from 1). Not thread-safe; one per parse.
class CollectFirstError : public google::protobuf::io::ErrorCollector {
 public:
  explicit CollectFirstError(std::string name) : name_(std::move(name)) {}
  void AddError(int line, int column, const std::string& message) override {
    if (error_.empty()) {
      error_ = name_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
    }
  }
  // Empty when the parser reported nothing.
  const std::string& error() const { return error_; }

 private:
  std::string name_;
  std::string error_;
};

}  // namespace refx

#endif  // REFX_CORE_TEXT_FORMAT_ERRORS_H_
