#include "core/fast_json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>  // MessageOptions (map entries)
#include <google/protobuf/timestamp.pb.h>
#include <sodium.h>

#include <charconv>
#include <ctime>
#include <deque>
#include <unordered_map>
#include <vector>

namespace refx {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range of
// JSON timestamps.
constexpr int64_t kMinSeconds = -62135596800;
constexpr int64_t kMaxSeconds = 253402300799;

bool IsTimestamp(const Descriptor* d) { return d->full_name() == "google.protobuf.Timestamp"; }

// Whether every field of `d` (recursively) is of a kind this printer knows.
bool Printable(const Descriptor* d, std::unordered_map<const Descriptor*, bool>* memo) {
  auto it = memo->find(d);
  if (it != memo->end()) return it->second;
  (*memo)[d] = true;  // a recursive type is printable if the rest of it is
  bool ok = !d->options().map_entry() && (IsTimestamp(d) || d->file()->package() != "google.protobuf");
  for (int i = 0; ok && i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT:
        ok = false;
        break;
      case FieldDescriptor::CPPTYPE_STRING:  // string, and bytes as base64
        break;
      case FieldDescriptor::CPPTYPE_MESSAGE:
        ok = !f->is_map() && f->type() == FieldDescriptor::TYPE_MESSAGE && Printable(f->message_type(), memo);
        break;
      default:
        break;
    }
  }
  (*memo)[d] = ok;
  return ok;
}

// A bytes field as protobuf's JSON mapping prints it: standard base64 with
// padding, in quotes.
bool AppendBase64(const std::string& bytes, std::string* out) {
  const size_t encoded = sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  const size_t at = out->size();
  out->push_back('"');
  out->resize(at + 1 + encoded);  // encoded counts the terminating NUL
  sodium_bin2base64(&(*out)[at + 1], encoded, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out->resize(at + encoded);  // drop the NUL
  out->push_back('"');
  return true;
}

// Whether protobuf prints ASCII character `c` in a string as it is.
inline bool IsPlain(unsigned char c) {
  return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>';
}

// Whether protobuf's printer writes code point `cp` (above 0x7F) as it is.
// It escapes the C1 controls and a list of invisible or format characters
// (soft hyphen, zero-width and direction marks, line and paragraph
// separators, BOM, tags...) as \uXXXX; those make this printer decline.
bool PrintedAsIs(uint32_t cp) {
  if (cp <= 0x9f) return false;
  if (cp == 0xad || (cp >= 0x600 && cp <= 0x603) || cp == 0x6dd || cp == 0x70f || cp == 0x17b4 || cp == 0x17b5) {
    return false;
  }
  if ((cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2064) ||
      (cp >= 0x206a && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) ||
      (cp >= 0xe0000 && cp <= 0xe007f)) {
    return false;
  }
  return true;
}

// The length of the well-formed UTF-8 sequence at p (shortest form, no
// surrogates, at most U+10FFFF) whose code point protobuf prints as it is;
// 0 otherwise.
size_t PlainUtf8(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = p[0];
  size_t n;
  uint32_t cp;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (static_cast<size_t>(end - p) < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return PrintedAsIs(cp) ? n : 0;
}

// A JSON string, escaped as protobuf escapes it; false for bytes that are
// not UTF-8 or a character protobuf escapes beyond ASCII (see PrintedAsIs).
bool AppendString(const std::string& s, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  const char* p = s.data();
  const char* const end = p + s.size();
  while (p < end) {
    // A run of characters printed as they are, appended at once.
    const char* run = p;
    while (p < end && IsPlain(static_cast<unsigned char>(*p))) ++p;
    out->append(run, static_cast<size_t>(p - run));
    if (p == end) break;
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c >= 0x80) {
      const size_t n = PlainUtf8(reinterpret_cast<const unsigned char*>(p), reinterpret_cast<const unsigned char*>(end));
      if (n == 0) return false;
      out->append(p, n);
      p += n;
      continue;
    }
    ++p;
    switch (c) {
      case '"':
        out->append("\\\"");
        continue;
      case '\\':
        out->append("\\\\");
        continue;
      case '\b':
        out->append("\\b");
        continue;
      case '\f':
        out->append("\\f");
        continue;
      case '\n':
        out->append("\\n");
        continue;
      case '\r':
        out->append("\\r");
        continue;
      case '\t':
        out->append("\\t");
        continue;
      case '<':
      case '>':
      case 0x7f:
        break;
      default:
        break;
    }
    out->append("\\u00");
    out->push_back(kHex[c >> 4]);
    out->push_back(kHex[c & 0xf]);
  }
  out->push_back('"');
  return true;
}

// RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as protobuf prints a
// Timestamp; false outside JSON's range.
bool AppendTimestamp(const Message& m, std::string* out) {
  const Reflection* r = m.GetReflection();
  const Descriptor* d = m.GetDescriptor();
  const int64_t seconds = r->GetInt64(m, d->FindFieldByNumber(1));
  const int32_t nanos = r->GetInt32(m, d->FindFieldByNumber(2));
  if (seconds < kMinSeconds || seconds > kMaxSeconds || nanos < 0 || nanos > 999999999) return false;
  // Civil date from days since the epoch (H. Hinnant's algorithm).
  int64_t days = seconds / 86400, rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  // Digits written by hand: snprintf was a tenth of the time of printing an
  // event (a timestamp or two in every one).
  char buf[40];
  char* p = buf;
  auto digits = [&p](int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i, v /= 10) p[i] = static_cast<char>('0' + v % 10);
    p += width;
  };
  *p++ = '"';
  digits(year, 4);
  *p++ = '-';
  digits(month, 2);
  *p++ = '-';
  digits(day, 2);
  *p++ = 'T';
  digits(rem / 3600, 2);
  *p++ = ':';
  digits(rem / 60 % 60, 2);
  *p++ = ':';
  digits(rem % 60, 2);
  if (nanos != 0) {
    *p++ = '.';
    if (nanos % 1000000 == 0) {
      digits(nanos / 1000000, 3);
    } else if (nanos % 1000 == 0) {
      digits(nanos / 1000, 6);
    } else {
      digits(nanos, 9);
    }
  }
  out->append(buf, static_cast<size_t>(p - buf));
  out->append("Z\"");
  return true;
}

