#include "client/frame_items.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

namespace refx {

void EncodeFrameItems(const v1::Frame& head, int body_field, int item_field, const std::vector<FrameItem>& items,
                      std::string* out) {
  using google::protobuf::internal::WireFormatLite;
  using google::protobuf::io::CodedOutputStream;
  const uint32_t item_tag = WireFormatLite::MakeTag(item_field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  // Each item's size once (a message's ByteSizeLong also caches the sizes
  // SerializeWithCachedSizes then uses).
  std::vector<size_t> sizes(items.size());
  size_t body_size = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    sizes[i] = items[i].message != nullptr ? items[i].message->ByteSizeLong() : items[i].bytes.size();
    body_size += CodedOutputStream::VarintSize32(item_tag) +
                 CodedOutputStream::VarintSize32(static_cast<uint32_t>(sizes[i])) + sizes[i];
  }
  out->clear();
  out->reserve(head.ByteSizeLong() + body_size + 16);
  google::protobuf::io::StringOutputStream stream(out);
  CodedOutputStream coded(&stream);
  head.SerializeToCodedStream(&coded);
  coded.WriteTag(WireFormatLite::MakeTag(body_field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  coded.WriteVarint32(static_cast<uint32_t>(body_size));
  for (size_t i = 0; i < items.size(); ++i) {
    coded.WriteTag(item_tag);
    coded.WriteVarint32(static_cast<uint32_t>(sizes[i]));
    if (items[i].message != nullptr) {
      items[i].message->SerializeWithCachedSizes(&coded);
    } else {
      coded.WriteRaw(items[i].bytes.data(), static_cast<int>(items[i].bytes.size()));
    }
  }
  coded.Trim();
}

}  // namespace refx
