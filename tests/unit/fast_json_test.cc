// core/fast_json.h prints exactly what protobuf's JSON mapping prints
// (MessageToJsonString, lowerCamelCase, no whitespace), or declines.
// Varied messages: every kind of Event body, the referral inside, with
// every field filled at random (strings over all of ASCII, enums with
// unknown numbers, timestamps with 0/3/6/9 fractional digits, repeated
// fields of several lengths, values at their type's limits).
#include <gtest/gtest.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <limits>
#include <random>

#include "core/fast_json.h"
#include "core/json.h"
#include "refx/v1/checkpoint.pb.h"
#include "refx/v1/event.pb.h"
#include "refx/v1/wire.pb.h"

namespace refx {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string Protobufs(const Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &out, options).ok());
  return out;
}

class Filler {
 public:
  explicit Filler(uint32_t seed) : rng_(seed) {}

  // Sets a random selection of m's fields (one of each oneof), recursing
  // into messages up to a depth.
  void Fill(Message* m, int depth = 0) {
    const Descriptor* d = m->GetDescriptor();
    const Reflection* r = m->GetReflection();
    if (d->full_name() == "google.protobuf.Timestamp") {
      static const int32_t kNanos[] = {0, 5000000, 120000, 7, 999999999, 100000000};
      r->SetInt64(m, d->FindFieldByNumber(1), Pick<int64_t>(-62135596800, 253402300799));
      r->SetInt32(m, d->FindFieldByNumber(2), kNanos[Pick<int>(0, 5)]);
      return;
    }
    for (int i = 0; i < d->oneof_decl_count(); ++i) {
      const auto* oneof = d->oneof_decl(i);
      if (Pick<int>(0, 3) == 0) continue;
      FillField(m, oneof->field(Pick<int>(0, oneof->field_count() - 1)), depth);
    }
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (f->containing_oneof() != nullptr || Pick<int>(0, 4) == 0) continue;
      FillField(m, f, depth);
    }
  }

 private:
  template <typename T>
  T Pick(T lo, T hi) {
    return std::uniform_int_distribution<T>(lo, hi)(rng_);
  }

  std::string Text() {
    static const std::string kWords[] = {"", "R-0000000042", "Kent Police", "DA_MARAC", "a \"quoted\" <b>note</b>",
                                         "back\\slash", "tab\tnew\nline\r", "0"};
    if (Pick<int>(0, 2) > 0) return kWords[Pick<int>(0, 7)];
    std::string s(static_cast<size_t>(Pick<int>(0, 12)), ' ');
    for (char& c : s) c = static_cast<char>(Pick<int>(0, 127));
    return s;
  }

  template <typename T>
  T Number() {
    switch (Pick<int>(0, 3)) {
      case 0:
        return std::numeric_limits<T>::min();
      case 1:
        return std::numeric_limits<T>::max();
      case 2:
        return 0;
      default:
        return static_cast<T>(Pick<int64_t>(-100000, 100000));
    }
  }

  void FillField(Message* m, const FieldDescriptor* f, int depth) {
    const Reflection* r = m->GetReflection();
    const int count = f->is_repeated() ? Pick<int>(0, 3) : 1;
    for (int n = 0; n < count; ++n) {
      const bool rep = f->is_repeated();
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT32:
          rep ? r->AddInt32(m, f, Number<int32_t>()) : r->SetInt32(m, f, Number<int32_t>());
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          rep ? r->AddUInt32(m, f, Number<uint32_t>()) : r->SetUInt32(m, f, Number<uint32_t>());
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          rep ? r->AddInt64(m, f, Number<int64_t>()) : r->SetInt64(m, f, Number<int64_t>());
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          rep ? r->AddUInt64(m, f, Number<uint64_t>()) : r->SetUInt64(m, f, Number<uint64_t>());
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          rep ? r->AddBool(m, f, Pick<int>(0, 1) == 1) : r->SetBool(m, f, Pick<int>(0, 1) == 1);
          break;
        case FieldDescriptor::CPPTYPE_ENUM: {
          // Mostly named values, sometimes a number the enum does not name.
          const auto* e = f->enum_type();
          const int number = Pick<int>(0, 5) == 0 ? 1000 + Pick<int>(0, 9) : e->value(Pick<int>(0, e->value_count() - 1))->number();
          rep ? r->AddEnumValue(m, f, number) : r->SetEnumValue(m, f, number);
          break;
        }
        case FieldDescriptor::CPPTYPE_STRING:
          rep ? r->AddString(m, f, Text()) : r->SetString(m, f, Text());
          break;
        case FieldDescriptor::CPPTYPE_MESSAGE:
          if (depth < 6) Fill(rep ? r->AddMessage(m, f) : r->MutableMessage(m, f), depth + 1);
          break;
        default:
          break;  // floating point and bytes: the printer declines those types (tested below)
      }
    }
  }

  std::mt19937 rng_;
};

TEST(FastJsonTest, PrintsEveryKindOfEventExactlyAsProtobufDoes) {
  Filler filler(20261204);
  int printed = 0;
  const Descriptor* body = v1::Event::descriptor();
  for (int round = 0; round < 3000; ++round) {
    v1::Event event;
    filler.Fill(&event);
    // Every body kind in turn, besides what the filler chose.
    const auto* oneof = body->oneof_decl(0);
    const FieldDescriptor* kind = oneof->field(round % oneof->field_count());
    filler.Fill(event.GetReflection()->MutableMessage(&event, kind));
    std::string fast;
    ASSERT_TRUE(AppendFastJson(event, &fast)) << event.ShortDebugString();
    ASSERT_EQ(fast, Protobufs(event)) << event.ShortDebugString();
    EXPECT_EQ(ToJsonLine(event), fast);
    ++printed;
  }
  EXPECT_EQ(printed, 3000);
}

