// `refx submit` end to end: the real refx binary as a child process, with a
// home folder laid out as `deploy/refx.sh up` lays it out, against the real
// broker binary with CURVE on. Several files of one agency go in batch
// frames; each file still gets its own result, in the order given, and the
// exit code is the worst of them.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "cli_child.h"
#include "core/json.h"
#include "log_reader.h"
#include "refx/v1/cli.pb.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

class SubmitCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.StartBroker());
    WriteCliHome(stack_, TestStack::DefaultAgencies(), home_.path());
  }

  // Writes `referral` as JSON to FILES/name and returns the path.
  std::string WriteReferral(const std::string& name, const v1::Referral& referral) {
    const std::string path = files_.path() + "/" + name;
    std::ofstream(path) << ToJsonLine(referral) << "\n";
    return path;
  }

  CliRun Submit(std::vector<std::string> files, bool json) {
    std::vector<std::string> args = {"--home", home_.path(), "--broker", stack_.endpoint(), "--attempts", "3",
                                     "submit"};
    if (json) args.push_back("--json");
    args.insert(args.end(), files.begin(), files.end());
    return RunRefx(std::move(args));
  }

  TestStack stack_;
  TempDir home_, files_;
};

TEST_F(SubmitCliTest, ManyFilesOneResultEachInOrder) {
  std::vector<std::string> files;
  for (int i = 0; i < 70; ++i) {  // more than one batch frame (64)
    const std::string agency = i % 3 == 0 ? "agency-b" : "agency-a";
    files.push_back(WriteReferral("r" + std::to_string(i) + ".json",
                                  SampleReferral(agency, "CLI-" + std::to_string(i))));
  }
  v1::Referral bad = SampleReferral("agency-a", "CLI-BAD");
  bad.mutable_assessment()->mutable_dash_answers()->RemoveLast();
  files.insert(files.begin() + 5, WriteReferral("bad.json", bad));
  const std::string not_json = files_.path() + "/not-json.json";
  std::ofstream(not_json) << "{ not json";
  files.insert(files.begin() + 9, not_json);

  CliRun run = Submit(files, /*json=*/true);
  EXPECT_EQ(run.exit_code, 2) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), files.size()) << run.out;
  int accepted = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    v1::SubmitResult result;
    ASSERT_TRUE(MessageFromJson(lines[i], &result).ok()) << lines[i];
    EXPECT_EQ(result.file(), files[i]) << "results come in the order the files were given";
    if (i == 5) {
      EXPECT_EQ(result.outcome(), "refused");
      // Named as a single submission's field, not by its place in a batch.
      EXPECT_EQ(result.error().field_path(), "submit.referral.assessment.dash_answers");
    } else if (i == 9) {
      EXPECT_EQ(result.outcome(), "refused");
    } else {
      EXPECT_EQ(result.outcome(), "accepted") << lines[i];
      ++accepted;
    }
  }
  EXPECT_EQ(accepted, 70);

  // The same files again: every referral a duplicate, nothing written.
  files.erase(files.begin() + 9);
  files.erase(files.begin() + 5);
  CliRun again = Submit(files, /*json=*/false);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  lines = Lines(again.out);
  ASSERT_EQ(lines.size(), files.size());
  for (const std::string& line : lines) EXPECT_NE(line.find("duplicate"), std::string::npos) << line;
  StopAndCheckLog(stack_, 70u);
}

}  // namespace
}  // namespace refx::testing
