// Unit tests for refx::PartnershipConfig (Parse / Load), with keys generated
// for the test and synthetic agencies.

#include "core/partnership_config.h"

#include <gtest/gtest.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "client/curve_keygen.h"
#include "core/curve_keys.h"
#include "tests/unit/test_util.h"

namespace refx {
namespace {

namespace fs = std::filesystem;
using refx::testing::TempDir;

constexpr char kName[] = "test.textproto";

CurveKeyPair NewKey() {
  CurveKeyPair pair;
  Status s = GenerateCurveKeyPair(&pair);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return pair;
}

void WriteFile(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path);
  ASSERT_TRUE(out) << "cannot write " << path;
  out << text;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// 1-based number of the line holding the `occurrence`-th (1-based) match of
// `marker`, or -1.
int LineOf(const std::string& text, const std::string& marker, int occurrence = 1) {
  size_t pos = 0;
  for (int i = 0; i < occurrence; ++i) {
    pos = text.find(marker, i == 0 ? 0 : pos + 1);
    if (pos == std::string::npos) return -1;
  }
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(pos), '\n'));
}

// Expects an InvalidArgument whose message starts "<kName>:<line>:<col>: ".
void ExpectErrorAtLine(const Status& s, int line, const std::string& what) {
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  const std::string prefix = std::string(kName) + ":" + std::to_string(line) + ":";
  EXPECT_EQ(s.message().rfind(prefix, 0), 0u) << "want prefix \"" << prefix << "\", got: " << s.message();
  EXPECT_TRUE(std::regex_search(s.message(), std::regex("^[^:]+:[0-9]+:[0-9]+: ")))
      << "want FILE:LINE:COLUMN: , got: " << s.message();
  if (!what.empty()) {
    EXPECT_NE(s.message().find(what), std::string::npos) << s.message();
  }
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    police_ = NewKey();
    marac_ = NewKey();
    csu_ = NewKey();
  }

  // A good configuration with three agencies and two destinations.
  std::string GoodText() const {
    return "name: \"Example Partnership\"\n"
           "agencies {\n"
           "  id: \"kent-police\"\n"
           "  name: \"Example Police\"\n"
           "  roles: [SUBMITTER, LEAD]\n"
           "  public_key: \"" + police_.public_key + "\"\n"
           "  may_submit: [DOMESTIC_ABUSE, STALKING]\n"
           "}\n"
           "agencies {\n"
           "  id: \"da-marac-coordinator\"\n"
           "  roles: LEAD\n"
           "  public_key: \"" + marac_.public_key + "\"\n"
           "}\n"
           "agencies {\n"
           "  id: \"sevenoaks-csu\"\n"
           "  roles: SUBMITTER\n"
           "  public_key: \"" + csu_.public_key + "\"\n"
           "}\n"
           "destinations {\n"
           "  code: \"DA_MARAC\"\n"
           "  agency_id: \"da-marac-coordinator\"\n"
           "  need_to_know: [REFERRER, ASSESSMENT]\n"
           "  ack_deadline_working_days: 1\n"
           "}\n"
           "destinations {\n"
           "  code: \"CSU_TRIAGE\"\n"
           "  agency_id: \"sevenoaks-csu\"\n"
           "}\n";
  }

  Status Parse(const std::string& text, std::unique_ptr<PartnershipConfig>* out,
               const std::string& base_dir = ".") const {
    return PartnershipConfig::Parse(text, kName, base_dir, out);
  }

  CurveKeyPair police_, marac_, csu_;
};

TEST_F(ConfigTest, GoodConfigParsesAndLookupsWork) {
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(GoodText(), &cfg);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_NE(cfg, nullptr);
  EXPECT_EQ(cfg->proto().name(), "Example Partnership");
  EXPECT_EQ(cfg->proto().agencies_size(), 3);
  EXPECT_EQ(cfg->proto().destinations_size(), 2);

  const v1::Agency* police = cfg->AgencyById("kent-police");
  ASSERT_NE(police, nullptr);
  EXPECT_EQ(police->name(), "Example Police");
  EXPECT_EQ(police->public_key(), police_.public_key);
  EXPECT_EQ(cfg->AgencyById("da-marac-coordinator"), &cfg->proto().agencies(1));
  EXPECT_EQ(cfg->AgencyById("nobody"), nullptr);
  EXPECT_EQ(cfg->AgencyById(""), nullptr);

  EXPECT_EQ(cfg->AgencyByPublicKey(police_.public_key), police);
  EXPECT_EQ(cfg->AgencyByPublicKey(marac_.public_key), cfg->AgencyById("da-marac-coordinator"));
  EXPECT_EQ(cfg->AgencyByPublicKey(csu_.public_key), cfg->AgencyById("sevenoaks-csu"));
  EXPECT_EQ(cfg->AgencyByPublicKey(NewKey().public_key), nullptr);
  // The secret key is not a public key of anyone.
  EXPECT_EQ(cfg->AgencyByPublicKey(police_.secret_key), nullptr);

  const v1::Destination* marac = cfg->DestinationByCode("DA_MARAC");
  ASSERT_NE(marac, nullptr);
  EXPECT_EQ(marac->agency_id(), "da-marac-coordinator");
  EXPECT_EQ(marac->ack_deadline_working_days(), 1u);
  ASSERT_EQ(marac->need_to_know_size(), 2);
  EXPECT_EQ(marac->need_to_know(1), v1::ASSESSMENT);
  ASSERT_NE(cfg->DestinationByCode("CSU_TRIAGE"), nullptr);
  EXPECT_EQ(cfg->DestinationByCode("da_marac"), nullptr);
  EXPECT_EQ(cfg->DestinationByCode("IDVA"), nullptr);
}