TEST(FastJsonTest, EveryAsciiCharacterIsEscapedAsProtobufEscapesIt) {
  for (int c = 0; c < 128; ++c) {
    v1::Event event;
    event.set_actor(std::string("a") + static_cast<char>(c) + "z");
    std::string fast;
    ASSERT_TRUE(AppendFastJson(event, &fast)) << c;
    EXPECT_EQ(fast, Protobufs(event)) << "character " << c;
  }
}

// Text beyond ASCII (names such as "Zoë" or "Siân", curly quotes and dashes
// pasted into a narrative) prints through fast_json, as protobuf prints it:
// every code point of the Basic Multilingual Plane and a spread of the
// others. Where fast_json declines one, ToJsonLine still matches.
TEST(FastJsonTest, TextBeyondAsciiPrintsAsProtobufPrintsIt) {
  auto utf8 = [](uint32_t cp) {
    std::string s;
    if (cp < 0x800) {
      s += static_cast<char>(0xc0 | (cp >> 6));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xe0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    } else {
      s += static_cast<char>(0xf0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    }
    s += static_cast<char>(0x80 | (cp & 0x3f));
    return s;
  };
  std::vector<uint32_t> points;
  for (uint32_t cp = 0x80; cp < 0x10000; ++cp) {
    if (cp < 0xd800 || cp > 0xdfff) points.push_back(cp);
  }
  for (uint32_t cp = 0x10000; cp <= 0x10ffff; cp += 97) points.push_back(cp);
  for (uint32_t cp = 0xe0000; cp <= 0xe0100; ++cp) points.push_back(cp);
  int printed = 0;
  for (uint32_t cp : points) {
    v1::Event event;
    event.set_actor("a" + utf8(cp) + "z");
    std::string fast;
    if (AppendFastJson(event, &fast)) {
      ++printed;
      ASSERT_EQ(fast, Protobufs(event)) << "code point " << std::hex << cp;
    } else {
      ASSERT_EQ(ToJsonLine(event), Protobufs(event)) << "code point " << std::hex << cp;
    }
  }
  EXPECT_GT(printed, static_cast<int>(points.size()) - 300) << "fast_json declines only a short list";
  // What real referrals hold prints through fast_json.
  v1::Event named;
  named.set_actor("Zo\xc3\xab Si\xc3\xa2n \xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x80\x94 \xe6\x9d\x8e \xf0\x9f\x98\x80");
  std::string fast;
  ASSERT_TRUE(AppendFastJson(named, &fast));
  EXPECT_EQ(fast, Protobufs(named));
  // Bytes that are not UTF-8: declined, and protobuf's printer decides.
  for (const char* bad : {"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xc3", "\xf4\x90\x80\x80"}) {
    v1::Event event;
    event.set_actor(std::string("a") + bad);
    std::string out;
    EXPECT_FALSE(AppendFastJson(event, &out)) << bad;
  }
}

TEST(FastJsonTest, EmptyAndBoundaryMessages) {
  v1::Event event;
  std::string fast;
  ASSERT_TRUE(AppendFastJson(event, &fast));
  EXPECT_EQ(fast, Protobufs(event));
  event.mutable_time();  // set but zero: the epoch
  event.mutable_case_routed();
  fast.clear();
  ASSERT_TRUE(AppendFastJson(event, &fast));
  EXPECT_EQ(fast, Protobufs(event));
}

TEST(FastJsonTest, DeclinesWhatItCannotPrintExactlyAndToJsonLineStillMatches) {
  // A character protobuf escapes beyond ASCII (U+2028): its printer decides.
  v1::Event event;
  event.set_actor("Zo\xc3\xab \xe2\x80\xa8 line");
  std::string fast = "keep";
  EXPECT_FALSE(AppendFastJson(event, &fast));
  EXPECT_EQ(fast, "keep") << "a declined message leaves the output as it was";
  EXPECT_EQ(ToJsonLine(event), Protobufs(event));
  // A timestamp beyond JSON's range.
  v1::Event late;
  late.mutable_time()->set_seconds(253402300800);
  EXPECT_FALSE(AppendFastJson(late, &fast));
}

TEST(FastJsonTest, BytesPrintAsProtobufsBase64) {
  // Bytes fields (a checkpoint's hash and signature, a sealed event's
  // ciphertext): standard base64 with padding, every length mod 3.
  for (size_t n = 0; n < 70; ++n) {
    v1::Checkpoint checkpoint;
    checkpoint.set_seq(7);
    std::string bytes;
    for (size_t i = 0; i < n; ++i) bytes.push_back(static_cast<char>((i * 37 + n) & 0xff));
    checkpoint.set_chain_hash(bytes);
    checkpoint.set_signature(bytes + "\xff\x00");
    std::string fast;
    ASSERT_TRUE(AppendFastJson(checkpoint, &fast)) << n;
    EXPECT_EQ(fast, Protobufs(checkpoint)) << n;
  }
}

}  // namespace
}  // namespace refx
