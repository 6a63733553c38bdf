// The web console over real HTTPS against the real broker (CURVE on, its own
// CONSOLE identity): refusals before anything is written (no session, an
// expired one, no CSRF token, another destination, a locked account), and
// the person named on every event a console action writes.
#include <gtest/gtest.h>

#include <google/protobuf/util/time_util.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <mutex>
#include <thread>

#include "console/account_store.h"
#include "console/console_impl.h"
#include "cli_child.h"
#include "core/event_util.h"
#include "core/json.h"
#include "core/subject_key.h"
#include "eventlog/checkpoint_signing.h"
#include "refx/v1/cli.pb.h"
#include "test_stack.h"

namespace refx::console {
namespace {

using refx::testing::AgencySpec;
using refx::testing::TempDir;
using refx::testing::TestStack;

constexpr char kPartnership[] = R"(
destinations { code: "DEST_A" name: "A panel" agency_id: "lead-a" need_to_know: [SUBJECT_IDENTITY] purpose: "risk panel" }
destinations { code: "DEST_B" name: "B service" agency_id: "lead-b" need_to_know: [SUBJECT_IDENTITY] purpose: "support" }
outcome_codes { code: "NFA" }
people { id: "ann" name: "Ann Lead" agency_id: "lead-a" roles: LEAD destinations: "DEST_A" }
people { id: "cat" name: "Cat Lead" agency_id: "lead-a" roles: LEAD destinations: "DEST_A" }
people { id: "bob" name: "Bob Lead" agency_id: "lead-b" roles: LEAD destinations: "DEST_B" }
people { id: "ida" name: "Ida Auditor" agency_id: "auditor" roles: AUDITOR }
people { id: "adm" name: "Adm Admin" agency_id: "admin" roles: ADMIN }
)";

const char kPassword[] = "synthetic-password-1";

std::vector<AgencySpec> Agencies() {
  return {{"agency-a", {"SUBMITTER"}, {}}, {"lead-a", {"LEAD"}, {}},     {"lead-b", {"LEAD"}, {}},
          {"router", {"SERVICE"}, {}},     {"auditor", {"AUDITOR"}, {}}, {"console", {"CONSOLE"}, {}},
          {"admin", {"ADMIN"}, {}}};
}

// A browser's side of one person: cookies and the page's CSRF token.
struct Browser {
  explicit Browser(int port) : client("127.0.0.1", port) {
    client.enable_server_certificate_verification(false);
    client.set_read_timeout(60, 0);
    // Paths go as written, as a browser sends a form: '+' for a space.
    client.set_url_encode(false);
  }
  httplib::Headers Headers(bool html) const {
    httplib::Headers h;
    std::string cookie;
    if (!session.empty()) cookie = std::string(kSessionCookie) + "=" + session;
    if (!login.empty()) cookie += (cookie.empty() ? "" : "; ") + std::string(kLoginCookie) + "=" + login;
    if (!cookie.empty()) h.emplace("Cookie", cookie);
    if (html) h.emplace("Accept", "text/html");
    return h;
  }
  void TakeCookies(const httplib::Result& r) {
    for (const auto& [name, value] : r->headers) {
      if (name != "Set-Cookie") continue;
      std::smatch m;
      if (std::regex_search(value, m, std::regex(std::string(kSessionCookie) + "=([0-9a-f]*)"))) session = m[1];
      if (std::regex_search(value, m, std::regex(std::string(kLoginCookie) + "=([0-9a-f]*)"))) login = m[1];
    }
    std::smatch m;
    if (std::regex_search(r->body, m, std::regex("name=\"csrf\" value=\"([0-9a-f]+)\""))) csrf = m[1];
  }
  httplib::Result Get(const std::string& path, bool html = true) {
    auto r = client.Get(path.c_str(), Headers(html));
    if (r) TakeCookies(r);
    return r;
  }
  httplib::Result Post(const std::string& path, httplib::Params params) {
    auto r = client.Post(path.c_str(), Headers(true), params);
    if (r) TakeCookies(r);
    return r;
  }
  // Signs in; the answer to the POST (303 on success).
  httplib::Result SignIn(const std::string& user, const std::string& password) {
    Get("/");
    return Post("/login", {{"csrf", csrf}, {"username", user}, {"password", password}});
  }

  httplib::SSLClient client;
  std::string session, login, csrf;
};

class ConsoleHttpTest : public ::testing::Test {
 protected:
  ConsoleHttpTest() : stack_(Agencies(), "", kPartnership) {}

