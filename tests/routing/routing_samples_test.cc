// Every sample referral in deploy/samples/ routes, under the Sevenoaks sample
// configuration, to exactly the destinations the table in
// deploy/samples/README.md gives for it ("At routing", from the rules of
// the partnership's routing notes), and the outcome-opened cases ("Later")
// are reachable through an outcome code. The expectations are read from
// the README, never from the engine.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/need_to_know.h"
#include "core/referral_validation.h"
#include "domain/routing/routing_engine.h"
#include "tests/routing/sample_config.h"

namespace refx {
namespace {

namespace fs = std::filesystem;

// The samples' reference date (deploy/samples/README.md): they are routed
// as if submitted that day. REFX_SAMPLES_ROUTED_ON=YYYY-MM-DD routes them on
// another day instead: tests/routing/sample_dates_test.sh routes the demo's
// copies, shifted to a day two years ahead, on that day.
CivilDate SubmittedOn() {
  const char* env = std::getenv("REFX_SAMPLES_ROUTED_ON");
  if (env == nullptr || *env == '\0') return CivilDate{2026, 11, 26};
  CivilDate on;
  if (!ParseCivilDate(env, &on)) ADD_FAILURE() << "REFX_SAMPLES_ROUTED_ON=" << env << " is not YYYY-MM-DD";
  return on;
}

struct SampleRow {
  std::string file;
  std::set<std::string> at_routing;
  std::set<std::string> later;
};

// The README (the expectations) is always the checkout's; the sample files
// are read from REFX_SAMPLES_DIR when set (shifted copies), else beside it.
std::string ReadmePath() { return std::string(REFX_SOURCE_DIR) + "/deploy/samples/README.md"; }
std::string SamplesDir() {
  const char* env = std::getenv("REFX_SAMPLES_DIR");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(REFX_SOURCE_DIR) + "/deploy/samples";
}

std::set<std::string> Codes(const std::string& cell) {
  static const std::regex code("`([A-Z][A-Z0-9_]+)`");
  std::set<std::string> out;
  for (std::sregex_iterator it(cell.begin(), cell.end(), code), end; it != end; ++it) out.insert((*it)[1]);
  return out;
}

std::vector<std::string> Cells(const std::string& line) {
  std::vector<std::string> cells;
  size_t start = line.find('|');
  while (start != std::string::npos) {
    const size_t next = line.find('|', start + 1);
    if (next == std::string::npos) break;
    cells.push_back(line.substr(start + 1, next - start - 1));
    start = next;
  }
  return cells;
}

// The rows of the README table: | `FILE` | Rule | At routing | Later | Why |
std::vector<SampleRow> ReadmeRows() {
  std::vector<SampleRow> rows;
  const std::string text = refx::testing::ReadTextFile(ReadmePath());
  static const std::regex file_cell("^\\s*`([0-9]{2}-[a-z0-9-]+\\.json)`\\s*$");
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    const std::vector<std::string> cells = Cells(line);
    std::smatch m;
    if (cells.size() < 5 || !std::regex_match(cells[0], m, file_cell)) continue;
    rows.push_back({m[1], Codes(cells[2]), Codes(cells[3])});
  }
  return rows;
}

class SampleReferralsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Status s = refx::testing::LoadSampleConfig(&config_);
    if (s.ok()) s = RoutingEngine::Create(config_.get(), std::string(32, '\x01'), &engine_);
    status_ = new Status(s);
  }
  static void TearDownTestSuite() {
    engine_.reset();
    config_.reset();
    delete status_;
  }
  void SetUp() override { ASSERT_TRUE(status_->ok()) << status_->ToString(); }

  static std::unique_ptr<PartnershipConfig> config_;
  static std::unique_ptr<RoutingEngine> engine_;
  static Status* status_;
};

std::unique_ptr<PartnershipConfig> SampleReferralsTest::config_;
std::unique_ptr<RoutingEngine> SampleReferralsTest::engine_;
Status* SampleReferralsTest::status_ = nullptr;

