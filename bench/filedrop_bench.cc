// refx-bench-filedrop (issue 11): a bulk import through the file drop. A
// CSV of --rows rows in the sample police DA export format (the rows of
// deploy/samples/kent-police-da-incidents.csv, each with its own
// reference) is renamed into a drop folder of the real adapter parts run in
// this process (file drop, spool, forwarder), which forward to the real
// refx-broker (a child process, CURVE over loopback, RocksDB). The clock
// runs from the rename until the spool is empty: every row acknowledged by
// the broker, so durable in its log. Not a test: nothing asserts on time.
//
//   refx-bench-filedrop [--rows 1000000] [--dir BASE] [--batch-max N] [--no-seal] [--keep]
//
// The broker seals personal fields under a fresh master key, as deployed
// (--no-seal: without one). CPU time is reported per row for each process:
// the two share the machine's cores, so their sum bounds the rate.
//
// Before the run it reads the same CSV once with ReadDropFileEncoded (as the
// file drop does) into a sink
// that only counts (no spool, no broker): what the file drop's own reading,
// mapping and validation cost on one thread.
#include <google/protobuf/text_format.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "adapters/adapter.h"
#include "adapters/adapter_config.h"
#include "adapters/filedrop/component.h"
#include "adapters/filedrop/drop_file.h"
#include "core/london_time.h"
#include "bench/bench_support.h"

