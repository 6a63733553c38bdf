#include "adapters/filedrop/csv_mapping.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <sstream>
#include <string_view>

#include "core/civil_date.h"
#include "core/london_time.h"

namespace refx::adapters {

using google::protobuf::Descriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

struct CsvMapping::Column {
  v1::CsvColumn config;
  std::vector<const FieldDescriptor*> path;  // the message fields, then the leaf
  std::string proto_path;                    // "person.date_of_birth"
  std::string json_path;                     // "person.dateOfBirth"
  bool has_time = false;                     // date_format with a time of day
  std::map<std::string, int> enum_by_key;    // lower-case file value -> enum number
  std::vector<std::string> yes, no;          // lower-case words
  int index = -1;                            // position in the header
  size_t parent = 0;                         // CsvMapping::parents_ index of path minus the leaf
  bool grouped = false;                      // one of several columns of one repeated field
};

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

// Trim without a copy: cells are trimmed once per mapped column per row
// (a loop: find_first_not_of with a set costs several times more).
std::string_view TrimView(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  size_t first = 0, last = s.size();
  while (first < last && blank(s[first])) ++first;
  while (last > first && blank(s[last - 1])) --last;
  return s.substr(first, last - first);
}

bool EqualsLower(std::string_view value, const std::string& lower_word) {
  if (value.size() != lower_word.size()) return false;
  for (size_t i = 0; i < value.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != static_cast<unsigned char>(lower_word[i])) return false;
  }
  return true;
}

bool Contains(const std::vector<std::string>& lower_words, std::string_view value) {
  for (const auto& w : lower_words) {
    if (EqualsLower(value, w)) return true;
  }
  return false;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) parts.push_back(part);
  return parts;
}

// The field of `type` named `name` in protobuf JSON or proto form.
const FieldDescriptor* FindField(const Descriptor* type, const std::string& name) {
  if (const FieldDescriptor* f = type->FindFieldByName(name)) return f;
  for (int i = 0; i < type->field_count(); ++i) {
    if (type->field(i)->json_name() == name) return type->field(i);
  }
  return nullptr;
}

bool HasTimeOfDay(const std::string& format) {
  for (const char* code : {"%H", "%I", "%M", "%T", "%R", "%S"}) {
    if (format.find(code) != std::string::npos) return true;
  }
  return false;
}

