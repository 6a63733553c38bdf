// The console's account store: Argon2id hashes, TOTP, delays and lock-out
// after failed sign-ins, disable and unlock; a real folder in /tmp.
#include "console/account_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace refx::console {
namespace {

class AccountStoreTest : public ::testing::Test {
 protected:
  AccountStoreTest() {
    char tmpl[] = "/tmp/refx_accounts_XXXXXX";
    root_ = ::mkdtemp(tmpl);
    store_ = std::make_unique<AccountStore>(root_ + "/console/accounts");
  }
  ~AccountStoreTest() override { std::filesystem::remove_all(root_); }

  LoginResult Login(const std::string& id, const std::string& password, int64_t now, const std::string& code = "") {
    LoginResult r;
    Status s = store_->CheckLogin(id, password, code, now, &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }
  std::string FileText() {
    std::ifstream in(store_->dir() + "/accounts.json");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::string root_;
  std::unique_ptr<AccountStore> store_;
  const std::string kPassword = "correct horse battery";
};

TEST_F(AccountStoreTest, RightPasswordSignsInWrongOneDoesNotAndNoPasswordIsStored) {
  ASSERT_TRUE(store_->Add("ann", kPassword, false, nullptr).ok());
  EXPECT_EQ(Login("ann", kPassword, 1000).verdict, LoginVerdict::kOk);
  EXPECT_EQ(Login("ann", "correct horse battery!", 1001).verdict, LoginVerdict::kBadCredentials);
  EXPECT_EQ(Login("nobody", kPassword, 1002).verdict, LoginVerdict::kBadCredentials);
  EXPECT_FALSE(Login("nobody", kPassword, 1002).known_account);
  const std::string text = FileText();
  EXPECT_EQ(text.find(kPassword), std::string::npos);
  EXPECT_NE(text.find("$argon2id$"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat((store_->dir() + "/accounts.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(store_->dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(AccountStoreTest, RefusesShortPasswordsBadIdsAndDuplicates) {
  EXPECT_EQ(store_->Add("ann", "short", false, nullptr).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(store_->Add("a b", kPassword, false, nullptr).code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(store_->Add("ann", kPassword, false, nullptr).ok());
  EXPECT_EQ(store_->Add("ann", kPassword, false, nullptr).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(store_->Unlock("bob").code(), Status::Code::kNotFound);
  std::vector<Account> all;
  ASSERT_TRUE(store_->List(&all).ok());
  ASSERT_EQ(all.size(), 1u);
}

TEST_F(AccountStoreTest, FailuresBringGrowingDelaysThenALockOnlyAnUnlockClears) {
  ASSERT_TRUE(store_->Add("ann", kPassword, false, nullptr).ok());
  int64_t now = 5000;
  int64_t last_delay = 0;
  for (uint32_t i = 1; i < AccountStore::kLockAfterFailures; ++i) {
    LoginResult r = Login("ann", "wrong password here", now);
    ASSERT_EQ(r.verdict, LoginVerdict::kBadCredentials) << "failure " << i;
    const int64_t delay = AccountStore::DelayAfter(i);
    EXPECT_GE(delay, last_delay);
    last_delay = delay;
    if (delay > 0) {
      // Too soon: refused without looking at the password, even the right one.
      LoginResult early = Login("ann", kPassword, now + delay - 1);
      EXPECT_EQ(early.verdict, LoginVerdict::kWait);
      EXPECT_EQ(early.retry_after, now + delay);
    }
    now += delay;
  }
  EXPECT_GT(last_delay, AccountStore::DelayAfter(AccountStore::kFreeFailures + 1));
  LoginResult locked = Login("ann", "wrong password here", now);
  EXPECT_EQ(locked.verdict, LoginVerdict::kLocked);
  EXPECT_TRUE(locked.just_locked);
  EXPECT_EQ(Login("ann", kPassword, now + 100000).verdict, LoginVerdict::kLocked);
  ASSERT_TRUE(store_->Unlock("ann").ok());
  EXPECT_EQ(Login("ann", kPassword, now + 100001).verdict, LoginVerdict::kOk);
}

TEST_F(AccountStoreTest, DisabledAccountsCannotSignIn) {
  ASSERT_TRUE(store_->Add("ann", kPassword, false, nullptr).ok());
  ASSERT_TRUE(store_->SetDisabled("ann", true).ok());
  EXPECT_EQ(Login("ann", kPassword, 10).verdict, LoginVerdict::kDisabled);
  ASSERT_TRUE(store_->SetDisabled("ann", false).ok());
  EXPECT_EQ(Login("ann", kPassword, 11).verdict, LoginVerdict::kOk);
}

TEST_F(AccountStoreTest, TotpIsAskedForAndChecked) {
  std::string b32;
  ASSERT_TRUE(store_->Add("ann", kPassword, true, &b32).ok());
  EXPECT_FALSE(b32.empty());
  Account a;
  ASSERT_TRUE(store_->Get("ann", &a).ok());
  const int64_t now = 1800000000;
  std::string code;
  ASSERT_TRUE(AccountStore::TotpCode(a.totp_secret, now, &code).ok());
  EXPECT_EQ(Login("ann", kPassword, now).verdict, LoginVerdict::kTotpNeeded);
  const std::string wrong = code == "000000" ? "111111" : "000000";
  EXPECT_EQ(Login("ann", kPassword, now, wrong).verdict, LoginVerdict::kBadCredentials);
  EXPECT_EQ(Login("ann", kPassword, now + 1, code).verdict, LoginVerdict::kOk);
}

TEST_F(AccountStoreTest, ResetGivesANewPasswordWithoutSpaces) {
  ASSERT_TRUE(store_->Add("ann", kPassword, false, nullptr).ok());
  std::string fresh;
  ASSERT_TRUE(store_->ResetPassword("ann", &fresh).ok());
  EXPECT_EQ(fresh.size(), 20u);
  EXPECT_EQ(fresh.find(' '), std::string::npos);
  EXPECT_EQ(Login("ann", kPassword, 10).verdict, LoginVerdict::kBadCredentials);
  EXPECT_EQ(Login("ann", fresh, 11).verdict, LoginVerdict::kOk);
}

}  // namespace
}  // namespace refx::console
