// Unit tests for subject keys (core/subject_key.h): normalisation, the
// keyed hash and the key file.

#include "core/subject_key.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "tests/unit/test_util.h"

namespace refx {
namespace {

using refx::testing::TempDir;

std::string Secret(char fill) { return std::string(kSubjectSecretBytes, fill); }

v1::Referral PersonReferral(const std::string& given, const std::string& family, const std::string& dob) {
  v1::Referral r;
  r.mutable_person()->set_given_name(given);
  r.mutable_person()->set_family_name(family);
  r.mutable_person()->set_date_of_birth(dob);
  return r;
}

v1::Referral ContextReferral(v1::ContextKind kind, const std::string& name, const std::string& ward) {
  v1::Referral r;
  r.mutable_context()->set_kind(kind);
  r.mutable_context()->set_name(name);
  r.mutable_context()->set_ward(ward);
  return r;
}

TEST(NormaliseNameTest, LowerCaseLettersOnly) {
  EXPECT_EQ(NormaliseName("  Alex  Example"), NormaliseName("alex example"));
  EXPECT_EQ(NormaliseName("  Alex  Example"), "alexexample");
  EXPECT_EQ(NormaliseName("O'Brien-Smith 2nd"), "obriensmithnd");
  EXPECT_EQ(NormaliseName(""), "");
  EXPECT_EQ(NormaliseName(" -'. "), "");
  // Bytes outside ASCII are kept as they are.
  EXPECT_EQ(NormaliseName("Zo\xC3\xAB"), "zo\xC3\xAB");
}

TEST(SubjectKeyTest, PersonIdentity) {
  EXPECT_EQ(SubjectIdentity(PersonReferral("  Alex ", " Example", "1990-01-01")), "p|alexexample|1990-01-01");
  EXPECT_EQ(SubjectIdentity(PersonReferral("Alex", "Example", "")), "");
  EXPECT_EQ(SubjectIdentity(PersonReferral("Alex", "Example", "1990-02-30")), "");
  EXPECT_EQ(SubjectIdentity(PersonReferral("", " ", "1990-01-01")), "");
  EXPECT_EQ(SubjectIdentity(v1::Referral()), "");
}

TEST(SubjectKeyTest, ContextIdentity) {
  EXPECT_EQ(SubjectIdentity(ContextReferral(v1::LOCATION, "Example Skate Park", "Swanley White Oak")),
            "c|LOCATION|exampleskatepark|swanleywhiteoak");
  EXPECT_EQ(SubjectIdentity(ContextReferral(v1::LOCATION, "", "Swanley White Oak")), "");
}

TEST(SubjectKeyTest, SameNormalisedIdentitySameKey) {
  const std::string a = SubjectKey(Secret(1), PersonReferral("  Alex", "  Example", "1990-01-01"));
  const std::string b = SubjectKey(Secret(1), PersonReferral("alex", "example", "1990-01-01"));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(SubjectKeyTest, DifferentDateOfBirthDifferentKey) {
  EXPECT_NE(SubjectKey(Secret(1), PersonReferral("Alex", "Example", "1990-01-01")),
            SubjectKey(Secret(1), PersonReferral("Alex", "Example", "1990-01-02")));
}

TEST(SubjectKeyTest, DifferentSecretDifferentKey) {
  const v1::Referral r = PersonReferral("Alex", "Example", "1990-01-01");
  EXPECT_NE(SubjectKey(Secret(1), r), SubjectKey(Secret(2), r));
}

TEST(SubjectKeyTest, PersonAndContextNeverCollide) {
  EXPECT_NE(SubjectKey(Secret(1), ContextReferral(v1::PEER_GROUP, "Alex Example", "")),
            SubjectKey(Secret(1), PersonReferral("Alex", "Example", "1990-01-01")));
  EXPECT_NE(SubjectKey(Secret(1), ContextReferral(v1::PEER_GROUP, "Lane lot", "Swanley")),
            SubjectKey(Secret(1), ContextReferral(v1::SCHOOL, "Lane lot", "Swanley")));
}

TEST(SubjectKeyTest, IsHmacSha256OfTheIdentity) {
  const std::string secret = Secret(7);
  const v1::Referral r = PersonReferral("Alex", "Example", "1990-01-01");
  const std::string identity = SubjectIdentity(r);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  ASSERT_GE(sodium_init(), 0);
  crypto_auth_hmacsha256(mac, reinterpret_cast<const unsigned char*>(identity.data()), identity.size(),
                         reinterpret_cast<const unsigned char*>(secret.data()));
  char hex[2 * sizeof mac + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  EXPECT_EQ(SubjectKey(secret, r), std::string(hex));
}

TEST(SubjectKeyTest, NoKeyWithoutIdentityOrWithABadSecret) {
  EXPECT_EQ(SubjectKey(Secret(1), PersonReferral("Alex", "Example", "")), "");
  EXPECT_EQ(SubjectKey("short", PersonReferral("Alex", "Example", "1990-01-01")), "");
  EXPECT_EQ(SubjectKey("", PersonReferral("Alex", "Example", "1990-01-01")), "");
}

TEST(SubjectKeyFileTest, GenerateThenLoad) {
  TempDir dir;
  const std::string path = dir.Sub("keys/subject.hmac");
  ASSERT_TRUE(GenerateSubjectKeyFile(path).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::string secret;
  Status s = LoadSubjectKeyFile(path, &secret);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(secret.size(), kSubjectSecretBytes);
  // Never overwritten.
  EXPECT_EQ(GenerateSubjectKeyFile(path).code(), Status::Code::kInvalidArgument);
  std::string again;
  ASSERT_TRUE(LoadSubjectKeyFile(path, &again).ok());
  EXPECT_EQ(again, secret);
  // Two generated keys differ.
  ASSERT_TRUE(GenerateSubjectKeyFile(dir.Sub("other.hmac")).ok());
  std::string other;
  ASSERT_TRUE(LoadSubjectKeyFile(dir.Sub("other.hmac"), &other).ok());
  EXPECT_NE(other, secret);
}

TEST(SubjectKeyFileTest, LoadAcceptsSurroundingSpaceAndRefusesBadFiles) {
  TempDir dir;
  const std::string hex(64, 'a');
  std::ofstream(dir.Sub("ok.hmac")) << "  " << hex << "\n\n";
  std::string secret;
  ASSERT_TRUE(LoadSubjectKeyFile(dir.Sub("ok.hmac"), &secret).ok());
  EXPECT_EQ(secret, std::string(kSubjectSecretBytes, '\xaa'));

  std::ofstream(dir.Sub("short.hmac")) << std::string(63, 'a') << "\n";
  Status s = LoadSubjectKeyFile(dir.Sub("short.hmac"), &secret);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("short.hmac"), std::string::npos);

  std::ofstream(dir.Sub("nothex.hmac")) << std::string(63, 'a') << "g\n";
  s = LoadSubjectKeyFile(dir.Sub("nothex.hmac"), &secret);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  // The file's content is not quoted back.
  EXPECT_EQ(s.message().find("aaaa"), std::string::npos);

  EXPECT_EQ(LoadSubjectKeyFile(dir.Sub("missing.hmac"), &secret).code(), Status::Code::kIoError);
}

// A searcher types one name: it hashes as a referral whose name is split
// anywhere between given and family names, with any spacing and case.
TEST(SubjectKeyTest, PersonSubjectKeyMatchesTheRoutersKeyOfTheSamePerson) {
  const std::string secret = Secret('k');
  const std::string routed = SubjectKey(secret, PersonReferral("Alex", "O'Brien-Smith", "1990-02-03"));
  ASSERT_FALSE(routed.empty());
  for (const char* typed : {"Alex O'Brien-Smith", "  alex   OBRIEN smith ", "ALEX O BRIEN-SMITH"}) {
    std::string key;
    ASSERT_TRUE(PersonSubjectKey(secret, typed, "1990-02-03", &key).ok()) << typed;
    EXPECT_EQ(key, routed) << typed;
  }
  std::string other;
  ASSERT_TRUE(PersonSubjectKey(secret, "Alex O'Brien-Smith", "1990-02-04", &other).ok());
  EXPECT_NE(other, routed);
}

TEST(SubjectKeyTest, PersonSubjectKeyRefusesWhatCannotNameAPerson) {
  std::string key = "unchanged";
  Status s = PersonSubjectKey(Secret('k'), " - ' ", "1990-02-03", &key);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.field_path(), "name");
  s = PersonSubjectKey(Secret('k'), "Alex Example", "03/02/1990", &key);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.field_path(), "dob");
  EXPECT_EQ(s.message().find("1990"), std::string::npos) << "the date must not be quoted back";
  EXPECT_EQ(PersonSubjectKey("short", "Alex Example", "1990-02-03", &key).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(key, "unchanged");
}

}  // namespace
}  // namespace refx
