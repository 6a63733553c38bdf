#include "core/need_to_know.h"

#include <vector>

namespace refx {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

void Minimise(Message* message, const std::set<v1::FieldGroup>& groups) {
  const auto* reflection = message->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  for (const FieldDescriptor* field : fields) {
    const auto group = field->options().GetExtension(v1::field_group);
    if (group == v1::ENVELOPE || groups.count(group)) continue;
    if (group == v1::FIELD_GROUP_UNSPECIFIED && field->type() == FieldDescriptor::TYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
          Minimise(reflection->MutableRepeatedMessage(message, field, i), groups);
        }
      } else {
        Minimise(reflection->MutableMessage(message, field), groups);
      }
      continue;
    }
    reflection->ClearField(message, field);
  }
}

}  // namespace

v1::Referral NeedToKnowView(const v1::Referral& referral, const std::set<v1::FieldGroup>& groups) {
  v1::Referral view = referral;
  Minimise(&view, groups);
  return view;
}

}  // namespace refx
