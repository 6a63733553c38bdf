// What the service executables (refx-router, refx-delivery, refx-outcomes)
// share around their library: the connection flags, loading the
// configuration and the keys, logging set-up, and stopping on SIGTERM/SIGINT.
// Process-level helpers for main(); not thread-safe except where stated.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>

#include "core/broker_client.h"
#include "core/partnership_config.h"

namespace refx {

struct ServiceFlags {
  std::string config_path;
  std::string endpoint;    // empty: broker.frontend_endpoint of the configuration
  std::string server_key;  // empty: KEY_DIR/broker.pub
  std::string key_dir;
  std::string key_name;    // the service's identity; its default is set by the caller
  std::string log_level = "info";
};

// Adds --config, --broker, --server-key, --key-dir, --key-name and
// --log-level to `app`, storing into *flags (which must outlive parsing).
void AddServiceFlags(CLI::App& app, ServiceFlags* flags);

// Sets the log level and pattern, loads the configuration into *config and
// fills *client (endpoint, broker public key, this service's key pair). On
// failure prints "PROGRAM: what is wrong" on stderr and returns false (the
// caller exits 2).
bool LoadServiceSetup(const char* program, const ServiceFlags& flags, std::unique_ptr<PartnershipConfig>* config,
                      ClientOptions* client);

// Blocks SIGTERM and SIGINT in every thread (call first in main, before any
// thread exists, so ZeroMQ's threads inherit the mask) and takes them on one
// thread with sigwait, which then calls on_stop once. No blocking call is
// interrupted (EINTR); the service notices the stop at its next poll. A
// handler is installed first because a signal ignored by inheritance (SIGINT
// of a background job) would otherwise be discarded rather than wait.
void HandleStopSignals(std::function<void()> on_stop);

}  // namespace refx