TEST_F(SampleReferralsTest, ReadmeTableCoversEverySample) {
  const std::vector<SampleRow> rows = ReadmeRows();
  std::set<std::string> in_table;
  for (const SampleRow& row : rows) {
    EXPECT_TRUE(in_table.insert(row.file).second) << row.file << " is listed twice";
    EXPECT_FALSE(row.at_routing.empty()) << row.file;
  }
  std::set<std::string> on_disk;
  for (const auto& entry : fs::directory_iterator(SamplesDir())) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") on_disk.insert(entry.path().filename());
  }
  EXPECT_EQ(in_table, on_disk);
  EXPECT_GE(rows.size(), 30u);
}

TEST_F(SampleReferralsTest, EachSampleRoutesAsTheReadmeSays) {
  const std::vector<SampleRow> rows = ReadmeRows();
  ASSERT_FALSE(rows.empty());
  for (const SampleRow& row : rows) {
    SCOPED_TRACE(row.file);
    v1::Referral referral;
    Status s = MessageFromJson(refx::testing::ReadTextFile(SamplesDir() + "/" + row.file), &referral);
    ASSERT_TRUE(s.ok()) << s.ToString();
    const std::vector<RoutingDecision> got = engine_->Route(referral, SubmittedOn(), NoRoutingHistory());
    std::set<std::string> dests;
    std::string explain;
    for (const RoutingDecision& d : got) {
      EXPECT_TRUE(dests.insert(d.destination).second) << d.destination << " listed twice";
      explain += "  " + d.destination + " [" + d.rule_id + "] " + d.reason + " (by " + d.deadline.ToString() + ")\n";
    }
    EXPECT_EQ(dests, row.at_routing) << explain;
  }
}

TEST_F(SampleReferralsTest, EachSampleIsValidAndItsAgencyMaySubmitIt) {
  for (const SampleRow& row : ReadmeRows()) {
    SCOPED_TRACE(row.file);
    v1::Referral referral;
    ASSERT_TRUE(MessageFromJson(refx::testing::ReadTextFile(SamplesDir() + "/" + row.file), &referral).ok());
    const Status valid = ValidateReferral(referral, SubmittedOn());
    EXPECT_TRUE(valid.ok()) << valid.ToString();
    const v1::Agency* agency = config_->AgencyById(referral.referrer().agency_id());
    ASSERT_NE(agency, nullptr) << referral.referrer().agency_id();
    EXPECT_TRUE(PartnershipConfig::HasRole(*agency, v1::SUBMITTER));
    EXPECT_TRUE(PartnershipConfig::MaySubmit(*agency, referral.category()))
        << agency->id() << " may not submit " << v1::Category_Name(referral.category());
  }
}

// Every field set anywhere in `message` that identifies a person: marked
// PERSONAL_DATA, or in the SUBJECT_IDENTITY / SUBJECT_CONTACT / REFERRER
// groups. Returns their full names.
void IdentifyingFields(const google::protobuf::Message& message, std::vector<std::string>* out) {
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  message.GetReflection()->ListFields(message, &fields);
  for (const auto* f : fields) {
    const auto group = f->options().GetExtension(v1::field_group);
    bool personal = group == v1::SUBJECT_IDENTITY || group == v1::SUBJECT_CONTACT || group == v1::REFERRER;
    for (int m = 0; m < f->options().ExtensionSize(v1::marking); ++m) {
      if (f->options().GetExtension(v1::marking, m) == v1::PERSONAL_DATA) personal = true;
    }
    if (personal) out->push_back(f->full_name());
    if (f->type() != google::protobuf::FieldDescriptor::TYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < message.GetReflection()->FieldSize(message, f); ++i) {
        IdentifyingFields(message.GetReflection()->GetRepeatedMessage(message, f, i), out);
      }
    } else {
      IdentifyingFields(message.GetReflection()->GetMessage(message, f), out);
    }
  }
}

