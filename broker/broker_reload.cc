// Reloading the partnership configuration while serving (SIGHUP, or a
// ReloadRequest from an ADMIN identity): see Broker::Reload in broker.h.
#include <google/protobuf/util/message_differencer.h>
#include <spdlog/spdlog.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/ledger.h"
#include "broker/waiter.h"
#include "core/frame_codec.h"

namespace refx::broker {

namespace {

using google::protobuf::util::MessageDifferencer;

// Adds "<what> added: id", "<what> removed: id" and "<what> changed: id"
// lines for the elements of two repeated fields, matched by `key`.
template <typename Repeated, typename Key>
void DiffById(const char* what, const Repeated& before, const Repeated& after, const Key& key,
              std::vector<std::string>* changes) {
  std::map<std::string, const typename Repeated::value_type*> old_by_id, new_by_id;
  for (const auto& e : before) old_by_id[key(e)] = &e;
  for (const auto& e : after) new_by_id[key(e)] = &e;
  for (const auto& [id, e] : new_by_id) {
    auto it = old_by_id.find(id);
    if (it == old_by_id.end()) {
      changes->push_back(std::string(what) + " added: " + id);
    } else if (!MessageDifferencer::Equals(*it->second, *e)) {
      changes->push_back(std::string(what) + " changed: " + id);
    }
  }
  for (const auto& [id, e] : old_by_id) {
    if (!new_by_id.count(id)) changes->push_back(std::string(what) + " removed: " + id);
  }
}

// What differs between two configurations, one line each (ids only).
std::vector<std::string> Changes(const v1::PartnershipConfig& before, const v1::PartnershipConfig& after) {
  std::vector<std::string> changes;
  DiffById("agency", before.agencies(), after.agencies(), [](const v1::Agency& a) { return a.id(); }, &changes);
  DiffById("person", before.people(), after.people(), [](const v1::StaffMember& p) { return p.id(); }, &changes);
  DiffById("destination", before.destinations(), after.destinations(),
           [](const v1::Destination& d) { return d.code(); }, &changes);
  v1::PartnershipConfig rules_before, rules_after;
  *rules_before.mutable_rules() = before.rules();
  *rules_after.mutable_rules() = after.rules();
  if (!MessageDifferencer::Equals(rules_before, rules_after)) changes.push_back("routing rules changed");
  // Fingerprints name keys without quoting them (core/curve_keys.h).
  const std::set<std::string> revoked_before(before.revoked_keys().begin(), before.revoked_keys().end());
  const std::set<std::string> revoked_after(after.revoked_keys().begin(), after.revoked_keys().end());
  for (const std::string& key : revoked_after) {
    if (!revoked_before.count(key)) changes.push_back("key revoked: " + key);
  }
  for (const std::string& key : revoked_before) {
    if (!revoked_after.count(key)) changes.push_back("key no longer revoked: " + key);
  }
  v1::PartnershipConfig rest_before = before, rest_after = after;
  for (v1::PartnershipConfig* c : {&rest_before, &rest_after}) {
    c->clear_revoked_keys();
    c->clear_agencies();
    c->clear_people();
    c->clear_destinations();
    c->clear_rules();
    c->clear_broker();
  }
  if (!MessageDifferencer::Equals(rest_before, rest_after)) changes.push_back("other settings changed");
  if (!MessageDifferencer::Equals(before.broker(), after.broker())) {
    changes.push_back("broker settings changed: they take effect at the next restart");
  }
  return changes;
}

}  // namespace

Status Broker::Reload(v1::ReloadResult* result) {
  if (options_.config_path.empty()) {
    return Status::Unavailable("this broker was not started from a configuration file; nothing to reload");
  }
  std::unique_ptr<PartnershipConfig> loaded;
  Status s = PartnershipConfig::Load(options_.config_path, &loaded);
  if (!s.ok()) {
    spdlog::error("broker: reload refused, the running configuration stays: {}", s.message());
    ++metrics_.errors;
    return s;
  }
  const std::vector<std::string> changes = Changes(config_->proto(), loaded->proto());
  const PartnershipConfig* next = loaded.get();
  reloaded_.push_back(std::move(loaded));
  config_ = next;
  ledger_->SetConfig(next);
  if (zap_) zap_->SetConfig(next);
  const v1::PartnershipConfig& c = next->proto();
  spdlog::info("broker: configuration reloaded from {}: {} agencies, {} people, {} destinations, {} rules; {}",
               options_.config_path, c.agencies_size(), c.people_size(), c.destinations_size(), c.rules_size(),
               changes.empty() ? std::string("no changes") : std::to_string(changes.size()) + " changes");
  for (const std::string& change : changes) spdlog::info("broker: reload: {}", change);
  if (result != nullptr) {
    result->set_config_file(options_.config_path);
    result->set_agencies(static_cast<uint32_t>(c.agencies_size()));
    result->set_people(static_cast<uint32_t>(c.people_size()));
    result->set_destinations(static_cast<uint32_t>(c.destinations_size()));
    result->set_rules(static_cast<uint32_t>(c.rules_size()));
    for (const std::string& change : changes) result->add_changes(change);
  }
  return Status::OK();
}

void Broker::HandleReload(const v1::Agency& actor, const Waiter& waiter) {
  if (!PartnershipConfig::HasRole(actor, v1::ADMIN)) {
    return ReplyError(waiter, Status::PermissionDenied("agency \"" + actor.id() +
                                                       "\" may not reload the configuration (needs ADMIN)"));
  }
  spdlog::info("broker: reload requested by {}", actor.id());
  v1::Frame reply;
  reply.set_correlation_id(waiter.correlation_id);
  Status s = Reload(reply.mutable_reload_result());
  if (!s.ok()) return ReplyError(waiter, s);
  Reply(waiter, reply);
}

}  // namespace refx::broker