  void SetUp() override {
    ASSERT_TRUE(stack_.StartBroker());
    const std::string cert = dir_.path() + "/console.crt", key = dir_.path() + "/console.key";
    const std::string openssl = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
                                "-subj /CN=127.0.0.1 -keyout " + key + " -out " + cert + " 2>/dev/null";
    ASSERT_EQ(std::system(openssl.c_str()), 0);
    AccountStore accounts(dir_.path() + "/state/accounts");
    for (const char* id : {"ann", "cat", "bob", "ida", "adm"}) ASSERT_TRUE(accounts.Add(id, kPassword, false, nullptr).ok());
    now_ = 1800000000;
    ConsoleOptions o;
    o.config_path = stack_.config_path();
    o.state_dir = dir_.path() + "/state";
    o.cert_file = cert;
    o.key_file = key;
    o.port = 0;
    o.broker = stack_.ClientOptionsFor("console");
    o.workers = 8;
    o.max_streams = 4;
    o.max_streams_per_person = 1;
    o.idle_timeout_s = 600;
    o.clock = [this] { return now_.load(); };
    o.signing_pubs = {stack_.signing_public_key_path()};
    options_ = o;
    console_ = std::make_unique<Console>(o);
    ASSERT_TRUE(console_->Start().ok());

    service_ = stack_.ClientFor("router");
    v1::Ack ack;
    ASSERT_TRUE(stack_.ClientFor("agency-a")->Submit(refx::testing::SampleReferral("agency-a", "C-1"), &ack).ok());
    referral_ = ack.referral_id();
    for (const char* dest : {"DEST_A", "DEST_B"}) OpenCase(referral_, dest);
  }

  void OpenCase(const std::string& referral, const std::string& dest) {
    v1::Ack ack;
    v1::Event routed;
    routed.mutable_case_routed()->set_referral_id(referral);
    routed.mutable_case_routed()->set_destination(dest);
    routed.mutable_case_routed()->set_rule_id("TEST_RULE");
    *routed.mutable_case_routed()->mutable_deadline() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1800090000);
    ASSERT_TRUE(service_->Append(routed, "", &ack).ok());
    v1::Event delivered;
    delivered.mutable_case_delivered()->set_referral_id(referral);
    delivered.mutable_case_delivered()->set_destination(dest);
    ASSERT_TRUE(service_->Append(delivered, "", &ack).ok());
  }

  uint64_t Head() {
    v1::Frame request, reply;
    request.mutable_heartbeat();
    EXPECT_TRUE(service_->Call(request, &reply).ok());
    return reply.heartbeat().head_seq();
  }
  std::vector<v1::Event> EventsAfter(uint64_t seq) {
    std::vector<v1::Event> events;
    v1::ReadRequest r;
    r.set_after_seq(seq);
    EXPECT_TRUE(service_->Read(r, [&](const v1::Event& e, const std::string&, const std::string&) {
                          events.push_back(e);
                          return true;
                        }).ok());
    return events;
  }
  // Events after `seq` other than sign-in records: what a refused request must not have written.
  size_t CaseEventsAfter(uint64_t seq) {
    size_t n = 0;
    for (const auto& e : EventsAfter(seq)) n += e.has_account_activity() ? 0 : 1;
    return n;
  }
  httplib::Params Act(const Browser& b, const std::string& dest, const std::string& action) {
    return {{"csrf", b.csrf}, {"referral", referral_}, {"destination", dest}, {"action", action}};
  }

  TestStack stack_;
  TempDir dir_;
  ConsoleOptions options_;
  std::atomic<int64_t> now_{0};
  std::unique_ptr<Console> console_;
  std::unique_ptr<BrokerClient> service_;
  std::string referral_;
};

TEST_F(ConsoleHttpTest, TheFirstPageIsTheSignInFormWithStrictHeaders) {
  Browser b(console_->port());
  auto r = b.Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("id=\"username\""), std::string::npos);
  EXPECT_NE(r->body.find("type=\"password\""), std::string::npos);
  EXPECT_NE(r->get_header_value("Content-Security-Policy").find("default-src 'none'; script-src 'self'"), std::string::npos);
  EXPECT_EQ(r->get_header_value("X-Frame-Options"), "DENY");
  EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_NE(r->get_header_value("Strict-Transport-Security").find("max-age="), std::string::npos);
  EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store");
}

