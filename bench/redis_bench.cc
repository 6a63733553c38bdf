// refx-bench-redis: a peer for refx-bench-ingest. Redis Streams with
// `appendonly yes`, `appendfsync always` (an fsync of the AOF before replies
// to each event-loop turn are sent: group commit, as the refx broker does),
// XADD of the same ~1 KB serialized referral that refx-bench-ingest submits.
//
// It starts its own redis-server on 127.0.0.1 (a non-default port, a fresh
// temporary directory, RDB snapshots off) per scenario and stops it with
// SIGTERM at the end. Closed-loop scenarios: 1 and 8 clients, pipelined with
// a window (as refx's SubmitWindowed) or strictly one at a time; plus ack
// latency at a fixed offered load (open loop, from the scheduled send time).
//
// Not part of the main build's requirements: CMake builds it only when
// hiredis is installed. A benchmark, not a test: it asserts nothing about
// timing and stops on any error reply.
#include <CLI/CLI.hpp>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <thread>

#include "bench/bench_support.h"

namespace refx::bench {
namespace {

using std::chrono::milliseconds;

struct Settings : LoadSettings {
  std::string redis_server = "redis-server";
  int port = 6391;
};

// A redisContext that is freed on scope exit.
struct RedisConnection {
  redisContext* c = nullptr;
  RedisConnection(const std::string& host, int port) {
    c = redisConnect(host.c_str(), port);
    if (c == nullptr || c->err) {
      const std::string why = c ? c->errstr : "out of memory";
      if (c) redisFree(c);
      throw BenchError("cannot connect to redis on " + host + ":" + std::to_string(port) + ": " + why);
    }
  }
  ~RedisConnection() { redisFree(c); }
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;
};

// Throws unless `reply` is a stream entry id (the answer to XADD).
void CheckXaddReply(redisContext* c, redisReply* reply) {
  if (reply == nullptr) throw BenchError(std::string("redis connection failed: ") + c->errstr);
  const bool ok = reply->type == REDIS_REPLY_STRING;
  const std::string what = reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len) : "unexpected type";
  freeReplyObject(reply);
  if (!ok) throw BenchError("XADD failed: " + what);
}

// Appends (does not send) XADD refx-bench * ref <reference> body <payload>.
void AppendXadd(redisContext* c, const std::string& reference, const std::string& payload) {
  const char* argv[] = {"XADD", "refx-bench", "*", "ref", reference.data(), "body", payload.data()};
  const size_t len[] = {4, 10, 1, 3, reference.size(), 4, payload.size()};
  if (redisAppendCommandArgv(c, 7, argv, len) != REDIS_OK) throw BenchError("redisAppendCommandArgv failed");
}

std::string FindOnPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  throw BenchError(name + " not found on PATH (apt-get install redis-server)");
}

// A redis-server with the AOF fsynced on every write, in `dir`.
class RedisServer {
 public:
  RedisServer(const std::string& binary, const std::string& dir, int port) : port_(port) {
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{binary, "--port", std::to_string(port), "--bind", "127.0.0.1", "--dir", dir,
                                 "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                                 "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning"},
        dir + "/redis.log");
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (true) {
      if (!process_->Running()) throw BenchError("redis-server exited during start:\n" + process_->LogTail());
      redisContext* c = redisConnect("127.0.0.1", port);
      if (c && !c->err) {
        auto* reply = static_cast<redisReply*>(redisCommand(c, "PING"));
        const bool ok = reply && reply->type == REDIS_REPLY_STATUS;
        if (reply) freeReplyObject(reply);
        redisFree(c);
        if (ok) break;
      } else if (c) {
        redisFree(c);
      }
      if (Clock::now() > deadline) throw BenchError("redis-server not ready after 10 s:\n" + process_->LogTail());
      std::this_thread::sleep_for(milliseconds(20));
    }
    // Confirm the durability settings really are in force.
    RedisConnection conn("127.0.0.1", port);
    auto* reply = static_cast<redisReply*>(redisCommand(conn.c, "CONFIG GET appendfsync"));
    const bool always = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
                        std::string(reply->element[1]->str) == "always";
    if (reply) freeReplyObject(reply);
    if (!always) throw BenchError("redis-server is not running with appendfsync always");
  }
  ~RedisServer() { process_->Stop(); }
  int port() const { return port_; }
  pid_t pid() const { return process_->pid(); }
  void CheckAlive() {
    if (!process_->Running()) throw BenchError("redis-server died:\n" + process_->LogTail());
  }

