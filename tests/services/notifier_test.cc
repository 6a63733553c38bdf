// refx-notifier's e-mail alerts against a real local SMTP server (Debian's
// python3-aiosmtpd, writing each message it takes into a maildir), with the
// real refx-broker, the router, delivery and outcomes services and the
// notifier hosted in-process. A new case, a deadline about to pass (the
// notifier's clock moved) and an escalation (the outcomes service's clock
// moved past the deadline) each reach the destination's alert addresses
// once, also across a restart; no captured mail holds any of the sample's
// personal data. Many new cases at once (a notifier starting on a backlog,
// as after a bulk import) reach each destination as one digest listing
// them, and the next new case waits for that minute to pass, then goes
// alone; a digest waits for a relay that is down and goes once when it is
// back; alerts.new_case_emails_per_minute sets how many single e-mails a
// destination gets in a minute.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "core/london_time.h"
#include "services/notifier/notifier_service.h"
#include "services/outcomes/outcomes_service.h"
#include "hosted_services.h"

namespace refx::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

bool CanConnect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (fd >= 0) ::close(fd);
  return ok;
}

// Every mail the SMTP server wrote (maildir new/), as text.
std::vector<std::string> Mails(const std::string& maildir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(maildir + "/new", ec)) {
    std::ifstream in(f.path());
    std::stringstream ss;
    ss << in.rdbuf();
    out.push_back(ss.str());
  }
  return out;
}

std::string Header(const std::string& mail, const std::string& name) {
  const size_t at = mail.find("\n" + name + ": ");
  if (at == std::string::npos) return "";
  const size_t from = at + name.size() + 3;
  return mail.substr(from, mail.find('\n', from) - from);
}

// Every string value in `m` and its sub-messages.
void Strings(const google::protobuf::Message& m, std::vector<std::string>* out) {
  const auto* r = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const auto* f : fields) {
    if (f->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(m, f); ++i) out->push_back(r->GetRepeatedString(m, f, i));
      } else {
        out->push_back(r->GetString(m, f));
      }
    } else if (f->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(m, f); ++i) Strings(r->GetRepeatedMessage(m, f, i), out);
      } else {
        Strings(r->GetMessage(m, f), out);
      }
    }
  }
}

// The sample configuration with alerts through a local SMTP server on
// `smtp_port`, and neither redelivery nor undeliverable reports within a
// test (an escalation comes from the outcomes service's deadline breach).
// `new_case_emails_per_minute` 0 leaves the setting at its default.
std::function<void(v1::PartnershipConfig*)> AlertsThrough(int smtp_port, uint32_t new_case_emails_per_minute = 0) {
  return [smtp_port, new_case_emails_per_minute](v1::PartnershipConfig* c) {
    c->mutable_alerts()->set_smtp_url("smtp://127.0.0.1:" + std::to_string(smtp_port));
    c->mutable_alerts()->set_new_case_emails_per_minute(new_case_emails_per_minute);
    c->mutable_alerts()->set_console_url("https://refx.example.org/");
    c->mutable_delivery()->set_redelivery_interval_seconds(0);
    c->mutable_delivery()->set_undeliverable_after_seconds(0);
  };
}