TEST_F(ConsoleHttpTest, SignInSetsAStrictCookieAndIsRecordedWithoutThePassword) {
  const uint64_t head = Head();
  Browser b(console_->port());
  auto r = b.SignIn("ann", kPassword);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 303);
  const std::string cookie = r->get_header_value("Set-Cookie");
  for (const char* attr : {"HttpOnly", "Secure", "SameSite=Strict", "Path=/"}) {
    EXPECT_NE(cookie.find(attr), std::string::npos) << cookie;
  }
  auto failed = Browser(console_->port()).SignIn("ann", "not-the-password");
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status, 401);
  auto events = EventsAfter(head);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].account_activity().kind(), v1::AccountActivity::SIGNED_IN);
  EXPECT_EQ(events[0].account_activity().account(), "ann");
  EXPECT_EQ(events[0].actor(), "console");
  EXPECT_EQ(events[1].account_activity().kind(), v1::AccountActivity::SIGN_IN_FAILED);
  for (const auto& e : events) EXPECT_EQ(e.DebugString().find("not-the-password"), std::string::npos);
  EXPECT_EQ(events[0].DebugString().find(kPassword), std::string::npos);
}

TEST_F(ConsoleHttpTest, WithoutASessionNothingIsShownOrWritten) {
  const uint64_t head = Head();
  Browser b(console_->port());
  auto page = b.Get("/inbox");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 303);
  EXPECT_EQ(page->get_header_value("Location"), "/");
  auto rows = b.Get("/inbox/rows", false);
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->status, 401);
  EXPECT_EQ(rows->body.find(referral_), std::string::npos);
  b.session = "00ff";  // a made-up session id
  auto act = b.Post("/case/act", Act(b, "DEST_A", "ack"));
  ASSERT_TRUE(act);
  EXPECT_EQ(act->status, 401);
  EXPECT_EQ(Head(), head);
}

TEST_F(ConsoleHttpTest, AStateChangeWithoutTheCsrfTokenIsRefused) {
  Browser b(console_->port());
  ASSERT_EQ(b.SignIn("ann", kPassword)->status, 303);
  ASSERT_EQ(b.Get("/inbox")->status, 200);
  const uint64_t head = Head();
  httplib::Params params = Act(b, "DEST_A", "ack");
  params.erase("csrf");
  auto none = b.Post("/case/act", params);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 403);
  params.emplace("csrf", std::string(64, 'a'));
  auto wrong = b.Post("/case/act", params);
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 403);
  EXPECT_EQ(Head(), head);
}

TEST_F(ConsoleHttpTest, AnotherDestinationsCaseIsRefused) {
  Browser b(console_->port());
  ASSERT_EQ(b.SignIn("ann", kPassword)->status, 303);
  ASSERT_EQ(b.Get("/inbox")->status, 200);
  const uint64_t head = Head();
  auto view = b.Get("/case?referral=" + referral_ + "&destination=DEST_B");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->status, 403);
  EXPECT_NE(view->body.find("Not your destination"), std::string::npos);
  auto act = b.Post("/case/act", Act(b, "DEST_B", "ack"));
  ASSERT_TRUE(act);
  EXPECT_EQ(act->status, 403);
  auto rows = b.Get("/inbox/rows", false);
  ASSERT_EQ(rows->status, 200);
  EXPECT_NE(rows->body.find("DEST_A"), std::string::npos);
  EXPECT_EQ(rows->body.find("DEST_B"), std::string::npos);
  EXPECT_EQ(Head(), head);
}

TEST_F(ConsoleHttpTest, AnExpiredSessionIsRefused) {
  Browser b(console_->port());
  ASSERT_EQ(b.SignIn("ann", kPassword)->status, 303);
  ASSERT_EQ(b.Get("/inbox")->status, 200);
  const uint64_t head = Head();
  now_ += 601;  // idle longer than the idle timeout
  auto act = b.Post("/case/act", Act(b, "DEST_A", "ack"));
  ASSERT_TRUE(act);
  EXPECT_EQ(act->status, 401);
  // Only the expiry itself is recorded.
  EXPECT_EQ(CaseEventsAfter(head), 0u);
  auto events = EventsAfter(head);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].account_activity().kind(), v1::AccountActivity::SESSION_EXPIRED);
  auto page = b.Get("/inbox");
  EXPECT_EQ(page->status, 303);
}