// Reads `cell` with strptime `format`: "YYYY-MM-DD", or with a time of day
// RFC 3339 in London time ("2026-10-23T18:00:00+01:00"). False when the
// cell does not match the whole format or names an impossible date.
bool ConvertDate(const std::string& cell, const std::string& format, bool has_time, std::string* out) {
  // The common export form, "%d/%m/%Y" (or with '-' or '.') and a cell of
  // exactly DD/MM/YYYY: read directly. strptime would read the same digits
  // the same way; any other cell or format goes through strptime below.
  if (!has_time && format.size() == 8 && format[0] == '%' && format[1] == 'd' && format[3] == '%' &&
      format[4] == 'm' && format[6] == '%' && format[7] == 'Y' && format[2] == format[5] && format[2] != '%' &&
      cell.size() == 10 && cell[2] == format[2] && cell[5] == format[2]) {
    const char* c = cell.data();
    auto digit = [](char ch) { return ch >= '0' && ch <= '9'; };
    if (digit(c[0]) && digit(c[1]) && digit(c[3]) && digit(c[4]) && digit(c[6]) && digit(c[7]) && digit(c[8]) &&
        digit(c[9])) {
      char date[11] = {c[6], c[7], c[8], c[9], '-', c[3], c[4], '-', c[0], c[1], '\0'};
      CivilDate day;
      // strptime refuses a day 00 or a month 00 or 13+; ParseCivilDate
      // refuses those and impossible days (31/02) alike.
      if (!ParseCivilDate(date, &day)) return false;
      out->assign(date, 10);
      return true;
    }
  }
  std::tm tm{};
  const char* end = strptime(cell.c_str(), format.c_str(), &tm);
  if (end == nullptr || *end != '\0') return false;
  char date[64];
  std::snprintf(date, sizeof date, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  CivilDate day;
  if (!ParseCivilDate(date, &day)) return false;
  if (!has_time) {
    *out = date;
    return true;
  }
  const int64_t instant = FromLondonWallTime(day, tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec);
  const int offset = LondonOffsetSeconds(instant);
  char stamp[96];
  std::snprintf(stamp, sizeof stamp, "%sT%02d:%02d:%02d+%02d:00", date, tm.tm_hour, tm.tm_min, tm.tm_sec,
                offset / 3600);
  *out = stamp;
  return true;
}

std::string Quoted(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

}  // namespace

bool IsUtf8(const std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  // ASCII (most cells) eight bytes at a time.
  for (uint64_t word; i + 8 <= n; i += 8) {
    std::memcpy(&word, s + i, 8);
    if (word & 0x8080808080808080ULL) break;
  }
  while (i < n) {
    const unsigned char c = s[i];
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

std::string JsonPathOf(const std::string& proto_path) {
  std::string path = proto_path;
  if (path.rfind("referral.", 0) == 0) path = path.substr(9);
  const Descriptor* type = v1::Referral::descriptor();
  std::string out;
  for (const std::string& segment : Split(path, '.')) {
    const FieldDescriptor* f = type ? FindField(type, segment) : nullptr;
    out += (out.empty() ? "" : ".") + (f ? f->json_name() : segment);
    type = f ? f->message_type() : nullptr;
  }
  return out;
}

CsvMapping::~CsvMapping() = default;

Status CsvMapping::Create(const v1::CsvFormat& format, std::unique_ptr<CsvMapping>* mapping) {
  std::unique_ptr<CsvMapping> m(new CsvMapping);
  m->format_ = format;
  std::vector<FieldViolation> found;
  auto bad = [&found](const std::string& where, const std::string& what) { found.push_back({where, what}); };

  if (format.name().empty()) bad("name", "is required");
  if (Trim(format.reference_column()).empty()) {
    bad("reference_column", "is required: the column holding the agency's own reference");
  }
  if (format.delimiter().size() > 1) bad("delimiter", "must be one character");
  if (format.delimiter().size() == 1) m->delimiter_ = format.delimiter()[0];
  if (m->delimiter_ == '"' || m->delimiter_ == '\n' || m->delimiter_ == '\r') {
    bad("delimiter", "cannot be a quote or a line break");
  }
  if (!format.defaults_textproto().empty() &&
      !google::protobuf::TextFormat::ParseFromString(format.defaults_textproto(), &m->defaults_)) {
    bad("defaults_textproto", "is not a Referral in protobuf text format");
  }

  for (int i = 0; i < format.columns_size(); ++i) {
    const v1::CsvColumn& config = format.columns(i);
    const std::string where = "columns[" + std::to_string(i) + "]" +
                              (config.column().empty() ? "" : " (" + config.column() + ")");
    Column col;
    col.config = config;
    if (Trim(config.column()).empty()) bad(where + ".column", "is required: the header name in the file");
    if (Trim(config.column()) == Trim(format.reference_column())) {
      bad(where + ".column", "is the reference column, which always sets referrerReference");
    }
    const Descriptor* type = v1::Referral::descriptor();
    bool resolved = !config.field().empty();
    if (!resolved) bad(where + ".field", "is required: a Referral field path such as person.dateOfBirth");
    for (const std::string& segment : resolved ? Split(config.field(), '.') : std::vector<std::string>{}) {
      const FieldDescriptor* f = type ? FindField(type, segment) : nullptr;
      if (f == nullptr) {
        bad(where + ".field", config.field() + ": no such field in refx.v1.Referral");
        resolved = false;
        break;
      }
      col.path.push_back(f);
      col.proto_path += (col.proto_path.empty() ? "" : ".") + f->name();
      col.json_path += (col.json_path.empty() ? "" : ".") + f->json_name();
      type = f->message_type();
      if (type != nullptr && f->is_repeated()) {
        bad(where + ".field", config.field() + ": goes through a repeated message, which a column cannot fill");
        resolved = false;
        break;
      }
    }
    if (resolved && col.path.back()->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      bad(where + ".field", config.field() + ": is a message; name one of its fields");
      resolved = false;
    }
    if (resolved && col.proto_path == "referrer_reference") {
      bad(where + ".field", "referrerReference comes from reference_column");
      resolved = false;
    }
    if (!resolved) continue;
    const FieldDescriptor* leaf = col.path.back();
    const auto kind = leaf->cpp_type();
    if (!config.date_format().empty()) {
      if (kind != FieldDescriptor::CPPTYPE_STRING) bad(where + ".date_format", "the field is not a text field");
      col.has_time = HasTimeOfDay(config.date_format());
    }
    if ((config.yes_values_size() || config.no_values_size()) && kind != FieldDescriptor::CPPTYPE_BOOL) {
      bad(where + ".yes_values", "the field is not a yes/no field");
    }
    for (const auto& w : config.yes_values()) col.yes.push_back(Lower(Trim(w)));
    for (const auto& w : config.no_values()) col.no.push_back(Lower(Trim(w)));
    if (kind == FieldDescriptor::CPPTYPE_BOOL) {
      if (col.yes.empty()) col.yes = {"yes", "y", "true", "1"};
      if (col.no.empty()) col.no = {"no", "n", "false", "0"};
      for (const auto& w : col.yes) {
        if (std::find(col.no.begin(), col.no.end(), w) != col.no.end()) {
          bad(where + ".yes_values", "a word cannot mean both yes and no");
        }
      }
    }
    if (!config.enum_values().empty() && kind != FieldDescriptor::CPPTYPE_ENUM) {
      bad(where + ".enum_values", "the field is not an enum");
    }
    if (kind == FieldDescriptor::CPPTYPE_ENUM) {
      for (const auto& [key, value] : config.enum_values()) {
        const EnumValueDescriptor* v = leaf->enum_type()->FindValueByName(value);
        if (v == nullptr) {
          bad(where + ".enum_values", value + " is not a value of " + leaf->enum_type()->full_name());
        } else {
          col.enum_by_key[Lower(Trim(key))] = v->number();
        }
      }
    }
    if (!config.separator().empty() && !leaf->is_repeated()) {
      bad(where + ".separator", "the field is not repeated");
    }
    const std::vector<const FieldDescriptor*> parent(col.path.begin(), col.path.end() - 1);
    auto known = std::find(m->parents_.begin(), m->parents_.end(), parent);
    col.parent = known - m->parents_.begin();
    if (known == m->parents_.end()) m->parents_.push_back(parent);
    m->columns_by_field_[col.proto_path].push_back(m->columns_.size());
    m->columns_.push_back(std::move(col));
  }
  for (auto& [path, indices] : m->columns_by_field_) {
    if (indices.size() < 2) continue;
    if (!m->columns_[indices[0]].path.back()->is_repeated()) {
      bad("columns", "several columns set the singular field " + m->columns_[indices[0]].json_path);
    }
    for (size_t i : indices) m->columns_[i].grouped = true;
  }
  if (!found.empty()) {
    return Status::InvalidFields(std::move(found))
        .WithFieldPaths([&format](const std::string& p) { return "csv_formats[" + format.name() + "]." + p; });
  }
  *mapping = std::move(m);
  return Status::OK();
}

Status CsvMapping::BindHeader(const std::vector<std::string>& header) {
  std::map<std::string, int> position;
  for (size_t i = 0; i < header.size(); ++i) position.emplace(Trim(header[i]), static_cast<int>(i));
  header_size_ = header.size();
  std::vector<FieldViolation> missing;
  auto find = [&](const std::string& name, int* index) {
    auto it = position.find(Trim(name));
    if (it == position.end()) {
      missing.push_back({"column " + Trim(name), "is not in the header row"});
    } else {
      *index = it->second;
    }
  };
  find(format_.reference_column(), &reference_index_);
  for (Column& col : columns_) find(col.config.column(), &col.index);
  if (!missing.empty()) return Status::InvalidFields(std::move(missing));
  return Status::OK();
}

std::string CsvMapping::ColumnsFor(const std::string& proto_path) const {
  std::string path = proto_path;
  if (path.rfind("referral.", 0) == 0) path = path.substr(9);
  if (path == "referrer_reference") return format_.reference_column();
  auto it = columns_by_field_.find(path);
  if (it == columns_by_field_.end()) return "";
  std::vector<std::string> names;
  for (size_t i : it->second) names.push_back(columns_[i].config.column());
  if (names.size() > 3) return names.front() + " .. " + names.back() + " (" + std::to_string(names.size()) + " columns)";
  return Quoted(names);
}

bool CsvMapping::MapRow(const std::vector<std::string>& cells, v1::Referral* referral,
                        std::vector<RowProblem>* problems) const {
  const size_t before = problems->size();
  auto problem = [problems](const std::string& column, const std::string& field, const std::string& reason) {
    problems->push_back({0, column, field, reason});
  };
  if (cells.size() != header_size_) {
    problem("", "",
            "has " + std::to_string(cells.size()) + " fields where the header has " + std::to_string(header_size_));
    return false;
  }
  *referral = defaults_;
  const std::string_view reference = TrimView(cells[reference_index_]);
  if (reference.empty()) {
    problem(format_.reference_column(), "referrerReference",
            "the reference column is empty: every row needs the agency's own reference");
  }
  referral->set_referrer_reference(std::string(reference));

  // A repeated field fed by several columns: all of them filled, or none.
  for (const auto& [path, indices] : columns_by_field_) {
    if (indices.size() < 2) continue;
    size_t filled = 0;
    for (size_t i : indices) filled += !TrimView(cells[columns_[i].index]).empty();
    if (filled == 0 || filled == indices.size()) continue;
    for (size_t i : indices) {
      if (TrimView(cells[columns_[i].index]).empty()) {
        problem(columns_[i].config.column(), columns_[i].json_path,
                "is empty while " + std::to_string(filled) + " of the " + std::to_string(indices.size()) +
                    " columns of this field are filled: give all of them or none");
      }
    }
  }

  std::string text;  // a string cell's value, reused across cells
  // The message each column sets, found once per row for all the columns
  // under it (and only when one of them has a value: an empty cell leaves
  // the field, and its message, unset).
  std::vector<Message*> targets(parents_.size(), nullptr);
  for (const Column& col : columns_) {
    const std::string_view cell = TrimView(cells[col.index]);
    if (cell.empty()) continue;
    const FieldDescriptor* leaf = col.path.back();
    Message*& target = targets[col.parent];
    if (target == nullptr) {
      target = referral;
      for (size_t i = 0; i + 1 < col.path.size(); ++i) {
        target = target->GetReflection()->MutableMessage(target, col.path[i]);
      }
    }
    const Reflection* r = target->GetReflection();
    const bool split = leaf->is_repeated() && !col.config.separator().empty();
    const std::string& separator = col.config.separator();
    auto fail = [&](const std::string& reason) { problem(col.config.column(), col.json_path, reason); };
    // Each value of the cell: the whole cell, or its parts between separators.
    for (size_t start = 0;;) {
      size_t end = split ? cell.find(separator, start) : std::string_view::npos;
      const std::string_view value =
          split ? TrimView(cell.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start))
                : cell;
      switch (leaf->cpp_type()) {
        case FieldDescriptor::CPPTYPE_STRING: {
          text.assign(value.data(), value.size());
          if (!IsUtf8(text)) {
            fail("is not UTF-8 text (export the file as UTF-8)");
            break;
          }
          if (!col.config.date_format().empty()) {
            std::string date;
            if (!ConvertDate(text, col.config.date_format(), col.has_time, &date)) {
              fail("is not a real date in the format " + col.config.date_format());
              break;
            }
            text = std::move(date);
          }
          leaf->is_repeated() ? r->AddString(target, leaf, text) : r->SetString(target, leaf, text);
          break;
        }
        case FieldDescriptor::CPPTYPE_BOOL: {
          bool yes = Contains(col.yes, value);
          bool no = Contains(col.no, value);
          if (!yes && !no) {
            fail("is neither a yes word (" + Quoted(col.yes) + ") nor a no word (" + Quoted(col.no) + ")");
            break;
          }
          leaf->is_repeated() ? r->AddBool(target, leaf, yes) : r->SetBool(target, leaf, yes);
          break;
        }
        case FieldDescriptor::CPPTYPE_ENUM: {
          int number = 0;
          auto it = col.enum_by_key.find(Lower(std::string(value)));
          if (it != col.enum_by_key.end()) {
            number = it->second;
          } else {
            std::string name(value);
            std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) {
              return c == ' ' || c == '-' ? '_' : std::toupper(c);
            });
            const EnumValueDescriptor* v = leaf->enum_type()->FindValueByName(name);
            if (v == nullptr || v->number() == 0) {
              std::vector<std::string> keys;
              for (const auto& [key, target_name] : col.config.enum_values()) keys.push_back(key);
              fail("is not a value this format knows (" + (keys.empty() ? std::string("none mapped") : Quoted(keys)) +
                   ") nor a " + leaf->enum_type()->name() + " name");
              break;
            }
            number = v->number();
          }
          leaf->is_repeated() ? r->AddEnumValue(target, leaf, number) : r->SetEnumValue(target, leaf, number);
          break;
        }
        case FieldDescriptor::CPPTYPE_UINT32:
        case FieldDescriptor::CPPTYPE_INT32:
        case FieldDescriptor::CPPTYPE_UINT64:
        case FieldDescriptor::CPPTYPE_INT64: {
          const bool digits = !value.empty() && value.size() <= 9 &&
                              std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); });
          if (!digits) {
            fail("is not a whole number (0..999999999)");
            break;
          }
          long n = 0;
          for (char c : value) n = n * 10 + (c - '0');
          switch (leaf->cpp_type()) {
            case FieldDescriptor::CPPTYPE_UINT32:
              leaf->is_repeated() ? r->AddUInt32(target, leaf, n) : r->SetUInt32(target, leaf, n);
              break;
            case FieldDescriptor::CPPTYPE_INT32:
              leaf->is_repeated() ? r->AddInt32(target, leaf, n) : r->SetInt32(target, leaf, n);
              break;
            case FieldDescriptor::CPPTYPE_UINT64:
              leaf->is_repeated() ? r->AddUInt64(target, leaf, n) : r->SetUInt64(target, leaf, n);
              break;
            default:
              leaf->is_repeated() ? r->AddInt64(target, leaf, n) : r->SetInt64(target, leaf, n);
          }
          break;
        }
        default:
          fail("has a type a CSV column cannot fill");
      }
      if (!split || end == std::string_view::npos) break;
      start = end + separator.size();
    }
  }
  return problems->size() == before;
}

}  // namespace refx::adapters
