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
#include "services/routing/routing_engine.h"
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
  EXPECT_GE(rows.size(), 25u);
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