TEST_F(ConsoleHttpTest, ALockedAccountCannotSignInUntilAnAdminUnlocksIt) {
  const uint64_t head = Head();
  for (uint32_t i = 1; i <= AccountStore::kLockAfterFailures; ++i) {
    auto r = Browser(console_->port()).SignIn("ann", "wrong-password-again");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, i == AccountStore::kLockAfterFailures ? 423 : 401) << "attempt " << i;
    now_ += AccountStore::DelayAfter(i);
  }
  Browser ann(console_->port());
  auto locked = ann.SignIn("ann", kPassword);
  ASSERT_TRUE(locked);
  EXPECT_EQ(locked->status, 423);
  EXPECT_TRUE(ann.session.empty());
  EXPECT_EQ(CaseEventsAfter(head), 0u);
  bool lock_recorded = false;
  for (const auto& e : EventsAfter(head)) lock_recorded |= e.account_activity().kind() == v1::AccountActivity::LOCKED;
  EXPECT_TRUE(lock_recorded);

  Browser adm(console_->port());
  ASSERT_EQ(adm.SignIn("adm", kPassword)->status, 303);
  ASSERT_EQ(adm.Get("/admin")->status, 200);
  // An admin may not act on cases, and a lead may not unlock.
  EXPECT_EQ(adm.Get("/inbox")->status, 403);
  auto unlock = adm.Post("/admin/account", {{"csrf", adm.csrf}, {"id", "ann"}, {"action", "unlock"}});
  ASSERT_TRUE(unlock);
  EXPECT_EQ(unlock->status, 303);
  EXPECT_EQ(Browser(console_->port()).SignIn("ann", kPassword)->status, 303);
}

TEST_F(ConsoleHttpTest, ConsoleActionsNameThePersonInTheLog) {
  Browser b(console_->port());
  ASSERT_EQ(b.SignIn("ann", kPassword)->status, 303);
  const uint64_t head = Head();
  auto page = b.Get("/case?referral=" + referral_ + "&destination=DEST_A");
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200) << page->body;
  EXPECT_NE(page->body.find("What DEST_A is told"), std::string::npos);
  auto acked = b.Post("/case/act", Act(b, "DEST_A", "ack"));
  ASSERT_TRUE(acked);
  EXPECT_EQ(acked->status, 303);
  auto accepted = b.Post("/case/act", Act(b, "DEST_A", "accept"));
  EXPECT_EQ(accepted->status, 303);
  httplib::Params outcome = Act(b, "DEST_A", "outcome");
  outcome.emplace("code", "NOT_A_CODE");
  auto refused = b.Post("/case/act", outcome);
  EXPECT_EQ(refused->status, 400);
  outcome.erase("code");
  outcome.emplace("code", "NFA");
  EXPECT_EQ(b.Post("/case/act", outcome)->status, 303);
  httplib::Params assign = Act(b, "DEST_A", "assign");
  assign.emplace("assignee", "bob");  // does not work DEST_A
  EXPECT_EQ(b.Post("/case/act", assign)->status, 400);
  assign.erase("assignee");
  assign.emplace("assignee", "cat");
  EXPECT_EQ(b.Post("/case/act", assign)->status, 303);

  std::vector<std::string> seen;
  for (const auto& e : EventsAfter(head)) {
    if (e.has_account_activity()) continue;
    seen.push_back(EventTypeName(e));
    EXPECT_EQ(e.person(), "ann") << EventTypeName(e);
    EXPECT_EQ(e.actor(), "lead-a") << EventTypeName(e);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"record_accessed", "case_acknowledged", "case_accepted", "outcome_recorded",
                                            "case_assigned"}));
}

TEST_F(ConsoleHttpTest, AuditReadsNeedAPurposeAndAreRecordedWithThePerson) {
  Browser b(console_->port());
  ASSERT_EQ(b.SignIn("ida", kPassword)->status, 303);
  const uint64_t head = Head();
  auto none = b.Get("/audit/referral?referral=" + referral_ + "&purpose=");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 400);
  EXPECT_EQ(Head(), head);
  EXPECT_EQ(b.Get("/case?referral=" + referral_ + "&destination=DEST_A")->status, 403);
  auto read = b.Get("/audit/referral?referral=" + referral_ + "&purpose=subject+access+request+check");
  ASSERT_TRUE(read);
  ASSERT_EQ(read->status, 200) << read->body;
  EXPECT_NE(read->body.find("Case routed"), std::string::npos);
  auto events = EventsAfter(head);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].has_record_accessed());
  EXPECT_EQ(events[0].person(), "ida");
  EXPECT_EQ(events[0].record_accessed().purpose(), "subject access request check");
}