TEST_F(ConfigTest, RolesAndMaySubmit) {
  std::unique_ptr<PartnershipConfig> cfg;
  ASSERT_TRUE(Parse(GoodText(), &cfg).ok());
  const v1::Agency& police = *cfg->AgencyById("kent-police");
  const v1::Agency& marac = *cfg->AgencyById("da-marac-coordinator");
  const v1::Agency& csu = *cfg->AgencyById("sevenoaks-csu");

  EXPECT_TRUE(PartnershipConfig::HasRole(police, v1::SUBMITTER));
  EXPECT_TRUE(PartnershipConfig::HasRole(police, v1::LEAD));
  EXPECT_FALSE(PartnershipConfig::HasRole(police, v1::AUDITOR));
  EXPECT_FALSE(PartnershipConfig::HasRole(marac, v1::SUBMITTER));

  // With may_submit: only the listed categories.
  EXPECT_TRUE(PartnershipConfig::MaySubmit(police, v1::DOMESTIC_ABUSE));
  EXPECT_TRUE(PartnershipConfig::MaySubmit(police, v1::STALKING));
  EXPECT_FALSE(PartnershipConfig::MaySubmit(police, v1::RADICALISATION));
  EXPECT_FALSE(PartnershipConfig::MaySubmit(police, v1::OTHER));
  // Without may_submit: every category.
  for (v1::Category c : {v1::DOMESTIC_ABUSE, v1::STALKING, v1::RADICALISATION, v1::ASB_CASE_REVIEW, v1::OTHER}) {
    EXPECT_TRUE(PartnershipConfig::MaySubmit(csu, c)) << v1::Category_Name(c);
  }
  // Without the SUBMITTER role: nothing, even with an empty may_submit.
  EXPECT_FALSE(PartnershipConfig::MaySubmit(marac, v1::DOMESTIC_ABUSE));
  EXPECT_FALSE(PartnershipConfig::MaySubmit(marac, v1::OTHER));
}

TEST_F(ConfigTest, BrokerDefaultsAreFilled) {
  std::unique_ptr<PartnershipConfig> cfg;
  ASSERT_TRUE(Parse(GoodText(), &cfg).ok());
  EXPECT_EQ(cfg->broker().max_frame_bytes(), 262144u);
  EXPECT_EQ(cfg->broker().max_batch(), 1024u);
  EXPECT_EQ(cfg->broker().heartbeat_ivl_ms(), 2000u);
  EXPECT_EQ(cfg->broker().frontend_endpoint(), "tcp://127.0.0.1:7400");
  EXPECT_EQ(cfg->broker().metrics_address(), "");
}

TEST_F(ConfigTest, ExplicitBrokerSettingsAreKept) {
  std::unique_ptr<PartnershipConfig> cfg;
  const std::string text = GoodText() +
                           "broker {\n"
                           "  frontend_endpoint: \"tcp://127.0.0.1:17400\"\n"
                           "  max_frame_bytes: 65536\n"
                           "  max_batch: 16\n"
                           "  heartbeat_ivl_ms: 500\n"
                           "  metrics_address: \"127.0.0.1:17490\"\n"
                           "}\n";
  Status s = Parse(text, &cfg);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(cfg->broker().frontend_endpoint(), "tcp://127.0.0.1:17400");
  EXPECT_EQ(cfg->broker().max_frame_bytes(), 65536u);
  EXPECT_EQ(cfg->broker().max_batch(), 16u);
  EXPECT_EQ(cfg->broker().heartbeat_ivl_ms(), 500u);
  EXPECT_EQ(cfg->broker().metrics_address(), "127.0.0.1:17490");
}

TEST_F(ConfigTest, BackupRetentionIsReadAndBadOnesNameTheLine) {
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(GoodText() + "broker {\n  backup { keep_days: 35 keep_last: 7 }\n}\n", &cfg);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(cfg->broker().backup().keep_days(), 35u);
  EXPECT_EQ(cfg->broker().backup().keep_last(), 7u);
  // A block with no limit would look like a policy while keeping every backup.
  std::string text = GoodText() + "broker {\n  max_batch: 16\n  backup { }\n}\n";
  s = Parse(text, &cfg);
  ExpectErrorAtLine(s, LineOf(text, "backup { }"), "neither keep_days nor keep_last");
  text = GoodText() + "broker {\n  backup {\n    keep_last: 3\n    keep_days: 40000\n  }\n}\n";
  s = Parse(text, &cfg);
  ExpectErrorAtLine(s, LineOf(text, "keep_days: 40000"), "keep_days must be at most 36600");
  text = GoodText() + "broker {\n  backup {\n    keep_last: -1\n  }\n}\n";
  s = Parse(text, &cfg);
  ExpectErrorAtLine(s, LineOf(text, "keep_last: -1"), "");
}

