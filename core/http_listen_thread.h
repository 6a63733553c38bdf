// A cpp-httplib server listening on a thread of its own, with a stop that
// cannot miss it.
#pragma once

#include <atomic>
#include <thread>

namespace httplib {
class Server;
}

namespace refx {

// Runs one httplib::Server's listen_after_bind() on a thread and stops it.
//
// Why not server.stop() and join: cpp-httplib 0.11 (Debian 12) acts on
// stop() only once the listening thread is inside listen_after_bind()
// (Server::is_running()). A stop() that comes before it does nothing; the
// thread then blocks in accept() for good and the join never returns. Seen
// as a broker that never exited on a SIGTERM sent right after it became
// ready (about one start in 80 under AddressSanitizer). Stop() waits until
// listening has begun, or has already ended, before it stops the server.
//
// Not thread-safe: call Start, Stop and Join from one thread.
class HttpListenThread {
 public:
  HttpListenThread() = default;
  HttpListenThread(const HttpListenThread&) = delete;
  HttpListenThread& operator=(const HttpListenThread&) = delete;
  ~HttpListenThread() { Stop(); }

  // Starts server->listen_after_bind() on a new thread; the server must be
  // bound already (bind_to_port / bind_to_any_port) and must outlive Stop()
  // or Join(). Requires that this thread is not running.
  void Start(httplib::Server* server);
  // Stops the server and joins the thread. Returns at once if not started;
  // safe to call twice.
  void Stop();
  // Waits for the thread to end without stopping the server (it ends when
  // something else calls Stop or the listener fails).
  void Join();
  bool running() const { return thread_.joinable(); }

 private:
  httplib::Server* server_ = nullptr;
  std::thread thread_;
  std::atomic<bool> returned_{false};  // listen_after_bind has returned
};

}  // namespace refx
