// Encoding and decoding of wire frames (refx.v1.Frame), one per ZeroMQ
// message, with the size limit applied before parsing. Pure functions;
// thread-safe.
#pragma once

#include <cstddef>
#include <string>

#include "core/status.h"
#include "refx/v1/wire.pb.h"

namespace refx {

// Parses one frame. FrameTooLarge if size > max_bytes (nothing is parsed),
// MalformedFrame if the bytes are not a Frame, UnsupportedFrame if it has no
// body.
Status DecodeFrame(const void* data, size_t size, size_t max_bytes, v1::Frame* out);

std::string EncodeFrame(const v1::Frame& frame);

// An error reply for `correlation_id` carrying the status' wire code,
// message and field path.
v1::Frame ErrorFrame(uint64_t correlation_id, const Status& status);

// Sets *error to the status' wire code, message, field path and field
// violations (a status
// code with no wire number becomes INTERNAL).
void FillError(const Status& status, v1::Error* error);

// The status an Error reply stands for. Codes this version does not know
// become Internal.
Status StatusFromError(const v1::Error& error);

// Best effort: the correlation id of a frame that could not be decoded
// (too large or malformed), read from its first field; 0 if it cannot tell.
// Lets the broker address its error reply to the request that caused it.
uint64_t PeekCorrelationId(const void* data, size_t size);

}  // namespace refx