TEST_F(ConfigTest, KeyFilesAreReadRelativeToBaseDir) {
  TempDir dir;
  WriteFile(dir.Sub("keys/kent-police.pub"), "  " + police_.public_key + "\n\n");
  std::string text = GoodText();
  const std::string inline_key = "public_key: \"" + police_.public_key + "\"";
  text.replace(text.find(inline_key), inline_key.size(), "public_key_file: \"keys/kent-police.pub\"");

  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg, dir.path());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(cfg->AgencyById("kent-police")->public_key(), police_.public_key);
  EXPECT_EQ(cfg->AgencyByPublicKey(police_.public_key), cfg->AgencyById("kent-police"));

  // Load resolves relative to the configuration file's folder.
  WriteFile(dir.Sub("partnership.textproto"), text);
  std::unique_ptr<PartnershipConfig> loaded;
  s = PartnershipConfig::Load(dir.Sub("partnership.textproto"), &loaded);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(loaded->AgencyById("kent-police")->public_key(), police_.public_key);

  // An absolute key path is used as it is.
  std::string absolute = text;
  const std::string rel = "\"keys/kent-police.pub\"";
  absolute.replace(absolute.find(rel), rel.size(), "\"" + dir.Sub("keys/kent-police.pub") + "\"");
  std::unique_ptr<PartnershipConfig> abs_cfg;
  s = Parse(absolute, &abs_cfg, "/nonexistent-base");
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(abs_cfg->AgencyById("kent-police")->public_key(), police_.public_key);
}

TEST_F(ConfigTest, LoadOfAMissingFileFails) {
  TempDir dir;
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = PartnershipConfig::Load(dir.Sub("absent.textproto"), &cfg);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(cfg, nullptr);
}

// ---------------------------------------------------------------------------
// Bad configurations: each names the file and the line.

// Replaces the first occurrence of `from` in `text` with `to`.
std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST_F(ConfigTest, SyntaxErrorNamesTheLine) {
  const std::string text = Replace(GoodText(), "  roles: LEAD\n", "  roles LEAD LEAD\n");
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg);
  ExpectErrorAtLine(s, LineOf(text, "roles LEAD LEAD"), "");
  EXPECT_EQ(cfg, nullptr);
}

TEST_F(ConfigTest, UnclosedBlockIsASyntaxError) {
  const std::string text = GoodText() + "destinations {\n  code: \"IDVA\"\n";
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(s.message().rfind(std::string(kName) + ":", 0), 0u) << s.message();
}

TEST_F(ConfigTest, UnknownFieldNamesTheLine) {
  const std::string text = Replace(GoodText(), "  name: \"Example Police\"\n",
                                   "  name: \"Example Police\"\n  colour: \"blue\"\n");
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg);
  ExpectErrorAtLine(s, LineOf(text, "colour"), "colour");
}

TEST_F(ConfigTest, DuplicateAgencyIdNamesTheSecondOne) {
  const std::string text = Replace(GoodText(), "id: \"sevenoaks-csu\"", "id: \"kent-police\"");
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg);
  ExpectErrorAtLine(s, LineOf(text, "id: \"kent-police\"", 2), "kent-police");
}

TEST_F(ConfigTest, BadAgencyIdNamesTheLine) {
  for (const std::string bad : {"Kent-Police", "k", "kent_police", "-kent", "kent police", ""}) {
    const std::string text = Replace(GoodText(), "id: \"da-marac-coordinator\"", "id: \"" + bad + "\"");
    std::unique_ptr<PartnershipConfig> cfg;
    Status s = Parse(text, &cfg);
    SCOPED_TRACE("id \"" + bad + "\"");
    ExpectErrorAtLine(s, LineOf(text, "id: \"" + bad + "\""), "");
  }
}

TEST_F(ConfigTest, MalformedInlineKeyNamesTheLine) {
  const std::string text = Replace(GoodText(), marac_.public_key, "not-a-z85-key");
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg);
  ExpectErrorAtLine(s, LineOf(text, "not-a-z85-key"), "da-marac-coordinator");

  // 40 characters, but not all from the Z85 alphabet.
  const std::string text2 = Replace(GoodText(), marac_.public_key, std::string(39, 'a') + "~");
  s = Parse(text2, &cfg);
  ExpectErrorAtLine(s, LineOf(text2, std::string(39, 'a') + "~"), "");
}