namespace {

using namespace refx;
using namespace refx::bench;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw BenchError("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

double CpuSecondsSelf() {
  struct rusage u;
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

int Run(int argc, char** argv) {
  CLI::App app{"refx-bench-filedrop: a large CSV through the file drop into the broker's log"};
  uint64_t rows = 1000000;
  std::string base;
  uint32_t batch_max = 0;  // 0: the sample police adapter's forward.batch_max
  bool keep = false;
  bool no_seal = false;
  app.add_option("--rows", rows, "Rows in the CSV")->capture_default_str();
  app.add_option("--dir", base, "Folder for the data (on the disk to measure); default the temp folder");
  app.add_option("--batch-max", batch_max,
                 "Referrals per SubmitBatchRequest frame (default: the sample police adapter's forward.batch_max)");
  app.add_flag("--no-seal", no_seal, "Run the broker without a master key (personal fields stored unsealed)");
  app.add_flag("--keep", keep, "Keep the data folder");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  TempDir dir(base, "refx-bench-filedrop-", keep);
  const std::string source = REFX_SOURCE_DIR;
  v1::AdapterConfig sample;
  if (!google::protobuf::TextFormat::ParseFromString(Slurp(source + "/deploy/config/adapters/kent-police.textproto"),
                                                     &sample) ||
      sample.csv_formats_size() == 0) {
    throw BenchError("no CSV format in deploy/config/adapters/kent-police.textproto");
  }
  std::string format_text;
  google::protobuf::TextFormat::PrintToString(sample.csv_formats(0), &format_text);
  if (batch_max == 0) batch_max = sample.forward().batch_max();

  // The CSV: the sample rows over and over, each with a reference of its own.
  Progress::Status("writing the CSV");
  std::istringstream sample_csv(Slurp(source + "/deploy/samples/kent-police-da-incidents.csv"));
  std::string header, line;
  std::getline(sample_csv, header);
  std::vector<std::string> tails;  // each sample row after its reference
  while (std::getline(sample_csv, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) tails.push_back(line.substr(line.find(',')));
  }
  if (header.back() == '\r') header.pop_back();
  const std::string csv_path = dir.path() + "/export.csv";
  {
    std::ofstream out(csv_path, std::ios::binary);
    out << header << "\r\n";
    char reference[32];
    for (uint64_t i = 0; i < rows; ++i) {
      std::snprintf(reference, sizeof reference, "46/B%09llu/26", static_cast<unsigned long long>(i));
      out << reference << tails[i % tails.size()] << "\r\n";
    }
  }
  const double csv_mib = std::filesystem::file_size(csv_path) / 1048576.0;

  // The file drop's own cost: read, map and validate into a counting sink.
  Progress::Status("reading the CSV alone");
  adapters::DropReadOptions read;
  read.agency_id = "kent-police";
  read.csv_format = &sample.csv_formats(0);
  read.today = LondonDateOf(std::time(nullptr));
  uint64_t counted = 0;
  adapters::DropReadResult read_result;
  const double read_cpu0 = CpuSecondsSelf();
  const auto r0 = Clock::now();
  Status read_status = adapters::ReadDropFileEncoded(
      csv_path, read,
      [&counted](std::vector<adapters::EncodedReferral>* chunk) {
        counted += chunk->size();
        return Status::OK();
      },
      &read_result);
  const double read_seconds = std::chrono::duration<double>(Clock::now() - r0).count();
  const double read_cpu = CpuSecondsSelf() - read_cpu0;
  if (!read_status.ok() || counted != rows) {
    throw BenchError("reading the CSV alone: " + read_status.ToString() + ", " + std::to_string(counted) + " rows");
  }

  // The broker, with kent-police as its one agency.
  std::vector<BenchAgency> agencies = MakeAgencies(1);
  agencies[0].id = "kent-police";
  Progress::Status("starting the broker");
  BrokerProcess broker(ExecutableDir() + "/refx-broker", dir.path() + "/broker", agencies, 1024, !no_seal);
  const std::string keys = dir.path() + "/keys";
  if (!SaveCurveKeyPair(keys, "kent-police", agencies[0].keys).ok()) throw BenchError("cannot save the keys");
  WriteFile(keys + "/broker.pub", broker.server_public_key() + "\n");

  const std::string inbox = dir.path() + "/inbox";
  std::string config = "agency_id: \"kent-police\"\n"
                       "broker { endpoint: \"" + broker.endpoint() + "\" broker_public_key_file: \"keys/broker.pub\""
                       " key_dir: \"keys\" }\n"
                       "spool_dir: \"spool\"\n"
                       "forward { batch_max: " + std::to_string(batch_max) + " }\n"
                       "drops { folder: \"inbox\" csv_format: \"" + sample.csv_formats(0).name() + "\" }\n"
                       "csv_formats {\n" + format_text + "}\n";
  std::unique_ptr<adapters::AdapterConfig> parsed;
  Status s = adapters::AdapterConfig::Parse(config, "bench.textproto", dir.path(), &parsed);
  if (!s.ok()) throw BenchError(s.ToString());
  std::unique_ptr<adapters::Adapter> adapter;
  if (!(s = adapters::Adapter::Open(std::move(parsed), &adapter)).ok()) throw BenchError(s.ToString());
  std::unique_ptr<adapters::FileDropComponent> drops;
  if (!(s = adapters::FileDropComponent::Create(adapter.get(), &drops)).ok()) throw BenchError(s.ToString());
  adapter->AddComponent(std::move(drops));
  if (!(s = adapter->Start()).ok()) throw BenchError(s.ToString());

  const BrokerMetricsSnapshot before = broker.ScrapeMetrics();
  const double broker_cpu0 = ProcessCpuSeconds(broker.pid());
  const double self_cpu0 = CpuSecondsSelf();
  const double busy0 = MachineBusySeconds();
  const auto t0 = Clock::now();
  if (std::rename(csv_path.c_str(), (inbox + "/export.csv").c_str()) != 0) throw BenchError("rename into the inbox");
  Clock::time_point taken{};
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (taken == Clock::time_point{} && std::filesystem::exists(inbox + "/done/export.csv")) taken = Clock::now();
    if (std::filesystem::exists(inbox + "/rejected/export.csv")) throw BenchError("the file was rejected: see its report");
    if (taken != Clock::time_point{} && adapter->spool()->Figures().referrals == 0) break;
    broker.CheckAlive();
    const auto f = adapter->spool()->Figures();
    Progress::Status("spool: " + Thousands(f.referrals) + " waiting");
  }
  const auto t1 = Clock::now();
  const double self_cpu = CpuSecondsSelf() - self_cpu0;
  const double broker_cpu = ProcessCpuSeconds(broker.pid()) - broker_cpu0;
  const double busy = MachineBusySeconds() - busy0;
  const BrokerMetricsSnapshot d = Delta(before, broker.ScrapeMetrics());
  adapter->Stop();
  Progress::Clear();

  const double seconds = std::chrono::duration<double>(t1 - t0).count();
  const double spool_seconds = std::chrono::duration<double>(taken - t0).count();
  const MachineInfo m = DescribeMachine(dir.path());
  std::printf("refx-bench-filedrop: %s rows (%.0f MiB CSV, police DA export format) through the file drop\n",
              Thousands(rows).c_str(), csv_mib);
  std::printf("machine: %u x %s, %.1f GiB, %s on %s (%s, rotational %s); load before: %s\n", m.cpus,
              m.cpu_model.c_str(), m.memory_gib, m.fs_type.c_str(), m.device.c_str(), m.kernel.c_str(),
              m.rotational.c_str(), LoadAverage().c_str());
  std::printf("read, mapped, validated only (one thread, no spool):       %.2f s = %s rows/s (%.1f us CPU/row)\n",
              read_seconds, Thousands(rows / read_seconds).c_str(), 1e6 * read_cpu / rows);
  std::printf("file read, mapped, validated and spooled (file in done/): %.2f s = %s rows/s\n", spool_seconds,
              Thousands(rows / spool_seconds).c_str());
  std::printf("every row durable in the broker's log (spool empty):      %.2f s = %s rows/s\n", seconds,
              Thousands(rows / seconds).c_str());
  std::printf("broker: %s submissions, %s group commits (%.1f ms mean, sealing, hashing and the synced write), mean batch %.0f; duplicates %s, errors %s\n",
              Thousands(d.submissions).c_str(), Thousands(d.fsync_count).c_str(),
              d.fsync_count ? 1000 * d.fsync_sum / d.fsync_count : 0.0, d.batch_count ? d.batch_sum / d.batch_count : 0,
              Thousands(d.duplicates).c_str(), Thousands(d.errors).c_str());
  std::printf("CPU seconds: adapter (this process) %.1f, broker %.1f, machine busy %.1f of %.1f available\n",
              self_cpu, broker_cpu, busy, seconds * m.cpus);
  std::printf("CPU per row: adapter %.1f us, broker %.1f us (sealing %s), sum %.1f us\n", 1e6 * self_cpu / rows,
              1e6 * broker_cpu / rows, no_seal ? "off" : "on", 1e6 * (self_cpu + broker_cpu) / rows);
  if (d.submissions + d.duplicates < rows) {
    throw BenchError("the broker counted fewer submissions than rows");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const refx::bench::BenchError& e) {
    std::fprintf(stderr, "refx-bench-filedrop: %s\n", e.what());
    return 1;
  }
}
