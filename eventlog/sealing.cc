#include "eventlog/sealing.h"

#include <sodium.h>
#include <sys/stat.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "core/subject_key.h"
#include "eventlog/keys.h"
#include "refx/v1/options.pb.h"

namespace refx::eventlog {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(kDataKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kSealNonceBytes == kNonceBytes);
static_assert(kMasterKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

constexpr char kHistoryKeyPrefix[] = "history:";

// Encrypts `personal` into event->sealed (nonce || AEAD, the event's seq,
// body type and `key_id` as associated data).
void SealMessage(const std::string& key_id, const std::string& data_key, const google::protobuf::Message& personal,
                 v1::Event* event);

enum class Kind { kClear, kPersonal, kDescend };

bool PersonalGroup(v1::FieldGroup group) {
  return group == v1::SUBJECT_IDENTITY || group == v1::SUBJECT_CONTACT || group == v1::NARRATIVE ||
         group == v1::SPECIAL_CATEGORY || group == v1::CRIMINAL_OFFENCE;
}

Kind KindOf(const FieldDescriptor* field);

// Whether any field of `type` (at any depth) is personal.
bool HasPersonalField(const Descriptor* type, int depth = 0) {
  if (depth > 16) return true;  // deeper than the schema goes: seal rather than guess
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    const Kind kind = KindOf(field);
    if (kind == Kind::kPersonal) return true;
    if (kind == Kind::kDescend && HasPersonalField(field->message_type(), depth + 1)) return true;
  }
  return false;
}

Kind KindOf(const FieldDescriptor* field) {
  if (field->options().ExtensionSize(v1::marking) > 0) return Kind::kPersonal;
  const v1::FieldGroup group = field->options().GetExtension(v1::field_group);
  if (group == v1::FIELD_GROUP_UNSPECIFIED) {
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return Kind::kPersonal;  // unmarked: the safe side
    // A repeated message is moved whole: splitting its elements would
    // double them when the halves are merged back.
    if (field->is_repeated()) return HasPersonalField(field->message_type()) ? Kind::kPersonal : Kind::kClear;
    return Kind::kDescend;
  }
  if (PersonalGroup(group)) return Kind::kPersonal;
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING && group != v1::ENVELOPE) return Kind::kPersonal;
  // The envelope's free text: why consent was not sought or the subject
  // does not know may well name people.
  if (field->containing_type() == v1::Consent::descriptor() &&
      (field->number() == v1::Consent::kReasonFieldNumber || field->number() == v1::Consent::kNotAwareReasonFieldNumber)) {
    return Kind::kPersonal;
  }
  return Kind::kClear;
}

// KindOf for every field of the Referral and the messages it descends
// into, worked out once (KindOf reads field options, which is slow): the
// split by reflection and the one over serialised bytes look fields up here.
struct MessagePlan;
struct FieldPlan {
  bool known = false;  // a field of the type (the rest of by_number is gaps)
  Kind kind = Kind::kClear;
  const MessagePlan* inner = nullptr;  // kDescend: the plan of the field's message
};
struct MessagePlan {
  std::vector<FieldPlan> by_number;  // indexed by field number
  const FieldPlan* Find(uint32_t number) const {
    return number < by_number.size() && by_number[number].known ? &by_number[number] : nullptr;
  }
};

class Plans {
 public:
  Plans() { Build(v1::Referral::descriptor()); }
  const MessagePlan* For(const Descriptor* type) const {
    auto it = by_type_.find(type);
    return it == by_type_.end() ? nullptr : it->second.get();
  }

