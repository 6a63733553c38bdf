#include "bench/ceilings.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <google/protobuf/util/time_util.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <zmq.hpp>

#include "bench/bench_support.h"
#include "client/curve_keygen.h"
#include "core/civil_date.h"
#include "core/event_util.h"
#include "core/frame_codec.h"
#include "core/referral_validation.h"
#include "eventlog/event_log.h"
#include "eventlog/hash_chain.h"
#include "eventlog/keys.h"

namespace refx::bench {

namespace {

double ThreadCpuNow() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Fills in the figures common to both write ceilings from the per-batch
// durations (seconds) and the thread CPU seconds spent in them.
WriteCeiling Summarise(size_t batch, std::vector<double> batch_seconds, double cpu_seconds) {
  WriteCeiling out;
  out.batch = batch;
  out.cpu_us_per_event = batch_seconds.empty() ? 0 : cpu_seconds * 1e6 / static_cast<double>(batch * batch_seconds.size());
  out.batches = batch_seconds.size();
  double total = 0;
  for (double s : batch_seconds) total += s;
  out.events_per_s = total > 0 ? static_cast<double>(batch * batch_seconds.size()) / total : 0;
  std::sort(batch_seconds.begin(), batch_seconds.end());
  out.batch_p50_ms = PercentileSorted(batch_seconds, 50) * 1e3;
  out.batch_p99_ms = PercentileSorted(batch_seconds, 99) * 1e3;
  return out;
}

// Runs `write_one` (one synced batch) until `duration` of wall time has
// passed and at least 3 batches are done, and summarises the calls' wall and
// CPU time. `prepare` runs before each batch and is not timed.
template <typename Prepare, typename WriteOne>
WriteCeiling TimeBatches(size_t batch, std::chrono::milliseconds duration, Prepare prepare, WriteOne write_one) {
  std::vector<double> seconds;
  double cpu = 0;
  const auto end = Clock::now() + duration;
  while (Clock::now() < end || seconds.size() < 3) {
    prepare();
    const double cpu0 = ThreadCpuNow();
    const auto t0 = Clock::now();
    write_one();
    seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    cpu += ThreadCpuNow() - cpu0;
  }
  return Summarise(batch, std::move(seconds), cpu);
}

}  // namespace

WriteCeiling EventLogCeiling(const std::string& dir, const v1::Referral& referral, size_t batch,
                             std::chrono::milliseconds duration) {
  eventlog::OpenOptions options;
  options.path = dir;
  options.sync = true;
  std::unique_ptr<eventlog::EventLog> log;
  Status s = eventlog::EventLog::Open(options, &log);
  if (!s.ok()) throw BenchError("EventLog::Open(" + dir + "): " + s.ToString());

  // Built once, renumbered before each write (outside the timed call), so
  // that only AppendBatch itself is measured.
  const std::string actor = "bench-agency-00";
  std::vector<eventlog::PendingEvent> pending(batch);
  for (auto& p : pending) p.event = MakeSubmittedEvent(1, actor, referral);
  uint64_t n = 0;
  return TimeBatches(
      batch, duration,
      [&] {
        uint64_t seq = log->head_seq();
        for (auto& p : pending) {
          ++seq;
          p.event.set_seq(seq);
          p.event.mutable_referral_submitted()->set_referral_id(ReferralIdForSeq(seq));
          p.dedupe_key = eventlog::DedupeKey(actor, Reference("ceil", ++n));
        }
      },
      [&] {
        Status w = log->AppendBatch(pending);
        if (!w.ok()) throw BenchError("EventLog::AppendBatch: " + w.ToString());
      });
}

WriteCeiling RocksDbCeiling(const std::string& dir, const std::string& value, size_t batch,
                            std::chrono::milliseconds duration) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) throw BenchError("rocksdb::DB::Open(" + dir + "): " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  // Continue after keys an earlier call wrote, so every Put is an insert.
  uint64_t key = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    it->SeekToLast();
    if (it->Valid() && it->key().size() == 8) key = eventlog::DecodeSeq(it->key().ToStringView());
  }
  // Filling the WriteBatch (copying the values) is timed, as the
  // EventLog's own batch building is.
  rocksdb::WriteBatch wb;
  WriteCeiling out = TimeBatches(
      batch, duration, [] {},
      [&] {
        wb.Clear();
        for (size_t i = 0; i < batch; ++i) wb.Put(eventlog::EncodeSeq(++key), value);
        rocksdb::Status w = db->Write(wo, &wb);
        if (!w.ok()) throw BenchError("rocksdb::DB::Write: " + w.ToString());
      });
  db->Close();
  return out;
}

