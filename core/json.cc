#include "core/json.h"

#include <google/protobuf/util/json_util.h>

namespace refx {

namespace util = google::protobuf::util;

Status MessageFromJson(const std::string& json, google::protobuf::Message* out) {
  util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto s = util::JsonStringToMessage(json, out, options);
  if (!s.ok()) {
    // The parser's message may span lines (with a caret); keep the first.
    std::string message(s.message());
    message = message.substr(0, message.find('\n'));
    return Status::InvalidArgument("invalid JSON for " + out->GetTypeName() + ": " + message);
  }
  return Status::OK();
}

namespace {
std::string Print(const google::protobuf::Message& m, bool pretty) {
  util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.preserve_proto_field_names = false;
  std::string out;
  (void)util::MessageToJsonString(m, &out, options);
  return out;
}
}  // namespace

std::string ToJsonLine(const google::protobuf::Message& m) { return Print(m, false); }
std::string ToJsonPretty(const google::protobuf::Message& m) { return Print(m, true); }

}  // namespace refx