TEST_F(ConfigTest, MalformedKeyFileNamesTheLine) {
  TempDir dir;
  WriteFile(dir.Sub("keys/da-marac-coordinator.pub"), "this is not a key\n");
  const std::string text = Replace(GoodText(), "public_key: \"" + marac_.public_key + "\"",
                                   "public_key_file: \"keys/da-marac-coordinator.pub\"");
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg, dir.path());
  ExpectErrorAtLine(s, LineOf(text, "public_key_file"), "da-marac-coordinator.pub");
}

TEST_F(ConfigTest, MissingKeyFileNamesTheLine) {
  TempDir dir;
  const std::string text = Replace(GoodText(), "public_key: \"" + marac_.public_key + "\"",
                                   "public_key_file: \"keys/nobody.pub\"");
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg, dir.path());
  ExpectErrorAtLine(s, LineOf(text, "public_key_file"), "nobody.pub");
}

TEST_F(ConfigTest, AgencyWithoutKeyNamesTheLine) {
  const std::string text = Replace(GoodText(), "  public_key: \"" + marac_.public_key + "\"\n", "");
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg);
  ExpectErrorAtLine(s, LineOf(text, "agencies {", 2), "da-marac-coordinator");
}

TEST_F(ConfigTest, AgencyWithoutRolesNamesTheLine) {
  const std::string text = Replace(GoodText(), "  roles: LEAD\n", "");
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg);
  ExpectErrorAtLine(s, LineOf(text, "agencies {", 2), "da-marac-coordinator");
}

TEST_F(ConfigTest, SharedKeyNamesTheSecondAgency) {
  const std::string text = Replace(GoodText(), csu_.public_key, police_.public_key);
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg);
  ExpectErrorAtLine(s, LineOf(text, "agencies {", 3), "sevenoaks-csu");
}

TEST_F(ConfigTest, DestinationNamingAnUnknownAgencyNamesTheLine) {
  const std::string text = Replace(GoodText(), "agency_id: \"sevenoaks-csu\"", "agency_id: \"nobody-at-all\"");
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg);
  ExpectErrorAtLine(s, LineOf(text, "nobody-at-all"), "nobody-at-all");
}

TEST_F(ConfigTest, DuplicateDestinationCodeNamesTheSecondOne) {
  const std::string text = Replace(GoodText(), "code: \"CSU_TRIAGE\"", "code: \"DA_MARAC\"");
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg);
  ExpectErrorAtLine(s, LineOf(text, "code: \"DA_MARAC\"", 2), "DA_MARAC");
}

TEST_F(ConfigTest, BadDestinationCodeNamesTheLine) {
  const std::string text = Replace(GoodText(), "code: \"CSU_TRIAGE\"", "code: \"csu-triage\"");
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg);
  ExpectErrorAtLine(s, LineOf(text, "csu-triage"), "csu-triage");
}

TEST_F(ConfigTest, MaxFrameBytesOutOfRangeNamesTheLine) {
  const std::string text = GoodText() + "broker {\n  max_frame_bytes: 100\n}\n";
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg);
  ExpectErrorAtLine(s, LineOf(text, "max_frame_bytes"), "max_frame_bytes");
}

// Even an error about something missing names a position (line 1).
TEST_F(ConfigTest, NoAgenciesNamesALine) {
  const std::string text = "name: \"Empty Partnership\"\n";
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("no agencies"), std::string::npos) << s.message();
  EXPECT_TRUE(std::regex_search(s.message(), std::regex(std::string("^") + kName + ":[0-9]+:[0-9]+: ")))
      << "want \"" << kName << ":LINE:COLUMN: \", got: " << s.message();
  EXPECT_EQ(cfg, nullptr);
}

// ---------------------------------------------------------------------------
// People (console users).

class PeopleConfigTest : public ConfigTest {
 protected:
  // GoodText plus an auditing agency and three people: a lead of DA_MARAC,
  // an auditor and an admin.
  std::string WithPeople() const {
    return GoodText() +
           "agencies {\n"
           "  id: \"ig-auditor\"\n"
           "  roles: AUDITOR\n"
           "  public_key: \"" + auditor_.public_key + "\"\n"
           "}\n"
           "people {\n"
           "  id: \"lead-DA_MARAC\"\n"
           "  name: \"Lead, DA MARAC\"\n"
           "  agency_id: \"da-marac-coordinator\"\n"
           "  roles: LEAD\n"
           "  destinations: \"DA_MARAC\"\n"
           "}\n"
           "people {\n"
           "  id: \"auditor\"\n"
           "  name: \"IG auditor\"\n"
           "  agency_id: \"ig-auditor\"\n"
           "  roles: AUDITOR\n"
           "}\n"
           "people {\n"
           "  id: \"admin\"\n"
           "  name: \"Console admin\"\n"
           "  agency_id: \"sevenoaks-csu\"\n"
           "  roles: ADMIN\n"
           "}\n";
  }
  void ExpectRefused(const std::string& text, const std::string& marker, const std::string& what,
                     int occurrence = 1) {
    std::unique_ptr<PartnershipConfig> cfg;
    Status s = Parse(text, &cfg);
    ExpectErrorAtLine(s, LineOf(text, marker, occurrence), what);
    EXPECT_EQ(cfg, nullptr);
  }
  CurveKeyPair auditor_ = NewKey();
};