// The integrity page runs `refx audit verify`'s online verification
// (audit/online_verify.h) as an audited read, and shows each signed
// checkpoint: seq, signer and whether it verified.
TEST_F(ConsoleHttpTest, TheIntegrityPageVerifiesTheChainAndTheSignedCheckpoints) {
  // A stopping broker signs its head: a checkpoint to verify.
  ASSERT_EQ(stack_.StopBroker(SIGTERM), 0);
  ASSERT_TRUE(stack_.StartBroker());
  const uint64_t signed_head = Head();
  Browser b(console_->port());
  ASSERT_EQ(b.SignIn("ida", kPassword)->status, 303);
  const uint64_t head = Head();

  auto form = b.Get("/audit/integrity");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 200);
  EXPECT_NE(form->body.find("id=\"integrity-purpose\""), std::string::npos);
  auto short_purpose = b.Get("/audit/integrity?purpose=why");
  EXPECT_EQ(short_purpose->status, 400);
  EXPECT_EQ(Head(), head) << "nothing is read or recorded without a purpose";
  EXPECT_EQ(b.Get("/audit/checkpoints")->status, 303);

  auto page = b.Get("/audit/integrity?purpose=quarterly+integrity+check");
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200) << page->body;
  EXPECT_NE(page->body.find("<strong>Intact:</strong>"), std::string::npos) << page->body;
  EXPECT_NE(page->body.find("checked with the broker's signing key"), std::string::npos);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(page->body, m, std::regex("<dt>Events verified</dt><dd>([0-9]+)</dd>")));
  const uint64_t verified = std::stoull(m[1]);
  EXPECT_GE(verified, head);
  // The checkpoint the broker signed at its stop, verified, signer named.
  const std::string row = "<tr><td>" + std::to_string(signed_head) + "</td>";
  const size_t at = page->body.find(row);
  ASSERT_NE(at, std::string::npos) << page->body;
  const std::string tr = page->body.substr(at, page->body.find("</tr>", at) - at);
  EXPECT_NE(tr.find("<td>broker</td>"), std::string::npos) << tr;
  EXPECT_NE(tr.find("<td>verified</td>"), std::string::npos) << tr;

  // The read is recorded with the person and the purpose.
  auto events = EventsAfter(head);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].has_record_accessed());
  EXPECT_EQ(events[0].person(), "ida");
  EXPECT_EQ(events[0].record_accessed().purpose(), "quarterly integrity check (integrity check)");
  EXPECT_EQ(verified, events[0].seq()) << "the stream reaches the head, this read's record included";

  // The same log, as `refx audit verify --json` sees it.
  std::filesystem::create_directories(dir_.path() + "/home");
  refx::testing::WriteCliHome(stack_, Agencies(), dir_.path() + "/home");
  auto cli = refx::testing::RunRefx({"--home", dir_.path() + "/home", "--broker", stack_.endpoint(), "audit", "verify",
                                     "--as", "auditor", "--purpose", "cross-check", "--json", "--signing-pub",
                                     stack_.signing_public_key_path()});
  ASSERT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  v1::VerifyResult result;
  ASSERT_TRUE(MessageFromJson(refx::testing::Lines(cli.out).at(0), &result).ok()) << cli.out;
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.last_checkpoint_seq(), signed_head);
  EXPECT_NE(page->body.find("<dd>" + std::to_string(signed_head)), std::string::npos)
      << "the page shows the same last checkpoint seq as the CLI";

  // Checked with another key, the broker's checkpoints do not authenticate.
  TempDir other;
  ASSERT_TRUE(eventlog::GenerateSigningKeyPair(other.path(), "other").ok());
  ConsoleOptions o = options_;
  o.signing_pubs = {eventlog::SigningPublicKeyPath(other.path(), "other")};
  Console wrong_key(o);
  ASSERT_TRUE(wrong_key.Start().ok());
  Browser w(wrong_key.port());
  ASSERT_EQ(w.SignIn("ida", kPassword)->status, 303);
  auto bad = w.Get("/audit/integrity?purpose=quarterly+integrity+check");
  ASSERT_TRUE(bad);
  ASSERT_EQ(bad->status, 200) << bad->body;
  EXPECT_NE(bad->body.find("Not intact: BAD_SIGNATURE"), std::string::npos) << bad->body;
  EXPECT_NE(bad->body.find("<td>unknown key</td>"), std::string::npos);
  EXPECT_NE(bad->body.find("<td>bad signature</td>"), std::string::npos);
  wrong_key.Stop();
}

