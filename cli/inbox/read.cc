// `refx inbox list`, `watch` and `show`: reading the caller's cases.
#include <google/protobuf/text_format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "cli/caller.h"
#include "cli/connect.h"
#include "cli/exit_codes.h"
#include "cli/inbox/case_lines.h"
#include "cli/inbox/inbox.h"
#include "cli/london_time.h"
#include "cli/text_table.h"
#include "core/event_util.h"
#include "core/frame_codec.h"
#include "core/json.h"
#include "refx/v1/cli.pb.h"

namespace refx::cli::inbox {

namespace {

// Unset deadlines sort last.
bool DeadlineBefore(const v1::CaseRecord& a, const v1::CaseRecord& b) {
  const bool a_set = a.has_deadline() && (a.deadline().seconds() != 0 || a.deadline().nanos() != 0);
  const bool b_set = b.has_deadline() && (b.deadline().seconds() != 0 || b.deadline().nanos() != 0);
  if (a_set != b_set) return a_set;
  if (a_set && (a.deadline().seconds() != b.deadline().seconds() || a.deadline().nanos() != b.deadline().nanos())) {
    return std::make_pair(a.deadline().seconds(), a.deadline().nanos()) <
           std::make_pair(b.deadline().seconds(), b.deadline().nanos());
  }
  return std::make_pair(a.referral_id(), a.destination()) < std::make_pair(b.referral_id(), b.destination());
}

std::string Join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

// Set once SIGINT or SIGTERM arrives during `watch`.
std::atomic<bool> g_stop{false};

// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread it
// starts afterwards, ZeroMQ's included: a signal must not interrupt a
// zmq_poll, which the client would take for an error) and waits for them on
// a detached thread, which sets g_stop. A second signal ends the process.
void WaitForStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    int signal = 0;
    while (sigwait(&set, &signal) == 0) {
      if (g_stop.exchange(true)) _exit(128 + signal);
    }
  }).detach();
}

}  // namespace

int RunList(const ConnectionFlags& flags, const Args& args) {
  const std::string command = "inbox list";
  Caller caller;
  Status s = ResolveCaller(flags, args.who, true, &caller);
  if (!s.ok()) return Fail(command, s, kExitSetupError);
  std::unique_ptr<BrokerClient> client;
  s = ConnectAs(flags, caller.agency_id, &client);
  if (!s.ok()) return Fail(command, s, ExitCodeForConnect(s));

  std::vector<v1::CaseRecord> cases;
  for (const std::string& destination : caller.destinations) {
    v1::QueryRequest query;
    query.set_destination(destination);
    v1::QueryResult result;
    s = client->Query(query, &result);
    if (!s.ok()) return Fail(command, s, ExitCodeFor(s));
    for (const auto& c : result.cases()) {
      if (!caller.Covers(c.destination())) continue;
      if (!args.states.empty() &&
          std::find(args.states.begin(), args.states.end(), v1::CaseState_Name(c.state())) == args.states.end()) {
        continue;
      }
      cases.push_back(c);
    }
  }
  std::sort(cases.begin(), cases.end(), DeadlineBefore);

  if (args.json) {
    for (const auto& c : cases) std::printf("%s\n", ToJsonLine(c).c_str());
    return kExitOk;
  }
  if (cases.empty()) {
    std::printf("no %scases at %s\n", args.states.empty() ? "" : (Join(args.states, "/") + " ").c_str(),
                Join(caller.destinations, ", ").c_str());
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"REFERRAL", "DESTINATION", "STATE", "DEADLINE", "RULE", "DELIVERIES", "BREACHED"}};
  for (const auto& c : cases) {
    rows.push_back({c.referral_id(), c.destination(), v1::CaseState_Name(c.state()), FormatLondon(c.deadline()),
                    c.rule_id().empty() ? "-" : c.rule_id(), std::to_string(c.deliveries()),
                    c.deadline_breached() ? "yes" : "no"});
  }
  PrintTable(rows);
  return kExitOk;
}

int RunWatch(const ConnectionFlags& flags, const Args& args) {
  const std::string command = "inbox watch";
  WaitForStopSignals();  // before the client starts any thread
  Caller caller;
  Status s = ResolveCaller(flags, args.who, true, &caller);
  if (!s.ok()) return Fail(command, s, kExitSetupError);
  std::unique_ptr<BrokerClient> client;
  s = ConnectAs(flags, caller.agency_id, &client);
  if (!s.ok()) return Fail(command, s, ExitCodeForConnect(s));

  uint64_t after = args.from_seq;
  if (!args.from_seq_given) {
    // Start at the current head.
    s = HeadSeq(client.get(), &after);
    if (!s.ok()) return Fail(command, s, ExitCodeFor(s));
  }
  std::fprintf(stderr, "refx inbox watch: watching %s as %s after seq %llu (Ctrl-C to stop)\n",
               Join(caller.destinations, ", ").c_str(), caller.agency_id.c_str(),
               static_cast<unsigned long long>(after));

  v1::ReadRequest request;
  request.set_after_seq(after);
  request.set_follow(true);
  request.set_purpose("inbox watch");
  // A destination code is filtered by the broker; for an agency the broker
  // sends what the agency may see, and the check below keeps its own cases.
  if (caller.by_destination) request.set_destination(caller.destinations.front());
  uint64_t delivered = 0;
  s = client->Read(
      request,
      [&](const v1::Event& event, const std::string&, const std::string&) {
        const std::string& destination = DestinationOf(event);
        if (!destination.empty() && !caller.Covers(destination)) return true;
        if (args.json) {
          std::printf("%s\n", ToJsonLine(event).c_str());
        } else {
          std::printf("%s\n", (event.has_case_delivered() ? DeliveryLines(event) : EventLine(event)).c_str());
        }
        std::fflush(stdout);
        if (event.has_case_delivered()) ++delivered;
        return args.count == 0 || delivered < args.count;
      },
      [] { return g_stop.load(); });
  if (!s.ok()) return Fail(command, s, ExitCodeFor(s));
  return kExitOk;
}

