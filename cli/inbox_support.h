// Internals of `refx inbox` (see inbox_command.h): who the caller is, the
// connection, exit codes and error messages, and how cases and events are
// written on the lead's terminal.
//
// Thread-safety: plain functions; the Run* and printing functions write to
// stdout / stderr, so call them from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cli/local_stack.h"
#include "client/broker_client.h"
#include "core/partnership_config.h"
#include "core/status.h"
#include "refx/v1/event.pb.h"

namespace refx::cli::inbox {

// The caller, resolved from --as WHO.
struct Caller {
  std::unique_ptr<PartnershipConfig> config;
  std::string agency_id;                  // the agency whose key pair is used
  std::vector<std::string> destinations;  // WHO itself, or every destination the agency owns
  bool by_destination = false;            // WHO named a destination (not an agency)

  bool Covers(const std::string& destination) const;
};

// Everything the inbox subcommands take (each uses a part of it).
struct Args {
  std::string who;
  bool json = false;
  std::string destination;          // --destination
  std::vector<std::string> states;  // list --state (CaseState names)
  uint64_t from_seq = 0;            // watch --from-seq
  bool from_seq_given = false;
  uint64_t count = 0;               // watch --count (0 = until stopped)
  std::string referral;             // REFERRAL (normalised to R-NNNNNNNNNN)
  std::string code;                 // outcome CODE
  std::string note;                 // accept / outcome --note
  std::string reason;               // decline --reason
};

// Loads HOME/config.textproto and resolves `who`: a destination code (also
// tried upper-cased) names its owning agency and itself; an agency id names
// itself and every destination it owns, in configuration order. NotFound
// when the configuration is missing or bad, or `who` is neither; NotFound
// when an agency owns no destination and `need_destinations` is true.
Status ResolveCaller(const ConnectionFlags& flags, const std::string& who, bool need_destinations, Caller* out);

// A client acting as caller.agency_id, from the local stack's keys (or the
// connection flags). NotFound naming the missing file when not set up.
Status ConnectAs(const ConnectionFlags& flags, const Caller& caller, std::unique_ptr<BrokerClient>* out);

// "R-0000000042" for "R-0000000042" or "42"; `text` unchanged otherwise.
std::string NormaliseReferralId(const std::string& text);

// A time for people: Europe/London to the second with GMT or BST
// ("2027-01-15 17:00:00 GMT"), or "-" when unset (cli/london_time.h).
// Machine output (--json) keeps protobuf's UTC instead.
std::string FormatTime(const google::protobuf::Timestamp& time);

// Prints rows to stdout as left-aligned columns two spaces apart.
void PrintTable(const std::vector<std::vector<std::string>>& rows);

// One line for an event of a case: "seq N  R-…  DEST  type by ACTOR  details".
std::string EventLine(const v1::Event& event);

// The lines written for a delivery: the event line (attempt, deadline, rule,
// reason) and an indented summary of the view: category, urgency and the
// subject's name (or the context's kind and name) when the view has them.
std::string DeliveryLines(const v1::Event& event);

// The subcommands; each returns its exit code.
int RunList(const ConnectionFlags& flags, const Args& args);
int RunWatch(const ConnectionFlags& flags, const Args& args);
int RunShow(const ConnectionFlags& flags, const Args& args);
// `action` is "ack", "accept", "decline" or "outcome".
int RunAction(const ConnectionFlags& flags, const std::string& action, const Args& args);

}  // namespace refx::cli::inbox