// The downloads are `refx audit export`'s output: the same record of the
// same referral up to the same seq, byte for byte but for who exported it
// and when.
TEST_F(ConsoleHttpTest, DownloadsEqualTheCliExports) {
  Browser b(console_->port());
  ASSERT_EQ(b.SignIn("ida", kPassword)->status, 303);
  const uint64_t to_seq = Head();
  std::filesystem::create_directories(dir_.path() + "/home");
  refx::testing::WriteCliHome(stack_, Agencies(), dir_.path() + "/home");
  const std::string purpose = "case review CR-7";
  // Who and when differ by design; everything else must be equal.
  auto normalise = [to_seq](std::string text, const std::string& format) {
    if (format == "json") {
      v1::AuditExport x;
      EXPECT_TRUE(MessageFromJson(text, &x).ok()) << text.substr(0, 400);
      EXPECT_GT(x.events_size(), 0);
      EXPECT_LE(x.events(x.events_size() - 1).seq(), to_seq);
      text = std::regex_replace(text, std::regex("\"exportedAt\": \"[^\"]*\""), "\"exportedAt\": \"\"");
      return std::regex_replace(text, std::regex("\"exportedBy\": \"[^\"]*\""), "\"exportedBy\": \"\"");
    }
    if (format == "html") {
      text = std::regex_replace(text, std::regex("(Exported at</dt><dd><code>)[^<]*"), "$1");
      return std::regex_replace(text, std::regex("(Exported by</dt><dd><code>)[^<]*"), "$1");
    }
    return text;
  };
  for (const std::string format : {"csv", "json", "html"}) {
    SCOPED_TRACE(format);
    auto download = b.Get("/audit/export?referral=" + referral_ + "&purpose=case+review+CR-7&to_seq=" +
                          std::to_string(to_seq) + "&format=" + format);
    ASSERT_TRUE(download);
    ASSERT_EQ(download->status, 200) << download->body;
    EXPECT_NE(download->get_header_value("Content-Disposition").find(referral_ + "." + format), std::string::npos);
    auto cli = refx::testing::RunRefx({"--home", dir_.path() + "/home", "--broker", stack_.endpoint(), "audit",
                                       "export", referral_, "--as", "auditor", "--format", format, "--purpose",
                                       purpose, "--to-seq", std::to_string(to_seq)});
    ASSERT_EQ(cli.exit_code, 0) << cli.err;
    EXPECT_EQ(normalise(download->body, format), normalise(cli.out, format));
    if (format == "csv") {
      EXPECT_EQ(download->body, cli.out) << "csv names neither who nor when";
    }
    if (format == "html") {
      EXPECT_NE(download->body.find("ida (auditor)"), std::string::npos) << "the person is named as exporter";
      EXPECT_NE(download->body.find("@media print"), std::string::npos);
    }
  }
  // Each download was an audited read naming the person.
  size_t reads = 0;
  for (const auto& e : EventsAfter(to_seq)) {
    if (e.has_record_accessed() && e.person() == "ida") {
      ++reads;
      EXPECT_EQ(e.record_accessed().purpose().rfind(purpose + " (export ", 0), 0u) << e.record_accessed().purpose();
    }
  }
  EXPECT_EQ(reads, 3u);
  // No such referral, or a bad to_seq: refused.
  EXPECT_EQ(b.Get("/audit/export?referral=R-0000009999&purpose=case+review+CR-7&format=csv")->status, 404);
  EXPECT_EQ(b.Get("/audit/export?referral=" + referral_ + "&purpose=case+review+CR-7&format=csv&to_seq=x")->status,
            400);
  EXPECT_EQ(b.Get("/audit/export?referral=" + referral_ + "&purpose=case+review+CR-7&format=pdf")->status, 400);
}