FlushLatency DiskFlushProbe(const std::string& dir, size_t bytes, std::chrono::microseconds gap, int count) {
  const std::string path = dir + "/flush-probe.dat";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw BenchError("cannot create " + path);
  // Preallocated and flushed first, as RocksDB preallocates its WAL, so the
  // probe measures data flushes rather than file growth.
  const off_t size = static_cast<off_t>(bytes) * (count + 1);
  if (::posix_fallocate(fd, 0, size) != 0 || ::fsync(fd) != 0) {
    ::close(fd);
    throw BenchError("cannot preallocate " + path);
  }
  const std::string record(bytes, 'r');
  std::vector<double> ms;
  for (int i = 0; i < count; ++i) {
    const auto t0 = Clock::now();
    if (::write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size()) || ::fdatasync(fd) != 0) {
      ::close(fd);
      throw BenchError("write/fdatasync failed on " + path);
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (gap.count() > 0) std::this_thread::sleep_for(gap);
  }
  ::close(fd);
  ::unlink(path.c_str());
  std::sort(ms.begin(), ms.end());
  return FlushLatency{PercentileSorted(ms, 50), PercentileSorted(ms, 99), ms.back()};
}

namespace {

// A ROUTER that sends every message straight back, on its own thread.
class EchoServer {
 public:
  EchoServer(bool curve, const CurveKeyPair& keys) : context_(1), socket_(context_, zmq::socket_type::router) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::sndhwm, 100000);
    socket_.set(zmq::sockopt::rcvhwm, 100000);
    if (curve) {
      socket_.set(zmq::sockopt::curve_server, 1);
      socket_.set(zmq::sockopt::curve_secretkey, keys.secret_key);
    }
    socket_.bind("tcp://127.0.0.1:*");
    endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] { Serve(); });
  }
  ~EchoServer() {
    stop_.store(true);
    thread_.join();
    socket_.close();
    context_.close();
  }
  const std::string& endpoint() const { return endpoint_; }

 private:
  void Serve() {
    zmq::message_t id, payload;
    while (!stop_.load()) {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(50)) <= 0) continue;
      while (socket_.recv(id, zmq::recv_flags::dontwait)) {
        (void)socket_.recv(payload, zmq::recv_flags::none);
        socket_.send(id, zmq::send_flags::sndmore);
        socket_.send(payload, zmq::send_flags::none);
      }
    }
  }

  zmq::context_t context_;
  zmq::socket_t socket_;
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

EchoCeiling ZmqEchoCeiling(bool curve, size_t clients, size_t window, size_t message_bytes, int client_io_threads,
                           std::chrono::milliseconds duration) {
  CurveKeyPair server_keys;
  if (curve) {
    Status s = GenerateCurveKeyPair(&server_keys);
    if (!s.ok()) throw BenchError(s.ToString());
  }
  EchoServer server(curve, server_keys);
  zmq::context_t context(client_io_threads);
  StartGate gate(clients);
  std::atomic<uint64_t> total{0};
  std::atomic<bool> failed{false};
  Clock::time_point end;
  std::vector<std::thread> threads;
  for (size_t c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      try {
        zmq::socket_t socket(context, zmq::socket_type::dealer);
        socket.set(zmq::sockopt::linger, 0);
        socket.set(zmq::sockopt::sndhwm, 100000);
        socket.set(zmq::sockopt::rcvhwm, 100000);
        if (curve) {
          CurveKeyPair mine;
          (void)GenerateCurveKeyPair(&mine);
          socket.set(zmq::sockopt::curve_serverkey, server_keys.public_key);
          socket.set(zmq::sockopt::curve_publickey, mine.public_key);
          socket.set(zmq::sockopt::curve_secretkey, mine.secret_key);
        }
        socket.connect(server.endpoint());
        const std::string payload(message_bytes, 'x');
        zmq::message_t reply;
        // Warm up: one round trip completes the (CURVE) handshake.
        socket.send(zmq::buffer(payload), zmq::send_flags::none);
        zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, std::chrono::milliseconds(5000)) <= 0) throw BenchError("echo warm-up timed out");
        (void)socket.recv(reply, zmq::recv_flags::none);
        gate.ArriveAndWait();

        uint64_t done = 0;
        size_t in_flight = 0;
        while (true) {
          const bool more = Clock::now() < end;
          while (more && in_flight < window) {
            socket.send(zmq::buffer(payload), zmq::send_flags::none);
            ++in_flight;
          }
          if (in_flight == 0) break;
          if (zmq::poll(&item, 1, std::chrono::milliseconds(5000)) <= 0) throw BenchError("echo reply timed out");
          while (in_flight > 0 && socket.recv(reply, zmq::recv_flags::dontwait)) {
            --in_flight;
            if (Clock::now() < end) ++done;
          }
        }
        total.fetch_add(done);
        socket.close();
      } catch (const std::exception& e) {
        failed.store(true);
        std::fprintf(stderr, "echo client: %s\n", e.what());
      }
    });
  }
  gate.WaitForAll();
  const auto start = Clock::now();
  end = start + duration;
  gate.Open();
  for (auto& t : threads) t.join();
  context.close();
  if (failed.load()) throw BenchError("ZeroMQ echo ceiling failed");
  EchoCeiling out;
  out.msgs_per_s = static_cast<double>(total.load()) / std::chrono::duration<double>(duration).count();
  return out;
}