 private:
  const MessagePlan* Build(const Descriptor* type) {
    auto [it, fresh] = by_type_.try_emplace(type);
    if (!fresh) return it->second.get();
    it->second = std::make_unique<MessagePlan>();
    MessagePlan* plan = it->second.get();
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* field = type->field(i);
      FieldPlan f;
      f.known = true;
      f.kind = KindOf(field);
      if (f.kind == Kind::kDescend) f.inner = Build(field->message_type());
      // Field numbers of the schema's messages are small; a huge one is
      // left out (Find: unknown, so the split by reflection handles it).
      if (field->number() > 4096) continue;
      if (plan->by_number.size() <= static_cast<size_t>(field->number())) plan->by_number.resize(field->number() + 1);
      plan->by_number[field->number()] = f;
    }
    return plan;
  }
  std::map<const Descriptor*, std::unique_ptr<MessagePlan>> by_type_;
};

const Plans& ReferralPlans() {
  static const Plans plans;  // built once, read-only after: safe from any thread
  return plans;
}

Kind CachedKindOf(const FieldDescriptor* field) {
  const MessagePlan* plan = ReferralPlans().For(field->containing_type());
  const FieldPlan* f = plan == nullptr ? nullptr : plan->Find(field->number());
  return f == nullptr ? KindOf(field) : f->kind;
}

bool Split(Message* clear, Message* personal) {
  const auto* reflection = clear->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*clear, &fields);
  bool moved = false;
  for (const FieldDescriptor* field : fields) {
    switch (CachedKindOf(field)) {
      case Kind::kPersonal:
        reflection->SwapFields(clear, personal, {field});
        moved = true;
        break;
      case Kind::kDescend: {
        Message* inner = reflection->MutableMessage(clear, field);
        std::unique_ptr<Message> part(inner->New());
        if (Split(inner, part.get())) {
          reflection->MutableMessage(personal, field)->MergeFrom(*part);
          moved = true;
        }
        break;
      }
      case Kind::kClear:
        break;
    }
  }
  return moved;
}

using google::protobuf::internal::WireFormatLite;

void PutVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// A length-delimited field: its tag bytes as read, then `body`.
void PutDelimited(std::string_view tag, std::string_view body, std::string* out) {
  out->append(tag);
  PutVarint(body.size(), out);
  out->append(body);
}

// Split over serialised bytes: the fields of `in` (a message of the type
// `plan` describes) go, as they are, to *clear or *personal by their kind,
// a kDescend field split again inside, in the order they come (so field
// number order for protobuf's own serialisation: the same bytes as
// serialising what Split leaves and moves). False for anything Split would
// see differently or that is not protobuf's own output: a field the plan
// does not know (unknown fields stay clear in Split), a group, a descended
// field that is not length-delimited, malformed bytes. The caller then
// splits by reflection.
bool SplitWire(std::string_view in, const MessagePlan& plan, std::string* clear, std::string* personal, int depth) {
  if (depth > 16) return false;
  google::protobuf::io::CodedInputStream s(reinterpret_cast<const uint8_t*>(in.data()), static_cast<int>(in.size()));
  for (;;) {
    const int start = s.CurrentPosition();
    const uint32_t tag = s.ReadTag();
    if (tag == 0) return start == static_cast<int>(in.size());
    const int after_tag = s.CurrentPosition();
    const FieldPlan* known = plan.Find(WireFormatLite::GetTagFieldNumber(tag));
    const auto wire_type = WireFormatLite::GetTagWireType(tag);
    if (known == nullptr || wire_type == WireFormatLite::WIRETYPE_START_GROUP ||
        wire_type == WireFormatLite::WIRETYPE_END_GROUP) {
      return false;
    }
    if (known->kind == Kind::kDescend) {
      uint32_t length = 0;
      if (wire_type != WireFormatLite::WIRETYPE_LENGTH_DELIMITED || !s.ReadVarint32(&length) ||
          length > in.size() - s.CurrentPosition()) {
        return false;
      }
      const std::string_view inner = in.substr(s.CurrentPosition(), length);
      if (!s.Skip(static_cast<int>(length))) return false;
      std::string inner_clear, inner_personal;
      inner_clear.reserve(inner.size());
      inner_personal.reserve(inner.size());
      if (!SplitWire(inner, *known->inner, &inner_clear, &inner_personal, depth + 1)) return false;
      const std::string_view tag_bytes = in.substr(start, after_tag - start);
      PutDelimited(tag_bytes, inner_clear, clear);  // kept, emptied or not, as Split keeps it
      if (!inner_personal.empty()) PutDelimited(tag_bytes, inner_personal, personal);
      continue;
    }
    if (!WireFormatLite::SkipField(&s, tag)) return false;
    (known->kind == Kind::kPersonal ? personal : clear)->append(in.substr(start, s.CurrentPosition() - start));
  }
}