TEST_F(ConsoleHttpTest, LiveUpdatesArriveAndStreamsAreCappedPerPerson) {
  Browser b(console_->port());
  ASSERT_EQ(b.SignIn("ann", kPassword)->status, 303);
  std::atomic<bool> ready{false}, got{false};
  std::mutex mu;
  std::string second_referral;  // guarded by mu
  std::thread stream([&] {
    Browser s(console_->port());
    s.session = b.session;
    std::string buffer;
    s.client.Get("/inbox/events", s.Headers(false), [&](const char* data, size_t n) {
      buffer.append(data, n);
      if (buffer.find("event: ready") != std::string::npos) ready = true;
      std::lock_guard<std::mutex> lock(mu);
      if (!second_referral.empty() && buffer.find(second_referral) != std::string::npos) {
        got = true;
        return false;
      }
      return true;
    });
  });
  while (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // A second stream for the same person is refused (the cap is 1 here).
  auto second = b.Get("/inbox/events", false);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 429);
  v1::Ack ack;
  ASSERT_TRUE(stack_.ClientFor("agency-a")->Submit(refx::testing::SampleReferral("agency-a", "C-2"), &ack).ok());
  OpenCase(ack.referral_id(), "DEST_B");  // not ann's: no news for her
  {
    std::lock_guard<std::mutex> lock(mu);
    second_referral = ack.referral_id();
  }
  OpenCase(ack.referral_id(), "DEST_A");
  stream.join();
  EXPECT_TRUE(got);
}

TEST_F(ConsoleHttpTest, ASecondFactorIsAskedForAndChecked) {
  // A fresh store with one account, cat's, with a second factor.
  AccountStore totp_store(dir_.path() + "/state/accounts");
  ASSERT_TRUE(std::filesystem::remove(dir_.path() + "/state/accounts/accounts.json"));
  std::string b32;
  ASSERT_TRUE(totp_store.Add("cat", kPassword, true, &b32).ok());
  Account cat;
  ASSERT_TRUE(totp_store.Get("cat", &cat).ok());
  Browser b(console_->port());
  auto first = b.SignIn("cat", kPassword);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 401);
  EXPECT_NE(first->body.find("id=\"totp\""), std::string::npos);
  EXPECT_TRUE(b.session.empty());
  std::string code;
  ASSERT_TRUE(AccountStore::TotpCode(cat.totp_secret, now_, &code).ok());
  const std::string wrong = code == "123456" ? "654321" : "123456";
  auto bad = b.Post("/login", {{"csrf", b.csrf}, {"username", "cat"}, {"password", kPassword}, {"totp", wrong}});
  EXPECT_EQ(bad->status, 401);
  EXPECT_TRUE(b.session.empty());
  auto good = b.Post("/login", {{"csrf", b.csrf}, {"username", "cat"}, {"password", kPassword}, {"totp", code}});
  EXPECT_EQ(good->status, 303);
  EXPECT_FALSE(b.session.empty());
}

TEST_F(ConsoleHttpTest, APersonAddedToTheConfigurationSignsInWithoutARestart) {
  AccountStore accounts(dir_.path() + "/state/accounts");
  ASSERT_TRUE(accounts.Add("eve", kPassword, false, nullptr).ok());
  // An account alone is not enough: eve is not a person of the partnership yet.
  EXPECT_EQ(Browser(console_->port()).SignIn("eve", kPassword)->status, 403);
  {
    std::ofstream out(stack_.config_path(), std::ios::app);
    out << "\npeople { id: \"eve\" name: \"Eve Lead\" agency_id: \"lead-a\" roles: LEAD destinations: \"DEST_A\" }\n";
  }
  // The console looks at the file at most once a second; a refused try
  // changes nothing (no failure is counted for a right password).
  int status = 0;
  for (int i = 0; i < 100 && status != 303; ++i) {
    status = Browser(console_->port()).SignIn("eve", kPassword)->status;
    if (status != 303) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, 303);
}