TEST_F(PeopleConfigTest, PeopleLoadAndAreFoundById) {
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(WithPeople(), &cfg);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const v1::StaffMember* lead = cfg->PersonById("lead-DA_MARAC");
  ASSERT_NE(lead, nullptr);
  EXPECT_EQ(lead->agency_id(), "da-marac-coordinator");
  EXPECT_TRUE(PartnershipConfig::PersonHasRole(*lead, v1::StaffMember::LEAD));
  EXPECT_FALSE(PartnershipConfig::PersonHasRole(*lead, v1::StaffMember::AUDITOR));
  ASSERT_NE(cfg->PersonById("auditor"), nullptr);
  ASSERT_NE(cfg->PersonById("admin"), nullptr);
  EXPECT_EQ(cfg->PersonById("nobody"), nullptr);
}

TEST_F(PeopleConfigTest, DuplicatePersonIdNamesTheSecondOne) {
  const std::string text = Replace(WithPeople(), "id: \"admin\"", "id: \"auditor\"");
  ExpectRefused(text, "id: \"auditor\"", "used twice", 2);
}

TEST_F(PeopleConfigTest, MalformedPersonIdNamesTheLine) {
  ExpectRefused(Replace(WithPeople(), "id: \"admin\"", "id: \"a b\""), "id: \"a b\"", "person id");
  ExpectRefused(Replace(WithPeople(), "id: \"admin\"", "id: \"-admin\""), "id: \"-admin\"", "person id");
}

TEST_F(PeopleConfigTest, UnknownAgencyNamesTheLine) {
  const std::string text = Replace(WithPeople(), "agency_id: \"ig-auditor\"", "agency_id: \"nobody-at-all\"");
  ExpectRefused(text, "nobody-at-all", "unknown agency");
}

TEST_F(PeopleConfigTest, LeadOfADestinationAnotherAgencyOwnsIsRefused) {
  const std::string text = Replace(WithPeople(), "destinations: \"DA_MARAC\"", "destinations: \"CSU_TRIAGE\"");
  ExpectRefused(text, "destinations: \"CSU_TRIAGE\"", "sevenoaks-csu");
}

TEST_F(PeopleConfigTest, LeadOfAnUnknownDestinationIsRefused) {
  const std::string text = Replace(WithPeople(), "destinations: \"DA_MARAC\"", "destinations: \"NOWHERE\"");
  ExpectRefused(text, "NOWHERE", "unknown destination");
}

TEST_F(PeopleConfigTest, LeadWithoutDestinationsIsRefused) {
  const std::string text = Replace(WithPeople(), "  destinations: \"DA_MARAC\"\n", "");
  ExpectRefused(text, "people {", "needs at least one destination");
}

TEST_F(PeopleConfigTest, DestinationsOfANonLeadAreRefused) {
  const std::string text =
      Replace(WithPeople(), "  roles: ADMIN\n", "  roles: ADMIN\n  destinations: \"CSU_TRIAGE\"\n");
  ExpectRefused(text, "destinations: \"CSU_TRIAGE\"", "not a LEAD");
}

TEST_F(PeopleConfigTest, AuditorOfAnAgencyWithoutTheAuditorRoleIsRefused) {
  const std::string text = Replace(WithPeople(), "  agency_id: \"ig-auditor\"\n  roles: AUDITOR",
                                   "  agency_id: \"kent-police\"\n  roles: AUDITOR");
  ExpectRefused(text, "roles: AUDITOR\n}\npeople", "AUDITOR role");
}

TEST_F(PeopleConfigTest, LeadOfAnAgencyWithoutTheLeadRoleIsRefused) {
  // sevenoaks-csu is SUBMITTER only in GoodText.
  const std::string text =
      Replace(WithPeople(), "  roles: ADMIN\n", "  roles: [ADMIN, LEAD]\n  destinations: \"CSU_TRIAGE\"\n");
  ExpectRefused(text, "roles: [ADMIN, LEAD]", "LEAD role");
}

TEST_F(PeopleConfigTest, PersonWithoutRolesOrNameIsRefused) {
  ExpectRefused(Replace(WithPeople(), "  roles: ADMIN\n", ""), "people {", "no roles", 3);
  ExpectRefused(Replace(WithPeople(), "  name: \"Console admin\"\n", ""), "people {", "needs a name", 3);
}

// ---------------------------------------------------------------------------
// The Sevenoaks sample, with generated keys.