// Associated data of a sealed blob: what it belongs to.
std::string SealedAd(const v1::Event& event, const std::string& key_id) {
  std::string ad = "refx.v1.Sealed";
  ad.push_back('\0');
  ad += EncodeSeq(event.seq());
  ad += std::to_string(static_cast<int>(event.body_case()));
  ad.push_back('\0');
  ad += key_id;
  return ad;
}

std::string WrapAd(const std::string& key_id) { return "refx data key:" + key_id; }

// nonce || AEAD(plain), under `key`, with `nonce` (kNonceBytes, fresh
// random) or, when null, a nonce drawn here.
std::string Encrypt(const std::string& key, const std::string& ad, std::string_view plain,
                    const unsigned char* given_nonce = nullptr) {
  std::string out(kNonceBytes + plain.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  if (given_nonce != nullptr) {
    std::memcpy(nonce, given_nonce, kNonceBytes);
  } else {
    randombytes_buf(nonce, kNonceBytes);
  }
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + kNonceBytes, &written, reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr, nonce,
      reinterpret_cast<const unsigned char*>(key.data()));
  return out;
}

bool Decrypt(const std::string& key, const std::string& ad, const std::string& nonce, const std::string& cipher,
             std::string* plain) {
  if (key.size() != crypto_aead_xchacha20poly1305_ietf_KEYBYTES || nonce.size() != kNonceBytes ||
      cipher.size() < kTagBytes) {
    return false;
  }
  plain->assign(cipher.size() - kTagBytes, '\0');
  unsigned long long written = 0;
  return crypto_aead_xchacha20poly1305_ietf_decrypt(
             reinterpret_cast<unsigned char*>(plain->data()), &written, nullptr,
             reinterpret_cast<const unsigned char*>(cipher.data()), cipher.size(),
             reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
             reinterpret_cast<const unsigned char*>(nonce.data()), reinterpret_cast<const unsigned char*>(key.data())) == 0;
}

}  // namespace

bool SplitPersonalFields(v1::Referral* clear, v1::Referral* personal) { return Split(clear, personal); }

v1::Referral* SealableReferral(v1::Event* event) {
  if (event->has_referral_submitted()) return event->mutable_referral_submitted()->mutable_referral();
  if (event->has_case_delivered()) return event->mutable_case_delivered()->mutable_view();
  return nullptr;
}

std::string HistoryKeyId(const std::string& referral_id) { return std::string(kHistoryKeyPrefix) + referral_id; }

bool IsHistoryKeyId(std::string_view key_id) { return key_id.rfind(kHistoryKeyPrefix, 0) == 0; }

std::string ReferralOfKeyId(std::string_view key_id) {
  if (IsHistoryKeyId(key_id)) key_id.remove_prefix(sizeof kHistoryKeyPrefix - 1);
  return std::string(key_id);
}

bool SealSubjectKey(const std::string& key_id, const std::string& history_key, v1::Event* event) {
  if (!event->has_subject_indexed() || event->subject_indexed().subject_key().empty()) return false;
  v1::SubjectIndexed personal;
  personal.set_subject_key(event->subject_indexed().subject_key());
  event->mutable_subject_indexed()->clear_subject_key();
  SealMessage(key_id, history_key, personal, event);
  return true;
}

bool SealEvent(const std::string& key_id, const std::string& data_key, v1::Event* event) {
  if (!event->has_referral_submitted() && !event->has_case_delivered()) return false;
  v1::Referral personal;
  if (!SplitPersonalFields(SealableReferral(event), &personal)) return false;
  SealPersonalFields(key_id, data_key, personal, event);
  return true;
}

