// `refx audit` and `refx admin` end to end: the real refx binary, run as a
// child process with a HOME folder laid out as `deploy/refx.sh up` lays it
// out, against the real broker binary with CURVE on. Referrals are
// submitted and moved along by clients in this process (submitter, SERVICE,
// the lead); the auditor reads through the CLI.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <thread>
#include <sstream>

#include "cli/checkpoint_file.h"
#include "cli/london_time.h"
#include "core/event_util.h"
#include "core/json.h"
#include "eventlog/keys.h"
#include "testsupport/audit_log_builder.h"
#include "refx/v1/checkpoint.pb.h"
#include "refx/v1/cli.pb.h"
#include "cli_child.h"
#include "test_stack.h"
#include "tests/render/csv_reader.h"

namespace refx::testing {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kDestinations[] = R"(
destinations { code: "DA_MARAC" name: "DA MARAC" agency_id: "da-marac-coordinator" need_to_know: [SUBJECT_IDENTITY, ASSESSMENT] purpose: "MARAC risk panel" }
destinations { code: "CHANNEL" name: "Channel panel" agency_id: "kcc-channel-panel" need_to_know: [SUBJECT_IDENTITY] purpose: "Channel" }
outcome_codes { code: "SAFETY_PLAN" }
outcome_codes { code: "NFA" }
)";

std::vector<AgencySpec> Agencies() {
  return {{"kent-police", {"SUBMITTER"}, {}},         {"da-marac-coordinator", {"LEAD"}, {}},
          {"kcc-channel-panel", {"LEAD"}, {}},        {"refx-router", {"SERVICE"}, {}},
          {"ig-auditor", {"AUDITOR"}, {}},            {"refx-admin", {"ADMIN"}, {}}};
}

// The seq a "seq N  ..." line starts with (0 if none).
uint64_t LineSeq(const std::string& line) {
  if (line.rfind("seq ", 0) != 0) return 0;
  return std::stoull(line.substr(4));
}

std::vector<uint64_t> LineSeqs(const std::string& text) {
  std::vector<uint64_t> seqs;
  for (const auto& line : Lines(text)) seqs.push_back(LineSeq(line));
  return seqs;
}

class OnlineAuditCliTest : public ::testing::Test {
 protected:
  OnlineAuditCliTest() : stack_(Agencies(), "", kDestinations) {}

  void SetUp() override {
    ASSERT_TRUE(stack_.StartBroker());
    WriteCliHome(stack_, Agencies(), home_.path());
    service_ = stack_.ClientFor("refx-router");
    lead_ = stack_.ClientFor("da-marac-coordinator");
  }

  std::string Submit(const std::string& reference, const std::string& given_name = "Alex") {
    v1::Referral r = SampleReferral("kent-police", reference);
    r.mutable_person()->set_given_name(given_name);
    v1::Ack ack;
    EXPECT_TRUE(stack_.ClientFor("kent-police")->Submit(r, &ack).ok());
    return ack.referral_id();
  }
  // Appends as `client`; returns the seq.
  uint64_t Append(BrokerClient* client, const v1::Event& e) {
    v1::Ack ack;
    Status s = client->Append(e, "", &ack);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return ack.seq();
  }
  uint64_t Route(const std::string& referral, const std::string& destination) {
    v1::Event e;
    auto* r = e.mutable_case_routed();
    r->set_referral_id(referral);
    r->set_destination(destination);
    r->set_rule_id("TEST_RULE");
    r->set_reason("test routing reason");
    *r->mutable_deadline() = TimeUtil::SecondsToTimestamp(1800000000);
    return Append(service_.get(), e);
  }
  uint64_t Deliver(const std::string& referral, const std::string& destination) {
    v1::Event e;
    e.mutable_case_delivered()->set_referral_id(referral);
    e.mutable_case_delivered()->set_destination(destination);
    return Append(service_.get(), e);
  }
  uint64_t Ack(const std::string& referral) {
    v1::Event e;
    e.mutable_case_acknowledged()->set_referral_id(referral);
    e.mutable_case_acknowledged()->set_destination("DA_MARAC");
    return Append(lead_.get(), e);
  }
  uint64_t Accept(const std::string& referral, const std::string& note) {
    v1::Event e;
    e.mutable_case_accepted()->set_referral_id(referral);
    e.mutable_case_accepted()->set_destination("DA_MARAC");
    e.mutable_case_accepted()->set_note(note);
    return Append(lead_.get(), e);
  }
  uint64_t Outcome(const std::string& referral, const std::string& code) {
    v1::Event e;
    e.mutable_outcome_recorded()->set_referral_id(referral);
    e.mutable_outcome_recorded()->set_destination("DA_MARAC");
    e.mutable_outcome_recorded()->set_code(code);
    return Append(lead_.get(), e);
  }
  uint64_t Head() {
    v1::Frame request, reply;
    request.mutable_heartbeat();
    EXPECT_TRUE(service_->Call(request, &reply).ok());
    return reply.heartbeat().head_seq();
  }

