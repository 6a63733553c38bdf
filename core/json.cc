#include "core/json.h"

#include <google/protobuf/util/json_util.h>

#include <cctype>

#include <nlohmann/json.hpp>

#include "core/fast_json.h"

namespace refx {

namespace util = google::protobuf::util;

namespace {

// "LINE:COLUMN" (both from 1) of byte offset `offset` in `text`.
std::string LineColumn(const std::string& text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

// Where protobuf's parser complains about a field it names: its messages
// start "NAME: ..." (an unknown field) or "(a.b_c): ..." (a bad value). The
// first quoted key in `text` with that name (as written, or in
// lowerCamelCase) is taken as the place; "" if none.
std::string WhereNamed(const std::string& text, const std::string& message) {
  const size_t colon = message.find(": ");
  if (colon == std::string::npos) return "";
  std::string name = message.substr(0, colon);
  if (name.size() > 2 && name.front() == '(' && name.back() == ')') name = name.substr(1, name.size() - 2);
  name = name.substr(name.rfind('.') == std::string::npos ? 0 : name.rfind('.') + 1);
  if (name.empty() || name.find_first_of("\" ()\n") != std::string::npos) return "";
  std::string camel;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '_' && i + 1 < name.size()) {
      camel += static_cast<char>(std::toupper(static_cast<unsigned char>(name[++i])));
    } else {
      camel += name[i];
    }
  }
  for (const std::string& key : {name, camel}) {
    const size_t at = text.find("\"" + key + "\"");
    if (at != std::string::npos) return LineColumn(text, at + 1);
  }
  return "";
}

}  // namespace

Status MessageFromJson(const std::string& json, google::protobuf::Message* out) {
  // Strict JSON first (RFC 8259): protobuf's parser lets unquoted keys,
  // single quotes and trailing commas through, and says nowhere where.
  try {
    [[maybe_unused]] const nlohmann::json strict =
        nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is the 1-based offset of the byte after the error.
    const size_t offset = e.byte == 0 ? 0 : e.byte - 1;
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..." -> "syntax error ..."
    const size_t reason = what.find(": ", what.find("parse error"));
    if (reason != std::string::npos) what = what.substr(reason + 2);
    // "; last read: '...'" quotes the input, which may be personal data.
    const size_t quoted = what.find("; last read: '");
    if (quoted != std::string::npos) {
      const size_t end = what.find("'", quoted + 14);
      what.erase(quoted, end == std::string::npos ? std::string::npos : end + 1 - quoted);
    }
    return Status::InvalidArgument("not valid JSON at " + LineColumn(json, offset) + ": " + what);
  } catch (const nlohmann::json::exception&) {
    // Well-formed but not representable: nlohmann throws out_of_range for
    // a number beyond a double ("1e999"). Uncaught it ended the process
    // (found by fuzz/fuzz_json_referral.cc); its message quotes the input.
    return Status::InvalidArgument("not valid JSON: a number is too large to represent");
  }
  util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto s = util::JsonStringToMessage(json, out, options);
  if (!s.ok()) {
    // The parser's message may span lines (with a caret); keep the first.
    std::string message(s.message());
    message = message.substr(0, message.find('\n'));
    const std::string where = WhereNamed(json, message);
    return Status::InvalidArgument("invalid JSON for " + out->GetTypeName() + (where.empty() ? "" : " at " + where) +
                                   ": " + message);
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

std::string ToJsonLine(const google::protobuf::Message& m) {
  std::string out;
  if (AppendFastJson(m, &out)) return out;  // the same bytes, much sooner
  return Print(m, false);
}
std::string ToJsonPretty(const google::protobuf::Message& m) { return Print(m, true); }

}  // namespace refx
