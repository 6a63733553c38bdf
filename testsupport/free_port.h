// A free TCP port on 127.0.0.1, for the processes the tests and benchmarks
// start (adapters, consoles, SMTP and webhook receivers).
#ifndef REFX_TESTSUPPORT_FREE_PORT_H_
#define REFX_TESTSUPPORT_FREE_PORT_H_

namespace refx::testsupport {

// Asks the kernel for a port that was free a moment ago (bind to port 0,
// read it back, close). Another process may take it before the caller binds
// it; callers that can should let the server pick its own port instead.
// Returns 0 when no socket could be bound. Thread-safe.
int FreeLoopbackPort();

}  // namespace refx::testsupport

#endif  // REFX_TESTSUPPORT_FREE_PORT_H_
