#include "core/partnership_config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <limits>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/curve_keys.h"
#include "core/routing_config_check.h"
#include "core/text_format_errors.h"

namespace refx {

namespace {

using google::protobuf::TextFormat;

// Produces "FILE:LINE:COL: message" for a field of a message parsed with a
// location tree.
class Locator {
 public:
  Locator(std::string name, TextFormat::ParseInfoTree* tree) : name_(std::move(name)), tree_(tree) {}

  // Location of `field` (index for repeated fields, -1 otherwise) in the
  // message whose tree is `tree`.
  std::string At(const TextFormat::ParseInfoTree* tree, const char* message_name, const char* field_name,
                 int index) const {
    const auto* desc = google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(message_name);
    const auto* field = desc ? desc->FindFieldByName(field_name) : nullptr;
    if (tree && field) {
      auto loc = tree->GetLocation(field, index);
      if (loc.line >= 0) return name_ + ":" + std::to_string(loc.line + 1) + ":" + std::to_string(loc.column + 1) + ": ";
    }
    return name_ + ": ";
  }
  const TextFormat::ParseInfoTree* Nested(const TextFormat::ParseInfoTree* tree, const char* message_name,
                                          const char* field_name, int index) const {
    const auto* desc = google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(message_name);
    const auto* field = desc ? desc->FindFieldByName(field_name) : nullptr;
    return tree && field ? tree->GetTreeForNested(field, index) : nullptr;
  }
  TextFormat::ParseInfoTree* root() const { return tree_; }

