// CURVE key pairs for ZeroMQ, kept as Z85 text (40 characters each).
//
// On disk a key pair named N in folder D is two files:
//   D/N.pub   the public key, one line   (may be shared freely)
//   D/N.key   the secret key, one line   (mode 0600; never leaves the host)
// Pure functions and file I/O; thread-safe. No libzmq here: the Z85 check
// follows ZeroMQ RFC 32 as zmq_z85_decode does, so that configuration and
// key files can be checked without the client library. Generating a pair
// needs libzmq: client/curve_keygen.h.
#pragma once

#include <string>

#include "core/status.h"

namespace refx {

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters; empty when only the public key is known
};

// True if `z85` is a well-formed 40-character Z85 key.
bool IsZ85Key(const std::string& z85);

// The key's fingerprint: the first 16 lower-case hex digits of SHA-256 of
// the 40-character Z85 text (`printf %s KEY | sha256sum | cut -c1-16`).
// Names a key in logs, in ZAP metadata and in the configuration's
// revoked_keys without quoting the key itself.
std::string CurveKeyFingerprint(const std::string& z85);

// True if `text` has the form of a fingerprint (16 lower-case hex digits).
bool IsCurveKeyFingerprint(const std::string& text);

// Writes D/N.pub and D/N.key (creating D). Refuses to overwrite existing files.
Status SaveCurveKeyPair(const std::string& dir, const std::string& name, const CurveKeyPair& pair);

// Reads one key file (.pub or .key), trimming surrounding white space;
// InvalidArgument naming the file if it does not hold a Z85 key.
Status ReadCurveKeyFile(const std::string& path, std::string* z85);

// Reads D/N.pub and D/N.key.
Status LoadCurveKeyPair(const std::string& dir, const std::string& name, CurveKeyPair* out);

}  // namespace refx