void SealPersonalFields(const std::string& key_id, const std::string& data_key, const v1::Referral& personal,
                        v1::Event* event) {
  SealMessage(key_id, data_key, personal, event);
}

namespace {

void SealMessage(const std::string& key_id, const std::string& data_key, const google::protobuf::Message& personal,
                 v1::Event* event) {
  std::string plain = personal.SerializeAsString();
  std::string sealed = Encrypt(data_key, SealedAd(*event, key_id), plain);
  sodium_memzero(plain.data(), plain.size());
  v1::Sealed* out = event->mutable_sealed();
  out->set_key_id(key_id);
  out->set_nonce(sealed.substr(0, kNonceBytes));
  out->set_ciphertext(sealed.substr(kNonceBytes));
}

}  // namespace

Status OpenEvent(const std::string& data_key, v1::Event* event) {
  if (!event->has_sealed()) return Status::OK();
  const std::string where = "event " + std::to_string(event->seq());
  if (!event->has_referral_submitted() && !event->has_case_delivered() && !event->has_subject_indexed()) {
    return Status::Corruption(where + ": sealed fields on an event that carries no referral");
  }
  std::string plain;
  if (!Decrypt(data_key, SealedAd(*event, event->sealed().key_id()), event->sealed().nonce(),
               event->sealed().ciphertext(), &plain)) {
    return Status::Corruption(where + ": sealed fields do not authenticate (altered, moved or a wrong key)");
  }
  bool parsed = false;
  if (event->has_subject_indexed()) {
    v1::SubjectIndexed personal;
    parsed = personal.ParseFromString(plain);
    if (parsed) event->mutable_subject_indexed()->MergeFrom(personal);
  } else {
    v1::Referral personal;
    parsed = personal.ParseFromString(plain);
    if (parsed) SealableReferral(event)->MergeFrom(personal);
  }
  sodium_memzero(plain.data(), plain.size());
  if (!parsed) return Status::Corruption(where + ": sealed fields do not parse");
  event->clear_sealed();
  return Status::OK();
}

std::string WrapDataKey(const std::string& master_key, const std::string& key_id, const std::string& data_key,
                        const unsigned char* nonce) {
  return Encrypt(master_key, WrapAd(key_id), data_key, nonce);
}

