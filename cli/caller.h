// Who a command acts as: `--as WHO` names an agency (by id) or one of its
// destinations (by code), resolved against the local stack's partnership
// configuration. `refx inbox` acts for the destinations WHO covers; the
// audit reads and `refx admin` connect as WHO's agency (AgencyFor).
//
// Thread-safety: plain functions and a plain value; call from one thread
// (ResolveHome's rule, cli/local_stack.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/local_stack.h"
#include "core/partnership_config.h"
#include "core/status.h"

namespace refx::cli {

// The caller, resolved from --as WHO.
struct Caller {
  std::unique_ptr<PartnershipConfig> config;
  std::string agency_id;                  // the agency whose key pair is used
  std::vector<std::string> destinations;  // WHO itself, or every destination the agency owns
  bool by_destination = false;            // WHO named a destination (not an agency)

  bool Covers(const std::string& destination) const;
};

// Loads HOME/config.textproto and resolves `who`: a destination code (also
// tried upper-cased) names its owning agency and itself; an agency id names
// itself and every destination it owns, in configuration order. NotFound
// when the configuration is missing or bad, or `who` is neither; NotFound
// when an agency owns no destination and `need_destinations` is true.
Status ResolveCaller(const ConnectionFlags& flags, const std::string& who, bool need_destinations, Caller* out);

// The agency `as` names (ResolveCaller): an agency id, or the agency owning
// a destination code. `as` itself when there is no local configuration to
// resolve it with (then it is taken as the key pair's name).
std::string AgencyFor(const ConnectionFlags& flags, const std::string& as);

}  // namespace refx::cli
