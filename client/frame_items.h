// Frame bytes written around messages that are not copied into a Frame.
//
// A windowed or batched submit used to copy each referral (every string of
// it) into a v1::Frame only to serialise that frame and free it: for a
// 1 KB referral, most of the client's CPU per request. EncodeFrameItems
// writes the same bytes without the copy: the frame's head (correlation id,
// on_behalf_of: fields 1 and 2) serialised by protobuf, then one body field
// written by hand holding one field per item, each item a message
// serialised in place or bytes serialised before (a spooled referral).
// Fields come in number order and each item as protobuf writes it, so the
// bytes are protobuf's own for the equivalent Frame (frame_items_test).
//
// Thread-safety: a pure function. The items are only read (their cached
// sizes are set, as any serialisation of a const message does).
#pragma once

#include <google/protobuf/message_lite.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "refx/v1/wire.pb.h"

namespace refx {

// One item of a frame's body: `message` serialised in place when set, else
// `bytes` (already a serialised message) as they are.
struct FrameItem {
  FrameItem(const google::protobuf::MessageLite& m) : message(&m) {}  // NOLINT: implicit on purpose
  FrameItem(std::string_view b) : bytes(b) {}                         // NOLINT: implicit on purpose
  const google::protobuf::MessageLite* message = nullptr;
  std::string_view bytes;
};

// Items [begin, end) of `all`: messages, or serialised bytes.
template <class T>
std::vector<FrameItem> FrameItemsOf(const std::vector<T>& all, size_t begin, size_t end) {
  return std::vector<FrameItem>(all.begin() + static_cast<std::ptrdiff_t>(begin),
                                all.begin() + static_cast<std::ptrdiff_t>(end));
}

// Replaces *out with the bytes of `head` (which must have no body) plus
// body field `body_field` of v1::Frame (a message type whose field
// `item_field` is a message, singular or repeated) holding `items` in
// order.
void EncodeFrameItems(const v1::Frame& head, int body_field, int item_field, const std::vector<FrameItem>& items,
                      std::string* out);

}  // namespace refx
