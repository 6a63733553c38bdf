#include "bench/load.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <zmq.hpp>

#include "core/frame_codec.h"

namespace refx::bench {

namespace {

// The first failure of any client thread; later ones are dropped.
class FirstError {
 public:
  void Set(const std::string& message) {
    std::lock_guard<std::mutex> lock(mu_);
    if (message_.empty()) message_ = message;
    failed_.store(true);
  }
  bool failed() const { return failed_.load(); }
  std::string message() const {
    std::lock_guard<std::mutex> lock(mu_);
    return message_;
  }

 private:
  mutable std::mutex mu_;
  std::string message_;
  std::atomic<bool> failed_{false};
};

// Requests per SubmitWindowed call. The window drains at the end of each
// call (a bubble of about one broker turn), so calls are made long (the
// measured interval's end abandons a call part-way); the cap bounds memory
// (a Referral object is ~2-3 KB) across all clients.
size_t ChunkSize(size_t clients, size_t window) {
  const size_t by_memory = 65536 / std::max<size_t>(clients, 1);
  return std::max(window * 32, std::min<size_t>(by_memory, 16384));
}

// Checks one result; returns an error description, or "" if it is a new ack.
std::string CheckAck(const Status& status, const v1::Ack& ack, const std::string& who) {
  if (!status.ok()) return who + ": submission failed: " + status.ToString();
  if (ack.duplicate()) return who + ": unexpected duplicate ack for seq " + std::to_string(ack.seq());
  return "";
}

}  // namespace

std::vector<BenchClient> MakeClients(const Target& target, const std::vector<BenchAgency>& agencies,
                                     zmq::context_t* context) {
  std::vector<BenchClient> out;
  for (const BenchAgency& agency : agencies) {
    ClientOptions options;
    options.endpoint = target.endpoint;
    options.server_public_key = target.server_public_key;
    options.client_keys = agency.keys;
    // A benchmark must not hide a stall behind a retry: one attempt, and a
    // timeout long enough that only a stuck broker reaches it.
    options.request_timeout_ms = 30000;
    options.max_attempts = 1;
    out.push_back(BenchClient{&agency, std::make_unique<BrokerClient>(options, context)});
  }
  return out;
}

namespace {

// Thrown from a SubmitWindowed result callback when the measured interval
// is over, to abandon the rest of the call (BrokerClient holds only RAII
// state there). Replies to the abandoned requests are ignored by the
// client's next call, whose correlation ids are all new.
struct StopRun {};

}  // namespace

ClosedLoopResult RunClosedLoop(std::vector<BenchClient>& clients, const v1::Referral& referral_template,
                               const ClosedLoopOptions& options, const std::function<void(bool begin)>& on_interval) {
  StartGate gate(clients.size());
  FirstError error;
  std::atomic<uint64_t> total{0};
  // Written by this thread before the gate opens; read by clients after.
  Clock::time_point begin, end;
  std::vector<std::thread> threads;
  for (size_t c = 0; c < clients.size(); ++c) {
    threads.emplace_back([&, c] {
      const BenchAgency& agency = *clients[c].agency;
      BrokerClient& client = *clients[c].client;
      const std::string tag = options.run_tag + "c" + std::to_string(c);
      bool arrived = false;
      uint64_t counted = 0;
      try {
        v1::Referral referral = referral_template;
        referral.mutable_referrer()->set_agency_id(agency.id);

        // Warm-up submission: on the first run it also completes the CURVE
        // handshake and the ZAP check.
        uint64_t n = 0;
        referral.set_referrer_reference(Reference(tag, n++));
        v1::Ack ack;
        std::string problem = CheckAck(client.Submit(referral, &ack), ack, agency.id);
        if (!problem.empty()) throw BenchError(problem);
        // Built before the start: copying thousands of referrals is set-up,
        // not load.
        std::vector<v1::Referral> chunk;
        const size_t in_flight =
            options.mode == Mode::kBatched ? options.per_frame * options.frame_window : options.window;
        if (options.mode != Mode::kStrict) chunk.assign(ChunkSize(clients.size(), in_flight), referral);
        arrived = true;
        gate.ArriveAndWait();

        auto count_if_inside = [&] {
          const auto now = Clock::now();
          if (now >= begin && now < end) ++counted;
        };
        if (options.mode == Mode::kStrict) {
          while (Clock::now() < end && !error.failed()) {
            referral.set_referrer_reference(Reference(tag, n++));
            problem = CheckAck(client.Submit(referral, &ack), ack, agency.id);
            if (!problem.empty()) throw BenchError(problem);
            count_if_inside();
          }
        } else {
          while (Clock::now() < end && !error.failed()) {
            for (v1::Referral& r : chunk) r.set_referrer_reference(Reference(tag, n++));
            auto on_result = [&](size_t, const Status& status, const v1::Ack& result) {
              problem = CheckAck(status, result, agency.id);
              if (!problem.empty()) throw BenchError(problem);
              count_if_inside();
              if (Clock::now() >= end || error.failed()) throw StopRun{};
            };
            Status s = options.mode == Mode::kBatched
                           ? client.SubmitBatches(chunk, options.per_frame, options.frame_window, on_result)
                           : client.SubmitWindowed(chunk, options.window, on_result);
            if (!s.ok()) throw BenchError(agency.id + ": submitting: " + s.ToString());
          }
        }
      } catch (const StopRun&) {
        // The measured interval is over.
      } catch (const std::exception& e) {
        error.Set(e.what());
        if (!arrived) gate.ArriveAndWait();  // do not leave the others waiting
      }
      total.fetch_add(counted);
    });
  }
  gate.WaitForAll();
  const auto start = Clock::now();
  begin = start + options.warmup;
  end = begin + options.duration;
  gate.Open();
  std::this_thread::sleep_until(begin);
  if (on_interval && !error.failed()) on_interval(true);
  std::this_thread::sleep_until(end);
  if (on_interval && !error.failed()) on_interval(false);
  for (auto& t : threads) t.join();
  if (error.failed()) throw BenchError(error.message());
  ClosedLoopResult result;
  result.acks = total.load();
  result.seconds = std::chrono::duration<double>(options.duration).count();
  return result;
}

OpenLoopResult RunOpenLoop(const Target& target, const BenchAgency& agency, const v1::Referral& referral_template,
                           double rate, std::chrono::milliseconds duration, const std::string& run_tag) {
  const size_t total = static_cast<size_t>(rate * std::chrono::duration<double>(duration).count());
  const size_t warmup = 50;
  if (total == 0) throw BenchError("open loop: nothing to send");

  // Every request encoded up front, so the sender only copies bytes.
  // Correlation ids 1..warmup are the warm-up, warmup+1.. the measured ones.
  v1::Referral referral = referral_template;
  referral.mutable_referrer()->set_agency_id(agency.id);
  std::vector<std::string> frames(warmup + total);
  for (size_t i = 0; i < frames.size(); ++i) {
    v1::Frame frame;
    frame.set_correlation_id(i + 1);
    referral.set_referrer_reference(Reference(run_tag, i));
    *frame.mutable_submit()->mutable_referral() = referral;
    frames[i] = EncodeFrame(frame);
  }

  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::sndhwm, 0);  // never block or drop: the schedule rules
  socket.set(zmq::sockopt::rcvhwm, 0);
  socket.set(zmq::sockopt::curve_serverkey, target.server_public_key);
  socket.set(zmq::sockopt::curve_publickey, agency.keys.public_key);
  socket.set(zmq::sockopt::curve_secretkey, agency.keys.secret_key);
  socket.connect(target.endpoint);
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};

  // Reads one reply; returns its correlation id after checking it is a new ack.
  auto receive = [&](zmq::message_t& msg) -> uint64_t {
    v1::Frame reply;
    Status s = DecodeFrame(msg.data(), msg.size(), 1 << 20, &reply);
    if (!s.ok()) throw BenchError("open loop: undecodable reply: " + s.ToString());
    if (reply.has_error()) throw BenchError("open loop: " + StatusFromError(reply.error()).ToString());
    if (!reply.has_ack() || reply.ack().duplicate()) throw BenchError("open loop: reply is not a new ack");
    const uint64_t id = reply.correlation_id();
    if (id == 0 || id > frames.size()) throw BenchError("open loop: reply with an unknown correlation id");
    return id;
  };

  // Warm-up, strictly one at a time: handshake, ZAP, first RocksDB writes.
  for (size_t i = 0; i < warmup; ++i) {
    socket.send(zmq::buffer(frames[i]), zmq::send_flags::none);
    if (zmq::poll(&item, 1, std::chrono::milliseconds(30000)) <= 0) throw BenchError("open loop: warm-up timed out");
    zmq::message_t msg;
    (void)socket.recv(msg, zmq::recv_flags::none);
    receive(msg);
  }

  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
  const auto start = Clock::now() + std::chrono::milliseconds(10);
  auto scheduled = [&](size_t i) { return start + interval * static_cast<int64_t>(i); };
  std::vector<double> latency_ms(total, -1);
  OpenLoopResult out;
  size_t next = 0, received = 0;
  auto last_progress = Clock::now();
  zmq::message_t msg;
  while (received < total) {
    auto now = Clock::now();
    while (next < total && scheduled(next) <= now) {
      socket.send(zmq::buffer(frames[warmup + next]), zmq::send_flags::none);
      out.max_send_lag_ms =
          std::max(out.max_send_lag_ms, std::chrono::duration<double, std::milli>(now - scheduled(next)).count());
      ++next;
    }
    while (socket.recv(msg, zmq::recv_flags::dontwait)) {
      const auto arrived = Clock::now();
      const uint64_t id = receive(msg);
      if (id <= warmup) continue;
      const size_t index = id - warmup - 1;
      if (latency_ms[index] >= 0) throw BenchError("open loop: two replies for one request");
      latency_ms[index] = std::chrono::duration<double, std::milli>(arrived - scheduled(index)).count();
      ++received;
      last_progress = arrived;
    }
    if (received == total) break;
    now = Clock::now();
    if (now - last_progress > std::chrono::seconds(30)) throw BenchError("open loop: no reply for 30 s");
    // Wait for a reply or the next send. zmq::poll wakes at once on a reply
    // but its timeout is in whole milliseconds; under 1 ms to the next send,
    // sleep in 50 us steps instead (replies then wait at most that long).
    const auto until_next = next < total ? scheduled(next) - now : std::chrono::milliseconds(5);
    const auto whole_ms = std::chrono::duration_cast<std::chrono::milliseconds>(until_next);
    if (whole_ms.count() >= 1) {
      zmq::poll(&item, 1, whole_ms);
    } else {
      std::this_thread::sleep_for(std::min<Clock::duration>(until_next, std::chrono::microseconds(50)));
    }
  }
  socket.close();
  context.close();

  out.sent = total;
  std::sort(latency_ms.begin(), latency_ms.end());
  double sum = 0;
  for (double v : latency_ms) sum += v;
  out.mean_ms = sum / static_cast<double>(total);
  out.p50_ms = PercentileSorted(latency_ms, 50);
  out.p99_ms = PercentileSorted(latency_ms, 99);
  out.p999_ms = PercentileSorted(latency_ms, 99.9);
  out.max_ms = latency_ms.back();
  return out;
}

}  // namespace refx::bench