int RunShow(const ConnectionFlags& flags, const Args& args) {
  const std::string command = "inbox show";
  Caller caller;
  Status s = ResolveCaller(flags, args.who, false, &caller);
  if (!s.ok()) return Fail(command, s, kExitSetupError);
  if (!args.destination.empty() && caller.by_destination && args.destination != caller.destinations.front()) {
    return Fail(command, Status::InvalidArgument("--as " + caller.destinations.front() + " and --destination " +
                                                 args.destination + " disagree"),
                kExitRefused);
  }
  std::unique_ptr<BrokerClient> client;
  s = ConnectAs(flags, caller.agency_id, &client);
  if (!s.ok()) return Fail(command, s, ExitCodeForConnect(s));

  v1::QueryRequest query;
  query.set_referral_id(args.referral);
  v1::QueryResult result;
  s = client->Query(query, &result);
  if (!s.ok()) return Fail(command, s, ExitCodeFor(s));
  std::map<std::string, v1::InboxCase> cases;  // by destination
  for (const auto& c : result.cases()) {
    if (!caller.Covers(c.destination())) continue;
    if (!args.destination.empty() && c.destination() != args.destination) continue;
    *cases[c.destination()].mutable_record() = c;
  }
  if (cases.empty()) {
    const std::string where = args.destination.empty() ? Join(caller.destinations, ", ") : args.destination;
    return Fail(command, Status::NotFound(args.referral + " has no case at " + (where.empty() ? "(none)" : where) +
                                          " that " + caller.agency_id + " may see"),
                kExitRefused);
  }

  v1::ReadRequest read;
  read.set_referral_id(args.referral);
  read.set_purpose("inbox show");
  s = client->Read(read, [&](const v1::Event& event, const std::string&, const std::string&) {
    auto it = cases.find(DestinationOf(event));
    if (it == cases.end()) return true;
    *it->second.add_history() = event;
    if (event.has_case_delivered()) {
      *it->second.mutable_delivery() = event.case_delivered();
      it->second.set_delivery_seq(event.seq());
    }
    return true;
  });
  if (!s.ok()) return Fail(command, s, ExitCodeFor(s));

  for (const auto& [destination, c] : cases) {
    if (args.json) {
      std::printf("%s\n", ToJsonLine(c).c_str());
      continue;
    }
    const v1::CaseRecord& r = c.record();
    std::printf("%s at %s: %s\n", r.referral_id().c_str(), destination.c_str(), v1::CaseState_Name(r.state()).c_str());
    std::printf("  rule        %s\n", r.rule_id().empty() ? "-" : r.rule_id().c_str());
    if (!r.reason().empty()) std::printf("  reason      %s\n", r.reason().c_str());
    std::printf("  routed      %s\n", FormatLondon(r.routed_at()).c_str());
    std::printf("  deadline    %s%s\n", FormatLondon(r.deadline()).c_str(), r.deadline_breached() ? " (breached)" : "");
    std::printf("  deliveries  %u\n", r.deliveries());
    if (!r.last_outcome().empty()) std::printf("  outcome     %s\n", r.last_outcome().c_str());
    if (c.has_delivery()) {
      const v1::CaseDelivered& d = c.delivery();
      std::vector<std::string> groups;
      for (int g : d.disclosed_groups()) groups.push_back(v1::FieldGroup_Name(static_cast<v1::FieldGroup>(g)));
      std::printf("delivered as seq %llu (attempt %u) to %s\n", static_cast<unsigned long long>(c.delivery_seq()),
                  d.attempt(), d.recipient_agency().c_str());
      if (!d.purpose().empty()) std::printf("  purpose     %s\n", d.purpose().c_str());
      std::printf("  disclosed   %s\n", Join(groups, ", ").c_str());
      std::printf("  view:\n");
      google::protobuf::TextFormat::Printer printer;
      printer.SetInitialIndentLevel(2);
      printer.SetUseUtf8StringEscaping(true);
      printer.SetUseShortRepeatedPrimitives(true);
      std::string text;
      printer.PrintToString(d.view(), &text);
      std::fputs(text.c_str(), stdout);
    } else {
      std::printf("not delivered yet\n");
    }
    std::printf("history:\n");
    for (const auto& event : c.history()) std::printf("  %s\n", EventLine(event).c_str());
  }
  return kExitOk;
}

}  // namespace refx::cli::inbox
