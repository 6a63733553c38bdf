// Generating CURVE key pairs (libzmq's zmq_curve_keypair). The key files and
// the Z85 check are in core/curve_keys.h, which does not need libzmq.
// Thread-safe.
#pragma once

#include "core/curve_keys.h"
#include "core/status.h"

namespace refx {

// Generates a fresh key pair into *out. Internal error if libzmq was built
// without CURVE; *out is then unchanged.
Status GenerateCurveKeyPair(CurveKeyPair* out);

}  // namespace refx
