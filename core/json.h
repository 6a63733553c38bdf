// JSON in and out through protobuf's JSON mapping (never hand-written JSON).
// Pure functions; thread-safe.
#pragma once

#include <string>

#include <google/protobuf/message.h>

#include "core/status.h"

namespace refx {

// Parses `json` into `out` (unknown fields are refused). InvalidArgument
// saying where the JSON is wrong on failure; `out` may then be partly set.
Status MessageFromJson(const std::string& json, google::protobuf::Message* out);

// One-line JSON (lowerCamelCase names, enums as names).
std::string ToJsonLine(const google::protobuf::Message& message);

// Indented JSON for people.
std::string ToJsonPretty(const google::protobuf::Message& message);

}  // namespace refx
