#include "cli/caller.h"

#include <algorithm>
#include <cctype>

namespace refx::cli {

bool Caller::Covers(const std::string& destination) const {
  return std::find(destinations.begin(), destinations.end(), destination) != destinations.end();
}

Status ResolveCaller(const ConnectionFlags& flags, const std::string& who, bool need_destinations, Caller* out) {
  const std::string path = ResolveHome(flags.home) + "/config.textproto";
  Status s = PartnershipConfig::Load(path, &out->config);
  if (!s.ok()) {
    return Status::NotFound("no local stack configuration (" + s.message() +
                            "); run deploy/refx.sh up, or pass --home");
  }
  std::string upper = who;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const v1::Destination* dest = out->config->DestinationByCode(who);
  if (dest == nullptr) dest = out->config->DestinationByCode(upper);
  if (dest != nullptr) {
    out->agency_id = dest->agency_id();
    out->destinations = {dest->code()};
    out->by_destination = true;
    return Status::OK();
  }
  if (out->config->AgencyById(who) == nullptr) {
    return Status::NotFound("--as \"" + who + "\" is neither an agency id nor a destination code in " + path);
  }
  out->agency_id = who;
  out->by_destination = false;
  out->destinations.clear();
  for (const auto& d : out->config->proto().destinations()) {
    if (d.agency_id() == who) out->destinations.push_back(d.code());
  }
  if (need_destinations && out->destinations.empty()) {
    return Status::NotFound("agency \"" + who + "\" owns no destination in " + path);
  }
  return Status::OK();
}

std::string AgencyFor(const ConnectionFlags& flags, const std::string& as) {
  Caller caller;
  if (ResolveCaller(flags, as, false, &caller).ok()) return caller.agency_id;
  return as;  // no configuration to look it up in: the key pair's name
}

}  // namespace refx::cli
