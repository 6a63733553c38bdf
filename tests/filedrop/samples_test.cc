// The sample CSV exports in deploy/samples/ read through the CSV formats of
// the sample adapter configurations in deploy/config/adapters/: every row
// becomes a valid referral (dated as the samples are, for 2026-11-26).
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include "adapters/filedrop/drop_file.h"
#include "filedrop_test_util.h"

namespace refx::adapters {
namespace {

struct Sample {
  const char* config;  // under deploy/config/adapters/
  const char* csv;     // under deploy/samples/
  int rows;
};

class SampleExports : public ::testing::TestWithParam<Sample> {};

TEST_P(SampleExports, EveryRowIsAValidReferral) {
  const Sample& sample = GetParam();
  const std::string root = REFX_SOURCE_DIR;
  v1::AdapterConfig config;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      testing::ReadFile(root + "/deploy/config/adapters/" + sample.config), &config));
  ASSERT_EQ(config.drops_size(), 1);
  const v1::CsvFormat* format = nullptr;
  for (const auto& f : config.csv_formats()) {
    if (f.name() == config.drops(0).csv_format()) format = &f;
  }
  ASSERT_NE(format, nullptr) << "the drop names no csv_formats entry";
  DropReadOptions options;
  options.agency_id = config.agency_id();
  options.csv_format = format;
  options.today = CivilDate{2026, 11, 26};
  std::vector<v1::Referral> referrals;
  DropReadResult result;
  Status s = ReadDropFile(
      root + "/deploy/samples/" + sample.csv, options,
      [&referrals](std::vector<v1::Referral>* chunk) {
        referrals.insert(referrals.end(), chunk->begin(), chunk->end());
        return Status::OK();
      },
      &result);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(result.unreadable, "");
  for (const auto& p : result.problems) {
    ADD_FAILURE() << sample.csv << ":" << p.row << ": " << p.column << " " << p.field << ": " << p.reason;
  }
  EXPECT_EQ(result.rows_good, sample.rows);
  for (const auto& r : referrals) {
    EXPECT_EQ(r.referrer().agency_id(), config.agency_id());
    EXPECT_NE(r.category(), v1::CATEGORY_UNSPECIFIED) << r.referrer_reference();
    EXPECT_FALSE(r.person().family_name().empty()) << r.referrer_reference();
    EXPECT_FALSE(r.incident_date().empty()) << r.referrer_reference();
  }
}

INSTANTIATE_TEST_SUITE_P(Samples, SampleExports,
                         ::testing::Values(Sample{"kent-police.textproto", "kent-police-da-incidents.csv", 6},
                                           Sample{"west-kent-housing.textproto", "west-kent-housing-asb-log.csv", 4},
                                           Sample{"sevenoaks-schools.textproto", "sevenoaks-schools-concerns.csv",
                                                  4}));

}  // namespace
}  // namespace refx::adapters