bool SplitEventBytes(std::string_view event_bytes, std::string* clear_event, std::string* personal,
                     size_t* sealed_at) {
  const MessagePlan* referral_plan = ReferralPlans().For(v1::Referral::descriptor());
  clear_event->clear();
  personal->clear();
  *sealed_at = std::string::npos;
  google::protobuf::io::CodedInputStream s(reinterpret_cast<const uint8_t*>(event_bytes.data()),
                                           static_cast<int>(event_bytes.size()));
  bool found = false;
  for (;;) {
    const int start = s.CurrentPosition();
    const uint32_t tag = s.ReadTag();
    if (tag == 0) {
      if (start != static_cast<int>(event_bytes.size())) return false;
      break;
    }
    const int after_tag = s.CurrentPosition();
    const int number = static_cast<int>(WireFormatLite::GetTagFieldNumber(tag));
    if (number == v1::Event::kSealedFieldNumber) return false;  // sealed already: not the writer's own event
    if (number > v1::Event::kSealedFieldNumber && *sealed_at == std::string::npos) *sealed_at = clear_event->size();
    const int referral_number = number == v1::Event::kReferralSubmittedFieldNumber ? v1::ReferralSubmitted::kReferralFieldNumber
                                : number == v1::Event::kCaseDeliveredFieldNumber   ? v1::CaseDelivered::kViewFieldNumber
                                                                                   : 0;
    if (referral_number == 0) {
      if (!WireFormatLite::SkipField(&s, tag)) return false;
      clear_event->append(event_bytes.substr(start, s.CurrentPosition() - start));
      continue;
    }
    // The body: copied but for its referral, which is split.
    uint32_t length = 0;
    if (WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED || !s.ReadVarint32(&length) ||
        length > event_bytes.size() - s.CurrentPosition() || found) {
      return false;
    }
    found = true;
    const std::string_view body = event_bytes.substr(s.CurrentPosition(), length);
    if (!s.Skip(static_cast<int>(length))) return false;
    std::string body_out;
    body_out.reserve(body.size());
    google::protobuf::io::CodedInputStream b(reinterpret_cast<const uint8_t*>(body.data()),
                                             static_cast<int>(body.size()));
    bool referral_seen = false;
    for (;;) {
      const int field_start = b.CurrentPosition();
      const uint32_t body_tag = b.ReadTag();
      if (body_tag == 0) {
        if (field_start != static_cast<int>(body.size())) return false;
        break;
      }
      const int field_after_tag = b.CurrentPosition();
      if (static_cast<int>(WireFormatLite::GetTagFieldNumber(body_tag)) != referral_number) {
        if (!WireFormatLite::SkipField(&b, body_tag)) return false;
        body_out.append(body.substr(field_start, b.CurrentPosition() - field_start));
        continue;
      }
      uint32_t referral_length = 0;
      if (referral_seen || WireFormatLite::GetTagWireType(body_tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED ||
          !b.ReadVarint32(&referral_length) || referral_length > body.size() - b.CurrentPosition()) {
        return false;
      }
      referral_seen = true;
      const std::string_view referral = body.substr(b.CurrentPosition(), referral_length);
      if (!b.Skip(static_cast<int>(referral_length))) return false;
      std::string referral_clear;
      referral_clear.reserve(referral.size());
      personal->reserve(referral.size());
      if (!SplitWire(referral, *referral_plan, &referral_clear, personal, 0)) return false;
      PutDelimited(body.substr(field_start, field_after_tag - field_start), referral_clear, &body_out);
    }
    PutDelimited(event_bytes.substr(start, after_tag - start), body_out, clear_event);
  }
  if (*sealed_at == std::string::npos) *sealed_at = clear_event->size();
  return found;
}

void InsertSealedField(const std::string& key_id, const std::string& data_key, const unsigned char* nonce,
                       const v1::Event& event, std::string_view personal, size_t sealed_at, std::string* clear_event) {
  std::string sealed = Encrypt(data_key, SealedAd(event, key_id), personal, nonce);
  v1::Sealed out;
  out.set_key_id(key_id);
  out.set_nonce(sealed.data(), kNonceBytes);
  out.set_ciphertext(sealed.data() + kNonceBytes, sealed.size() - kNonceBytes);
  std::string field;
  PutVarint(WireFormatLite::MakeTag(v1::Event::kSealedFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED), &field);
  PutVarint(out.ByteSizeLong(), &field);
  out.AppendToString(&field);
  clear_event->insert(sealed_at, field);
}

Status UnwrapDataKey(const std::string& master_key, const std::string& key_id, const std::string& wrapped,
                     std::string* data_key) {
  if (wrapped.size() != kNonceBytes + kDataKeyBytes + kTagBytes ||
      !Decrypt(master_key, WrapAd(key_id), wrapped.substr(0, kNonceBytes), wrapped.substr(kNonceBytes), data_key) ||
      data_key->size() != kDataKeyBytes) {
    return Status::Corruption("the data key of " + key_id +
                              " does not unwrap (altered, or the master key is not the one it was made with)");
  }
  return Status::OK();
}

std::string NewDataKey() {
  std::string key(kDataKeyBytes, '\0');
  randombytes_buf(key.data(), key.size());
  return key;
}

Status LoadMasterKeyFile(const std::string& path, std::string* master_key) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::IoError(path + ": cannot read the master key file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::PermissionDenied(path + ": the master key file has mode " + mode +
                                    ", so its group or others may read it; it must be its owner's alone (chmod 600 " +
                                    path + ")");
  }
  return LoadSecretKeyFile(path, "master key", master_key);
}

}  // namespace refx::eventlog
