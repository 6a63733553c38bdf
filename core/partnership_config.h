// The partnership configuration loaded from a protobuf text-format file and
// checked: who takes part (agencies with CURVE keys and roles), where cases
// go (destinations), the named people who use the console (people) and
// broker settings.
//
// Thread-safety: immutable after Load; safe to share between threads.
#pragma once

#include <map>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "core/status.h"
#include "refx/v1/config.pb.h"

namespace refx {

class PartnershipConfig {
 public:
  // Reads and checks `path`. On success *out holds the configuration, with
  // every agency's public key resolved to Z85 (key files are read relative
  // to the file's folder) and broker defaults filled in. On failure returns
  // InvalidArgument whose message starts "FILE:LINE:COLUMN: " and says what
  // is wrong (a syntax error, an unknown field, a duplicate or malformed id,
  // a missing or malformed key, a destination naming an unknown agency…).
  static Status Load(const std::string& path, std::unique_ptr<PartnershipConfig>* out);

  // As Load, from text already in memory; `name` is used in messages and
  // `base_dir` to resolve key files.
  static Status Parse(const std::string& text, const std::string& name, const std::string& base_dir,
                      std::unique_ptr<PartnershipConfig>* out);

  const v1::PartnershipConfig& proto() const { return config_; }
  const v1::BrokerSettings& broker() const { return config_.broker(); }

  // nullptr when unknown.
  const v1::Agency* AgencyById(const std::string& id) const;
  // The agency whose current or previous key this is (whether or not the
  // previous key's overlap has ended; CheckKey says that); nullptr when
  // unknown.
  const v1::Agency* AgencyByPublicKey(const std::string& z85) const;
  // Whether the CURVE key with this fingerprint (CurveKeyFingerprint) is
  // accepted at `now_unix` (seconds since the epoch). OK when it is an
  // agency's key, or its previous key before previous_key_valid_until.
  // NotFound when no agency has it; PermissionDenied when it is revoked
  // (revoked_keys) or a previous key whose overlap has ended. Messages name
  // the agency and the fingerprint, never the key. *agency is set to the
  // key's agency whenever one has it, else to nullptr. Cheap: one map
  // lookup, no allocation when the key is accepted.
  Status CheckKey(const std::string& fingerprint, int64_t now_unix, const v1::Agency** agency) const;
  const v1::Destination* DestinationByCode(const std::string& code) const;
  // The named person (a console user) with this id; nullptr when unknown.
  const v1::StaffMember* PersonById(const std::string& id) const;

  static bool HasRole(const v1::Agency& agency, v1::Role role);
  // True if the agency may submit referrals of this category.
  static bool MaySubmit(const v1::Agency& agency, v1::Category category);
  static bool PersonHasRole(const v1::StaffMember& person, v1::StaffMember::PersonRole role);

 private:
  v1::PartnershipConfig config_;
  std::map<std::string, int> agency_by_id_;
  std::map<std::string, int> agency_by_key_;
  // Every agency's keys by fingerprint: the agency's index and, for a
  // previous key, the end of its overlap (Unix seconds; INT64_MAX for a
  // current key).
  struct KeyEntry {
    int agency;
    int64_t valid_until;
  };
  std::map<std::string, KeyEntry> key_by_fingerprint_;
  std::set<std::string> revoked_keys_;
  std::map<std::string, int> destination_by_code_;
  std::map<std::string, int> person_by_id_;
};

}  // namespace refx
