// Bearer tokens: issued tokens verify to their name, the file holds only
// hashes, revoked and unknown tokens fail, a changed file is noticed.
#include "adapters/tokens/token_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "tests/unit/test_util.h"

namespace refx::adapters {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TokenStoreTest, IssueVerifyListRevoke) {
  testing::TempDir tmp;
  const std::string file = tmp.Sub("tokens");
  std::string a, b;
  ASSERT_TRUE(TokenFile::Issue(file, "niche-rms", &a).ok());
  ASSERT_TRUE(TokenFile::Issue(file, "web-form", &b).ok());
  EXPECT_EQ(a.size(), 64u);
  EXPECT_NE(a, b);
  EXPECT_EQ(TokenFile::Issue(file, "niche-rms", &a).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(TokenFile::Issue(file, "bad name", &a).code(), Status::Code::kInvalidArgument);
  const std::string text = Slurp(file);
  EXPECT_EQ(text.find(a), std::string::npos);
  EXPECT_NE(text.find(TokenFile::HashHex(a)), std::string::npos);
  // Readable by its owner only: the hashes are what a token is checked against.
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  TokenVerifier verifier(file);
  std::string caller;
  ASSERT_TRUE(verifier.Verify(a, &caller).ok());
  EXPECT_EQ(caller, "niche-rms");
  ASSERT_TRUE(verifier.Verify(b, &caller).ok());
  EXPECT_EQ(caller, "web-form");
  EXPECT_EQ(verifier.Verify(a + "0", &caller).code(), Status::Code::kNotFound);
  EXPECT_EQ(verifier.Verify("", &caller).code(), Status::Code::kNotFound);

  std::vector<TokenEntry> entries;
  ASSERT_TRUE(TokenFile::Read(file, &entries).ok());
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].name, "niche-rms");

  ASSERT_TRUE(TokenFile::Revoke(file, "niche-rms").ok());
  EXPECT_EQ(TokenFile::Revoke(file, "niche-rms").code(), Status::Code::kNotFound);
  // The verifier looks at the file again at most once a second.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(verifier.Verify(a, &caller).code(), Status::Code::kNotFound);
  EXPECT_TRUE(verifier.Verify(b, &caller).ok());
}

TEST(TokenStoreTest, AFileThatCannotBeWrittenIsAnErrorNamingIt) {
  testing::TempDir tmp;
  const std::string file = tmp.Sub("no-such-folder/tokens");
  std::string token = "unchanged";
  const Status s = TokenFile::Issue(file, "niche-rms", &token);
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_NE(s.ToString().find("no-such-folder/tokens"), std::string::npos) << s.ToString();
  EXPECT_EQ(token, "unchanged");  // no token handed out that the file does not hold
}

TEST(TokenStoreTest, MalformedLineIsNamed) {
  testing::TempDir tmp;
  const std::string file = tmp.Sub("tokens");
  std::ofstream(file) << "# comment\nniche-rms not-a-hash 2026-01-01T00:00:00Z\n";
  std::vector<TokenEntry> entries;
  Status s = TokenFile::Read(file, &entries);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find(file + ":2:"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace refx::adapters