 private:
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

// As refx-bench-ingest's closed loop: OK replies inside [begin, end) count.
// `at_edge` (may be empty) is called from the calling thread at the measured
// interval's start (true) and end (false), to sample CPU there.
double ClosedLoop(int port, size_t clients, size_t window, const std::string& payload, const std::string& tag,
                  milliseconds warmup, milliseconds duration, const std::function<void(bool begin)>& at_edge) {
  StartGate gate(clients);
  std::atomic<uint64_t> total{0};
  std::atomic<bool> failed{false};
  std::string failure;
  std::mutex failure_mu;
  Clock::time_point begin, end;
  std::vector<std::thread> threads;
  for (size_t t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      bool arrived = false;
      try {
        RedisConnection conn("127.0.0.1", port);
        const std::string client_tag = tag + "c" + std::to_string(t);
        uint64_t n = 0;
        AppendXadd(conn.c, Reference(client_tag, n++), payload);  // warm-up
        redisReply* reply = nullptr;
        redisGetReply(conn.c, reinterpret_cast<void**>(&reply));
        CheckXaddReply(conn.c, reply);
        arrived = true;
        gate.ArriveAndWait();
        uint64_t counted = 0;
        size_t in_flight = 0;
        while (true) {
          const bool more = Clock::now() < end && !failed.load();
          while (more && in_flight < window) {
            AppendXadd(conn.c, Reference(client_tag, n++), payload);
            ++in_flight;
          }
          if (in_flight == 0) break;
          // Flushes everything appended, then reads one reply.
          reply = nullptr;
          redisGetReply(conn.c, reinterpret_cast<void**>(&reply));
          CheckXaddReply(conn.c, reply);
          --in_flight;
          const auto now = Clock::now();
          if (now >= begin && now < end) ++counted;
        }
        total.fetch_add(counted);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(failure_mu);
        if (failure.empty()) failure = e.what();
        failed.store(true);
        if (!arrived) gate.ArriveAndWait();
      }
    });
  }
  gate.WaitForAll();
  begin = Clock::now() + warmup;
  end = begin + duration;
  gate.Open();
  if (at_edge) {
    std::this_thread::sleep_until(begin);
    at_edge(true);
    std::this_thread::sleep_until(end);
    at_edge(false);
  }
  for (auto& t : threads) t.join();
  if (failed.load()) throw BenchError(failure);
  return static_cast<double>(total.load()) / std::chrono::duration<double>(duration).count();
}

struct Latency {
  double p50 = 0, p99 = 0, p999 = 0, max = 0, mean = 0, max_lag = 0;
  size_t sent = 0;
};