 private:
  std::string name_;
  TextFormat::ParseInfoTree* tree_;
};

const std::regex& IdPattern() {
  static const std::regex re("[a-z0-9][a-z0-9-]{1,63}");
  return re;
}

// Person ids: letters (either case, so "lead-DA_MARAC" reads as the
// destination it works), digits, '.', '_' and '-'; 2-64 characters starting
// with a letter or digit.
const std::regex& PersonIdPattern() {
  static const std::regex re("[A-Za-z0-9][A-Za-z0-9._-]{1,63}");
  return re;
}

// Checks `people` (unique well-formed ids, a name, a known agency, roles,
// a LEAD's destinations owned by its agency, an AUDITOR's agency has the
// AUDITOR role) and fills *person_by_id. InvalidArgument "FILE:LINE:COL: ...".
Status ValidatePeople(const v1::PartnershipConfig& c, const PartnershipConfig& cfg, const Locator& loc,
                      std::map<std::string, int>* person_by_id) {
  auto bad = [](const std::string& where, const std::string& why) { return Status::InvalidArgument(where + why); };
  for (int i = 0; i < c.people_size(); ++i) {
    const v1::StaffMember& p = c.people(i);
    const auto* at = loc.Nested(loc.root(), "refx.v1.PartnershipConfig", "people", i);
    const std::string where = loc.At(loc.root(), "refx.v1.PartnershipConfig", "people", i);
    auto field = [&](const char* name) { return loc.At(at, "refx.v1.StaffMember", name, -1); };
    if (!std::regex_match(p.id(), PersonIdPattern())) {
      return bad(field("id"), "person id \"" + p.id() +
                                  "\" must be 2-64 characters of letters, digits, '.', '_' and '-', starting with a "
                                  "letter or digit");
    }
    if (!person_by_id->emplace(p.id(), i).second) {
      return bad(field("id"), "person id \"" + p.id() + "\" is used twice");
    }
    if (p.name().empty()) return bad(where, "person \"" + p.id() + "\" needs a name");
    const v1::Agency* agency = cfg.AgencyById(p.agency_id());
    if (agency == nullptr) {
      return bad(p.agency_id().empty() ? where : field("agency_id"),
                 "person \"" + p.id() + "\" names unknown agency \"" + p.agency_id() + "\"");
    }
    if (p.roles().empty()) return bad(where, "person \"" + p.id() + "\" has no roles (LEAD, AUDITOR or ADMIN)");
    std::set<int> roles;
    for (int r : p.roles()) {
      if (r == v1::StaffMember::PERSON_ROLE_UNSPECIFIED) {
        return bad(loc.At(at, "refx.v1.StaffMember", "roles", 0), "person \"" + p.id() + "\" has an unspecified role");
      }
      if (!roles.insert(r).second) {
        return bad(loc.At(at, "refx.v1.StaffMember", "roles", 0), "person \"" + p.id() + "\" lists " +
                                       v1::StaffMember::PersonRole_Name(static_cast<v1::StaffMember::PersonRole>(r)) +
                                       " twice");
      }
    }
    const bool lead = roles.count(v1::StaffMember::LEAD) > 0;
    if (lead && !PartnershipConfig::HasRole(*agency, v1::LEAD)) {
      return bad(loc.At(at, "refx.v1.StaffMember", "roles", 0), "person \"" + p.id() + "\" is a LEAD but agency \"" + agency->id() +
                                     "\" does not have the LEAD role");
    }
    if (roles.count(v1::StaffMember::AUDITOR) && !PartnershipConfig::HasRole(*agency, v1::AUDITOR)) {
      return bad(loc.At(at, "refx.v1.StaffMember", "roles", 0), "person \"" + p.id() + "\" is an AUDITOR but agency \"" + agency->id() +
                                     "\" does not have the AUDITOR role");
    }
    if (lead && p.destinations().empty()) {
      return bad(where, "person \"" + p.id() + "\" is a LEAD and needs at least one destination");
    }
    if (!lead && !p.destinations().empty()) {
      return bad(loc.At(at, "refx.v1.StaffMember", "destinations", 0),
                 "person \"" + p.id() + "\" lists destinations but is not a LEAD");
    }
    std::set<std::string> seen;
    for (int d = 0; d < p.destinations_size(); ++d) {
      const std::string& code = p.destinations(d);
      const std::string at_d = loc.At(at, "refx.v1.StaffMember", "destinations", d);
      const v1::Destination* dest = cfg.DestinationByCode(code);
      if (dest == nullptr) {
        return bad(at_d, "person \"" + p.id() + "\" works unknown destination \"" + code + "\"");
      }
      if (dest->agency_id() != p.agency_id()) {
        return bad(at_d, "person \"" + p.id() + "\" of agency \"" + p.agency_id() + "\" cannot work " + code +
                             ", which agency \"" + dest->agency_id() + "\" owns");
      }
      if (!seen.insert(code).second) return bad(at_d, "person \"" + p.id() + "\" lists " + code + " twice");
    }
  }
  return Status::OK();
}

// Reads agency `a`'s previous key (inline or from a file) into
// a->previous_public_key and the end of its overlap into *valid_until
// (Unix seconds), and checks them; leaves both alone when `a` has no
// previous key. InvalidArgument "FILE:LINE:COL: ...".
Status ResolvePreviousKey(const Locator& loc, const TextFormat::ParseInfoTree* at, const std::string& base_dir,
                          v1::Agency* a, int64_t* valid_until) {
  auto bad = [](const std::string& place, const std::string& why) { return Status::InvalidArgument(place + why); };
  auto field = [&](const char* name) { return loc.At(at, "refx.v1.Agency", name, -1); };
  if (a->previous_key_case() == v1::Agency::PREVIOUS_KEY_NOT_SET) {
    if (!a->previous_key_valid_until().empty()) {
      return bad(field("previous_key_valid_until"), "agency \"" + a->id() +
                                                        "\" has previous_key_valid_until but no previous_public_key "
                                                        "or previous_public_key_file");
    }
    return Status::OK();
  }
  std::string key;
  if (a->previous_key_case() == v1::Agency::kPreviousPublicKeyFile) {
    std::string path = a->previous_public_key_file();
    if (!path.empty() && path[0] != '/') path = base_dir + "/" + path;
    Status s = ReadCurveKeyFile(path, &key);
    if (!s.ok()) return bad(field("previous_public_key_file"), s.message());
  } else {
    key = a->previous_public_key();
    if (!IsZ85Key(key)) {
      return bad(field("previous_public_key"),
                 "previous_public_key of \"" + a->id() + "\" is not a 40-character Z85 key");
    }
  }
  const std::string key_field = a->previous_key_case() == v1::Agency::kPreviousPublicKeyFile
                                    ? "previous_public_key_file"
                                    : "previous_public_key";
  if (key == a->public_key()) {
    return bad(field(key_field.c_str()), "the previous key of \"" + a->id() + "\" is the same as its public key");
  }
  if (a->previous_key_valid_until().empty()) {
    return bad(field(key_field.c_str()), "agency \"" + a->id() +
                                             "\" has a previous key but no previous_key_valid_until (when it stops "
                                             "being accepted, e.g. \"2026-12-31T18:00:00Z\")");
  }
  google::protobuf::Timestamp until;
  if (!google::protobuf::util::TimeUtil::FromString(a->previous_key_valid_until(), &until)) {
    return bad(field("previous_key_valid_until"),
               "previous_key_valid_until \"" + a->previous_key_valid_until() +
                   "\" is not an RFC 3339 time with an offset (e.g. \"2026-12-31T18:00:00Z\")");
  }
  a->set_previous_public_key(key);
  *valid_until = until.seconds();
  return Status::OK();
}

// An e-mail address an alert may be sent to or from: LOCAL@DOMAIN, the
// local part of letters, digits and .!#$%&'*+/=?^_`{|}~-, the domain of
// dot-separated labels of letters, digits and '-'. Nothing else: a space,
// comma, angle bracket, quote or line break in an address would let it
// carry a second recipient or a header into the mail.
bool IsMailAddress(const std::string& address) {
  static const std::regex re(
      "[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
      "(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*");
  return address.size() <= 254 && std::regex_match(address, re);
}

// alerts { ... } and each destination's alert_emails. InvalidArgument
// "FILE:LINE:COL: ..." naming the first bad setting or address.
Status ValidateAlerts(const v1::PartnershipConfig& c, const Locator& loc) {
  auto bad = [](const std::string& where, const std::string& why) { return Status::InvalidArgument(where + why); };
  const v1::AlertSettings& a = c.alerts();
  const auto* at = loc.Nested(loc.root(), "refx.v1.PartnershipConfig", "alerts", -1);
  const std::string url = a.smtp_url();
  if (!url.empty()) {
    const bool smtp = url.rfind("smtp://", 0) == 0, smtps = url.rfind("smtps://", 0) == 0;
    const std::string host = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
    if (!smtp && !smtps) {
      return bad(loc.At(at, "refx.v1.AlertSettings", "smtp_url", -1),
                 "alerts.smtp_url must start smtp:// or smtps:// (e.g. \"smtp://127.0.0.1:2525\")");
    }
    if (host.empty() || host[0] == ':' || host[0] == '/' ||
        host.find_first_of(" \t\r\n") != std::string::npos) {
      return bad(loc.At(at, "refx.v1.AlertSettings", "smtp_url", -1), "alerts.smtp_url names no relay host");
    }
    if (a.from_address().empty()) {
      return bad(loc.At(loc.root(), "refx.v1.PartnershipConfig", "alerts", -1),
                 "alerts.from_address is required with an smtp_url");
    }
  }
  if (!a.from_address().empty() && !IsMailAddress(a.from_address())) {
    return bad(loc.At(at, "refx.v1.AlertSettings", "from_address", -1),
               "alerts.from_address \"" + a.from_address() + "\" is not an e-mail address (name@example.org)");
  }
  if (!a.console_url().empty() && a.console_url().rfind("https://", 0) != 0 &&
      a.console_url().rfind("http://", 0) != 0) {
    return bad(loc.At(at, "refx.v1.AlertSettings", "console_url", -1),
               "alerts.console_url must be an http:// or https:// address");
  }
  if (a.console_url().find_first_of(" \t\r\n") != std::string::npos) {
    return bad(loc.At(at, "refx.v1.AlertSettings", "console_url", -1), "alerts.console_url holds a space or line break");
  }
  if (a.deadline_warning_hours() > 24 * 28) {
    return bad(loc.At(at, "refx.v1.AlertSettings", "deadline_warning_hours", -1),
               "alerts.deadline_warning_hours must be at most 672 (four weeks); 0 means the default 24");
  }
  if (a.new_case_emails_per_minute() > 60) {
    return bad(loc.At(at, "refx.v1.AlertSettings", "new_case_emails_per_minute", -1),
               "alerts.new_case_emails_per_minute must be at most 60; 0 means the default 5");
  }
  for (int i = 0; i < c.destinations_size(); ++i) {
    const v1::Destination& d = c.destinations(i);
    const auto* dt = loc.Nested(loc.root(), "refx.v1.PartnershipConfig", "destinations", i);
    std::set<std::string> seen;
    for (int k = 0; k < d.alert_emails_size(); ++k) {
      const std::string& address = d.alert_emails(k);
      if (!IsMailAddress(address)) {
        return bad(loc.At(dt, "refx.v1.Destination", "alert_emails", k),
                   "destination " + d.code() + ": alert_emails \"" + address +
                       "\" is not one e-mail address (name@example.org; one address per entry)");
      }
      if (!seen.insert(address).second) {
        return bad(loc.At(dt, "refx.v1.Destination", "alert_emails", k),
                   "destination " + d.code() + " lists alert address " + address + " twice");
      }
    }
  }
  return Status::OK();
}

}  // namespace

Status PartnershipConfig::Load(const std::string& path, std::unique_ptr<PartnershipConfig>* out) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument(path + ": cannot read the configuration file");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string base = std::filesystem::path(path).parent_path().string();
  return Parse(ss.str(), path, base.empty() ? "." : base, out);
}