// Starts Debian's aiosmtpd on `port`, writing each mail it takes into
// `maildir`, and waits until it accepts connections.
void StartSmtp(ServicesStack& s, int port, const std::string& maildir, std::unique_ptr<ServiceProcess>* out) {
  *out = std::make_unique<ServiceProcess>(
      std::vector<std::string>{"/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:" + std::to_string(port),
                               "-c", "aiosmtpd.handlers.Mailbox", maildir},
      s.LogPath("smtp"));
  (*out)->Start();
  for (int i = 0; i < 200 && !CanConnect(port); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(CanConnect(port)) << "aiosmtpd did not start: " << (*out)->Log();
}

// A clock `offset` seconds from the system's.
std::function<Clock::time_point()> Shifted(const std::atomic<int64_t>* offset) {
  return [offset] { return Clock::now() + std::chrono::seconds(offset->load()); };
}

// The notifier's tests: the sample configuration alerting through a real
// local SMTP server, with the real broker, router and delivery (StartStack).
class NotifierTest : public ::testing::Test {
 protected:
  NotifierTest() : NotifierTest(0) {}
  // alerts.new_case_emails_per_minute set to `per_minute` (0: the default).
  explicit NotifierTest(uint32_t per_minute)
      : smtp_port(FreeLoopbackPort()),
        s(AlertsThrough(smtp_port, per_minute)),
        maildir(s.StateDir("smtp") + "/maildir") {}

  // Starts the SMTP server (unless `smtp_too` is false: StartSmtp later),
  // the broker, and the router and delivery.
  void StartStack(bool smtp_too = true) {
    if (smtp_too) {
      ASSERT_NO_FATAL_FAILURE(StartSmtp(s, smtp_port, maildir, &smtp));
    }
    ASSERT_TRUE(s.stack().StartBroker());
    router = MakeHostedRouter(s);
    delivery = MakeHostedDelivery(s);
    ASSERT_TRUE(router && delivery);
    r.Start([this](const std::function<bool()>& stop) { return router->Run(stop); });
    d.Start([this](const std::function<bool()>& stop) { return delivery->Run(stop); });
  }

  // Stops the notifier `n` runs, starts a new one from `make` (the same
  // state folder) and waits for two passes of it (deadlines checked and the
  // queue sent at least once since its replay), then stops it, the router
  // and delivery.
  void RestartNotifierThenStopAll(HostedService& n, std::unique_ptr<notifier::NotifierService>& notifier,
                                  const std::function<std::unique_ptr<notifier::NotifierService>()>& make) {
    EXPECT_TRUE(n.Stop().ok());
    notifier.reset();
    notifier = make();
    ASSERT_TRUE(notifier);
    n.Start([&notifier](const std::function<bool()>& stop) { return notifier->Run(stop); });
    for (int i = 0; i < 600 && notifier->passes() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_GE(notifier->passes(), 2u);
    EXPECT_TRUE(n.Stop().ok());
    EXPECT_TRUE(r.Stop().ok());
    EXPECT_TRUE(d.Stop().ok());
  }

  const int smtp_port;
  ServicesStack s;
  const std::string maildir;
  std::unique_ptr<ServiceProcess> smtp;
  std::unique_ptr<RouterService> router;
  std::unique_ptr<DeliveryService> delivery;
  HostedService r, d;  // after the services they run: stopped first

  // Waits until `notifier` has read the log up to `head` and made two
  // passes of sending since: whatever it would send about it has gone.
  static void WaitUntilActedOn(const notifier::NotifierService& notifier, uint64_t head) {
    for (int i = 0; i < 600 && notifier.last_seq() < head; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_GE(notifier.last_seq(), head);
    const uint64_t passes = notifier.passes();
    for (int i = 0; i < 600 && notifier.passes() < passes + 2; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_GE(notifier.passes(), passes + 2);
  }
  // The mails whose subject is `subject`.
  std::vector<std::string> MailsWith(const std::string& subject) const {
    std::vector<std::string> found;
    for (const std::string& m : Mails(maildir)) {
      if (Header(m, "Subject") == subject) found.push_back(m);
    }
    return found;
  }
  // Waits up to a minute for one mail with `subject`; the number found.
  size_t WaitForMail(const std::string& subject) const {
    for (int i = 0; i < 600 && MailsWith(subject).empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return MailsWith(subject).size();
  }
};

// The same with alerts.new_case_emails_per_minute: 2.
class NotifierTwoMailsAMinuteTest : public NotifierTest {
 protected:
  NotifierTwoMailsAMinuteTest() : NotifierTest(2) {}
};

TEST_F(NotifierTest, AlertsEachLeadOnceThroughARealSmtpServerWithoutPersonalData) {
  ASSERT_NO_FATAL_FAILURE(StartStack());
  std::atomic<int64_t> notifier_offset{0};
  auto make_notifier = [&] { return MakeHostedNotifier(s, Shifted(&notifier_offset)); };
  auto notifier = make_notifier();
  ASSERT_TRUE(notifier);
  HostedService n;
  n.Start([&](const std::function<bool()>& stop) { return notifier->Run(stop); });
  std::string fields;
  for (int i = 0; i < 600 && !notifier->Healthy(&fields); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(notifier->Healthy(&fields)) << fields;

  v1::Referral referral = DaHighRiskReferral("kent-police", "T-NOTIFY-1", "Zephyrine");
  v1::Person* p = referral.mutable_person();
  p->set_family_name("Quillfeather");
  p->set_date_of_birth("1987-03-14");
  p->set_address("42 Lantern Mews, Brackwood");
  p->set_postcode("TN13 9ZZ");
  p->set_phone("07700 900123");
  referral.set_narrative("Synthetic narrative about Zephyrine at Lantern Mews.");
  const std::string id = s.Submit(referral);
  auto events = s.WaitFor("cases delivered", [&](const std::vector<v1::Event>& ev) {
    return HasEvent(ev, v1::Event::kCaseDelivered, id, "DA_MARAC") && HasEvent(ev, v1::Event::kCaseDelivered, id, "IDVA");
  });
  std::map<std::string, int64_t> deadlines;  // destination -> deadline (Unix s)
  for (const v1::Event* e : EventsOf(events, v1::Event::kCaseRouted, id)) {
    deadlines[e->case_routed().destination()] = e->case_routed().deadline().seconds();
  }
  ASSERT_GE(deadlines.size(), 2u);

  auto wait_for_subjects = [&](const std::string& what, const std::set<std::string>& wanted) {
    for (int i = 0; i < 600; ++i) {
      std::set<std::string> subjects;
      for (const std::string& m : Mails(maildir)) subjects.insert(Header(m, "Subject"));
      bool all = true;
      for (const std::string& w : wanted) all = all && subjects.count(w);
      if (all) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "no mails for " << what << "; notifier " << notifier->RenderMetrics();
  };
  std::set<std::string> expected;
  for (const auto& [dest, deadline] : deadlines) expected.insert("[refx] New case " + id + " for " + dest);
  wait_for_subjects("the new cases", expected);

  // Each case's deadline an hour away on the notifier's clock.
  for (const auto& [dest, deadline] : deadlines) {
    ASSERT_GT(deadline, 0) << dest;
    notifier_offset = deadline - 3600 - std::chrono::duration_cast<std::chrono::seconds>(
                                            Clock::now().time_since_epoch()).count();
    const std::string subject = "[refx] Deadline near: " + id + " for " + dest + " due " + LondonTimeMinutes(deadline);
    expected.insert(subject);
    wait_for_subjects("the deadline of " + dest, {subject});
  }

  // The outcomes service, its clock past every deadline, breaches and escalates.
  std::atomic<int64_t> outcomes_offset{0};
  int64_t latest = 0;
  for (const auto& [dest, deadline] : deadlines) latest = std::max(latest, deadline);
  outcomes_offset = latest + 60 - std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
  outcomes::OutcomesOptions oo;
  oo.client = s.stack().ClientOptionsFor("refx-outcomes");
  oo.clock = Shifted(&outcomes_offset);
  oo.check_interval = std::chrono::milliseconds(100);
  outcomes::OutcomesService outcomes(&s.config(), oo);
  std::thread outcomes_thread([&] { (void)outcomes.Run(); });
  const std::string escalate_to = outcomes.escalate_to();
  ASSERT_FALSE(escalate_to.empty());
  for (const auto& [dest, deadline] : deadlines) {
    expected.insert("[refx] Escalated: " + id + " at " + dest + " to " + escalate_to);
  }
  wait_for_subjects("the escalations", expected);
  outcomes.RequestStop();
  outcomes_thread.join();

  // A restart of the notifier sends nothing again.
  const size_t before_restart = Mails(maildir).size();
  ASSERT_NO_FATAL_FAILURE(RestartNotifierThenStopAll(n, notifier, make_notifier));

  const std::vector<std::string> mails = Mails(maildir);
  EXPECT_EQ(mails.size(), before_restart) << "the restart sent nothing again";
  std::multiset<std::string> subjects;
  for (const std::string& m : mails) subjects.insert(Header(m, "Subject"));
  EXPECT_EQ(std::set<std::string>(subjects.begin(), subjects.end()), expected);
  EXPECT_EQ(subjects.size(), expected.size()) << "each alert once";

  // Addressed to the destination's team mailboxes; no personal data anywhere.
  std::vector<std::string> personal;
  Strings(referral, &personal);
  personal.push_back("14/03/1987");
  for (const std::string& m : mails) {
    const std::string subject = Header(m, "Subject");
    for (const auto& [dest, deadline] : deadlines) {
      if (subject.find(" " + dest) == std::string::npos) continue;
      for (const std::string& a : s.config().DestinationByCode(dest)->alert_emails()) {
        EXPECT_NE(Header(m, "To").find(a), std::string::npos) << subject;
      }
    }
    EXPECT_NE(m.find(id), std::string::npos);
    EXPECT_NE(m.find("https://refx.example.org/"), std::string::npos) << "where to look";
    for (const std::string& value : personal) {
      if (value.size() < 5 || value == referral.referrer().agency_id()) continue;
      EXPECT_EQ(m.find(value), std::string::npos) << "personal data \"" << value << "\" in: " << subject;
    }
  }
  EXPECT_GE(personal.size(), 6u);
}


TEST_F(NotifierTest, ADigestListsAHundredCasesByIdAndCountsTheRest) {
  std::vector<notifier::Alert> alerts(notifier::kDigestListed + 5);
  std::vector<const notifier::Alert*> pointers;
  for (size_t i = 0; i < alerts.size(); ++i) {
    alerts[i].referral_id = "R-" + std::to_string(2000000000 + i);
    alerts[i].destination = "DA_MARAC";
    alerts[i].deadline = 1767225600 + static_cast<int64_t>(i) * 60;  // 2026-01-01 00:00 UTC on
    pointers.push_back(&alerts[i]);
  }
  const notifier::MailMessage m =
      notifier::ComposeNewCaseDigest("DA_MARAC", pointers, s.config(), s.config().proto().alerts());
  EXPECT_EQ(m.subject, "[refx] 105 new cases for DA_MARAC");
  const auto& wanted = s.config().DestinationByCode("DA_MARAC")->alert_emails();
  EXPECT_EQ(std::vector<std::string>(wanted.begin(), wanted.end()), m.to);
  for (size_t i = 0; i < alerts.size(); ++i) {
    const bool listed = m.body.find(alerts[i].referral_id + "  due " + LondonTimeMinutes(alerts[i].deadline)) !=
                        std::string::npos;
    EXPECT_EQ(listed, i < notifier::kDigestListed) << alerts[i].referral_id;
  }
  EXPECT_NE(m.body.find("  and 5 more\r\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("https://refx.example.org/"), std::string::npos);
  EXPECT_NE(m.body.find("refx inbox list --as DA_MARAC"), std::string::npos);
}

TEST_F(NotifierTest, ManyNewCasesAtOnceReachEachDestinationAsOneDigest) {
  ASSERT_NO_FATAL_FAILURE(StartStack());
  HostedService n;

  // Twelve new DA cases, each for DA_MARAC and IDVA, delivered before the
  // notifier starts: its first read finds them all waiting.
  const int kCases = 12;
  std::vector<std::string> ids;
  for (int i = 0; i < kCases; ++i) {
    ids.push_back(s.Submit(DaHighRiskReferral("kent-police", "T-DIGEST-" + std::to_string(i),
                                              "Digestina" + std::string(1, static_cast<char>('a' + i)))));
  }
  auto delivered = [&](const std::vector<v1::Event>& ev, const std::string& id, const std::string& dest) {
    return HasEvent(ev, v1::Event::kCaseDelivered, id, dest);
  };
  s.WaitFor("every case delivered", [&](const std::vector<v1::Event>& ev) {
    for (const std::string& id : ids) {
      if (!delivered(ev, id, "DA_MARAC") || !delivered(ev, id, "IDVA")) return false;
    }
    return true;
  });

  std::atomic<int64_t> notifier_offset{0};
  auto notifier = MakeHostedNotifier(s, Shifted(&notifier_offset));
  ASSERT_TRUE(notifier);
  n.Start([&](const std::function<bool()>& stop) { return notifier->Run(stop); });
  const std::vector<std::string> destinations = {"DA_MARAC", "IDVA"};
  for (const std::string& dest : destinations) {
    const std::string subject = "[refx] " + std::to_string(kCases) + " new cases for " + dest;
    ASSERT_EQ(WaitForMail(subject), 1u) << subject << "; notifier " << notifier->RenderMetrics();
    const std::vector<std::string> digest = MailsWith(subject);
    for (const std::string& id : ids) EXPECT_NE(digest[0].find(id), std::string::npos) << dest << " " << id;
    for (const std::string& a : s.config().DestinationByCode(dest)->alert_emails()) {
      EXPECT_NE(Header(digest[0], "To").find(a), std::string::npos) << subject;
    }
    EXPECT_EQ(digest[0].find("Digestina"), std::string::npos) << "a name in the digest";
  }
  EXPECT_GE(notifier->sent(), 2u * kCases);
  EXPECT_NE(notifier->RenderMetrics().find("\nrefx_notifier_digests_sent_total 2\n"), std::string::npos)
      << notifier->RenderMetrics();

  // The next new case waits: a digest takes the rest of its destination's
  // minute. A minute on, on the notifier's clock, it goes alone.
  const std::string next = s.Submit(DaHighRiskReferral("kent-police", "T-DIGEST-NEXT", "Digestinanext"));
  const auto events = s.WaitFor("the next case delivered", [&](const std::vector<v1::Event>& ev) {
    return delivered(ev, next, "DA_MARAC") && delivered(ev, next, "IDVA");
  });
  const uint64_t head = events.back().seq();
  ASSERT_NO_FATAL_FAILURE(WaitUntilActedOn(*notifier, head));
  for (const std::string& dest : destinations) {
    EXPECT_TRUE(MailsWith("[refx] New case " + next + " for " + dest).empty()) << "sent within the digest's minute";
  }
  EXPECT_GE(notifier->waiting(), 2u);
  notifier_offset = 61;
  for (const std::string& dest : destinations) {
    const std::string subject = "[refx] New case " + next + " for " + dest;
    EXPECT_EQ(WaitForMail(subject), 1u) << subject << "; notifier " << notifier->RenderMetrics();
  }
  // Deadline alerts are not counted: a case due within a day may raise one.
  auto new_case_mails = [&] {
    size_t count = 0;
    for (const std::string& m : Mails(maildir)) {
      const std::string subject = Header(m, "Subject");
      count += subject.rfind("[refx] New case ", 0) == 0 || subject.find(" new cases for ") != std::string::npos;
    }
    return count;
  };
  const size_t mails = Mails(maildir).size();
  EXPECT_EQ(new_case_mails(), 4u) << "two digests and two single alerts, nothing else";

  // A restart sends none of them again: every case of a digest is in the
  // journal.
  ASSERT_NO_FATAL_FAILURE(RestartNotifierThenStopAll(n, notifier, [this] { return MakeHostedNotifier(s); }));
  EXPECT_EQ(Mails(maildir).size(), mails) << "the restart sent nothing again";
  EXPECT_EQ(notifier->sent(), 0u);
}

TEST_F(NotifierTest, ADigestWaitsForARelayThatIsDownAndGoesOnceItIsBack) {
  ASSERT_NO_FATAL_FAILURE(StartStack(/*smtp_too=*/false));
  const int kCases = 7;
  std::vector<std::string> ids;
  for (int i = 0; i < kCases; ++i) {
    ids.push_back(s.Submit(DaHighRiskReferral("kent-police", "T-RELAY-" + std::to_string(i),
                                              "Relayina" + std::string(1, static_cast<char>('a' + i)))));
  }
  s.WaitFor("every case delivered to DA_MARAC", [&](const std::vector<v1::Event>& ev) {
    return std::all_of(ids.begin(), ids.end(),
                       [&](const std::string& id) { return HasEvent(ev, v1::Event::kCaseDelivered, id, "DA_MARAC"); });
  });
  auto notifier = MakeHostedNotifier(s);
  ASSERT_TRUE(notifier);
  HostedService n;
  n.Start([&](const std::function<bool()>& stop) { return notifier->Run(stop); });
  // Nothing listens on the relay's port: the digests wait, and are tried again.
  for (int i = 0; i < 600 && notifier->RenderMetrics().find("\nrefx_notifier_send_failures_total 0\n") !=
                                 std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(notifier->RenderMetrics().find("\nrefx_notifier_send_failures_total 0\n"), std::string::npos)
      << "no attempt failed: " << notifier->RenderMetrics();
  EXPECT_GE(notifier->waiting(), 2u * kCases);
  EXPECT_EQ(notifier->sent(), 0u);

  ASSERT_NO_FATAL_FAILURE(StartSmtp(s, smtp_port, maildir, &smtp));
  const std::string subject = "[refx] " + std::to_string(kCases) + " new cases for DA_MARAC";
  ASSERT_EQ(WaitForMail(subject), 1u) << notifier->RenderMetrics();
  for (const std::string& id : ids) EXPECT_NE(MailsWith(subject)[0].find(id), std::string::npos) << id;
  // The IDVA digest goes in the same pass; then nothing is left waiting.
  for (int i = 0; i < 600 && notifier->waiting() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(notifier->waiting(), 0u);
  EXPECT_GE(notifier->sent(), 2u * kCases);
  EXPECT_TRUE(n.Stop().ok());
  EXPECT_EQ(MailsWith(subject).size(), 1u) << "sent once";
}

TEST_F(NotifierTwoMailsAMinuteTest, TheSettingBoundsEachDestinationsSingleMailsAMinute) {
  ASSERT_NO_FATAL_FAILURE(StartStack());
  uint64_t head = 0;  // the seq of the last case's deliveries
  auto submit_and_wait = [&](const std::string& reference, const std::string& name) {
    const std::string id = s.Submit(DaHighRiskReferral("kent-police", reference, name));
    head = s.WaitFor("case " + id + " delivered", [&](const std::vector<v1::Event>& ev) {
              return HasEvent(ev, v1::Event::kCaseDelivered, id, "DA_MARAC") &&
                     HasEvent(ev, v1::Event::kCaseDelivered, id, "IDVA");
            }).back().seq();
    return id;
  };
  // Three new cases waiting when the notifier starts are more than its two
  // e-mails a minute: one digest per destination (the default of five would
  // have sent three single e-mails).
  std::vector<std::string> first;
  for (int i = 0; i < 3; ++i) {
    first.push_back(submit_and_wait("T-TWO-" + std::to_string(i), "Duetta" + std::string(1, static_cast<char>('a' + i))));
  }
  std::atomic<int64_t> notifier_offset{0};
  auto notifier = MakeHostedNotifier(s, Shifted(&notifier_offset));
  ASSERT_TRUE(notifier);
  HostedService n;
  n.Start([&](const std::function<bool()>& stop) { return notifier->Run(stop); });
  const std::vector<std::string> destinations = {"DA_MARAC", "IDVA"};
  for (const std::string& dest : destinations) {
    const std::string subject = "[refx] 3 new cases for " + dest;
    ASSERT_EQ(WaitForMail(subject), 1u) << subject << "; notifier " << notifier->RenderMetrics();
    for (const std::string& id : first) EXPECT_NE(MailsWith(subject)[0].find(id), std::string::npos) << id;
  }

  // A minute on, two new cases are within the two e-mails: each goes alone.
  notifier_offset = 61;
  std::vector<std::string> next;
  for (int i = 0; i < 2; ++i) {
    next.push_back(submit_and_wait("T-TWO-NEXT-" + std::to_string(i), "Duettina" + std::string(1, static_cast<char>('a' + i))));
    for (const std::string& dest : destinations) {
      const std::string subject = "[refx] New case " + next.back() + " for " + dest;
      EXPECT_EQ(WaitForMail(subject), 1u) << subject << "; notifier " << notifier->RenderMetrics();
    }
  }

  // A third in the same minute waits for the minute to pass, then goes alone.
  const std::string third = submit_and_wait("T-TWO-THIRD", "Duettona");
  ASSERT_NO_FATAL_FAILURE(WaitUntilActedOn(*notifier, head));
  for (const std::string& dest : destinations) {
    EXPECT_TRUE(MailsWith("[refx] New case " + third + " for " + dest).empty()) << "a third e-mail within the minute";
  }
  notifier_offset = 122;
  for (const std::string& dest : destinations) {
    const std::string subject = "[refx] New case " + third + " for " + dest;
    EXPECT_EQ(WaitForMail(subject), 1u) << subject << "; notifier " << notifier->RenderMetrics();
  }
  EXPECT_NE(notifier->RenderMetrics().find("\nrefx_notifier_digests_sent_total 2\n"), std::string::npos)
      << notifier->RenderMetrics();
  EXPECT_TRUE(n.Stop().ok());
}

}  // namespace
}  // namespace refx::testing
