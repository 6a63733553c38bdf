// JSON in and out through protobuf's JSON mapping (never hand-written JSON).
// Pure functions; thread-safe.
#pragma once

#include <string>

#include <google/protobuf/message.h>

#include "core/status.h"

namespace refx {

// Parses `json` into `out`. The text must be strict JSON (RFC 8259: quoted
// keys, no trailing commas, no comments), checked with nlohmann::json before
// protobuf's more lenient parser maps it; unknown fields are refused.
// InvalidArgument on failure, saying where as LINE:COLUMN (from 1) when it
// can tell; `out` may then be partly set.
Status MessageFromJson(const std::string& json, google::protobuf::Message* out);

// One-line JSON (lowerCamelCase names, enums as names): protobuf's mapping,
// printed by core/fast_json.h where it can (the same bytes, for bulk output)
// and by protobuf otherwise.
std::string ToJsonLine(const google::protobuf::Message& message);

// Indented JSON for people.
std::string ToJsonPretty(const google::protobuf::Message& message);

}  // namespace refx