Status PartnershipConfig::Parse(const std::string& text, const std::string& name, const std::string& base_dir,
                                std::unique_ptr<PartnershipConfig>* out) {
  auto cfg = std::unique_ptr<PartnershipConfig>(new PartnershipConfig());
  TextFormat::Parser parser;
  CollectFirstError errors(name);
  TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(text, &cfg->config_)) {
    return Status::InvalidArgument(errors.error().empty() ? name + ": cannot parse" : errors.error());
  }
  Locator loc(name, &tree);
  auto bad = [](const std::string& where, const std::string& why) { return Status::InvalidArgument(where + why); };
  v1::PartnershipConfig& c = cfg->config_;

  // Broker defaults.
  v1::BrokerSettings* b = c.mutable_broker();
  if (b->frontend_endpoint().empty()) b->set_frontend_endpoint("tcp://127.0.0.1:7400");
  if (b->max_frame_bytes() == 0) b->set_max_frame_bytes(256 * 1024);
  if (b->max_batch() == 0) b->set_max_batch(1024);
  if (b->heartbeat_ivl_ms() == 0) b->set_heartbeat_ivl_ms(2000);
  if (b->max_frame_bytes() < 1024 || b->max_frame_bytes() > 64 * 1024 * 1024) {
    return bad(loc.At(loc.Nested(&tree, "refx.v1.PartnershipConfig", "broker", -1), "refx.v1.BrokerSettings",
                      "max_frame_bytes", -1),
               "max_frame_bytes must be 1024..67108864");
  }
  if (b->has_backup()) {
    // Backup expiry: a block that sets no limit would read as a policy while
    // keeping every backup for ever.
    const auto* bt = loc.Nested(&tree, "refx.v1.PartnershipConfig", "broker", -1);
    const v1::BackupRetention& r = b->backup();
    if (r.keep_days() == 0 && r.keep_last() == 0) {
      return bad(loc.At(bt, "refx.v1.BrokerSettings", "backup", -1),
                 "broker.backup sets neither keep_days nor keep_last (leave it out to keep every backup)");
    }
    const auto* rt = loc.Nested(bt, "refx.v1.BrokerSettings", "backup", -1);
    if (r.keep_days() > 36600) {
      return bad(loc.At(rt, "refx.v1.BackupRetention", "keep_days", -1),
                 "broker.backup.keep_days must be at most 36600 (100 years); 0 means no age limit");
    }
    if (r.keep_last() > 100000) {
      return bad(loc.At(rt, "refx.v1.BackupRetention", "keep_last", -1),
                 "broker.backup.keep_last must be at most 100000; 0 means no count limit");
    }
  }
  if (c.agencies().empty()) return bad(name + ":1:1: ", "no agencies are configured");

  for (int i = 0; i < c.agencies_size(); ++i) {
    v1::Agency* a = c.mutable_agencies(i);
    const auto* at = loc.Nested(&tree, "refx.v1.PartnershipConfig", "agencies", i);
    const std::string where = loc.At(&tree, "refx.v1.PartnershipConfig", "agencies", i);
    if (!std::regex_match(a->id(), IdPattern())) {
      return bad(loc.At(at, "refx.v1.Agency", "id", -1),
                 "agency id \"" + a->id() + "\" must be 2-64 characters of a-z, 0-9 and '-'");
    }
    if (!cfg->agency_by_id_.emplace(a->id(), i).second) {
      return bad(loc.At(at, "refx.v1.Agency", "id", -1), "agency id \"" + a->id() + "\" is used twice");
    }
    if (a->roles().empty()) return bad(where, "agency \"" + a->id() + "\" has no roles");
    for (int r : a->roles()) {
      if (r == v1::ROLE_UNSPECIFIED) return bad(where, "agency \"" + a->id() + "\" has an unspecified role");
    }
    for (int cat : a->may_submit()) {
      if (cat == v1::CATEGORY_UNSPECIFIED) return bad(where, "agency \"" + a->id() + "\" may_submit lists CATEGORY_UNSPECIFIED");
    }
    std::string key;
    if (a->key_case() == v1::Agency::kPublicKeyFile) {
      std::string path = a->public_key_file();
      if (!path.empty() && path[0] != '/') path = base_dir + "/" + path;
      Status s = ReadCurveKeyFile(path, &key);
      if (!s.ok()) return bad(loc.At(at, "refx.v1.Agency", "public_key_file", -1), s.message());
    } else if (a->key_case() == v1::Agency::kPublicKey) {
      key = a->public_key();
      if (!IsZ85Key(key)) {
        return bad(loc.At(at, "refx.v1.Agency", "public_key", -1),
                   "public_key of \"" + a->id() + "\" is not a 40-character Z85 key");
      }
    } else {
      return bad(where, "agency \"" + a->id() + "\" needs public_key or public_key_file");
    }
    a->set_public_key(key);
    if (!cfg->agency_by_key_.emplace(key, i).second) {
      return bad(where, "agency \"" + a->id() + "\" shares its public key with another agency");
    }
    cfg->key_by_fingerprint_[CurveKeyFingerprint(key)] = {i, std::numeric_limits<int64_t>::max()};
    int64_t valid_until = 0;
    REFX_RETURN_IF_ERROR(ResolvePreviousKey(loc, at, base_dir, a, &valid_until));
    if (a->previous_key_case() != v1::Agency::PREVIOUS_KEY_NOT_SET) {
      if (!cfg->agency_by_key_.emplace(a->previous_public_key(), i).second) {
        return bad(where, "the previous key of agency \"" + a->id() + "\" is another agency's key");
      }
      cfg->key_by_fingerprint_[CurveKeyFingerprint(a->previous_public_key())] = {i, valid_until};
    }
  }
  for (int i = 0; i < c.revoked_keys_size(); ++i) {
    const std::string& fingerprint = c.revoked_keys(i);
    const std::string at = loc.At(&tree, "refx.v1.PartnershipConfig", "revoked_keys", i);
    if (!IsCurveKeyFingerprint(fingerprint)) {
      return bad(at, "revoked key \"" + fingerprint +
                         "\" is not a key fingerprint (16 lower-case hex digits; `refx keys fingerprint FILE`)");
    }
    if (!cfg->revoked_keys_.insert(fingerprint).second) {
      return bad(at, "revoked key " + fingerprint + " is listed twice");
    }
  }

  for (int i = 0; i < c.destinations_size(); ++i) {
    const v1::Destination& d = c.destinations(i);
    const auto* at = loc.Nested(&tree, "refx.v1.PartnershipConfig", "destinations", i);
    if (!IsUpperCaseCode(d.code())) {
      return bad(loc.At(at, "refx.v1.Destination", "code", -1),
                 "destination code \"" + d.code() + "\" must be upper case letters, digits and '_'");
    }
    if (!cfg->destination_by_code_.emplace(d.code(), i).second) {
      return bad(loc.At(at, "refx.v1.Destination", "code", -1), "destination code \"" + d.code() + "\" is used twice");
    }
    if (!cfg->agency_by_id_.count(d.agency_id())) {
      return bad(loc.At(at, "refx.v1.Destination", "agency_id", -1),
                 "destination " + d.code() + " names unknown agency \"" + d.agency_id() + "\"");
    }
  }
  REFX_RETURN_IF_ERROR(ValidatePeople(c, *cfg, loc, &cfg->person_by_id_));
  REFX_RETURN_IF_ERROR(ValidateAlerts(c, loc));
  REFX_RETURN_IF_ERROR(ValidateRoutingConfig(c, name, &tree));
  *out = std::move(cfg);
  return Status::OK();
}