// Open loop on one connection: XADD on a fixed schedule, replies read as
// they come (Redis answers in order), latency from the scheduled send time.
Latency OpenLoop(int port, const std::string& payload, double rate, milliseconds duration) {
  RedisConnection conn("127.0.0.1", port);
  redisContext* c = conn.c;
  const size_t total = static_cast<size_t>(rate * std::chrono::duration<double>(duration).count());
  for (int i = 0; i < 50; ++i) {  // warm-up
    AppendXadd(c, Reference("latw", static_cast<uint64_t>(i)), payload);
    redisReply* reply = nullptr;
    redisGetReply(c, reinterpret_cast<void**>(&reply));
    CheckXaddReply(c, reply);
  }
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
  const auto start = Clock::now() + milliseconds(10);
  auto scheduled = [&](size_t i) { return start + interval * static_cast<int64_t>(i); };
  std::vector<double> latency(total, -1);
  Latency out;
  size_t next = 0, received = 0;
  while (received < total) {
    auto now = Clock::now();
    bool sent_any = false;
    while (next < total && scheduled(next) <= now) {
      AppendXadd(c, Reference("lat", next), payload);
      out.max_lag = std::max(out.max_lag, std::chrono::duration<double, std::milli>(now - scheduled(next)).count());
      ++next;
      sent_any = true;
    }
    if (sent_any) {
      int done = 0;
      while (!done) {
        if (redisBufferWrite(c, &done) != REDIS_OK) throw BenchError(std::string("redis write: ") + c->errstr);
      }
    }
    // Read whatever has arrived.
    pollfd pfd{c->fd, POLLIN, 0};
    if (::poll(&pfd, 1, 0) > 0) {
      if (redisBufferRead(c) != REDIS_OK) throw BenchError(std::string("redis read: ") + c->errstr);
      void* r = nullptr;
      while (redisGetReplyFromReader(c, &r) == REDIS_OK && r != nullptr) {
        const auto arrived = Clock::now();
        CheckXaddReply(c, static_cast<redisReply*>(r));
        latency[received] = std::chrono::duration<double, std::milli>(arrived - scheduled(received)).count();
        ++received;
        r = nullptr;
      }
      continue;
    }
    now = Clock::now();
    const auto until_next = next < total ? scheduled(next) - now : std::chrono::milliseconds(5);
    const auto whole_ms = std::chrono::duration_cast<milliseconds>(until_next);
    if (whole_ms.count() >= 1) {
      ::poll(&pfd, 1, static_cast<int>(whole_ms.count()));
    } else {
      std::this_thread::sleep_for(std::min<Clock::duration>(until_next, std::chrono::microseconds(50)));
    }
  }
  std::sort(latency.begin(), latency.end());
  double sum = 0;
  for (double v : latency) sum += v;
  out.sent = total;
  out.mean = sum / static_cast<double>(total);
  out.p50 = PercentileSorted(latency, 50);
  out.p99 = PercentileSorted(latency, 99);
  out.p999 = PercentileSorted(latency, 99.9);
  out.max = latency.back();
  return out;
}

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

