// Where the command-line tool finds the stack it talks to by default: the
// one `deploy/refx.sh up` runs, whose state lives in a "home" folder:
//   HOME/config.textproto   the partnership configuration (endpoints, agencies)
//   HOME/keys/NAME.pub|key  CURVE key pairs (broker and each agency)
// HOME is --home, else $REFX_HOME, else the var/ of the checkout the refx
// binary was built in (CHECKOUT/build/bin/refx -> CHECKOUT/var); in that
// last case, run from outside CHECKOUT, refx says on stderr (once) which
// stack it uses. Thread-safety: plain functions, called from main's thread
// (ResolveHome keeps a "said it" flag).
#pragma once

#include <memory>
#include <string>

#include "cli/command_line.h"
#include "client/broker_client.h"
#include "core/partnership_config.h"
#include "core/status.h"

namespace refx::cli {

// Resolves the home folder (see above). Never fails; the folder may not exist.
std::string ResolveHome(const std::string& flag);

// The folder this running binary is in (from /proc/self/exe); "" if unknown.
std::string BinaryFolder();

// Builds client options to act as `agency_id`. NotFound naming the missing
// file when the stack is not set up (e.g. `deploy/refx.sh up` not run).
Status ClientOptionsFor(const ConnectionFlags& flags, const std::string& agency_id, ClientOptions* out);

// How long the listening check waits for a connection.
inline constexpr int kListenCheckMs = 1500;

// Whether anything accepts connections at `endpoint` (tcp://HOST:PORT or
// ipc://PATH), by one plain connect within `timeout_ms`: a stopped broker is
// found at once instead of after every retry of every request. OK if a
// connection was made or the endpoint is of another kind; Unavailable
// ("... is the broker running? try `deploy/refx.sh status`") otherwise.
// It cannot tell a broker that listens but does not answer (BrokerClient's
// retries do).
Status CheckBrokerListening(const std::string& endpoint, int timeout_ms);

// ClientOptionsFor, then CheckBrokerListening: NotFound when not set up,
// Unavailable when no broker listens (see ExitCodeForConnect).
Status ConnectedClientOptions(const ConnectionFlags& flags, const std::string& agency_id, ClientOptions* out);

}  // namespace refx::cli
