// `refx adapter retry` as a person runs it: the refx binary as a child.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "filedrop_test_util.h"

namespace refx::adapters {
namespace {

// Runs `refx ARGS` through the shell; returns the exit code, output in *out.
int RunRefx(const std::string& args, std::string* out) {
  std::FILE* pipe = ::popen((std::string(REFX_CLI_BIN) + " " + args + " 2>&1").c_str(), "r");
  char buffer[4096];
  out->clear();
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out->append(buffer, n);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(AdapterRetryCli, MovesARejectedFileBackAndRefusesWhatItCannot) {
  testing::TempFolder dir;
  const std::string inbox = dir.path() + "/inbox";
  ASSERT_EQ(::mkdir(inbox.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((inbox + "/rejected").c_str(), 0755), 0);
  testing::WriteFile(inbox + "/rejected/export.csv", "corrected");
  testing::WriteFile(inbox + "/rejected/export.csv.report.txt", "old report");
  std::string out;
  EXPECT_EQ(RunRefx("adapter retry " + inbox + "/rejected/export.csv", &out), 0) << out;
  EXPECT_NE(out.find("the adapter takes it again"), std::string::npos) << out;
  EXPECT_EQ(testing::ReadFile(inbox + "/export.csv"), "corrected");
  EXPECT_FALSE(testing::Exists(inbox + "/rejected/export.csv.report.txt"));

  EXPECT_EQ(RunRefx("adapter retry " + inbox + "/export.csv", &out), 2) << out;
  EXPECT_NE(out.find("not in a drop folder's rejected/ folder"), std::string::npos) << out;
  EXPECT_EQ(RunRefx("adapter retry " + inbox + "/rejected/gone.csv", &out), 2) << out;
  EXPECT_EQ(RunRefx("adapter retry", &out), 2) << out;
}

}  // namespace
}  // namespace refx::adapters
