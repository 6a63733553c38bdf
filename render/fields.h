// A protobuf message as labelled fields for people ("Given name: Robin")
// instead of a text-format dump: one group for the message's own scalar
// fields and one per nested message (each element of a repeated message is
// its own group). Only fields that are set appear. Labels come from field
// names ("date_of_birth" -> "Date of birth"), enum values are shown as
// words ("DOMESTIC_ABUSE" -> "Domestic abuse"), booleans as yes/no and
// google.protobuf.Timestamp in UK time. Pure functions; thread-safe.
#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <vector>

#include "render/templates.h"

namespace refx::render {

struct LabelledField {
  std::string label;
  std::string value;
};

struct FieldGroup {
  std::string heading;
  std::vector<LabelledField> fields;
};

// The groups of `message`; the first is headed `heading` and holds its own
// scalar fields (left out when it has none).
std::vector<FieldGroup> LabelledFields(const google::protobuf::Message& message, const std::string& heading);

// "date_of_birth" / "DATE_OF_BIRTH" -> "Date of birth".
std::string Humanise(const std::string& name);

// Data for a template: a list of {heading, fields: [{label, value}]}.
Data FieldGroupsData(const std::vector<FieldGroup>& groups);

}  // namespace refx::render
