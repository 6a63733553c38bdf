#include "eventlog/sealing.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cstdio>
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

bool Split(Message* clear, Message* personal) {
  const auto* reflection = clear->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*clear, &fields);
  bool moved = false;
  for (const FieldDescriptor* field : fields) {
    switch (KindOf(field)) {
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

// nonce || AEAD(plain), under `key`.
std::string Encrypt(const std::string& key, const std::string& ad, const std::string& plain) {
  std::string out(kNonceBytes + plain.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(nonce, kNonceBytes);
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

std::string WrapDataKey(const std::string& master_key, const std::string& key_id, const std::string& data_key) {
  return Encrypt(master_key, WrapAd(key_id), data_key);
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
