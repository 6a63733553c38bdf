// Connecting to the broker as an agency, the one way every `refx`
// subcommand that talks to the broker gets its client, and the one question
// several ask first (the head seq).
//
// Thread-safety: plain functions, called from main's thread (they resolve
// the home folder: cli/local_stack.h). The BrokerClient made is the
// caller's, with BrokerClient's own rules.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "cli/local_stack.h"
#include "client/broker_client.h"
#include "core/status.h"

namespace refx::cli {

// A client acting as `agency_id` (an agency id, taken as given; resolve a
// destination code first with AgencyFor, cli/caller.h), with its key pair
// from the local stack's keys or --key-dir and the timeout and attempts of
// `flags`. On success *out owns the client. NotFound naming the missing
// file when not set up; Unavailable when no broker listens (both as
// ConnectedClientOptions; pass the Status to ExitCodeForConnect).
Status ConnectAs(const ConnectionFlags& flags, const std::string& agency_id, std::unique_ptr<BrokerClient>* out);

// The broker's head seq now (a heartbeat answer) into *head. The Status of
// the call, or the broker's refusal.
Status HeadSeq(BrokerClient* client, uint64_t* head);

}  // namespace refx::cli