// Rule 15: an adult who does not consent is notified under the Duty to
// Notify with no identifying field at all; with consent the lead gets the
// person.
TEST_F(SampleReferralsTest, DutyToNotifyViewHoldsNoIdentifyingField) {
  v1::Referral referral;
  ASSERT_TRUE(MessageFromJson(
                  refx::testing::ReadTextFile(SamplesDir() + "/27-modern-slavery-adult-duty-to-notify.json"), &referral)
                  .ok());
  std::vector<std::string> in_referral;
  IdentifyingFields(referral, &in_referral);
  ASSERT_FALSE(in_referral.empty());  // the sample has a name, address, referrer...

  const std::vector<RoutingDecision> got = engine_->Route(referral, SubmittedOn(), NoRoutingHistory());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].destination, "MODERN_SLAVERY_DTN");
  // The referral's routing record says the Duty to Notify was used.
  EXPECT_NE(got[0].reason.find("Duty to Notify"), std::string::npos) << got[0].reason;

  const v1::Destination* dtn = config_->DestinationByCode("MODERN_SLAVERY_DTN");
  ASSERT_NE(dtn, nullptr);
  EXPECT_TRUE(dtn->anonymous());
  std::set<v1::FieldGroup> groups = {v1::ENVELOPE};
  for (int g : dtn->need_to_know()) groups.insert(static_cast<v1::FieldGroup>(g));
  const v1::Referral view = NeedToKnowView(referral, groups);
  std::vector<std::string> identifying;
  IdentifyingFields(view, &identifying);
  EXPECT_TRUE(identifying.empty()) << identifying.front();
  EXPECT_FALSE(view.has_person() && !view.person().given_name().empty());
  EXPECT_TRUE(view.exploitation().labour_exploitation());  // what the MS1 needs
  EXPECT_EQ(view.category(), v1::MODERN_SLAVERY);

  // With consent, the NRM lead's own view carries the person.
  referral.mutable_consent()->set_position(v1::CONSENT_GIVEN);
  const std::vector<RoutingDecision> consented = engine_->Route(referral, SubmittedOn(), NoRoutingHistory());
  ASSERT_EQ(consented.size(), 1u);
  EXPECT_EQ(consented[0].destination, "MODERN_SLAVERY");
  std::set<v1::FieldGroup> nrm = {v1::ENVELOPE};
  for (int g : config_->DestinationByCode("MODERN_SLAVERY")->need_to_know()) nrm.insert(static_cast<v1::FieldGroup>(g));
  EXPECT_EQ(NeedToKnowView(referral, nrm).person().given_name(), referral.person().given_name());
}

// Action plan 6.2/6.5 and 7.6: the Safer Towns Business Crime Partnership
// submits business crime only (member businesses are not agencies); the
// Violence Reduction Unit refers young people to the CMARAC and the DCSM.
TEST_F(SampleReferralsTest, NewAgenciesMaySubmitOnlyTheirPathways) {
  const v1::Agency* bcp = config_->AgencyById("safer-towns-bcp");
  const v1::Agency* vru = config_->AgencyById("kent-vru");
  ASSERT_NE(bcp, nullptr);
  ASSERT_NE(vru, nullptr);
  for (int c = v1::Category_MIN + 1; c <= v1::Category_MAX; ++c) {
    if (!v1::Category_IsValid(c)) continue;
    const auto category = static_cast<v1::Category>(c);
    SCOPED_TRACE(v1::Category_Name(category));
    EXPECT_EQ(PartnershipConfig::MaySubmit(*bcp, category), category == v1::BUSINESS_CRIME);
    EXPECT_EQ(PartnershipConfig::MaySubmit(*vru, category),
              category == v1::ANTISOCIAL_BEHAVIOUR || category == v1::EXTRA_FAMILIAL_HARM);
  }
}

TEST_F(SampleReferralsTest, LaterCasesAreOpenedByAnOutcome) {
  int checked = 0;
  for (const SampleRow& row : ReadmeRows()) {
    for (const std::string& later : row.later) {
      SCOPED_TRACE(row.file + " -> " + later);
      bool reachable = false;
      for (const std::string& from : row.at_routing) {
        for (const v1::OutcomeCode& o : config_->proto().outcome_codes()) {
          if (engine_->RouteOnOutcome(from, o.code()) == std::optional<std::string>(later)) reachable = true;
        }
      }
      EXPECT_TRUE(reachable);
      ++checked;
    }
  }
  EXPECT_GE(checked, 1);  // 12-prevent-channel-adoption.json: PREVENT, later CHANNEL
}

}  // namespace
}  // namespace refx
