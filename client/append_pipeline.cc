#include "client/append_pipeline.h"

#include <algorithm>
#include <utility>
#include <zmq.hpp>

namespace refx {

AppendPipeline::AppendPipeline(const ClientOptions& options, size_t per_frame, size_t frames_in_flight, size_t depth)
    : per_frame_(per_frame), frames_in_flight_(frames_in_flight), context_(std::make_unique<zmq::context_t>(1)) {
  depth = std::max<size_t>(depth, 1);
  for (size_t i = 0; i < depth; ++i) clients_.push_back(std::make_unique<BrokerClient>(options, context_.get()));
  for (size_t i = 0; i < depth; ++i) workers_.emplace_back([this, i] { Work(i); });
}

AppendPipeline::~AppendPipeline() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return in_flight_ == 0; });
    stopping_ = true;
  }
  changed_.notify_all();
  for (std::thread& t : workers_) t.join();
  clients_.clear();  // their sockets close before the context does
}

void AppendPipeline::Start(std::unique_ptr<Job> job) {
  auto slot = std::make_unique<Slot>();
  slot->job = std::move(job);
  {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return in_flight_ < workers_.size(); });
    ++in_flight_;
    ++unsent_;
    slots_.push_back(std::move(slot));
  }
  changed_.notify_all();
}

std::vector<std::unique_ptr<AppendPipeline::Job>> AppendPipeline::TakeFinished() {
  std::vector<std::unique_ptr<Job>> out;
  std::lock_guard<std::mutex> lock(mu_);
  while (!slots_.empty() && slots_.front()->done) {
    out.push_back(std::move(slots_.front()->job));
    slots_.pop_front();
  }
  return out;
}

std::vector<std::unique_ptr<AppendPipeline::Job>> AppendPipeline::WaitAll() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return in_flight_ == 0; });
  }
  return TakeFinished();
}

size_t AppendPipeline::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return slots_.size();
}

void AppendPipeline::Work(size_t worker) {
  BrokerClient& client = *clients_[worker];
  for (;;) {
    Slot* slot = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait(lock, [this] { return stopping_ || unsent_ > 0; });
      if (unsent_ == 0) return;  // stopping, nothing left to send
      for (const auto& s : slots_) {
        if (!s->sent) {
          slot = s.get();
          break;
        }
      }
      slot->sent = true;
      --unsent_;
    }
    // The job is this worker's alone until it is marked done.
    Job& job = *slot->job;
    job.results.assign(job.appends.size(), Status::OK());
    job.acks.assign(job.appends.size(), v1::Ack());
    std::vector<bool> answered(job.appends.size(), false);
    job.status = client.AppendBatches(job.appends, per_frame_, frames_in_flight_,
                                      [&](size_t i, const Status& s, const v1::Ack& ack) {
                                        job.results[i] = s;
                                        job.acks[i] = ack;
                                        answered[i] = true;
                                      });
    for (size_t i = 0; i < answered.size(); ++i) {
      if (answered[i]) continue;
      job.results[i] = job.status.ok() ? Status::Internal("the broker client ended without an answer for append " +
                                                          std::to_string(i))
                                       : job.status;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      slot->done = true;
      --in_flight_;
    }
    changed_.notify_all();
  }
}

}  // namespace refx
