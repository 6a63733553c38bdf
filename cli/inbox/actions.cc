// `refx inbox ack|accept|decline|outcome`: the lead acts on one case.
#include <sodium.h>

#include <cstdio>

#include "cli/caller.h"
#include "cli/connect.h"
#include "cli/exit_codes.h"
#include "cli/inbox/inbox.h"
#include "core/hex.h"
#include "core/json.h"

namespace refx::cli::inbox {

namespace {

// 16 hex digits of BLAKE2b over `text`: stable across runs and builds, so a
// retried decline or outcome has the same idempotency key.
std::string ShortHash(const std::string& text) {
  unsigned char digest[8];
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(text.data()), text.size(), nullptr,
                     0);
  return ToHex(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

// The destination to act for: --destination, else the one case the
// referral has at the caller's destinations.
Status PickDestination(const Caller& caller, const Args& args, BrokerClient* client, std::string* out) {
  if (!args.destination.empty()) {
    if (caller.by_destination && args.destination != caller.destinations.front()) {
      return Status::InvalidArgument("--as " + caller.destinations.front() + " and --destination " + args.destination +
                                     " disagree");
    }
    *out = args.destination;  // the broker decides whether the caller may act there
    return Status::OK();
  }
  v1::QueryRequest query;
  query.set_referral_id(args.referral);
  v1::QueryResult result;
  REFX_RETURN_IF_ERROR(client->Query(query, &result));
  std::vector<std::string> found;
  for (const auto& c : result.cases()) {
    if (caller.Covers(c.destination())) found.push_back(c.destination());
  }
  if (found.size() == 1) {
    *out = found.front();
    return Status::OK();
  }
  std::string list;
  for (const auto& d : (found.empty() ? caller.destinations : found)) list += (list.empty() ? "" : ", ") + d;
  if (found.empty()) {
    return Status::NotFound(args.referral + " has no case at " + (list.empty() ? "any destination" : list) + " of " +
                            caller.agency_id);
  }
  return Status::InvalidArgument(args.referral + " has cases at " + list + ": pass --destination");
}

// The event and idempotency key for `action` on (referral, destination).
Status BuildEvent(const std::string& action, const Args& args, const std::string& destination, v1::Event* event,
                  std::string* key) {
  const std::string& ref = args.referral;
  const std::string suffix = ref + ":" + destination;
  if (action == "ack") {
    event->mutable_case_acknowledged()->set_referral_id(ref);
    event->mutable_case_acknowledged()->set_destination(destination);
    *key = "ack:" + suffix;
  } else if (action == "accept") {
    event->mutable_case_accepted()->set_referral_id(ref);
    event->mutable_case_accepted()->set_destination(destination);
    event->mutable_case_accepted()->set_note(args.note);
    *key = "accept:" + suffix;
  } else if (action == "decline") {
    if (args.reason.empty()) return Status::InvalidArgument("a decline needs a reason", "--reason");
    event->mutable_case_declined()->set_referral_id(ref);
    event->mutable_case_declined()->set_destination(destination);
    event->mutable_case_declined()->set_reason(args.reason);
    *key = "decline:" + suffix + ":" + ShortHash(args.reason);
  } else if (action == "outcome") {
    if (args.code.empty()) return Status::InvalidArgument("is required", "CODE");
    event->mutable_outcome_recorded()->set_referral_id(ref);
    event->mutable_outcome_recorded()->set_destination(destination);
    event->mutable_outcome_recorded()->set_code(args.code);
    event->mutable_outcome_recorded()->set_note(args.note);
    *key = "outcome:" + suffix + ":" + ShortHash(args.code + std::string(1, '\0') + args.note);
  } else {
    return Status::InvalidArgument("unknown action " + action);
  }
  return Status::OK();
}

// Adds the configured outcome codes to a refusal of the outcome code
// (INVALID_ARGUMENT; brokers before 2026-12 said UNKNOWN_AGENCY).
Status WithOutcomeCodes(const Status& s, const Caller& caller, const std::string& destination) {
  if ((s.code() != Status::Code::kInvalidArgument && s.code() != Status::Code::kUnknownAgency) ||
      s.field_path().find("outcome_recorded.code") == std::string::npos) {
    return s;
  }
  std::string codes;
  for (const auto& c : caller.config->proto().outcome_codes()) {
    bool here = c.destinations().empty();
    for (const auto& d : c.destinations()) here = here || d == destination;
    if (here) codes += (codes.empty() ? "" : ", ") + c.code();
  }
  if (codes.empty()) return s;
  return Status(s.code(), s.message() + " (codes for " + destination + ": " + codes + ")", s.field_path());
}

// "acknowledged", "accepted", "declined", "outcome NFA recorded".
std::string Done(const std::string& action, const Args& args) {
  if (action == "ack") return "acknowledged";
  if (action == "accept") return "accepted";
  if (action == "decline") return "declined";
  return "outcome " + args.code + " recorded";
}

}  // namespace

int RunAction(const ConnectionFlags& flags, const std::string& action, const Args& args) {
  const std::string command = "inbox " + action;
  if (sodium_init() < 0) return Fail(command, Status::Internal("libsodium failed to initialise"), kExitSetupError);
  // Arguments first: a bad request is refused before anything is sent.
  {
    v1::Event probe;
    std::string key;
    Status s = BuildEvent(action, args, "-", &probe, &key);
    if (!s.ok()) return Fail(command, s, kExitRefused);
  }
  Caller caller;
  Status s = ResolveCaller(flags, args.who, false, &caller);
  if (!s.ok()) return Fail(command, s, kExitSetupError);
  std::unique_ptr<BrokerClient> client;
  s = ConnectAs(flags, caller.agency_id, &client);
  if (!s.ok()) return Fail(command, s, ExitCodeForConnect(s));

  std::string destination;
  s = PickDestination(caller, args, client.get(), &destination);
  if (!s.ok()) return Fail(command, s, ExitCodeFor(s));
  v1::Event event;
  std::string key;
  s = BuildEvent(action, args, destination, &event, &key);
  if (!s.ok()) return Fail(command, s, kExitRefused);
  v1::Ack ack;
  s = client->Append(event, key, &ack);
  if (!s.ok()) return Fail(command, WithOutcomeCodes(s, caller, destination), ExitCodeFor(s));
  if (args.json) {
    std::printf("%s\n", ToJsonLine(ack).c_str());
  } else if (ack.duplicate()) {
    // The same step repeated (same key: a retry, or the command run twice)
    // is not an error: it was done, once, as seq N.
    std::printf("%s %s: already %s as seq %llu; nothing written (a repeat of the same step is harmless)\n",
                args.referral.c_str(), destination.c_str(), Done(action, args).c_str(),
                static_cast<unsigned long long>(ack.seq()));
  } else {
    std::printf("%s %s: %s, seq %llu\n", args.referral.c_str(), destination.c_str(), Done(action, args).c_str(),
                static_cast<unsigned long long>(ack.seq()));
  }
  return kExitOk;
}

}  // namespace refx::cli::inbox