  // refx with the connection flags for this stack, then `args`.
  CliRun Refx(std::vector<std::string> args) {
    std::vector<std::string> all = {"--home", home_.path(), "--broker", stack_.endpoint(), "--attempts", "3"};
    all.insert(all.end(), args.begin(), args.end());
    return RunRefx(all);
  }
  CliRun Audit(std::vector<std::string> args) {
    args.insert(args.begin(), "audit");
    return Refx(std::move(args));
  }

  // Every event up to `to_seq`, as the auditor sees them (`audit replay --json`).
  std::vector<v1::Event> AllEvents(uint64_t to_seq) {
    CliRun run = Audit({"replay", "--to-seq", std::to_string(to_seq), "--json", "--purpose", "test oracle"});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    std::vector<v1::Event> events;
    for (const auto& line : Lines(run.out)) {
      v1::Event e;
      EXPECT_TRUE(MessageFromJson(line, &e).ok()) << line;
      events.push_back(e);
    }
    return events;
  }

  // A referral taken through the whole lifecycle at DA_MARAC.
  std::string Lifecycle(const std::string& reference) {
    const std::string referral = Submit(reference);
    Route(referral, "DA_MARAC");
    Deliver(referral, "DA_MARAC");
    Ack(referral);
    Accept(referral, "listed for next panel");
    Outcome(referral, "SAFETY_PLAN");
    return referral;
  }

  TestStack stack_;
  TempDir home_;
  std::unique_ptr<BrokerClient> service_, lead_;
};