CpuPath MeasureCpuPath(const v1::Referral& referral, int iterations) {
  if (!eventlog::InitCrypto()) throw BenchError("libsodium failed to initialise");
  CpuPath out;
  const CivilDate today = TodayUtc();
  auto per_op_us = [iterations](Clock::time_point t0) {
    return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / iterations;
  };
  size_t sink = 0;  // keeps results observable so no step is optimised away

  v1::Frame request;
  request.set_correlation_id(12345);
  *request.mutable_submit()->mutable_referral() = referral;
  std::string bytes;
  auto t0 = Clock::now();
  for (int i = 0; i < iterations; ++i) {
    bytes = EncodeFrame(request);
    sink += bytes.size();
  }
  out.encode_frame_us = per_op_us(t0);

  v1::Frame decoded;
  t0 = Clock::now();
  for (int i = 0; i < iterations; ++i) {
    Status s = DecodeFrame(bytes.data(), bytes.size(), 262144, &decoded);
    if (!s.ok()) throw BenchError("DecodeFrame: " + s.ToString());
  }
  out.decode_frame_us = per_op_us(t0);

  t0 = Clock::now();
  for (int i = 0; i < iterations; ++i) {
    Status s = ValidateReferral(decoded.submit().referral(), today);
    if (!s.ok()) throw BenchError("the synthetic referral does not validate: " + s.ToString());
  }
  out.validate_us = per_op_us(t0);

  // As Broker::HandleSubmit: a new event holding a copy of the referral.
  eventlog::PendingEvent pending;
  t0 = Clock::now();
  for (int i = 0; i < iterations; ++i) {
    eventlog::PendingEvent p;
    p.event.set_seq(static_cast<uint64_t>(i) + 1);
    *p.event.mutable_time() = google::protobuf::util::TimeUtil::GetCurrentTime();
    p.event.set_actor("bench-agency-00");
    auto* submitted = p.event.mutable_referral_submitted();
    submitted->set_referral_id(ReferralIdForSeq(static_cast<uint64_t>(i) + 1));
    *submitted->mutable_referral() = decoded.submit().referral();
    p.dedupe_key = eventlog::DedupeKey("bench-agency-00", decoded.submit().referral().referrer_reference());
    sink += p.dedupe_key.size();
    if (i == 0) pending = std::move(p);
  }
  out.build_event_us = per_op_us(t0);

  std::string value;
  t0 = Clock::now();
  for (int i = 0; i < iterations; ++i) {
    value.clear();
    pending.event.AppendToString(&value);
    sink += value.size();
  }
  out.serialize_event_us = per_op_us(t0);

  std::string prev = eventlog::GenesisHash();
  t0 = Clock::now();
  for (int i = 0; i < iterations; ++i) prev = eventlog::ChainHash(prev, static_cast<uint64_t>(i) + 1, value);
  out.chain_hash_us = per_op_us(t0);
  sink += prev.size();

  t0 = Clock::now();
  for (int i = 0; i < iterations; ++i) {
    v1::Frame reply;
    reply.set_correlation_id(static_cast<uint64_t>(i) + 1);
    reply.mutable_ack()->set_referral_id(ReferralIdOf(pending.event));
    reply.mutable_ack()->set_seq(pending.event.seq());
    reply.mutable_ack()->set_duplicate(false);
    sink += EncodeFrame(reply).size();
  }
  out.encode_ack_us = per_op_us(t0);
  if (sink == 0) throw BenchError("unreachable");
  return out;
}

}  // namespace refx::bench
