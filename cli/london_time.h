// Times as people in the partnership read and write them on the command
// line: UK civil time (Europe/London, GMT in winter and BST in summer, from
// core/london_time.h), while the log, the wire and every --json output stay
// in UTC. Pure functions; thread-safe.
#pragma once

#include <google/protobuf/timestamp.pb.h>

#include <cstdint>
#include <string>

namespace refx::cli {

// "2027-01-15 17:00:05 GMT" / "2027-07-15 18:00:05 BST" (whole seconds), or
// "-" when `time` is unset.
std::string FormatLondon(const google::protobuf::Timestamp& time);

// The span of time a command-line argument names, [start, end):
//   "2027-01-15"                      the whole of that day in Europe/London
//   "2027-01-15T17:00:05Z", "...+01:00" (RFC 3339, zone given) that second,
//                                      or to the precision written
//                                      ("17:00:05.25Z" is a hundredth)
//   "2027-01-15T17:00:05", "2027-01-15 17:00" (no zone) the same in
//                                      Europe/London time
struct TimeSpan {
  google::protobuf::Timestamp start;
  google::protobuf::Timestamp end;  // exclusive
  bool whole_day = false;           // the text was a date alone
};

// Parses `text` as above. False for anything else.
bool ParseTimeSpan(const std::string& text, TimeSpan* out);

// What each form means, for --help texts.
inline constexpr char kTimeArgumentHelp[] =
    "YYYY-MM-DD (a day in Europe/London), YYYY-MM-DDTHH:MM[:SS] (Europe/London time) or RFC 3339 with a zone "
    "(2027-01-15T17:00:00Z)";

}  // namespace refx::cli
