// `refx submit` end to end: the real refx binary as a child process, with a
// home folder laid out as `deploy/refx.sh up` lays it out, against the real
// broker binary with CURVE on. Several files of one agency go in batch
// frames; each file still gets its own result, in the order given, and the
// exit code is the worst of them.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <algorithm>
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

// Every invalid field of a referral is reported at once: in text one a
// line, in --json as error.violations; single and batch submissions alike.
TEST_F(SubmitCliTest, EveryBadFieldIsListedAtOnce) {
  v1::Referral bad = SampleReferral("agency-a", "CLI-MANY");
  bad.clear_category();
  bad.clear_lawful_basis();
  bad.mutable_assessment()->mutable_dash_answers()->RemoveLast();
  const std::string one = WriteReferral("bad.json", bad);
  const std::vector<std::string> expected = {"submit.referral.category", "submit.referral.lawful_basis",
                                             "submit.referral.assessment.dash_answers"};

  CliRun text = Submit({one}, /*json=*/false);
  EXPECT_EQ(text.exit_code, 2);
  EXPECT_NE(text.err.find("3 fields are invalid"), std::string::npos) << text.err;
  for (const std::string& path : expected) {
    EXPECT_NE(text.err.find("\n  " + path + ": "), std::string::npos) << path << " not listed:\n" << text.err;
  }

  // In a batch (two files of one agency), each file lists its own fields.
  v1::Referral also_bad = SampleReferral("agency-a", "CLI-MANY-2");
  also_bad.clear_category();
  also_bad.clear_lawful_basis();
  also_bad.mutable_assessment()->mutable_dash_answers()->RemoveLast();
  CliRun json = Submit({one, WriteReferral("bad2.json", also_bad)}, /*json=*/true);
  EXPECT_EQ(json.exit_code, 2);
  const std::vector<std::string> lines = Lines(json.out);
  ASSERT_EQ(lines.size(), 2u) << json.out;
  for (const std::string& line : lines) {
    v1::SubmitResult result;
    ASSERT_TRUE(MessageFromJson(line, &result).ok()) << line;
    EXPECT_EQ(result.outcome(), "refused");
    EXPECT_EQ(result.error().code(), v1::INVALID_ARGUMENT);
    EXPECT_EQ(result.error().field_path(), expected[0]);  // the first, as before
    std::vector<std::string> paths;
    for (const auto& v : result.error().violations()) paths.push_back(v.field_path());
    EXPECT_EQ(paths, expected) << line;
  }
  StopAndCheckLog(stack_, 0u);
}

