// Subject access requests end to end: the real refx-broker (CURVE, RocksDB),
// the router hosted in-process with the stack's subject key, and the refx
// command-line tool as a child process. Two referrals about the same
// synthetic person, spelled with different spacing, case and punctuation,
// and one about somebody else: `refx audit subject` finds exactly the two,
// the search is recorded, the subject access pack holds the subject's data
// and, with --redact-third-parties, none of the perpetrator's or the
// referrer's. Also: refusals (no purpose, not an auditor, not a key), and
// the router's backfill of referrals routed before it indexed subjects.
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "cli_child.h"
#include "core/subject_key.h"
#include "core/third_parties.h"
#include "hosted_services.h"
#include "refx/v1/cli.pb.h"
#include "services_stack.h"

namespace refx::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

// Sentinels: data of people other than the subject, which a redacted pack
// must not hold, and the subject's own, which it must.
constexpr char kPerpetratorName[] = "Perpsentinel Quorrin";
constexpr char kPerpetratorNotes[] = "PERPNOTESENTINEL";
constexpr char kReferrerName[] = "Refsentinel Vantrell";
constexpr char kReferrerEmail[] = "refsentinel@example.invalid";
constexpr char kReferrerPhone[] = "07700 900 999";
constexpr char kSubjectNarrative[] = "SUBJECTNARRATIVESENTINEL";
constexpr char kDob[] = "1990-02-03";

v1::Referral AboutSubject(const std::string& reference, const std::string& given, const std::string& family,
                          const std::string& dob) {
  v1::Referral r = DaHighRiskReferral("kent-police", reference, given);
  r.mutable_person()->set_family_name(family);
  r.mutable_person()->set_date_of_birth(dob);
  r.set_narrative(std::string(kSubjectNarrative) + " " + reference);
  r.mutable_referrer()->set_name(kReferrerName);
  r.mutable_referrer()->set_email(kReferrerEmail);
  r.mutable_referrer()->set_phone(kReferrerPhone);
  r.mutable_perpetrator()->set_name(kPerpetratorName);
  r.mutable_perpetrator()->set_date_of_birth("1985-06-07");
  r.mutable_perpetrator()->set_relationship("ex-partner");
  r.mutable_perpetrator()->set_notes(kPerpetratorNotes);
  return r;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<const v1::Event*> SearchRecords(const std::vector<v1::Event>& events) {
  std::vector<const v1::Event*> out;
  for (const v1::Event& e : events) {
    if (e.has_record_accessed() && e.record_accessed().what() == "query subject") out.push_back(&e);
  }
  return out;
}

class SubjectAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(s_.stack().StartBroker());
    home_ = fs::path(s_.StateDir("cli-home")).string();
    std::vector<AgencySpec> agencies;
    for (const v1::Agency& a : s_.config().proto().agencies()) {
      AgencySpec spec;
      spec.id = a.id();
      agencies.push_back(spec);
    }
    WriteCliHome(s_.stack(), agencies, home_);
    fs::copy_file(fs::path(s_.stack().config_path()).parent_path() / "subject.hmac", fs::path(home_) / "subject.hmac");
  }

  // Runs the router with `secret` ("" routes without subject keys, as a
  // router from before the subject index did not index) until `done`.
  void RunRouter(const std::string& secret, const std::string& what,
                 const std::function<bool(const std::vector<v1::Event>&)>& done) {
    RouterOptions o;
    o.config = &s_.config();
    o.subject_secret = secret;
    o.client = s_.stack().ClientOptionsFor("refx-router");
    o.state_dir = s_.StateDir("router");
    o.retry_delay_ms = 200;
    // The keyless router stands in for a router from before the subject
    // index, which had the key: a snapshot of its state would hold no subject
    // keys, which the real one's did, so it takes none.
    if (secret.empty()) o.snapshot.every_events = 0;
    std::unique_ptr<RouterService> router;
    ASSERT_TRUE(RouterService::Create(std::move(o), &router).ok());
    HostedService r;
    r.Start([&](const std::function<bool()>& stop) { return router->Run(stop); });
    s_.WaitFor(what, done);
    EXPECT_TRUE(r.Stop().ok());
  }

  // Runs the router with the stack's subject key until `n` subject_indexed
  // events are in the log.
  void RouteAndIndex(size_t n) {
    RunRouter(s_.subject_secret(), "subject_indexed events", [&](const std::vector<v1::Event>& ev) {
      size_t indexed = 0;
      for (const v1::Event& e : ev) indexed += e.has_subject_indexed();
      return indexed >= n;
    });
  }

  CliRun Refx(std::vector<std::string> args) {
    std::vector<std::string> all = {"--home", home_, "--broker", s_.stack().endpoint(), "--attempts", "3"};
    all.insert(all.end(), args.begin(), args.end());
    return RunRefx(all);
  }

  // Submits the three referrals; returns {same person x2, someone else}.
  std::vector<std::string> SubmitThree() {
    return {s_.Submit(AboutSubject("SAR-1", "Alex", "O'Brien-Smith", kDob)),
            s_.Submit(AboutSubject("SAR-2", "  ALEX o", "brien SMITH ", kDob)),
            // Same name, another date of birth: another person.
            s_.Submit(AboutSubject("SAR-3", "Alex", "O'Brien-Smith", "1990-02-04"))};
  }

  ServicesStack s_;
  std::string home_;
};