const v1::StaffMember* PartnershipConfig::PersonById(const std::string& id) const {
  auto it = person_by_id_.find(id);
  return it == person_by_id_.end() ? nullptr : &config_.people(it->second);
}

bool PartnershipConfig::PersonHasRole(const v1::StaffMember& person, v1::StaffMember::PersonRole role) {
  return std::find(person.roles().begin(), person.roles().end(), role) != person.roles().end();
}

const v1::Agency* PartnershipConfig::AgencyById(const std::string& id) const {
  auto it = agency_by_id_.find(id);
  return it == agency_by_id_.end() ? nullptr : &config_.agencies(it->second);
}

const v1::Agency* PartnershipConfig::AgencyByPublicKey(const std::string& z85) const {
  auto it = agency_by_key_.find(z85);
  return it == agency_by_key_.end() ? nullptr : &config_.agencies(it->second);
}

Status PartnershipConfig::CheckKey(const std::string& fingerprint, int64_t now_unix,
                                   const v1::Agency** agency) const {
  auto it = key_by_fingerprint_.find(fingerprint);
  *agency = it == key_by_fingerprint_.end() ? nullptr : &config_.agencies(it->second.agency);
  if (!revoked_keys_.empty() && revoked_keys_.count(fingerprint)) {
    return Status::PermissionDenied("key " + fingerprint +
                                    (*agency != nullptr ? " of agency \"" + (*agency)->id() + "\"" : std::string()) +
                                    " is revoked");
  }
  if (*agency == nullptr) return Status::NotFound("no agency has key " + fingerprint);
  if (now_unix >= it->second.valid_until) {
    return Status::PermissionDenied("key " + fingerprint + " of agency \"" + (*agency)->id() +
                                    "\" was replaced; its overlap ended at " +
                                    (*agency)->previous_key_valid_until());
  }
  return Status::OK();
}

const v1::Destination* PartnershipConfig::DestinationByCode(const std::string& code) const {
  auto it = destination_by_code_.find(code);
  return it == destination_by_code_.end() ? nullptr : &config_.destinations(it->second);
}

bool PartnershipConfig::HasRole(const v1::Agency& agency, v1::Role role) {
  return std::find(agency.roles().begin(), agency.roles().end(), role) != agency.roles().end();
}

bool PartnershipConfig::MaySubmit(const v1::Agency& agency, v1::Category category) {
  if (!HasRole(agency, v1::SUBMITTER)) return false;
  if (agency.may_submit().empty()) return true;
  return std::find(agency.may_submit().begin(), agency.may_submit().end(), category) != agency.may_submit().end();
}

}  // namespace refx