TEST(SampleConfigTest, SevenoaksSampleLoadsWithGeneratedKeys) {
  const fs::path sample = fs::path(REFX_SOURCE_DIR) / "deploy/config/sevenoaks.textproto";
  if (!fs::exists(sample)) GTEST_SKIP() << sample << " does not exist yet";

  TempDir dir;
  const std::string copy = dir.Sub("sevenoaks.textproto");
  fs::copy_file(sample, copy);

  // Read the agencies' key file names straight from the text.
  v1::PartnershipConfig raw;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(ReadFile(copy), &raw)) << "sample does not parse";
  ASSERT_GT(raw.agencies_size(), 0);
  std::map<std::string, std::string> public_keys;  // agency id -> generated public key
  for (const v1::Agency& a : raw.agencies()) {
    CurveKeyPair pair = NewKey();
    if (a.key_case() == v1::Agency::kPublicKeyFile) {
      const fs::path file = a.public_key_file();
      ASSERT_EQ(file.extension(), ".pub") << a.id();
      ASSERT_TRUE(file.is_relative()) << a.id();
      Status s = SaveCurveKeyPair((fs::path(dir.path()) / file.parent_path()).string(), file.stem().string(), pair);
      ASSERT_TRUE(s.ok()) << s.ToString();
      public_keys[a.id()] = pair.public_key;
    } else {
      public_keys[a.id()] = a.public_key();
    }
  }

  std::unique_ptr<PartnershipConfig> cfg;
  Status s = PartnershipConfig::Load(copy, &cfg);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(cfg->proto().agencies_size(), raw.agencies_size());
  EXPECT_EQ(cfg->proto().destinations_size(), raw.destinations_size());
  for (const auto& [id, key] : public_keys) {
    const v1::Agency* a = cfg->AgencyById(id);
    ASSERT_NE(a, nullptr) << id;
    EXPECT_EQ(a->public_key(), key) << id;
    EXPECT_EQ(cfg->AgencyByPublicKey(key), a) << id;
    EXPECT_FALSE(a->roles().empty()) << id;
  }
  for (const v1::Destination& d : raw.destinations()) {
    const v1::Destination* got = cfg->DestinationByCode(d.code());
    ASSERT_NE(got, nullptr) << d.code();
    EXPECT_NE(cfg->AgencyById(got->agency_id()), nullptr) << d.code();
  }
  // The development people: a lead per destination, an auditor, an admin,
  // and the console's own identity.
  for (const v1::Destination& d : raw.destinations()) {
    const v1::StaffMember* lead = cfg->PersonById("lead-" + d.code());
    ASSERT_NE(lead, nullptr) << d.code();
    EXPECT_EQ(lead->agency_id(), d.agency_id()) << d.code();
  }
  ASSERT_NE(cfg->PersonById("auditor"), nullptr);
  ASSERT_NE(cfg->PersonById("admin"), nullptr);
  ASSERT_NE(cfg->AgencyById("refx-console"), nullptr);
  EXPECT_TRUE(PartnershipConfig::HasRole(*cfg->AgencyById("refx-console"), v1::CONSOLE));
  EXPECT_GE(cfg->broker().max_frame_bytes(), 1024u);
  EXPECT_GT(cfg->broker().max_batch(), 0u);
  EXPECT_FALSE(cfg->broker().frontend_endpoint().empty());

  // Without the key files the sample is refused, naming a key file line.
  fs::remove_all(dir.Sub("keys"));
  std::unique_ptr<PartnershipConfig> no_keys;
  s = PartnershipConfig::Load(copy, &no_keys);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(s.message().rfind(copy + ":", 0), 0u) << s.message();
}

// ---------------------------------------------------------------------------
// Key lifecycle: a rotation's previous key with the end of its overlap, and
// revoked keys by fingerprint.

TEST(CurveKeyFingerprintTest, IsTheStartOfSha256OfTheZ85Text) {
  // printf %s 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7' | sha256sum | cut -c1-16
  EXPECT_EQ(CurveKeyFingerprint("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"), "84112785d1092a7e");
  EXPECT_TRUE(IsCurveKeyFingerprint("84112785d1092a7e"));
  for (const std::string bad : {"84112785D1092A7E", "84112785d1092a7", "84112785d1092a7e0", "84112785d1092a7g", ""}) {
    EXPECT_FALSE(IsCurveKeyFingerprint(bad)) << bad;
  }
}

class KeyLifecycleConfigTest : public ConfigTest {
 protected:
  // kent-police rotated from `old_` to police_, the old key valid until `until`.
  std::string Rotated(const std::string& until = "2026-12-31T18:00:00Z") const {
    return Replace(GoodText(), "  may_submit: [DOMESTIC_ABUSE, STALKING]\n",
                   "  may_submit: [DOMESTIC_ABUSE, STALKING]\n"
                   "  previous_public_key: \"" + old_.public_key + "\"\n"
                   "  previous_key_valid_until: \"" + until + "\"\n");
  }
  static int64_t At(const std::string& rfc3339) {
    google::protobuf::Timestamp t;
    EXPECT_TRUE(google::protobuf::util::TimeUtil::FromString(rfc3339, &t)) << rfc3339;
    return t.seconds();
  }
  void ExpectRefused(const std::string& text, const std::string& marker, const std::string& what) {
    std::unique_ptr<PartnershipConfig> cfg;
    Status s = Parse(text, &cfg);
    ExpectErrorAtLine(s, LineOf(text, marker), what);
    EXPECT_EQ(cfg, nullptr);
  }
  CurveKeyPair old_ = NewKey();
};