// JSON is checked strictly, and the error says where (LINE:COLUMN).
TEST_F(SubmitCliTest, LenientJsonIsRefusedSayingWhere) {
  const std::string good = ToJsonPretty(SampleReferral("agency-a", "CLI-JSON"));
  // An unquoted key on line 2, and a trailing comma before the last brace.
  std::string unquoted = good;
  unquoted.replace(unquoted.find("\"referrerReference\""), 19, "referrerReference");
  std::string trailing = good;
  trailing.insert(trailing.rfind('}') - 1, ",");
  const std::string f1 = files_.path() + "/unquoted.json", f2 = files_.path() + "/trailing.json";
  std::ofstream(f1) << unquoted;
  std::ofstream(f2) << trailing;
  auto line_of = [](const std::string& text, size_t at) {
    return std::to_string(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n') + 1);
  };
  const std::string key_line = line_of(unquoted, unquoted.find("referrerReference"));
  const std::string last_line = line_of(trailing, trailing.rfind('}'));

  CliRun run = Submit({f1, f2}, /*json=*/false);
  EXPECT_EQ(run.exit_code, 2);
  const std::vector<std::string> lines = Lines(run.err);
  ASSERT_EQ(lines.size(), 2u) << run.err;
  EXPECT_NE(lines[0].find(f1 + ": refused: INVALID_ARGUMENT: not valid JSON at " + key_line + ":"), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find(f2 + ": refused: INVALID_ARGUMENT: not valid JSON at " + last_line + ":1"),
            std::string::npos)
      << lines[1] << "\n" << trailing;
  StopAndCheckLog(stack_, 0u);
}

// A broker that takes connections but never answers (stopped with
// SIGSTOP): the referrals without an answer are counted as referrals.
TEST_F(SubmitCliTest, UnansweredReferralsAreCountedAsReferrals) {
  std::vector<std::string> files;
  for (int i = 0; i < 3; ++i) {
    files.push_back(WriteReferral("r" + std::to_string(i) + ".json", SampleReferral("agency-a", "CLI-U" + std::to_string(i))));
  }
  ASSERT_EQ(kill(stack_.broker_pid(), SIGSTOP), 0);
  CliRun run = RunRefx({"--home", home_.path(), "--broker", stack_.endpoint(), "--attempts", "2", "--timeout-ms", "300",
                        "submit", files[0], files[1], files[2]});
  ASSERT_EQ(kill(stack_.broker_pid(), SIGCONT), 0);
  EXPECT_EQ(run.exit_code, 3) << run.err;
  const std::vector<std::string> lines = Lines(run.err);
  ASSERT_EQ(lines.size(), 3u) << run.err;
  for (const std::string& line : lines) {
    EXPECT_NE(line.find("3 of 3 referrals of agency-a not answered"), std::string::npos) << line;
    EXPECT_EQ(line.find("requests not answered"), std::string::npos) << line;
  }
}

// Every command-line mistake exits 2 (not CLI11's 105, 106, 109 ...), and
// `refx --help` lists every exit code.
TEST_F(SubmitCliTest, CommandLineErrorsExitTwoAndHelpListsTheCodes) {
  const std::vector<std::vector<std::string>> mistakes = {
      {"--no-such-flag"},
      {},                                                    // no subcommand
      {"inbox", "ack", "--as", "DA_MARAC"},                  // missing REFERRAL
      {"--timeout-ms", "abc", "inbox", "list", "--as", "x"}, // not a number
      {"submit", "/no/such/file.json"},                      // not an existing file
      {"inbox", "list", "--as", "x", "--state", "HAPPY"},    // a bad value
  };
  for (const auto& args : mistakes) {
    CliRun run = RunRefx(args);
    EXPECT_EQ(run.exit_code, 2) << (args.empty() ? "(none)" : args[0]) << ": " << run.err;
    EXPECT_FALSE(run.err.empty());
  }
  CliRun help = RunRefx({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* line : {"Exit codes", "  0  done", "  1  setup", "  2  refused", "  3  unreachable",
                           "  4  tampered", "Europe/London"}) {
    EXPECT_NE(help.out.find(line), std::string::npos) << line << " missing from:\n" << help.out;
  }
}

// Run from outside its checkout with no --home or REFX_HOME, refx says once
// on stderr which stack (home folder) it uses; with --home it says nothing.
TEST_F(SubmitCliTest, OutsideTheCheckoutItSaysWhichStack) {
  TempDir elsewhere;
  const std::string command = "cd '" + elsewhere.path() + "' && env -u REFX_HOME '" REFX_CLI_BIN
                              "' inbox list --as DA_MARAC 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status));
  const std::string note = "refx: using the stack in ";
  ASSERT_NE(out.find(note), std::string::npos) << out;
  EXPECT_EQ(out.find(note, out.find(note) + 1), std::string::npos) << "said more than once:\n" << out;
  EXPECT_NE(out.find("/var (that of this refx binary's checkout; --home DIR or REFX_HOME=DIR chooses another)"),
            std::string::npos)
      << out;

  CliRun with_home = RunRefx({"--home", home_.path(), "--broker", stack_.endpoint(), "inbox", "list", "--as", "x"});
  EXPECT_EQ(with_home.err.find(note), std::string::npos) << with_home.err;
}

}  // namespace
}  // namespace refx::testing
