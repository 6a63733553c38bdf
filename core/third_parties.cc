#include "core/third_parties.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include <vector>

namespace refx {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

int Redact(Message* message, std::set<std::string>* redacted) {
  const google::protobuf::Reflection* reflection = message->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  int count = 0;
  for (const FieldDescriptor* field : fields) {
    if (ThirdPartyFields().count(field->full_name())) {
      if (field->type() == FieldDescriptor::TYPE_STRING) {
        if (field->is_repeated()) {
          for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
            reflection->SetRepeatedString(message, field, i, kRedactedMarker);
          }
        } else {
          reflection->SetString(message, field, kRedactedMarker);
        }
      } else {
        reflection->ClearField(message, field);
      }
      if (redacted != nullptr) redacted->insert(field->full_name());
      ++count;
      continue;
    }
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
        count += Redact(reflection->MutableRepeatedMessage(message, field, i), redacted);
      }
    } else {
      count += Redact(reflection->MutableMessage(message, field), redacted);
    }
  }
  return count;
}

}  // namespace

const std::set<std::string>& ThirdPartyFields() {
  static const std::set<std::string> fields = {
      "refx.v1.Perpetrator.name",     "refx.v1.Perpetrator.date_of_birth", "refx.v1.Perpetrator.relationship",
      "refx.v1.Perpetrator.notes",    "refx.v1.Referrer.name",             "refx.v1.Referrer.email",
      "refx.v1.Referrer.phone",       "refx.v1.ContextSubject.linked_people"};
  return fields;
}

int RedactThirdParties(v1::Referral* referral, std::set<std::string>* redacted) { return Redact(referral, redacted); }

int RedactThirdParties(v1::Event* event, std::set<std::string>* redacted) {
  if (event->has_referral_submitted()) {
    return RedactThirdParties(event->mutable_referral_submitted()->mutable_referral(), redacted);
  }
  if (event->has_case_delivered()) return RedactThirdParties(event->mutable_case_delivered()->mutable_view(), redacted);
  return 0;
}

}  // namespace refx