TEST_F(SubjectAccessTest, FindsExactlyTheSubjectsReferralsAndRecordsTheSearch) {
  const std::vector<std::string> ids = SubmitThree();
  RouteAndIndex(3);
  const size_t searches_before = SearchRecords(s_.ReadLog()).size();

  CliRun run = Refx({"audit", "subject", "--name", "alex obrien-smith", "--dob", kDob, "--purpose", "SAR 2027-001"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr(ids[0]));
  EXPECT_THAT(run.out, HasSubstr(ids[1]));
  EXPECT_THAT(run.out, Not(HasSubstr(ids[2])));
  EXPECT_THAT(run.out, HasSubstr("kent-police"));
  EXPECT_THAT(run.out, HasSubstr("DA_MARAC"));
  // The text form names no one.
  EXPECT_THAT(run.out, Not(HasSubstr("Brien")));

  run = Refx({"audit", "subject", "--name", "ALEX O BRIEN SMITH", "--dob", kDob, "--purpose", "SAR 2027-001",
              "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  v1::QueryResult result;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(run.out, &result).ok()) << run.out;
  std::vector<std::string> found;
  for (const auto& r : result.referrals()) found.push_back(r.referral().referral_id());
  EXPECT_THAT(found, ElementsAre(ids[0], ids[1]));
  for (const auto& r : result.referrals()) {
    EXPECT_EQ(r.referral().submitter(), "kent-police");
    EXPECT_GT(r.submitted().seconds(), 0);
  }

  // Both searches are recorded: who, the purpose, the referrals found;
  // neither the keyed hash nor the name or date of birth.
  const std::vector<v1::Event> log = s_.ReadLog();
  const auto searches = SearchRecords(log);
  ASSERT_EQ(searches.size(), searches_before + 2);
  const v1::Event& last = *searches.back();
  EXPECT_EQ(last.actor(), "ig-auditor");
  EXPECT_EQ(last.record_accessed().purpose(), "SAR 2027-001");
  EXPECT_THAT(last.record_accessed().referral_ids(), ElementsAre(ids[0], ids[1]));
  std::string key;
  ASSERT_TRUE(PersonSubjectKey(s_.subject_secret(), "Alex O'Brien-Smith", kDob, &key).ok());
  // Not the hash searched for: it would outlive its ROUTING_HISTORY period.
  EXPECT_EQ(last.record_accessed().what(), "query subject");
  EXPECT_THAT(last.SerializeAsString(), Not(HasSubstr(key)));
  EXPECT_THAT(last.DebugString(), Not(HasSubstr("Brien")));
  EXPECT_THAT(last.DebugString(), Not(HasSubstr(kDob)));

  // Somebody nobody referred: nothing found, still recorded.
  run = Refx({"audit", "subject", "--name", "Nobody Known", "--dob", kDob, "--purpose", "SAR 2027-002"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.err, HasSubstr("0 referrals"));
  EXPECT_EQ(SearchRecords(s_.ReadLog()).size(), searches_before + 3);
}

TEST_F(SubjectAccessTest, RefusedWithoutPurposeOrRightsOrAKeyAndNothingIsRecorded) {
  const std::vector<std::string> ids = SubmitThree();
  RouteAndIndex(3);
  const size_t before = SearchRecords(s_.ReadLog()).size();

  CliRun run = Refx({"audit", "subject", "--name", "Alex O'Brien-Smith", "--dob", kDob});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--purpose is required"));
  run = Refx({"audit", "subject", "--name", "Alex O'Brien-Smith", "--dob", "3 Feb 1990", "--purpose", "SAR 1"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("YYYY-MM-DD"));
  run = Refx({"audit", "export", "--subject", "--name", "Alex O'Brien-Smith", "--dob", kDob, "--format", "json"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--purpose is required"));

  // At the broker: a blank purpose, a lead, a name instead of a key.
  std::string key;
  ASSERT_TRUE(PersonSubjectKey(s_.subject_secret(), "Alex O'Brien-Smith", kDob, &key).ok());
  v1::QueryRequest q;
  q.set_subject_key(key);
  q.set_purpose("  ");
  v1::QueryResult result;
  Status st = s_.stack().ClientFor("ig-auditor")->Query(q, &result);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.ToString();
  q.set_purpose("SAR 2027-003");
  st = s_.stack().ClientFor("da-marac-coordinator")->Query(q, &result);
  EXPECT_EQ(st.code(), Status::Code::kPermissionDenied) << st.ToString();
  q.set_subject_key("Alex O'Brien-Smith|1990-02-03");
  st = s_.stack().ClientFor("ig-auditor")->Query(q, &result);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.ToString();
  EXPECT_EQ(SearchRecords(s_.ReadLog()).size(), before);

  // Only a SERVICE may record a subject key.
  v1::Event forged;
  forged.mutable_subject_indexed()->set_referral_id(ids[2]);
  forged.mutable_subject_indexed()->set_subject_key(std::string(64, 'a'));
  v1::Ack ack;
  st = s_.stack().ClientFor("ig-auditor")->Append(forged, "", &ack);
  EXPECT_EQ(st.code(), Status::Code::kPermissionDenied) << st.ToString();
}

TEST_F(SubjectAccessTest, SubjectAccessPackHoldsTheSubjectsDataAndRedactsThirdParties) {
  const std::vector<std::string> ids = SubmitThree();
  RouteAndIndex(3);
  const std::string out = home_ + "/sar.json";
  CliRun run = Refx({"audit", "export", "--subject", "--name", "Alex O'Brien-Smith", "--dob", kDob, "--purpose",
                     "SAR 2027-004", "--redact-third-parties", "--format", "json", "--out", out});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string json = ReadFile(out);
  v1::SubjectAccessPack pack;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &pack).ok());
  EXPECT_TRUE(pack.third_parties_redacted());
  std::vector<std::string> in_pack;
  for (const auto& x : pack.referrals()) in_pack.push_back(x.referral_id());
  EXPECT_THAT(in_pack, ElementsAre(ids[0], ids[1]));
  EXPECT_THAT(pack.redacted_fields(), UnorderedElementsAre("refx.v1.Perpetrator.name", "refx.v1.Perpetrator.date_of_birth",
                                                          "refx.v1.Perpetrator.relationship", "refx.v1.Perpetrator.notes",
                                                          "refx.v1.Referrer.name", "refx.v1.Referrer.email",
                                                          "refx.v1.Referrer.phone"));
  // The subject's data is there, both referrals of it, the other person's not.
  EXPECT_THAT(json, HasSubstr("O'Brien-Smith"));
  EXPECT_THAT(json, HasSubstr(std::string(kSubjectNarrative) + " SAR-1"));
  EXPECT_THAT(json, HasSubstr(std::string(kSubjectNarrative) + " SAR-2"));
  EXPECT_THAT(json, Not(HasSubstr(std::string(kSubjectNarrative) + " SAR-3")));
  EXPECT_THAT(json, HasSubstr(kRedactedMarker));
  for (const std::string format : {"json", "csv", "html"}) {
    const std::string file = home_ + "/sar." + format;
    run = Refx({"audit", "export", "--subject", "--name", "alex o'brien smith", "--dob", kDob, "--purpose",
                "SAR 2027-004", "--redact-third-parties", "--format", format, "--out", file});
    ASSERT_EQ(run.exit_code, 0) << format << ": " << run.err;
    const std::string text = ReadFile(file);
    for (const char* sentinel : {kPerpetratorName, kPerpetratorNotes, kReferrerName, kReferrerEmail, kReferrerPhone}) {
      EXPECT_THAT(text, Not(HasSubstr(sentinel))) << format << " holds third-party data";
    }
    EXPECT_THAT(text, HasSubstr(ids[0])) << format;
    EXPECT_THAT(text, HasSubstr(ids[1])) << format;
    EXPECT_THAT(text, Not(HasSubstr(ids[2]))) << format;
  }
  EXPECT_THAT(ReadFile(home_ + "/sar.html"), HasSubstr("Brien-Smith"));
  EXPECT_THAT(ReadFile(home_ + "/sar.html"), HasSubstr("[REDACTED: third party]"));

  // Without --redact-third-parties the same pack holds them (so the
  // assertions above can fail), and says so.
  run = Refx({"audit", "export", "--subject", "--name", "Alex O'Brien-Smith", "--dob", kDob, "--purpose",
              "SAR 2027-005", "--format", "json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr(kPerpetratorName));
  EXPECT_THAT(run.out, HasSubstr(kReferrerEmail));
  EXPECT_THAT(run.err, HasSubstr("NOT redacted"));

  // The search and each referral's read are recorded with the purpose.
  const std::vector<v1::Event> log = s_.ReadLog();
  std::set<std::string> read_for_sar;
  for (const v1::Event& e : log) {
    if (e.has_record_accessed() && e.record_accessed().purpose() == "SAR 2027-005" &&
        e.record_accessed().referral_ids_size() == 1) {
      read_for_sar.insert(e.record_accessed().referral_ids(0));
    }
  }
  EXPECT_THAT(read_for_sar, UnorderedElementsAre(ids[0], ids[1]));
}

TEST_F(SubjectAccessTest, AnErasedReferralIsNoLongerFoundAndItsOwnExportShowsItErased) {
  const std::vector<std::string> ids = SubmitThree();
  RouteAndIndex(3);
  // Erase the first referral about the subject (its data key destroyed).
  v1::Frame request, reply;
  request.mutable_erase()->set_referral_id(ids[0]);
  request.mutable_erase()->set_reason("made in error");
  request.mutable_erase()->set_override_retention(true);
  ASSERT_TRUE(s_.stack().ClientFor("refx-admin")->Call(request, &reply).ok());
  ASSERT_TRUE(reply.has_erase_result()) << reply.DebugString();

  // The subject index still holds its hash (the repeat check needs it), but
  // a search by name leaves the erased referral out.
  CliRun run = Refx({"audit", "subject", "--name", "Alex O'Brien-Smith", "--dob", kDob, "--purpose", "SAR 7",
                     "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  v1::QueryResult result;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(run.out, &result).ok()) << run.out;
  std::vector<std::string> found;
  for (const auto& r : result.referrals()) found.push_back(r.referral().referral_id());
  EXPECT_THAT(found, ElementsAre(ids[1]));

  // The pack holds only the referral still readable.
  run = Refx({"audit", "export", "--subject", "--name", "Alex O'Brien-Smith", "--dob", kDob, "--purpose", "SAR 7",
              "--format", "json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  v1::SubjectAccessPack pack;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(run.out, &pack).ok()) << run.out;
  ASSERT_EQ(pack.referrals_size(), 1);
  EXPECT_EQ(pack.referrals(0).referral_id(), ids[1]);
  EXPECT_FALSE(pack.referrals(0).events(0).erased());
  EXPECT_THAT(run.out, Not(HasSubstr(std::string(kSubjectNarrative) + " SAR-1")));
  EXPECT_THAT(run.out, HasSubstr(std::string(kSubjectNarrative) + " SAR-2"));

  // The erased referral's own record (by id) shows its events erased,
  // without its personal fields.
  run = Refx({"audit", "export", ids[0], "--purpose", "SAR 7", "--format", "json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  v1::AuditExport x;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(run.out, &x).ok()) << run.out;
  ASSERT_GT(x.events_size(), 0);
  ASSERT_TRUE(x.events(0).has_referral_submitted());
  EXPECT_TRUE(x.events(0).erased());
  EXPECT_THAT(run.out, Not(HasSubstr(std::string(kSubjectNarrative) + " SAR-1")));
  run = Refx({"audit", "export", ids[0], "--purpose", "SAR 7", "--format", "csv"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("personal fields erased"));
}

// `refx admin erase --subject` erases every referral about the person and
// no other; afterwards a subject search no longer finds them, and the other
// person's referral still opens.
TEST_F(SubjectAccessTest, EraseBySubjectTakesThePersonsReferralsAndTheSearchNoLongerFindsThem) {
  const std::vector<std::string> ids = SubmitThree();
  RouteAndIndex(3);

  // Without a referral or --subject, and with both: refused, nothing erased.
  CliRun run = Refx({"admin", "erase", "--reason", "made in error", "--as", "refx-admin"});
  EXPECT_EQ(run.exit_code, 2) << run.err;
  run = Refx({"admin", "erase", ids[0], "--subject", "--name", "Alex O'Brien-Smith", "--dob", kDob, "--reason",
              "made in error", "--as", "refx-admin"});
  EXPECT_EQ(run.exit_code, 2) << run.err;
  for (const v1::Event& e : s_.ReadLog()) EXPECT_FALSE(e.has_subject_erased());

  run = Refx({"admin", "erase", "--subject", "--name", "alex  o'brien smith", "--dob", kDob, "--reason",
              "referral made in error", "--override-retention", "--as", "refx-admin"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("erased " + ids[0]));
  EXPECT_THAT(run.out, HasSubstr("erased " + ids[1]));
  EXPECT_THAT(run.out, Not(HasSubstr(ids[2])));

  std::set<std::string> erased;
  for (const v1::Event& e : s_.ReadLog()) {
    if (e.has_subject_erased()) erased.insert(e.subject_erased().referral_id());
  }
  EXPECT_THAT(erased, UnorderedElementsAre(ids[0], ids[1]));

  run = Refx({"audit", "subject", "--name", "Alex O'Brien-Smith", "--dob", kDob, "--purpose", "SAR 7", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  v1::QueryResult result;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(run.out, &result).ok()) << run.out;
  EXPECT_EQ(result.referrals_size(), 0);

  // The other person is untouched: found, and their referral still opens.
  run = Refx({"audit", "subject", "--name", "Alex O'Brien-Smith", "--dob", "1990-02-04", "--purpose", "SAR 8",
              "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(run.out, &result).ok()) << run.out;
  ASSERT_EQ(result.referrals_size(), 1);
  EXPECT_EQ(result.referrals(0).referral().referral_id(), ids[2]);

  // A second erasure by subject finds nothing left to erase.
  run = Refx({"admin", "erase", "--subject", "--name", "Alex O'Brien-Smith", "--dob", kDob, "--reason",
              "referral made in error", "--override-retention", "--as", "refx-admin"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.err, HasSubstr("no referral about this person is left to erase"));
}

TEST_F(SubjectAccessTest, RouterBackfillsReferralsRoutedBeforeItIndexedSubjects) {
  // A router without the key routes but cannot index (as a router from
  // before subject_indexed left the log).
  const std::vector<std::string> ids = SubmitThree();
  RunRouter("", "three referrals routed", [&](const std::vector<v1::Event>& ev) {
    return !RoutedDestinations(ev, ids[0]).empty() && !RoutedDestinations(ev, ids[1]).empty() &&
           !RoutedDestinations(ev, ids[2]).empty();
  });
  for (const v1::Event& e : s_.ReadLog()) EXPECT_FALSE(e.has_subject_indexed());
  CliRun run = Refx({"audit", "subject", "--name", "Alex O'Brien-Smith", "--dob", kDob, "--purpose", "SAR 6",
                     "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, Not(HasSubstr(ids[0])));

  // The router with the key, restarted past them, indexes them.
  RouteAndIndex(3);
  const std::vector<v1::Event> log = s_.ReadLog();
  std::vector<std::string> indexed;
  for (const v1::Event& e : log) {
    if (e.has_subject_indexed()) indexed.push_back(e.subject_indexed().referral_id());
  }
  EXPECT_THAT(indexed, ElementsAre(ids[0], ids[1], ids[2]));
  run = Refx({"audit", "subject", "--name", "Alex O'Brien-Smith", "--dob", kDob, "--purpose", "SAR 6", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  v1::QueryResult result;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(run.out, &result).ok()) << run.out;
  std::vector<std::string> found;
  for (const auto& r : result.referrals()) found.push_back(r.referral().referral_id());
  EXPECT_THAT(found, ElementsAre(ids[0], ids[1]));
}

}  // namespace
}  // namespace refx::testing
