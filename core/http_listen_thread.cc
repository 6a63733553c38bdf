#include "core/http_listen_thread.h"

#include <httplib.h>

#include <chrono>

namespace refx {

void HttpListenThread::Start(httplib::Server* server) {
  server_ = server;
  returned_ = false;
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    returned_ = true;
  });
}

void HttpListenThread::Stop() {
  if (!thread_.joinable()) return;
  // Until the thread is listening, stop() would be lost (see the class comment).
  while (!server_->is_running() && !returned_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server_->stop();
  thread_.join();
}

void HttpListenThread::Join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace refx
