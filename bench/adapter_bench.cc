// refx-bench-adapter: HTTP intake throughput and latency (issue 11's
// benchmark). Starts the real refx-broker and refx-adapter from this
// program's bin/ folder in a temporary folder, then runs CLIENTS concurrent
// keep-alive HTTP clients, each posting referrals one after another with
// ?wait=durable (answered once the broker's log holds the referral), for
// SECONDS; and, beside it, the same closed loop straight to the broker
// (CLIENTS BrokerClients, one Submit at a time each): the broker's own
// figures for the same work. Prints throughput and p50/p99/max latency.
//
// A program, not a test: it asserts nothing about timing; it exits 1 only
// when setup fails or a request fails. Figures: docs/BENCHMARKS.md.
#include <httplib.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

#include "adapters/tokens/token_store.h"
#include "bench/bench_support.h"
#include "client/broker_client.h"
#include "core/json.h"

namespace refx::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Result {
  size_t done = 0;
  double seconds = 0;
  std::vector<double> latencies_ms;
};

void Print(const char* what, Result r) {
  std::sort(r.latencies_ms.begin(), r.latencies_ms.end());
  std::printf("%-44s %8zu referrals in %5.1f s = %8.0f /s   p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", what, r.done,
              r.seconds, r.done / r.seconds, PercentileSorted(r.latencies_ms, 50), PercentileSorted(r.latencies_ms, 99),
              r.latencies_ms.empty() ? 0.0 : r.latencies_ms.back());
}

// Runs `clients` threads for `seconds`; each calls send(client, n) until the
// time is up and records its latency. send returns false on failure.
Result ClosedLoop(int clients, int seconds, const std::function<bool(int, uint64_t)>& send) {
  std::mutex mu;
  Result total;
  std::atomic<bool> failed{false};
  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      std::vector<double> mine;
      for (uint64_t n = 0; Clock::now() < end && !failed; ++n) {
        const auto t0 = Clock::now();
        if (!send(c, n)) {
          failed = true;
          break;
        }
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
      std::lock_guard<std::mutex> lock(mu);
      total.latencies_ms.insert(total.latencies_ms.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  if (failed) throw BenchError("a request failed");
  total.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  total.done = total.latencies_ms.size();
  return total;
}

int Run(int clients, int seconds, const std::string& tmp_base) {
  char tmpl[512];
  std::snprintf(tmpl, sizeof(tmpl), "%s/refx-bench-adapter-XXXXXX", tmp_base.c_str());
  if (!mkdtemp(tmpl)) throw BenchError("mkdtemp failed");
  const std::string dir = tmpl;
  MachineInfo m = DescribeMachine(dir);
  std::printf("machine: %u x %s, %.1f GiB, %s on %s (%s, rotational %s)\n", m.cpus, m.cpu_model.c_str(), m.memory_gib,
              dir.c_str(), m.device.c_str(), m.fs_type.c_str(), m.rotational.c_str());
  auto agencies = MakeAgencies(1);
  const std::string agency = agencies[0].id;
  BrokerProcess broker(ExecutableDir() + "/refx-broker", dir + "/broker", agencies, 1024);

  // The adapter: its keys, a token, its configuration.
  const std::string adir = dir + "/adapter";
  if (!SaveCurveKeyPair(adir + "/keys", agency, agencies[0].keys).ok()) throw BenchError("cannot write keys");
  WriteFile(adir + "/keys/broker.pub", broker.server_public_key() + "\n");
  std::string token;
  if (!adapters::TokenFile::Issue(adir + "/keys/tokens", "bench", &token).ok()) throw BenchError("cannot issue a token");
  WriteFile(adir + "/adapter.textproto",
            "agency_id: \"" + agency + "\"\nbroker { endpoint: \"" + broker.endpoint() +
                "\" broker_public_key_file: \"keys/broker.pub\" key_dir: \"keys\" }\n"
                "spool_dir: \"spool\"\nforward { backoff_initial_ms: 50 backoff_max_ms: 1000 }\n"
                "http { listen: \"127.0.0.1:0\" token_file: \"keys/tokens\" worker_threads: " +
                std::to_string(std::max(16, clients + 4)) + " rate_limit_per_minute: 100000000 }\n");
  ChildProcess adapter({ExecutableDir() + "/refx-adapter", "--config", adir + "/adapter.textproto", "--ready-file",
                        adir + "/ready"},
                       adir + "/adapter.log");
  int port = 0;
  for (int i = 0; i < 300 && port == 0; ++i) {
    std::ifstream ready(adir + "/ready");
    std::string http;
    if (ready >> http && http.rfind("http=", 0) == 0) port = std::stoi(http.substr(5));
    if (!adapter.Running()) throw BenchError("refx-adapter exited: " + adapter.LogTail());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (port == 0) throw BenchError("refx-adapter did not become ready");

  // One referral body per client, its reference replaced per request.
  const v1::Referral base = MakeReferral(agency, 1000);
  std::printf("%d clients, %d s each run, referrals of %zu bytes (protobuf)\n\n", clients, seconds,
              static_cast<size_t>(base.ByteSizeLong()));

  std::vector<std::unique_ptr<httplib::Client>> http(clients);
  for (auto& c : http) {
    c = std::make_unique<httplib::Client>("127.0.0.1", port);
    c->set_keep_alive(true);
    c->set_tcp_nodelay(true);
    c->set_read_timeout(60, 0);
    c->set_bearer_token_auth(token.c_str());
  }
  auto post = [&](const char* path, const std::string& tag, int c, uint64_t n, int want) {
    v1::Referral r = base;
    r.set_referrer_reference(Reference(tag + std::to_string(c), n));
    auto res = http[c]->Post(path, ToJsonLine(r), "application/json");
    return res && res->status == want;
  };
  Print("HTTP POST ?wait=durable (adapter -> broker)",
        ClosedLoop(clients, seconds, [&](int c, uint64_t n) { return post("/v1/referrals?wait=durable", "d", c, n, 201); }));
  Print("HTTP POST (202 once spooled)",
        ClosedLoop(clients, seconds, [&](int c, uint64_t n) { return post("/v1/referrals", "s", c, n, 202); }));

  // The broker's own figures for the same closed loop.
  std::vector<std::unique_ptr<BrokerClient>> direct(clients);
  for (auto& d : direct) {
    ClientOptions o;
    o.endpoint = broker.endpoint();
    o.server_public_key = broker.server_public_key();
    o.client_keys = agencies[0].keys;
    o.request_timeout_ms = 30000;
    d = std::make_unique<BrokerClient>(o);
  }
  Print("broker Submit, no adapter (same agency)", ClosedLoop(clients, seconds, [&](int c, uint64_t n) {
          v1::Referral r = base;
          r.set_referrer_reference(Reference("b" + std::to_string(c), n));
          v1::Ack ack;
          return direct[c]->Submit(r, &ack).ok();
        }));
  adapter.Stop();
  broker.Stop();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace refx::bench

int main(int argc, char** argv) {
  CLI::App app{"refx-bench-adapter: HTTP intake throughput and p50/p99 latency with ?wait=durable"};
  int clients = 16, seconds = 10;
  std::string tmp = "/tmp";
  app.add_option("--clients", clients, "Concurrent keep-alive clients")->capture_default_str();
  app.add_option("--seconds", seconds, "Length of each run")->capture_default_str();
  app.add_option("--tmp", tmp, "Folder for the broker's log and the adapter's spool")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return refx::bench::RunReportingFailure("refx-bench-adapter", [&] { return refx::bench::Run(clients, seconds, tmp); });
}
