#include "render/fields.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/timestamp.pb.h>

#include "render/format.h"

namespace refx::render {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

bool IsTimestamp(const FieldDescriptor* f) {
  return f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
         f->message_type()->full_name() == google::protobuf::Timestamp::descriptor()->full_name();
}

// One value of a scalar, enum or Timestamp field (index < 0: singular).
std::string ValueText(const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: return std::to_string(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64: return std::to_string(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return std::to_string(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return std::to_string(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE: return std::to_string(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT: return std::to_string(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
    case FieldDescriptor::CPPTYPE_BOOL: return (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "yes" : "no";
    case FieldDescriptor::CPPTYPE_STRING: return rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* value = rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f);
      return Humanise(value->name());
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& sub = rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f);
      const auto& ts = static_cast<const google::protobuf::Timestamp&>(sub);
      return IsTimestamp(f) ? LondonTime(ts.seconds()) : "";
    }
  }
  return "";
}

// Adds the fields of `m` to `group`, labels prefixed with `prefix`. At the
// top level (`nested` not null) each nested message becomes its own group
// in *nested; deeper ones are flattened into `group`.
void Collect(const Message& m, const std::string& prefix, FieldGroup* group, std::vector<FieldGroup>* nested) {
  std::vector<const FieldDescriptor*> fields;
  const Reflection* r = m.GetReflection();
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    const std::string label = prefix + Humanise(f->name());
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || IsTimestamp(f)) {
      if (!f->is_repeated()) {
        group->fields.push_back({label, ValueText(m, f, -1)});
        continue;
      }
      std::string joined;
      for (int i = 0; i < r->FieldSize(m, f); ++i) joined += (i ? ", " : "") + ValueText(m, f, i);
      group->fields.push_back({label, joined});
      continue;
    }
    const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
    for (int i = 0; i < n; ++i) {
      const Message& sub = f->is_repeated() ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f);
      const std::string name = label + (f->is_repeated() ? " " + std::to_string(i + 1) : "");
      if (nested == nullptr) {
        Collect(sub, name + " \u203a ", group, nullptr);
        continue;
      }
      FieldGroup g{name, {}};
      Collect(sub, "", &g, nullptr);
      nested->push_back(std::move(g));
    }
  }
}

}  // namespace

std::string Humanise(const std::string& name) {
  std::string out;
  for (char ch : name) {
    if (ch == '_') {
      out += ' ';
    } else if (out.empty()) {
      out += static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
    } else {
      out += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    }
  }
  return out;
}

std::vector<FieldGroup> LabelledFields(const Message& message, const std::string& heading) {
  FieldGroup own{heading, {}};
  std::vector<FieldGroup> nested;
  Collect(message, "", &own, &nested);
  std::vector<FieldGroup> out;
  if (!own.fields.empty()) out.push_back(std::move(own));
  for (FieldGroup& g : nested) out.push_back(std::move(g));
  return out;
}

Data FieldGroupsData(const std::vector<FieldGroup>& groups) {
  Data list = Data::type::list;
  for (const FieldGroup& g : groups) {
    Data fields = Data::type::list;
    for (const LabelledField& f : g.fields) {
      Data field;
      field.set("label", f.label);
      field.set("value", f.value);
      fields.push_back(field);
    }
    Data group;
    group.set("heading", g.heading);
    group.set("fields", fields);
    list.push_back(group);
  }
  return list;
}

}  // namespace refx::render
