// `refx audit replay [--from-seq N] [--to-seq N] [--since T] [--until T]
// [--agency A] [--destination D] [--json] --purpose TEXT`: the history
// streamed through the broker, filtered there, one line per event; a
// progress bar on stderr when it is a terminal and a summary line at the end.
#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/audit/audit_command.h"
#include "cli/audit/audited_read.h"
#include "audit/event_lines.h"
#include "cli/audit/subcommands.h"
#include "cli/caller.h"
#include "cli/connect.h"
#include "cli/london_time.h"
#include "cli/progress_bar.h"
#include "core/fast_json.h"
#include "core/json.h"

namespace refx::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct ReplayArgs {
  uint64_t from_seq = 0;
  uint64_t to_seq = 0;
  std::string since, until;
  std::string agency, destination;
  std::string purpose;
  std::string as = audit::kDefaultAuditor;
  bool json = false;
};

int RunReplay(const ConnectionFlags& flags, const ReplayArgs& args) {
  const std::string command = "audit replay";
  v1::ReadRequest request;
  if (args.from_seq > 0) request.set_after_seq(args.from_seq - 1);
  request.set_to_seq(args.to_seq);
  if (args.to_seq > 0 && args.from_seq > args.to_seq) {
    return Fail(command, Status::InvalidArgument("--from-seq is after --to-seq"), kExitRefused);
  }
  TimeSpan span;
  if (!args.since.empty()) {
    if (!ParseTimeSpan(args.since, &span)) {
      return Fail(command, Status::InvalidArgument("--since must be " + std::string(kTimeArgumentHelp) + ", not \"" +
                                                   args.since + "\""),
                  kExitRefused);
    }
    *request.mutable_since() = span.start;
  }
  if (!args.until.empty()) {
    if (!ParseTimeSpan(args.until, &span)) {
      return Fail(command, Status::InvalidArgument("--until must be " + std::string(kTimeArgumentHelp) + ", not \"" +
                                                   args.until + "\""),
                  kExitRefused);
    }
    *request.mutable_until() = span.start;
  }
  if (request.has_since() && request.has_until() && !(request.since() < request.until())) {
    return Fail(command, Status::InvalidArgument("--since is not before --until"), kExitRefused);
  }
  request.set_agency(args.agency);
  request.set_destination(args.destination);
  Status s = audit::CheckPurpose(args.purpose);
  if (!s.ok()) return Fail(command, s, kExitRefused);
  request.set_purpose(args.purpose);
  request.set_initial_credit(audit::kBulkReadCredit);  // a long replay: keep the broker streaming

  std::unique_ptr<BrokerClient> client;
  s = ConnectAs(flags, AgencyFor(flags, args.as), &client);
  if (!s.ok()) return Fail(command, s, ExitCodeForConnect(s));

  // The head now, for the progress bar (the read itself goes to the head it
  // meets, which includes the record of this read).
  const bool progress = ::isatty(STDERR_FILENO) == 1;
  uint64_t head = 0;
  if (progress) {
    s = HeadSeq(client.get(), &head);
    if (!s.ok()) return Fail(command, s, ExitCodeFor(s));
  }
  const uint64_t last = args.to_seq > 0 && args.to_seq < head ? args.to_seq : head;

  const auto start = Clock::now();
  auto drawn = start;
  uint64_t shown = 0, first_seq = 0, last_seq = 0;
  // Lines are appended to one buffer and written in blocks of ~1 MB (line
  // by line to a terminal): at hundreds of thousands of events a second, a
  // temporary string, a printf and a write(2) every few lines were a visible
  // share of the CLI's time.
  const size_t block = ::isatty(STDOUT_FILENO) == 1 ? 0 : (size_t{1} << 20);
  std::string pending;
  auto write_pending = [&] {
    std::fwrite(pending.data(), 1, pending.size(), stdout);
    pending.clear();
  };
  s = client->Read(request, [&](const v1::Event& event, const std::string&, const std::string&) {
    if (!args.json) {
      pending += refx::audit::AuditLine(event);
    } else if (!AppendFastJson(event, &pending)) {
      pending += ToJsonLine(event);  // what fast_json declines, protobuf's printer prints
    }
    pending.push_back('\n');
    if (pending.size() >= block) write_pending();
    if (first_seq == 0) first_seq = event.seq();
    last_seq = event.seq();
    ++shown;
    if (progress) {
      const auto now = Clock::now();
      if (now - drawn >= std::chrono::milliseconds(100)) {
        drawn = now;
        const double elapsed = std::chrono::duration<double>(now - start).count();
        const uint64_t total = std::max(last, event.seq());
        DrawProgress("replaying", event.seq(), total,
                            "seq " + std::to_string(event.seq()) + " / " + std::to_string(total) + "  " +
                                std::to_string(shown) + " events  " +
                                std::to_string(static_cast<uint64_t>(elapsed > 0 ? shown / elapsed : 0.0)) +
                                " events/s");
      }
    }
    return true;
  });
  write_pending();
  std::fflush(stdout);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (progress) ClearProgress();
  if (!s.ok()) return Fail(command, s, ExitCodeFor(s));
  if (shown == 0) {
    std::fprintf(stderr, "refx audit replay: 0 events, %.2f s\n", seconds);
  } else {
    std::fprintf(stderr, "refx audit replay: %llu events (seq %llu..%llu), %.2f s (%.0f events/s)\n",
                 static_cast<unsigned long long>(shown), static_cast<unsigned long long>(first_seq),
                 static_cast<unsigned long long>(last_seq), seconds,
                 seconds > 0 ? static_cast<double>(shown) / seconds : 0.0);
  }
  return kExitOk;
}

}  // namespace

void AddAuditReplayCommand(CLI::App* audit, ConnectionFlags* flags, int* exit_code) {
  auto args = std::make_shared<ReplayArgs>();
  CLI::App* cmd = audit->add_subcommand(
      "replay",
      "Stream the history through the broker, filtered there, one line per event (no personal data; --json prints "
      "full events, which DO contain personal data). A summary line on stderr at the end");
  cmd->add_option("--from-seq", args->from_seq, "First seq (default: 1)");
  cmd->add_option("--to-seq", args->to_seq, "Last seq (default: the head)");
  cmd->add_option("--since", args->since,
                  "Only events at or after this time: " + std::string(kTimeArgumentHelp) +
                      "; a date alone means 00:00 that day in Europe/London");
  cmd->add_option("--until", args->until,
                  "Only events before this time (same forms); a date alone means 00:00 that day in Europe/London, "
                  "so that day is left out");
  cmd->add_option("--agency", args->agency, "Only events appended by this agency or at a destination it owns");
  cmd->add_option("--destination", args->destination, "Only events of cases at this destination code");
  cmd->add_option("--purpose", args->purpose,
                  "Why you read the log (required; the broker records it as a record_accessed event)");
  cmd->add_option("--as", args->as, "Identity to read as: an agency id or a destination code (role AUDITOR)")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "One refx.v1.Event JSON line per event: the FULL event, with personal data");
  cmd->callback([args, flags, exit_code] { *exit_code = RunReplay(*flags, *args); });
}

}  // namespace refx::cli
