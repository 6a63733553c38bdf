// AppendPipeline: BrokerClient::AppendBatches calls made on background
// threads, so that a service can go on reading the log and deciding its
// next appends while its last ones are being made durable.
//
// Why: a service that waits for each burst's acknowledgements before it
// reads again takes turns with the broker: the broker's loop stages the
// burst, its writer commits it, then both wait while the service reads and
// decides the next one. With two jobs in flight, each on its own
// connection, the next burst reaches the broker while the last is being
// committed, and the service reads meanwhile.
//
// Jobs are started in order and handed back in that order (TakeFinished,
// WaitAll) on the caller's thread, so the caller's own state needs no lock.
// Jobs that run at the same time may be committed in either order: a caller
// must not start a job whose appends depend on an earlier job's result.
// Every append must carry an idempotency key (AppendBatches refuses the job
// otherwise): a job that failed part-way can be sent again whole.
//
// Thread-safety: one thread calls Start, TakeFinished, WaitAll and pending;
// the workers are internal.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "client/broker_client.h"
#include "core/status.h"

namespace refx {

class AppendPipeline {
 public:
  // One AppendBatches call and what came of it.
  // A caller may derive from it to keep what it needs to act on the
  // results (handed back as the Job it started).
  struct Job {
    virtual ~Job() = default;
    std::vector<v1::AppendRequest> appends;  // set by the caller
    uint64_t tag = 0;                        // the caller's, returned as is (e.g. the read position)
    // Set when the job is handed back:
    Status status;                   // AppendBatches' own result (e.g. Unavailable)
    // Per append: its ack's OK or its refusal; for an append the call ended
    // without an answer to (the broker stopped answering), the call's status.
    std::vector<Status> results;
    std::vector<v1::Ack> acks;       // per append, when its result is OK
  };

  // `depth` jobs at most in flight (at least 1), each on its own
  // BrokerClient made from `options` (all in one ZeroMQ context of the
  // pipeline's, so they share one I/O thread); each job is sent in frames of
  // `per_frame` appends with `frames_in_flight` frames outstanding.
  AppendPipeline(const ClientOptions& options, size_t per_frame, size_t frames_in_flight, size_t depth);
  // Waits for the jobs in flight (their results are dropped).
  ~AppendPipeline();

  AppendPipeline(const AppendPipeline&) = delete;
  AppendPipeline& operator=(const AppendPipeline&) = delete;

  // Starts `job`. While `depth` jobs are in flight, first waits until one
  // of them is done; done jobs wait to be taken (TakeFinished).
  void Start(std::unique_ptr<Job> job);

  // The jobs done, oldest first, up to the first one still in flight.
  std::vector<std::unique_ptr<Job>> TakeFinished();

  // Waits until every job started is done, and returns those not yet
  // taken, oldest first.
  std::vector<std::unique_ptr<Job>> WaitAll();

  // Jobs started and not yet taken back (in flight or done).
  size_t pending() const;

 private:
  struct Slot {
    std::unique_ptr<Job> job;
    bool sent = false;  // a worker has it
    bool done = false;
  };
  void Work(size_t worker);

  const size_t per_frame_;
  const size_t frames_in_flight_;
  std::unique_ptr<zmq::context_t> context_;             // the workers' connections share its I/O thread
  std::vector<std::unique_ptr<BrokerClient>> clients_;  // one per worker (closed before context_)
  std::vector<std::thread> workers_;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  // Started and not taken back, oldest first. A worker holds a pointer to
  // the slot it sends; only done slots leave the front.
  std::deque<std::unique_ptr<Slot>> slots_;
  size_t in_flight_ = 0;  // slots not done
  size_t unsent_ = 0;     // slots no worker has yet
  bool stopping_ = false;
};

}  // namespace refx