TEST_F(KeyLifecycleConfigTest, BothKeysAreAcceptedDuringTheOverlapThenOnlyTheNewOne) {
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(Rotated(), &cfg);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const std::string old_fp = CurveKeyFingerprint(old_.public_key), new_fp = CurveKeyFingerprint(police_.public_key);
  const v1::Agency* agency = nullptr;
  for (const char* when : {"2026-12-31T17:59:59Z", "2026-12-31T18:59:59+01:00"}) {
    SCOPED_TRACE(when);
    EXPECT_TRUE(cfg->CheckKey(old_fp, At(when), &agency).ok());
    ASSERT_NE(agency, nullptr);
    EXPECT_EQ(agency->id(), "kent-police");
  }
  for (const char* when : {"2026-12-31T18:00:00Z", "2027-06-01T00:00:00Z"}) {
    SCOPED_TRACE(when);
    s = cfg->CheckKey(old_fp, At(when), &agency);
    EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << s.ToString();
    EXPECT_NE(s.message().find("kent-police"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(old_fp), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find(old_.public_key), std::string::npos) << "never the key itself: " << s.message();
    EXPECT_TRUE(cfg->CheckKey(new_fp, At(when), &agency).ok());
  }
  // Both keys name the agency; an unknown key is NotFound, not an error.
  EXPECT_EQ(cfg->AgencyByPublicKey(old_.public_key)->id(), "kent-police");
  EXPECT_EQ(cfg->AgencyByPublicKey(police_.public_key)->id(), "kent-police");
  s = cfg->CheckKey(CurveKeyFingerprint(NewKey().public_key), 0, &agency);
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();
  EXPECT_EQ(agency, nullptr);
}

TEST_F(KeyLifecycleConfigTest, PreviousKeyFromAFileIsResolvedToZ85) {
  TempDir dir;
  WriteFile(dir.Sub("keys/kent-police.pub"), old_.public_key + "\n");
  const std::string text = Replace(Rotated(), "previous_public_key: \"" + old_.public_key + "\"",
                                   "previous_public_key_file: \"keys/kent-police.pub\"");
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg, dir.path());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(cfg->AgencyById("kent-police")->previous_public_key(), old_.public_key);
  const v1::Agency* agency = nullptr;
  EXPECT_TRUE(cfg->CheckKey(CurveKeyFingerprint(old_.public_key), At("2026-12-01T00:00:00Z"), &agency).ok());

  fs::remove(dir.Sub("keys/kent-police.pub"));
  s = Parse(text, &cfg, dir.path());
  ExpectErrorAtLine(s, LineOf(text, "previous_public_key_file"), "kent-police.pub");
}

TEST_F(KeyLifecycleConfigTest, BadRotationsNameFileLineAndColumn) {
  ExpectRefused(Replace(Rotated(), old_.public_key, "not-a-key"), "not-a-key", "previous_public_key");
  ExpectRefused(Rotated("31/12/2026 18:00"), "previous_key_valid_until", "RFC 3339");
  ExpectRefused(Rotated("2026-12-31T18:00:00"), "previous_key_valid_until", "RFC 3339");
  ExpectRefused(Replace(Rotated(), "  previous_key_valid_until: \"2026-12-31T18:00:00Z\"\n", ""),
                "previous_public_key", "no previous_key_valid_until");
  ExpectRefused(Replace(Rotated(), "  previous_public_key: \"" + old_.public_key + "\"\n", ""),
                "previous_key_valid_until", "no previous_public_key");
  ExpectRefused(Replace(Rotated(), old_.public_key, police_.public_key), "previous_public_key",
                "same as its public key");
  // Another agency's key cannot be kent-police's previous one.
  std::unique_ptr<PartnershipConfig> cfg;
  const std::string text = Replace(Rotated(), old_.public_key, csu_.public_key);
  Status s = Parse(text, &cfg);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_TRUE(std::regex_search(s.message(), std::regex(std::string("^") + kName + ":[0-9]+:[0-9]+: ")))
      << s.message();
  EXPECT_NE(s.message().find("sevenoaks-csu"), std::string::npos) << s.message();
}

