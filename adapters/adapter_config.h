// The configuration of one refx-adapter process (refx.v1.AdapterConfig,
// proto/refx/v1/adapter.proto), loaded from protobuf text format and
// checked, with FILE:LINE:COLUMN errors like the broker's configuration.
// adapters/README.md documents every field.
//
// Thread-safety: immutable after Load; safe to share between threads.
#ifndef REFX_ADAPTERS_ADAPTER_CONFIG_H_
#define REFX_ADAPTERS_ADAPTER_CONFIG_H_

#include <memory>
#include <string>

#include "core/curve_keys.h"
#include "core/status.h"
#include "refx/v1/adapter.pb.h"

namespace refx::adapters {

class AdapterConfig {
 public:
  // Reads and checks `path`. On success *out holds the configuration with
  // defaults filled in, every relative path made absolute against the
  // file's folder, and the agency's CURVE key pair and the broker's public
  // key read. On failure InvalidArgument whose message starts
  // "FILE:LINE:COLUMN: " (or "FILE: " when the fault has no one place) and
  // says what is wrong.
  static Status Load(const std::string& path, std::unique_ptr<AdapterConfig>* out);

  // As Load, from text in memory; `name` is used in messages and
  // `base_dir` resolves relative paths.
  static Status Parse(const std::string& text, const std::string& name, const std::string& base_dir,
                      std::unique_ptr<AdapterConfig>* out);

  const v1::AdapterConfig& proto() const { return config_; }
  const std::string& agency_id() const { return config_.agency_id(); }
  const CurveKeyPair& agency_keys() const { return agency_keys_; }
  const std::string& broker_public_key() const { return broker_public_key_; }

  // True for host names that are loopback: localhost, 127.x.x.x, ::1.
  static bool IsLoopbackHost(const std::string& host);
  // Splits "host:port" ("[::1]:80" too). InvalidArgument when malformed.
  static Status SplitHostPort(const std::string& address, std::string* host, int* port);

 private:
  v1::AdapterConfig config_;
  CurveKeyPair agency_keys_;
  std::string broker_public_key_;
};

}  // namespace refx::adapters

#endif  // REFX_ADAPTERS_ADAPTER_CONFIG_H_