TEST_F(OnlineAuditCliTest, TimelineListsEveryEventInOrderWithoutPersonalData) {
  const std::string referral = Lifecycle("AUD-1");
  const std::string other = Submit("AUD-2", "Jordan");  // another referral: not in the timeline
  Route(other, "CHANNEL");

  CliRun run = Audit({"timeline", referral, "--purpose", "case review CR-1"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::vector<std::string> lines = Lines(run.out);
  const std::vector<std::string> kinds = {"referral_submitted", "case_routed",   "case_delivered",
                                          "case_acknowledged",  "case_accepted", "outcome_recorded"};
  ASSERT_GE(lines.size(), kinds.size()) << run.out;
  uint64_t previous = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const uint64_t seq = LineSeq(lines[i]);
    EXPECT_GT(seq, previous) << "not in seq order:\n" << run.out;
    previous = seq;
    EXPECT_NE(lines[i].find(referral), std::string::npos) << lines[i];
    EXPECT_EQ(lines[i].find(other), std::string::npos) << lines[i];
    if (i < kinds.size()) {
      EXPECT_NE(lines[i].find(kinds[i]), std::string::npos) << lines[i];
    }
  }
  EXPECT_NE(lines[0].find("kent-police"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("rule TEST_RULE"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("test routing reason"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("to da-marac-coordinator"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("disclosed ENVELOPE,SUBJECT_IDENTITY,ASSESSMENT"), std::string::npos) << lines[2];
  EXPECT_NE(lines[5].find("outcome SAFETY_PLAN"), std::string::npos) << lines[5];
  // No personal data: not the subject's name, date of birth or address, not
  // the referrer's name, not the narrative, not the lead's free-text note.
  for (const char* personal : {"Alex", "Example", "1990-04-01", "Example Road", "Sam Tester", "Synthetic test narrative",
                               "listed for next panel"}) {
    EXPECT_EQ(run.out.find(personal), std::string::npos) << personal << " printed:\n" << run.out;
    EXPECT_EQ(run.err.find(personal), std::string::npos) << personal << " printed:\n" << run.err;
  }

  // The auditor's read is itself in the referral's history now.
  CliRun second = Audit({"timeline", referral, "--purpose", "case review CR-2"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  bool recorded = false;
  for (const auto& line : Lines(second.out)) {
    if (line.find("record_accessed") != std::string::npos && line.find("case review CR-1") != std::string::npos) {
      recorded = true;
      EXPECT_NE(line.find("ig-auditor"), std::string::npos) << line;
    }
  }
  EXPECT_TRUE(recorded) << "the first timeline read is not in the second:\n" << second.out;

  // --json: the full events (documented as personal data).
  CliRun json = Audit({"timeline", referral.substr(2), "--purpose", "case review CR-3", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  std::vector<v1::Event> events;
  for (const auto& line : Lines(json.out)) {
    v1::Event e;
    ASSERT_TRUE(MessageFromJson(line, &e).ok()) << line;
    events.push_back(e);
  }
  ASSERT_GE(events.size(), kinds.size());
  ASSERT_TRUE(events[0].has_referral_submitted());
  EXPECT_EQ(events[0].referral_submitted().referral().person().given_name(), "Alex");
}

TEST_F(OnlineAuditCliTest, MissingPurposeIsRefusedAndNothingIsRead) {
  const std::string referral = Lifecycle("AUD-P");
  const uint64_t head = Head();
  const std::vector<std::vector<std::string>> commands = {
      {"timeline", referral},
      {"timeline", referral, "--purpose", "   "},
      {"replay"},
      {"as-of", "2030-01-01", referral},
      {"export", referral, "--format", "csv"},
      {"verify"},
  };
  for (const auto& args : commands) {
    CliRun run = Audit(args);
    EXPECT_EQ(run.exit_code, 2) << args[0] << ": " << run.err;
    EXPECT_NE(run.err.find("--purpose is required"), std::string::npos) << args[0] << ": " << run.err;
    EXPECT_TRUE(run.out.empty()) << run.out;
  }
  EXPECT_EQ(Head(), head) << "a refused read must not be recorded";
}

TEST_F(OnlineAuditCliTest, ALeadCannotTimelineAnotherAgencysReferral) {
  const std::string referral = Submit("AUD-L");
  Route(referral, "DA_MARAC");
  Deliver(referral, "DA_MARAC");

  // kcc-channel-panel (LEAD of CHANNEL) has no case of this referral: the
  // broker sends it nothing, and the CLI says so.
  CliRun other = Audit({"timeline", referral, "--purpose", "curious", "--as", "kcc-channel-panel"});
  EXPECT_EQ(other.exit_code, 2) << other.out;
  EXPECT_TRUE(other.out.empty()) << other.out;
  EXPECT_NE(other.err.find("no event that kcc-channel-panel may see"), std::string::npos) << other.err;

  // The destination's own lead sees its case's events, never the raw
  // submission.
  CliRun own = Audit({"timeline", referral, "--purpose", "own case", "--as", "da-marac-coordinator"});
  ASSERT_EQ(own.exit_code, 0) << own.err;
  const std::vector<std::string> lines = Lines(own.out);
  ASSERT_EQ(lines.size(), 2u) << own.out;
  EXPECT_NE(lines[0].find("case_routed"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("case_delivered"), std::string::npos) << lines[1];
  EXPECT_EQ(own.out.find("referral_submitted"), std::string::npos) << own.out;
}

TEST_F(OnlineAuditCliTest, ReplayFiltersGiveTheExpectedSeqs) {
  const std::string a = Lifecycle("AUD-R1");  // seqs 1..6 at DA_MARAC
  const std::string b = Submit("AUD-R2", "Jordan");
  const uint64_t b_routed = Route(b, "CHANNEL");
  const uint64_t b_delivered = Deliver(b, "CHANNEL");
  const uint64_t head = Head();
  ASSERT_EQ(head, 9u);

  // Seq range.
  CliRun range = Audit({"replay", "--from-seq", "2", "--to-seq", "4", "--purpose", "replay test"});
  ASSERT_EQ(range.exit_code, 0) << range.err;
  EXPECT_EQ(LineSeqs(range.out), (std::vector<uint64_t>{2, 3, 4})) << range.out;
  EXPECT_NE(range.err.find("3 events"), std::string::npos) << "summary line: " << range.err;
  EXPECT_EQ(range.out.find("Alex"), std::string::npos) << range.out;

  // Destination.
  CliRun channel = Audit({"replay", "--destination", "CHANNEL", "--purpose", "replay test"});
  ASSERT_EQ(channel.exit_code, 0) << channel.err;
  EXPECT_EQ(LineSeqs(channel.out), (std::vector<uint64_t>{b_routed, b_delivered})) << channel.out;

  // Time: the oracle is the full history (--json), filtered here.
  const std::vector<v1::Event> all = AllEvents(head);
  ASSERT_EQ(all.size(), head);
  const google::protobuf::Timestamp t = all[4].time();  // seq 5's time
  std::vector<uint64_t> since, until;
  for (const auto& e : all) (e.time() < t ? until : since).push_back(e.seq());
  CliRun since_run = Audit({"replay", "--since", TimeUtil::ToString(t), "--to-seq", std::to_string(head), "--purpose",
                            "replay test"});
  ASSERT_EQ(since_run.exit_code, 0) << since_run.err;
  EXPECT_EQ(LineSeqs(since_run.out), since) << since_run.out;
  CliRun until_run = Audit({"replay", "--until", TimeUtil::ToString(t), "--purpose", "replay test"});
  ASSERT_EQ(until_run.exit_code, 0) << until_run.err;
  EXPECT_EQ(LineSeqs(until_run.out), until) << until_run.out;
  // A date works too: nothing before 2000-01-01, everything since.
  CliRun none = Audit({"replay", "--until", "2000-01-01", "--purpose", "replay test"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_TRUE(none.out.empty()) << none.out;
  CliRun bad = Audit({"replay", "--since", "yesterday", "--purpose", "replay test"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("RFC 3339"), std::string::npos) << bad.err;

  // Agency: appended by it, or at a destination it owns.
  CliRun lead = Audit({"replay", "--agency", "da-marac-coordinator", "--to-seq", std::to_string(head), "--purpose",
                       "replay test"});
  ASSERT_EQ(lead.exit_code, 0) << lead.err;
  std::vector<uint64_t> expected;
  for (const auto& e : all) {
    if (e.actor() == "da-marac-coordinator" || DestinationOf(e) == "DA_MARAC") expected.push_back(e.seq());
  }
  EXPECT_EQ(LineSeqs(lead.out), expected) << lead.out;
  EXPECT_EQ(lead.out.find(b), std::string::npos) << lead.out;
  EXPECT_NE(lead.out.find(a), std::string::npos) << lead.out;
}

TEST_F(OnlineAuditCliTest, OnlineVerifySaysIntactAndCatchesAForgedCheckpoint) {
  Lifecycle("AUD-V1");
  Lifecycle("AUD-V2");
  CliRun run = Audit({"verify", "--purpose", "quarterly check", "--signing-pub", stack_.signing_public_key_path()});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(run.out.rfind("intact: ", 0), 0u) << run.out;
  EXPECT_NE(run.out.find("--db"), std::string::npos) << "says index checks need --db:\n" << run.out;

  CliRun json = Audit({"verify", "--purpose", "quarterly check", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  v1::VerifyResult result;
  ASSERT_TRUE(MessageFromJson(Lines(json.out).at(0), &result).ok()) << json.out;
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.problem(), "NONE");
  EXPECT_GE(result.events_checked(), 12u);
  EXPECT_EQ(result.last_seq(), result.events_checked());

  // A "trusted" checkpoint that contradicts the chain: a recomputed chain.
  v1::Checkpoint forged;
  forged.set_seq(3);
  forged.set_chain_hash(std::string(32, '\x01'));
  *forged.mutable_signed_at() = TimeUtil::SecondsToTimestamp(1800000000);
  forged.set_key_id("0000000000000000");
  forged.set_signature(std::string(64, '\x02'));
  const std::string file = home_.path() + "/forged.jsonl";
  std::ofstream(file) << ToJsonLine(forged) << "\n";
  CliRun tampered = Audit({"verify", "--purpose", "quarterly check", "--checkpoint", file});
  EXPECT_EQ(tampered.exit_code, 4) << tampered.out << tampered.err;
  // (The broker's own checkpoints may vouch for seqs before 3.)
  EXPECT_EQ(tampered.out.rfind("first bad seq ", 0), 0u) << tampered.out;
  EXPECT_NE(tampered.out.find(": CHAIN_RECOMPUTED: the chain hash at seq 3 contradicts the given checkpoint"),
            std::string::npos)
      << tampered.out;
  // With the signing key it is not even authentic.
  CliRun unsigned_run = Audit({"verify", "--purpose", "quarterly check", "--checkpoint", file, "--signing-pub",
                               stack_.signing_public_key_path()});
  EXPECT_EQ(unsigned_run.exit_code, 4) << unsigned_run.out << unsigned_run.err;
  EXPECT_NE(unsigned_run.out.find("BAD_SIGNATURE"), std::string::npos) << unsigned_run.out;
}

// Flips one byte of the stored event at `seq` (inside its actor, "refx-router"
// or the lead's id), leaving the stored chain hash as it was.
void FlipStoredByte(const std::string& data_dir, uint64_t seq) {
  audit_testing::RawDb raw(data_dir);
  ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
  std::string value;
  ASSERT_TRUE(raw.Get("events", eventlog::EncodeSeq(seq), &value));
  size_t at = value.find("refx-router");
  if (at == std::string::npos) at = value.find("da-marac-coordinator");
  ASSERT_NE(at, std::string::npos) << "seq " << seq;
  value[at + 5] ^= 0x01;
  ASSERT_TRUE(raw.Put("events", eventlog::EncodeSeq(seq), value));
}

// `audit verify` with a signing key keeps the newest signed checkpoint it
// verified and next time checks only the log after it: bytes altered before
// that checkpoint are outside the fast check but --full catches them;
// altered after it, the fast check catches them.
TEST_F(OnlineAuditCliTest, OnlineVerifyResumesFromTheLastVerifiedCheckpoint) {
  const std::string kept = home_.path() + "/verified.json";
  const std::vector<std::string> verify = {"verify", "--purpose", "quarterly check", "--signing-pub",
                                           stack_.signing_public_key_path(), "--verified-file", kept};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = verify;
    args.insert(args.end(), extra.begin(), extra.end());
    return Audit(args);
  };
  Lifecycle("AUD-R1");
  ASSERT_EQ(stack_.StopBroker(SIGTERM), 0);  // the broker signs its head as it stops
  ASSERT_TRUE(stack_.StartBroker());
  const uint64_t first = Head();
  CliRun run = Audit(verify);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("signed checkpoints verified up to seq " + std::to_string(first)), std::string::npos)
      << run.out;
  EXPECT_EQ(run.out.find("resumed"), std::string::npos) << run.out;
  std::vector<v1::Checkpoint> saved;
  ASSERT_TRUE(cli::ReadCheckpointFile(kept, &saved).ok());
  ASSERT_EQ(saved.size(), 1u);
  EXPECT_EQ(saved[0].seq(), first);

  // Altered before the kept checkpoint (the route of AUD-R1, seq 2), more events after it.
  Lifecycle("AUD-R2");
  ASSERT_EQ(stack_.StopBroker(SIGTERM), 0);
  FlipStoredByte(stack_.data_dir(), 2);
  ASSERT_TRUE(stack_.StartBroker());
  const uint64_t second = Head();
  run = Audit(verify);
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("resumed after the signed checkpoint at seq " + std::to_string(first)), std::string::npos)
      << run.out;
  run = with({"--json"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  v1::VerifyResult result;
  ASSERT_TRUE(MessageFromJson(Lines(run.out).at(0), &result).ok()) << run.out;
  // The run before kept the checkpoint at `second`: this one checks only the events after it.
  EXPECT_EQ(result.last_seq() - result.events_checked(), second) << run.out;
  EXPECT_EQ(result.last_checkpoint_seq(), second);
  run = with({"--full"});
  EXPECT_EQ(run.exit_code, 4) << run.out << run.err;
  EXPECT_EQ(run.out.rfind("first bad seq 2: ALTERED_BYTES", 0), 0u) << run.out;

  // Altered after the checkpoint now kept (the route of AUD-R3).
  saved.clear();
  ASSERT_TRUE(cli::ReadCheckpointFile(kept, &saved).ok());
  ASSERT_EQ(saved.size(), 1u);
  EXPECT_EQ(saved[0].seq(), second);
  const uint64_t routed = Route(Submit("AUD-R3"), "DA_MARAC");
  ASSERT_GT(routed, second);
  ASSERT_EQ(stack_.StopBroker(SIGTERM), 0);
  FlipStoredByte(stack_.data_dir(), routed);
  ASSERT_TRUE(stack_.StartBroker());
  run = Audit(verify);
  EXPECT_EQ(run.exit_code, 4) << run.out << run.err;
  EXPECT_EQ(run.out.rfind("first bad seq " + std::to_string(routed) + ": ALTERED_BYTES", 0), 0u) << run.out;
  EXPECT_NE(run.out.find("resumed after the signed checkpoint at seq " + std::to_string(second)), std::string::npos)
      << run.out;
}

TEST_F(OnlineAuditCliTest, ExportInEveryFormat) {
  const std::string evil = "Robin<script>alert(1)</script>";
  const std::string referral = Submit("AUD-X", evil);
  Route(referral, "DA_MARAC");
  Deliver(referral, "DA_MARAC");
  Ack(referral);
  Accept(referral, "listed, \"urgent\"\nnext panel");  // a note that needs CSV quoting

  // json: one refx.v1.AuditExport document.
  const std::string json_file = home_.path() + "/export.json";
  CliRun json = Audit({"export", referral, "--format", "json", "--purpose", "SAR 2027-014", "--out", json_file});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  std::ifstream in(json_file);
  std::stringstream text;
  text << in.rdbuf();
  v1::AuditExport x;
  ASSERT_TRUE(MessageFromJson(text.str(), &x).ok()) << text.str();
  EXPECT_EQ(x.referral_id(), referral);
  EXPECT_EQ(x.exported_by(), "ig-auditor");
  EXPECT_EQ(x.purpose(), "SAR 2027-014");
  ASSERT_GE(x.events_size(), 5);
  EXPECT_EQ(x.chain_hashes_size(), x.events_size());
  EXPECT_EQ(x.chain_hashes(0).size(), 64u);
  EXPECT_EQ(x.events(0).referral_submitted().referral().person().given_name(), evil);
  ASSERT_EQ(x.cases_size(), 1);
  EXPECT_EQ(x.cases(0).destination(), "DA_MARAC");
  EXPECT_EQ(x.cases(0).state(), v1::ACCEPTED);
  EXPECT_EQ(x.cases(0).rule_id(), "TEST_RULE");

  // csv: a header and one row per event, RFC 4180 quoted.
  CliRun csv = Audit({"export", referral, "--format", "csv", "--purpose", "SAR 2027-014"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  const auto rows = ParseCsv(csv.out);
  ASSERT_GE(rows.size(), 6u) << csv.out;
  EXPECT_EQ(rows[0], (std::vector<std::string>{"seq", "time", "actor", "kind", "destination", "rule", "detail"}));
  uint64_t previous = 0;
  bool note_found = false;
  for (size_t i = 1; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), 7u) << "row " << i << ":\n" << csv.out;
    EXPECT_GT(std::stoull(rows[i][0]), previous);
    previous = std::stoull(rows[i][0]);
    if (rows[i][3] == "case_accepted") {
      note_found = true;
      EXPECT_NE(rows[i][6].find("listed, \"urgent\"\nnext panel"), std::string::npos) << rows[i][6];
    }
  }
  EXPECT_TRUE(note_found) << csv.out;
  EXPECT_EQ(rows[1][3], "referral_submitted");
  EXPECT_EQ(rows[2][3], "case_routed");
  EXPECT_EQ(rows[2][4], "DA_MARAC");
  EXPECT_EQ(rows[2][5], "TEST_RULE");

  // html: one self-contained page, everything escaped.
  CliRun html = Audit({"export", referral, "--format", "html", "--purpose", "SAR <2027-014>"});
  ASSERT_EQ(html.exit_code, 0) << html.err;
  EXPECT_EQ(html.out.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(html.out.find("<script"), std::string::npos) << "unescaped script tag";
  EXPECT_NE(html.out.find("Robin&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.out.find("SAR &lt;2027-014&gt;"), std::string::npos);
  EXPECT_NE(html.out.find(referral), std::string::npos);
  EXPECT_TRUE(std::regex_search(html.out, std::regex("Chain hash of the last event \\(seq [0-9]+\\)</dt><dd><code>"
                                                      "[0-9a-f]{64}</code>")))
      << "the header names the last chain hash";
  for (const char* external : {"http://", "https://", "<link", "src=", "<img"}) {
    EXPECT_EQ(html.out.find(external), std::string::npos) << external;
  }
  for (const char* kind : {"referral_submitted", "case_routed", "case_delivered", "case_acknowledged", "case_accepted"}) {
    EXPECT_NE(html.out.find(std::string("<td class=\"k\">") + kind + "</td>"), std::string::npos) << kind;
  }
  // Times to the second in UK time, not microseconds in UTC.
  EXPECT_TRUE(std::regex_search(html.out, std::regex("<td class=\"t\">20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} "
                                                      "(GMT|BST)</td>")))
      << "event times to the second";
  EXPECT_FALSE(std::regex_search(html.out, std::regex(":[0-9]{2}\\.[0-9]+Z"))) << "fractions of a second";
  // The referral as labelled fields, not a protobuf text dump.
  EXPECT_NE(html.out.find("<dt>Given name</dt><dd>Robin&lt;script&gt;alert(1)&lt;/script&gt;</dd>"), std::string::npos);
  EXPECT_NE(html.out.find("<dt>Referrer reference</dt><dd>AUD-X</dd>"), std::string::npos);
  EXPECT_EQ(html.out.find("given_name:"), std::string::npos) << "text-format dump";
  // Long cells wrap; a print stylesheet.
  EXPECT_NE(html.out.find("overflow-wrap:anywhere"), std::string::npos);
  EXPECT_NE(html.out.find("@media print"), std::string::npos);
  // The CSV's time column is UTC to the second.
  EXPECT_TRUE(std::regex_match(rows[1][1], std::regex("20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")))
      << rows[1][1];

  CliRun bad = Audit({"export", referral, "--format", "pdf", "--purpose", "SAR 2027-014"});
  EXPECT_EQ(bad.exit_code, 2);
}

TEST_F(OnlineAuditCliTest, AsOfShowsTheStateBeforeAndAfterTheAck) {
  const std::string referral = Submit("AUD-T");
  Route(referral, "DA_MARAC");
  const uint64_t delivered = Deliver(referral, "DA_MARAC");
  // Event times have whole-second resolution (the broker's clock): ack in
  // the next second so that a moment separates the two states.
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  std::this_thread::sleep_for(std::chrono::seconds(1) - (now % std::chrono::seconds(1)) +
                              std::chrono::milliseconds(20));
  const uint64_t acked = Ack(referral);
  const std::vector<v1::Event> all = AllEvents(acked);
  const google::protobuf::Timestamp delivered_at = all.at(delivered - 1).time();
  const google::protobuf::Timestamp acked_at = all.at(acked - 1).time();
  ASSERT_TRUE(delivered_at < acked_at) << "the broker's clock did not move between two appends: "
                                        << TimeUtil::ToString(delivered_at) << " " << TimeUtil::ToString(acked_at)
                                        << " seqs " << delivered << " " << acked << " of " << all.size();

  auto as_of = [&](const google::protobuf::Timestamp& t) {
    CliRun run = Audit({"as-of", TimeUtil::ToString(t), referral, "--purpose", "complaint review", "--json"});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    v1::AuditAsOf result;
    EXPECT_TRUE(MessageFromJson(Lines(run.out).at(0), &result).ok()) << run.out;
    return result;
  };
  const v1::AuditAsOf before = as_of(delivered_at);
  EXPECT_EQ(before.as_of_seq(), delivered);
  EXPECT_EQ(before.submitter(), "kent-police");
  ASSERT_EQ(before.cases_size(), 1);
  EXPECT_EQ(before.cases(0).state(), v1::DELIVERED);
  EXPECT_EQ(before.cases(0).rule_id(), "TEST_RULE");
  EXPECT_EQ(before.cases(0).deadline().seconds(), 1800000000);
  ASSERT_EQ(before.disclosures_size(), 1);
  EXPECT_EQ(before.disclosures(0).agency(), "da-marac-coordinator");
  EXPECT_EQ(before.disclosures(0).seq(), delivered);
  EXPECT_EQ(before.disclosures(0).disclosed_groups_size(), 3);

  const v1::AuditAsOf after = as_of(acked_at);
  EXPECT_EQ(after.as_of_seq(), acked);
  ASSERT_EQ(after.cases_size(), 1);
  EXPECT_EQ(after.cases(0).state(), v1::ACKNOWLEDGED);

  // Text form: states and disclosures, no personal data.
  CliRun text = Audit({"as-of", TimeUtil::ToString(delivered_at), referral, "--purpose", "complaint review"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("DELIVERED"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("da-marac-coordinator"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("ENVELOPE,SUBJECT_IDENTITY,ASSESSMENT"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("Alex"), std::string::npos) << text.out;
  CliRun early = Audit({"as-of", "2000-01-01", referral, "--purpose", "complaint review"});
  ASSERT_EQ(early.exit_code, 0) << early.err;
  EXPECT_NE(early.out.find("no event yet"), std::string::npos) << early.out;
}

// A time to the second covers that second, and a date alone the whole
// (London) day: the state then includes the events stamped within them.
TEST_F(OnlineAuditCliTest, AsOfAWholeSecondOrADateIncludesItsEvents) {
  const std::string referral = Submit("AUD-S");
  Route(referral, "DA_MARAC");
  Deliver(referral, "DA_MARAC");
  const uint64_t acked = Ack(referral);
  const google::protobuf::Timestamp acked_at = AllEvents(acked).at(acked - 1).time();
  ASSERT_NE(acked_at.nanos(), 0) << "the ack landed on a whole second; the check below would prove nothing";

  // As the demo writes it: `date -u +%FT%TZ`, the second of the ack.
  google::protobuf::Timestamp second;
  second.set_seconds(acked_at.seconds());
  const std::string whole_second = TimeUtil::ToString(second);
  ASSERT_EQ(whole_second.find('.'), std::string::npos) << whole_second;
  // The date of the ack in London ("YYYY-MM-DD hh:mm:ss GMT" -> the date).
  const std::string london_date = cli::FormatLondon(acked_at).substr(0, 10);

  for (const std::string& time : {whole_second, london_date}) {
    CliRun run = Audit({"as-of", time, referral, "--purpose", "demo", "--json"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    v1::AuditAsOf result;
    ASSERT_TRUE(MessageFromJson(Lines(run.out).at(0), &result).ok()) << run.out;
    EXPECT_EQ(result.as_of_seq(), acked) << time;
    ASSERT_EQ(result.cases_size(), 1) << time;
    EXPECT_EQ(result.cases(0).state(), v1::ACKNOWLEDGED) << time;
  }
  // The day before is over before the referral began.
  google::protobuf::Timestamp day_before = acked_at;
  day_before.set_seconds(acked_at.seconds() - 2 * 86400);
  CliRun early = Audit({"as-of", cli::FormatLondon(day_before).substr(0, 10), referral, "--purpose", "demo"});
  ASSERT_EQ(early.exit_code, 0) << early.err;
  EXPECT_NE(early.out.find("no event yet"), std::string::npos) << early.out;

  // --help says what a date alone means.
  CliRun help = Audit({"as-of", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("a date alone means the END of that day in Europe/London"), std::string::npos) << help.out;
}

// Text output shows times in Europe/London with GMT or BST; --json keeps UTC.
TEST_F(OnlineAuditCliTest, PeopleReadLondonTimesMachinesReadUtc) {
  const std::string referral = Submit("AUD-Z");
  Route(referral, "DA_MARAC");
  CliRun text = Audit({"timeline", referral, "--purpose", "times"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  const std::regex london("^seq [0-9]+  [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} (GMT|BST)  ");
  for (const auto& line : Lines(text.out)) EXPECT_TRUE(std::regex_search(line, london)) << line;
  EXPECT_EQ(text.out.find("Z  "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("deadline 2027-01-15 08:00:00 GMT"), std::string::npos) << text.out;  // 1800000000

  CliRun json = Audit({"timeline", referral, "--purpose", "times", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NE(json.out.find("\"deadline\":\"2027-01-15T08:00:00Z\""), std::string::npos) << json.out;
}

// An id with no referral behind it: "no such referral", exit 2, nothing on
// stdout, and the read is recorded all the same.
TEST_F(OnlineAuditCliTest, AnUnknownReferralIsNoSuchReferral) {
  Lifecycle("AUD-U");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"timeline", "R-0000000999"}, {"as-of", "2030-01-01", "999"},
        {"timeline", "R-0000000999", "--json"}}) {
    const uint64_t head = Head();
    std::vector<std::string> all = args;
    all.insert(all.end(), {"--purpose", "looking for a referral"});
    CliRun run = Audit(all);
    EXPECT_EQ(run.exit_code, 2) << args[0] << ": " << run.out;
    EXPECT_TRUE(run.out.empty()) << run.out;
    EXPECT_NE(run.err.find("no such referral"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("R-0000000999"), std::string::npos) << run.err;
    EXPECT_EQ(Head(), head + 1) << "the read is recorded";
    EXPECT_NE(run.err.find("as seq " + std::to_string(head + 1)), std::string::npos) << run.err;
  }
  // Read before: the earlier reads' records do not make it exist.
  CliRun again = Audit({"timeline", "R-0000000999", "--purpose", "again"});
  EXPECT_EQ(again.exit_code, 2) << again.out;
}

// `--as` takes a destination code as `refx inbox` does: its owning agency reads.
TEST_F(OnlineAuditCliTest, AsTakesADestinationCodeToo) {
  const std::string referral = Submit("AUD-D");
  Route(referral, "DA_MARAC");
  Deliver(referral, "DA_MARAC");
  CliRun by_code = Audit({"timeline", referral, "--purpose", "our case", "--as", "DA_MARAC"});
  ASSERT_EQ(by_code.exit_code, 0) << by_code.err;
  CliRun by_agency = Audit({"timeline", referral, "--purpose", "our case", "--as", "da-marac-coordinator"});
  ASSERT_EQ(by_agency.exit_code, 0) << by_agency.err;
  EXPECT_EQ(LineSeqs(by_code.out), LineSeqs(by_agency.out));
  EXPECT_NE(by_code.out.find("case_delivered"), std::string::npos) << by_code.out;
  CliRun lower = Audit({"timeline", referral, "--purpose", "our case", "--as", "da_marac"});
  EXPECT_EQ(lower.exit_code, 0) << lower.err;
}

TEST_F(OnlineAuditCliTest, AdminBackupThenRestoreThenVerifyOffline) {
  const std::string referral = Lifecycle("AUD-B1");
  Lifecycle("AUD-B2");
  // An audit read of one referral: its record_accessed event is indexed
  // under that referral, and the offline verifier must agree.
  ASSERT_EQ(Audit({"timeline", referral, "--purpose", "before the backup"}).exit_code, 0);
  const uint64_t head = Head();
  TempDir work;
  const std::string backups = work.path() + "/backups";
  const std::string restored = work.path() + "/restored";

  // Only an ADMIN identity may ask for a backup.
  CliRun refused = Refx({"admin", "backup", backups, "--as", "ig-auditor"});
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("PERMISSION_DENIED"), std::string::npos) << refused.err;

  CliRun backup = Refx({"admin", "backup", backups, "--as", "refx-admin"});
  ASSERT_EQ(backup.exit_code, 0) << backup.out << backup.err;
  EXPECT_NE(backup.out.find("head seq " + std::to_string(head)), std::string::npos) << backup.out;
  EXPECT_NE(backup.out.find("verified"), std::string::npos) << backup.out;
  CliRun json = Refx({"admin", "backup", backups, "--json"});  // refx-admin by default
  ASSERT_EQ(json.exit_code, 0) << json.err;
  v1::BackupResult result;
  ASSERT_TRUE(MessageFromJson(Lines(json.out).at(0), &result).ok()) << json.out;
  EXPECT_TRUE(result.verified());
  EXPECT_GE(result.backup_id(), 2u);
  EXPECT_GT(result.file_count(), 0u);

  CliRun restore = Refx({"admin", "restore", backups, "--to", restored});
  ASSERT_EQ(restore.exit_code, 0) << restore.out << restore.err;
  EXPECT_NE(restore.out.find("refx audit verify --db " + restored), std::string::npos) << restore.out;
  // A restore never overwrites a log.
  CliRun again = Refx({"admin", "restore", backups, "--to", restored});
  EXPECT_EQ(again.exit_code, 1) << again.out;

  CliRun verify = Audit({"verify", "--db", restored, "--signing-pub", stack_.signing_public_key_path()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_EQ(verify.out.rfind("intact: ", 0), 0u) << verify.out;
}

}  // namespace
}  // namespace refx::testing
