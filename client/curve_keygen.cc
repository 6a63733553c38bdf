#include "client/curve_keygen.h"

#include <zmq.h>

#include <string>

namespace refx {

Status GenerateCurveKeyPair(CurveKeyPair* out) {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) {
    return Status::Internal(std::string("zmq_curve_keypair failed (libzmq without CURVE?): ") + zmq_strerror(zmq_errno()));
  }
  out->public_key = pub;
  out->secret_key = sec;
  return Status::OK();
}

}  // namespace refx
