// A faster printer of protobuf's JSON mapping, for the bulk paths (`refx
// audit replay --json` prints millions of events): the same bytes as
// google::protobuf::util::MessageToJsonString with lowerCamelCase names and
// no whitespace, written straight from reflection instead of through
// protobuf's type resolver and object writer (about 20x slower).
//
// It prints only what it can print exactly: messages made of integers,
// bools, enums, strings (UTF-8), bytes (base64), nested messages and
// google.protobuf.Timestamp. Anything else (floating point, maps, other
// well-known types, a string that is not UTF-8 or holds one of the
// invisible characters protobuf escapes beyond ASCII, a timestamp out of
// JSON's range) makes it decline, and the caller uses protobuf's printer
// (core/json.h ToJsonLine does). tests/unit/fast_json_test.cc holds it to
// protobuf's output on varied messages and every code point of the BMP.
//
// Thread-safe (a per-thread cache of which message types it can print).
#pragma once

#include <string>

#include <google/protobuf/message.h>

namespace refx {

// Appends `message` as one line of JSON to *out and returns true, or returns
// false with *out as it was when it cannot print it exactly (see above).
bool AppendFastJson(const google::protobuf::Message& message, std::string* out);

}  // namespace refx