TEST_F(KeyLifecycleConfigTest, RevokedKeysAreRefusedWhoeverListsThem) {
  const std::string old_fp = CurveKeyFingerprint(old_.public_key), csu_fp = CurveKeyFingerprint(csu_.public_key);
  const std::string stranger_fp = CurveKeyFingerprint(NewKey().public_key);
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(Rotated() + "revoked_keys: \"" + old_fp + "\"\nrevoked_keys: [\"" + csu_fp + "\", \"" +
                       stranger_fp + "\"]\n",
                   &cfg);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const v1::Agency* agency = nullptr;
  // Revocation wins over the overlap and over being the current key.
  s = cfg->CheckKey(old_fp, At("2026-12-01T00:00:00Z"), &agency);
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << s.ToString();
  EXPECT_NE(s.message().find("revoked"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("kent-police"), std::string::npos) << s.message();
  s = cfg->CheckKey(csu_fp, 0, &agency);
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << s.ToString();
  ASSERT_NE(agency, nullptr);
  EXPECT_EQ(agency->id(), "sevenoaks-csu");
  s = cfg->CheckKey(stranger_fp, 0, &agency);
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << s.ToString();
  EXPECT_EQ(agency, nullptr);
  EXPECT_TRUE(cfg->CheckKey(CurveKeyFingerprint(police_.public_key), 0, &agency).ok());
}

TEST_F(KeyLifecycleConfigTest, BadRevokedKeysNameFileLineAndColumn) {
  const std::string fp = CurveKeyFingerprint(old_.public_key);
  ExpectRefused(GoodText() + "revoked_keys: \"" + old_.public_key + "\"\n", "revoked_keys", "not a key fingerprint");
  ExpectRefused(GoodText() + "revoked_keys: \"ABCDEF0123456789\"\n", "revoked_keys", "not a key fingerprint");
  const std::string twice = GoodText() + "revoked_keys: \"" + fp + "\"\n# again\nrevoked_keys: \"" + fp + "\"\n";
  std::unique_ptr<PartnershipConfig> cfg;
  ExpectErrorAtLine(Parse(twice, &cfg), LineOf(twice, "revoked_keys", 2), "listed twice");
}

TEST_F(ConfigTest, GoodAlertSettingsAndAddressesLoad) {
  const std::string text =
      Replace(GoodText(), "  ack_deadline_working_days: 1\n",
              "  ack_deadline_working_days: 1\n  alert_emails: [\"da-marac@sevenoaks.example\", \"o'neil+x@a-b.example\"]\n") +
      "alerts {\n  smtp_url: \"smtp://127.0.0.1:2525\"\n  from_address: \"refx-alerts@sevenoaks.example\"\n"
      "  console_url: \"https://refx.example/\"\n  deadline_warning_hours: 48\n"
      "  new_case_emails_per_minute: 60\n}\n";
  std::unique_ptr<PartnershipConfig> cfg;
  Status s = Parse(text, &cfg);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(cfg->DestinationByCode("DA_MARAC")->alert_emails_size(), 2);
  EXPECT_EQ(cfg->proto().alerts().new_case_emails_per_minute(), 60u);
}

TEST_F(ConfigTest, BadAlertAddressesNameTheirLine) {
  // A space, a comma or a line break would carry a second recipient or a header into the mail.
  for (const std::string bad : {"not-an-address", "a b@example.org", "a@example.org, b@example.org", "a@@example.org",
                                "a@example.org\\r\\nBcc: x@example.org", "<a@example.org>", "@example.org", "a@-x.example"}) {
    const std::string text = Replace(GoodText(), "  ack_deadline_working_days: 1\n",
                                     "  ack_deadline_working_days: 1\n  alert_emails: \"ok@example.org\"\n"
                                     "  alert_emails: \"" + bad + "\"\n");
    std::unique_ptr<PartnershipConfig> cfg;
    Status s = Parse(text, &cfg);
    SCOPED_TRACE("alert_emails \"" + bad + "\"");
    ExpectErrorAtLine(s, LineOf(text, "alert_emails: \"" + bad), "DA_MARAC");
    EXPECT_EQ(cfg, nullptr);
  }
  const std::string twice = Replace(GoodText(), "  ack_deadline_working_days: 1\n",
                                    "  ack_deadline_working_days: 1\n  alert_emails: \"ok@example.org\"\n"
                                    "  alert_emails: \"ok@example.org\"\n");
  std::unique_ptr<PartnershipConfig> cfg;
  ExpectErrorAtLine(Parse(twice, &cfg), LineOf(twice, "alert_emails: \"ok@example.org\"", 2), "twice");
}

TEST_F(ConfigTest, BadAlertSettingsNameTheirLine) {
  struct Case {
    std::string block, line, what;
  };
  const std::vector<Case> cases = {
      {"  smtp_url: \"http://relay.example\"\n  from_address: \"r@example.org\"\n", "smtp_url", "smtp://"},
      {"  smtp_url: \"smtp://\"\n  from_address: \"r@example.org\"\n", "smtp_url", "no relay host"},
      {"  smtp_url: \"smtp://relay.example:25\"\n", "alerts {", "from_address is required"},
      {"  smtp_url: \"smtp://relay.example:25\"\n  from_address: \"refx alerts\"\n", "from_address", "not an e-mail"},
      {"  console_url: \"refx.example\"\n", "console_url", "http"},
      {"  deadline_warning_hours: 10000\n", "deadline_warning_hours", "at most"},
      {"  new_case_emails_per_minute: 61\n", "new_case_emails_per_minute", "at most 60"},
  };
  for (const Case& c : cases) {
    const std::string text = GoodText() + "alerts {\n" + c.block + "}\n";
    std::unique_ptr<PartnershipConfig> cfg;
    Status s = Parse(text, &cfg);
    SCOPED_TRACE(c.block);
    ExpectErrorAtLine(s, LineOf(text, c.line), c.what);
  }
}

}  // namespace
}  // namespace refx