bool AppendMessage(const Message& m, std::string* out, int depth);

// An integer in decimal, as std::to_string prints it, without a temporary.
template <typename Int>
void AppendInt(Int v, std::string* out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, static_cast<size_t>(r.ptr - buf));
}

// One value of field `f` (element `index` when repeated).
bool AppendValue(const Message& m, const FieldDescriptor* f, int index, std::string* out, int depth) {
  const Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      AppendInt(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f), out);
      return true;
    case FieldDescriptor::CPPTYPE_UINT32:
      AppendInt(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f), out);
      return true;
    case FieldDescriptor::CPPTYPE_INT64:
      out->push_back('"');
      AppendInt(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f), out);
      out->push_back('"');
      return true;
    case FieldDescriptor::CPPTYPE_UINT64:
      out->push_back('"');
      AppendInt(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f), out);
      out->push_back('"');
      return true;
    case FieldDescriptor::CPPTYPE_BOOL:
      out->append((rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false");
      return true;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int number = rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
      const auto* value = f->enum_type()->FindValueByNumber(number);
      if (value == nullptr) {
        AppendInt(number, out);  // an unknown value prints as its number
      } else {
        out->push_back('"');
        out->append(value->name());
        out->push_back('"');
      }
      return true;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s =
          rep ? r->GetRepeatedStringReference(m, f, index, &scratch) : r->GetStringReference(m, f, &scratch);
      if (f->type() == FieldDescriptor::TYPE_BYTES) return AppendBase64(s, out);
      return AppendString(s, out);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& sub = rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f);
      return IsTimestamp(f->message_type()) ? AppendTimestamp(sub, out) : AppendMessage(sub, out, depth + 1);
    }
    default:
      return false;
  }
}

bool AppendMessage(const Message& m, std::string* out, int depth) {
  const Reflection* r = m.GetReflection();
  // The fields protobuf prints: those set (for proto3 scalars, non-default),
  // in field-number order. One list per nesting depth, kept between calls
  // (ListFields clears it), so that printing allocates none.
  // (A deque: growing it for a deeper message keeps this depth's list in place.)
  thread_local std::deque<std::vector<const FieldDescriptor*>> lists;
  if (lists.size() <= static_cast<size_t>(depth)) lists.resize(static_cast<size_t>(depth) + 1);
  std::vector<const FieldDescriptor*>& fields = lists[static_cast<size_t>(depth)];
  r->ListFields(m, &fields);
  out->push_back('{');
  bool first = true;
  for (const FieldDescriptor* f : fields) {
    if (!first) out->push_back(',');
    first = false;
    out->push_back('"');
    out->append(f->json_name());
    out->append("\":");
    if (f->is_repeated()) {
      out->push_back('[');
      const int n = r->FieldSize(m, f);
      for (int i = 0; i < n; ++i) {
        if (i > 0) out->push_back(',');
        if (!AppendValue(m, f, i, out, depth)) return false;
      }
      out->push_back(']');
    } else if (!AppendValue(m, f, 0, out, depth)) {
      return false;
    }
  }
  out->push_back('}');
  return true;
}

}  // namespace

bool AppendFastJson(const Message& message, std::string* out) {
  thread_local std::unordered_map<const Descriptor*, bool> printable;
  const Descriptor* d = message.GetDescriptor();
  if (IsTimestamp(d) || !Printable(d, &printable)) return false;  // a bare Timestamp prints as a string
  const size_t size = out->size();
  if (AppendMessage(message, out, 0)) return true;
  out->resize(size);
  return false;
}

}  // namespace refx