int Run(const Settings& s) {
  TempDir root(s.tmp, "refx-bench-redis-", s.keep);
  if (s.keep) std::fprintf(stderr, "refx-bench-redis: keeping %s\n", root.path().c_str());
  const std::string binary = FindOnPath(s.redis_server);
  const std::string payload = MakeReferral("bench-agency-00", s.referral_bytes).SerializeAsString();
  const auto started = Clock::now();

  // CPU seconds over a row's measured intervals, as refx-bench-ingest counts
  // the broker's and its clients': the server, this process (the clients),
  // and every busy CPU of the machine.
  struct RowCpu {
    double wall = 0, server = 0, clients = 0, machine = 0, xadds = 0;
  };
  struct Row {
    size_t clients;
    size_t window;
    std::vector<double> rates;
    RowCpu cpu;
  };
  std::vector<Row> rows = {{1, s.window, {}, {}}, {8, s.window, {}, {}}, {1, 1, {}, {}}, {8, 1, {}, {}}};
  for (Row& row : rows) {
    TempDir dir(root.path(), "redis-", s.keep);
    RedisServer server(binary, dir.path(), s.port);
    for (int rep = 1; rep <= s.repeats; ++rep) {
      Progress::Status("redis: " + std::to_string(row.clients) + " clients, window " + std::to_string(row.window) +
                       ", run " + std::to_string(rep) + "/" + std::to_string(s.repeats) + " ...");
      double server_at = 0, clients_at = 0, machine_at = 0;
      Clock::time_point wall_at;
      const double rate = ClosedLoop(server.port(), row.clients, row.window, payload, "r" + std::to_string(rep),
                                     milliseconds(s.warmup_ms), milliseconds(s.duration_ms), [&](bool begin) {
                                       const double sv = ProcessCpuSeconds(server.pid());
                                       const double cl = ProcessCpuSeconds(::getpid());
                                       const double mc = MachineBusySeconds();
                                       const auto now = Clock::now();
                                       if (begin) {
                                         server_at = sv;
                                         clients_at = cl;
                                         machine_at = mc;
                                         wall_at = now;
                                         return;
                                       }
                                       row.cpu.server += sv - server_at;
                                       row.cpu.clients += cl - clients_at;
                                       row.cpu.machine += mc - machine_at;
                                       row.cpu.wall += std::chrono::duration<double>(now - wall_at).count();
                                     });
      row.rates.push_back(rate);
      row.cpu.xadds += rate * static_cast<double>(s.duration_ms) / 1000.0;
      server.CheckAlive();
    }
  }
  Latency lat;
  {
    TempDir dir(root.path(), "redis-latency-", s.keep);
    RedisServer server(binary, dir.path(), s.port);
    Progress::Status("redis: latency at " + Fixed(s.rate, 0) + "/s ...");
    lat = OpenLoop(server.port(), payload, s.rate, milliseconds(s.latency_ms));
  }
  Progress::Clear();

  const MachineInfo m = DescribeMachine(root.path());
  std::cout << "# refx-bench-redis\n\n"
            << "Machine: " << m.cpus << " CPUs (" << m.cpu_model << "), " << Fixed(m.memory_gib, 1) << " GiB, Linux "
            << m.kernel << "; data on " << m.device << " (" << m.fs_type << ", rotational=" << m.rotational << ")\n"
            << "Redis: appendonly yes, appendfsync always, save ''; XADD of " << payload.size()
            << " B (the serialized benchmark referral) to one stream; median of " << s.repeats << " runs of "
            << s.warmup_ms << " ms warm-up + " << s.duration_ms << " ms" << (s.quick ? " (--quick)" : "")
            << "; total " << Fixed(std::chrono::duration<double>(Clock::now() - started).count(), 0) << " s\n\n"
            << "| clients | mode | XADDs/s (median) | runs |\n|---:|---|---:|---|\n";
  for (const Row& row : rows) {
    std::string runs;
    for (double v : row.rates) runs += (runs.empty() ? "" : " / ") + Thousands(v);
    std::cout << "| " << row.clients << " | "
              << (row.window > 1 ? "pipelined, window " + std::to_string(row.window) : std::string("strict"))
              << " | " << Thousands(Median(row.rates)) << " | " << runs << " |\n";
  }
  std::cout << "\nAck latency, open loop at " << Thousands(s.rate) << "/s for " << Fixed(s.latency_ms / 1000.0, 1)
            << " s (from the scheduled send time):\n\n"
            << "| offered/s | requests | p50 ms | p99 ms | p99.9 ms | max ms | mean ms | max sender lag ms |\n"
            << "|---:|---:|---:|---:|---:|---:|---:|---:|\n"
            << "| " << Thousands(s.rate) << " | " << lat.sent << " | " << Fixed(lat.p50, 2) << " | "
            << Fixed(lat.p99, 2) << " | " << Fixed(lat.p999, 2) << " | " << Fixed(lat.max, 2) << " | "
            << Fixed(lat.mean, 2) << " | " << Fixed(lat.max_lag, 2) << " |\n";
  // The same columns as refx-bench-ingest's "CPU during the measured
  // intervals", so the table can say what the machine's cores allow each.
  std::cout << "\n## CPU during the measured intervals\n\n"
            << "Cores busy (of " << m.cpus << "), and CPU time per acknowledged XADD (server: redis-server; "
            << "clients: this process).\n\n"
            << "| clients | mode | server | clients | machine busy | server us/ack | clients us/ack |\n"
            << "|---:|---|---:|---:|---:|---:|---:|\n";
  for (const Row& row : rows) {
    const RowCpu& c = row.cpu;
    auto cores = [&c](double seconds) { return Fixed(c.wall > 0 ? seconds / c.wall : 0, 2); };
    auto per_ack = [&c](double seconds) { return c.xadds > 0 ? Fixed(1e6 * seconds / c.xadds, 1) : "n/a"; };
    std::cout << "| " << row.clients << " | "
              << (row.window > 1 ? "pipelined, window " + std::to_string(row.window) : std::string("strict"))
              << " | " << cores(c.server) << " | " << cores(c.clients) << " | " << cores(c.machine) << " | "
              << per_ack(c.server) << " | " << per_ack(c.clients) << " |\n";
  }
  return 0;
}

}  // namespace
}  // namespace refx::bench

int main(int argc, char** argv) {
  refx::bench::Settings s;
  CLI::App app{"refx-bench-redis: Redis Streams (appendfsync always) as a peer for refx-bench-ingest"};
  refx::bench::AddLoadFlags(app, &s, "XADDs");
  app.add_option("--redis-server", s.redis_server, "redis-server binary (looked up on PATH)")->capture_default_str();
  app.add_option("--port", s.port, "Port for the private redis-server on 127.0.0.1")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!refx::bench::FinishLoadFlags(app, "refx-bench-redis", &s)) return 2;
  return refx::bench::RunReportingFailure("refx-bench-redis", [&] { return refx::bench::Run(s); });
}