// An auditor finds every referral about a person by name and date of
// birth: the console hashes them with the subject key, the broker answers
// from its subject index and records the search with the person; a search
// without a purpose or a CSRF token, or by a lead, writes nothing.
TEST_F(ConsoleHttpTest, AnAuditorFindsAPersonsReferralsAndTheSearchIsRecorded) {
  const std::string key_file = (std::filesystem::path(stack_.config_path()).parent_path() / "subject.hmac").string();
  ASSERT_TRUE(GenerateSubjectKeyFile(key_file).ok());
  std::string secret, key;
  ASSERT_TRUE(LoadSubjectKeyFile(key_file, &secret).ok());
  // The router's work, done here as the SERVICE: SampleReferral is about Alex Example, 1990-04-01.
  ASSERT_TRUE(PersonSubjectKey(secret, "Alex Example", "1990-04-01", &key).ok());
  v1::Event indexed;
  indexed.mutable_subject_indexed()->set_referral_id(referral_);
  indexed.mutable_subject_indexed()->set_subject_key(key);
  v1::Ack ack;
  ASSERT_TRUE(service_->Append(indexed, "subject:" + referral_, &ack).ok());
  std::ofstream(stack_.config_path(), std::ios::app) << "\nsubject_key_file: \"subject.hmac\"\n";

  Browser lead(console_->port());
  ASSERT_EQ(lead.SignIn("ann", kPassword)->status, 303);
  Browser b(console_->port());
  ASSERT_EQ(b.SignIn("ida", kPassword)->status, 303);
  auto page = b.Get("/audit");
  ASSERT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("action=\"/audit/subject\""), std::string::npos);
  const uint64_t head = Head();
  const httplib::Params search = {{"csrf", b.csrf}, {"name", "  alex EXAMPLE "}, {"dob", "1990-04-01"},
                                  {"purpose", "SAR 2027-010"}};
  EXPECT_EQ(b.Post("/audit/subject", {{"csrf", b.csrf}, {"name", "Alex Example"}, {"dob", "1990-04-01"}})->status, 400);
  EXPECT_EQ(b.Post("/audit/subject", {{"name", "Alex Example"}, {"dob", "1990-04-01"}, {"purpose", "SAR 2027-010"}})->status,
            403);
  EXPECT_EQ(lead.Post("/audit/subject", {{"csrf", lead.csrf}, {"name", "Alex Example"}, {"dob", "1990-04-01"},
                                         {"purpose", "SAR 2027-010"}})->status,
            403);
  EXPECT_EQ(CaseEventsAfter(head), 0u);
  // The console reads the changed configuration (with the subject key file)
  // at most once a second; until then it says the search is unavailable.
  auto found = b.Post("/audit/subject", search);
  for (int i = 0; i < 100 && found && found->status == 503; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    found = b.Post("/audit/subject", search);
  }
  ASSERT_TRUE(found);
  ASSERT_EQ(found->status, 200) << found->body;
  EXPECT_NE(found->body.find(referral_), std::string::npos);
  EXPECT_EQ(found->get_header_value("Cache-Control"), "no-store");
  auto other = b.Post("/audit/subject", {{"csrf", b.csrf}, {"name", "Alex Example"}, {"dob", "1990-04-02"},
                                         {"purpose", "SAR 2027-010"}});
  ASSERT_EQ(other->status, 200);
  EXPECT_EQ(other->body.find(referral_), std::string::npos);
  EXPECT_NE(other->body.find("subject-none"), std::string::npos);

  std::vector<v1::Event> searches;
  for (const auto& e : EventsAfter(head)) {
    if (e.has_record_accessed()) searches.push_back(e);
  }
  ASSERT_EQ(searches.size(), 2u);
  EXPECT_EQ(searches[0].person(), "ida");
  EXPECT_EQ(searches[0].record_accessed().purpose(), "SAR 2027-010");
  ASSERT_EQ(searches[0].record_accessed().referral_ids_size(), 1);
  EXPECT_EQ(searches[0].record_accessed().referral_ids(0), referral_);
  EXPECT_EQ(searches[0].record_accessed().what(), "query subject");  // not the hash
  EXPECT_EQ(searches[0].SerializeAsString().find(key), std::string::npos);
  EXPECT_EQ(searches[1].record_accessed().referral_ids_size(), 0);
}

TEST(SessionTableTest, TimeoutsEndSessionsAndACheckDoesNotKeepOneAlive) {
  SessionTable table(/*idle=*/100, /*absolute=*/250);
  Session s = table.Create("ann", 1000);
  Session seen;
  EXPECT_NE(s.csrf_token, s.id);
  EXPECT_TRUE(table.Check(s.id, 1090).ok());
  // Check did not count as use: 101 s after the last real use it is over.
  EXPECT_EQ(table.Check(s.id, 1101).code(), Status::Code::kTimeout);
  Session t = table.Create("bob", 2000);
  for (int64_t now = 2090; now <= 2240; now += 90) EXPECT_TRUE(table.Touch(t.id, now, &seen).ok()) << now;
  EXPECT_EQ(table.Touch(t.id, 2251, &seen).code(), Status::Code::kTimeout);  // older than the absolute limit
  EXPECT_EQ(seen.person, "bob");
  EXPECT_EQ(table.Touch(t.id, 2252, &seen).code(), Status::Code::kNotFound);  // removed on expiry
}

}  // namespace
}  // namespace refx::console
