// Unit tests for CURVE key pairs (core/curve_keys.h).

#include "client/curve_keygen.h"
#include "core/curve_keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zmq.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "tests/unit/test_util.h"

namespace refx {
namespace {

namespace fs = std::filesystem;
using refx::testing::TempDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  ASSERT_TRUE(out) << path;
  out << text;
}

CurveKeyPair MustGenerate() {
  CurveKeyPair pair;
  Status s = GenerateCurveKeyPair(&pair);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return pair;
}

TEST(CurveKeysTest, GeneratedKeysAreDistinctZ85) {
  const CurveKeyPair a = MustGenerate();
  const CurveKeyPair b = MustGenerate();
  EXPECT_EQ(a.public_key.size(), 40u);
  EXPECT_EQ(a.secret_key.size(), 40u);
  EXPECT_TRUE(IsZ85Key(a.public_key));
  EXPECT_TRUE(IsZ85Key(a.secret_key));
  EXPECT_NE(a.public_key, a.secret_key);
  EXPECT_NE(a.public_key, b.public_key);
  EXPECT_NE(a.secret_key, b.secret_key);
}

TEST(CurveKeysTest, IsZ85Key) {
  const std::string good = MustGenerate().public_key;
  EXPECT_TRUE(IsZ85Key(good));
  EXPECT_TRUE(IsZ85Key(std::string(40, '0')));
  EXPECT_FALSE(IsZ85Key(""));
  EXPECT_FALSE(IsZ85Key(good.substr(0, 39)));
  EXPECT_FALSE(IsZ85Key(good + "0"));
  EXPECT_FALSE(IsZ85Key(" " + good.substr(1)));      // space is not Z85
  EXPECT_FALSE(IsZ85Key(good.substr(0, 39) + "~"));  // '~' is not Z85
  EXPECT_FALSE(IsZ85Key(good.substr(0, 39) + "\""));  // nor '"'
  EXPECT_FALSE(IsZ85Key(good.substr(0, 39) + "\n"));
}

// core/ checks Z85 without libzmq; it must accept exactly what libzmq's
// decoder accepts: generated keys, one-character changes of them (every
// printable character and a few others at each place) and each five-character
// group at the 32-bit bound.
TEST(CurveKeysTest, IsZ85KeyAgreesWithLibzmq) {
  auto zmq_accepts = [](const std::string& z85) {
    uint8_t raw[32];
    return z85.size() == 40 && zmq_z85_decode(raw, z85.c_str()) != nullptr;
  };
  CurveKeyPair pair;
  ASSERT_TRUE(GenerateCurveKeyPair(&pair).ok());
  std::mt19937 random(20261204);
  int accepted = 0, refused = 0;
  for (int c = 1; c < 256; ++c) {
    std::string key = pair.public_key;
    key[random() % 40] = static_cast<char>(c);
    EXPECT_EQ(IsZ85Key(key), zmq_accepts(key)) << "character " << c;
    (IsZ85Key(key) ? accepted : refused)++;
  }
  EXPECT_GT(accepted, 0);
  EXPECT_GT(refused, 0);
  // "%nSc0" is 0xFFFFFFFF, the largest group; "%nSc1" is one more.
  for (const std::string group : {"%nSc0", "%nSc1", "#####", "00000"}) {
    std::string key = pair.secret_key;
    key.replace(35, 5, group);
    EXPECT_EQ(IsZ85Key(key), zmq_accepts(key)) << group;
  }
  EXPECT_TRUE(IsZ85Key(std::string(pair.public_key).replace(0, 5, "%nSc0")));
  EXPECT_FALSE(IsZ85Key(std::string(pair.public_key).replace(0, 5, "%nSc1")));
}

TEST(CurveKeysTest, SaveThenLoadRoundTrips) {
  TempDir dir;
  const CurveKeyPair pair = MustGenerate();
  const std::string keys = dir.Sub("nested/keys");  // created by Save
  Status s = SaveCurveKeyPair(keys, "kent-police", pair);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ReadFile(keys + "/kent-police.pub"), pair.public_key + "\n");
  EXPECT_EQ(ReadFile(keys + "/kent-police.key"), pair.secret_key + "\n");

  CurveKeyPair loaded;
  s = LoadCurveKeyPair(keys, "kent-police", &loaded);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(loaded.public_key, pair.public_key);
  EXPECT_EQ(loaded.secret_key, pair.secret_key);

  std::string z85;
  ASSERT_TRUE(ReadCurveKeyFile(keys + "/kent-police.pub", &z85).ok());
  EXPECT_EQ(z85, pair.public_key);
}

TEST(CurveKeysTest, SecretKeyFileIsMode0600) {
  TempDir dir;
  ASSERT_TRUE(SaveCurveKeyPair(dir.path(), "refx-admin", MustGenerate()).ok());
  struct stat st {};
  ASSERT_EQ(stat(dir.Sub("refx-admin.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u) << std::oct << (st.st_mode & 07777);
  // The public file may be shared but must not be writable by others.
  ASSERT_EQ(stat(dir.Sub("refx-admin.pub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & S_IWOTH, 0u);
}

TEST(CurveKeysTest, SaveRefusesToOverwrite) {
  TempDir dir;
  const CurveKeyPair first = MustGenerate();
  ASSERT_TRUE(SaveCurveKeyPair(dir.path(), "davss", first).ok());
  Status s = SaveCurveKeyPair(dir.path(), "davss", MustGenerate());
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  CurveKeyPair loaded;
  ASSERT_TRUE(LoadCurveKeyPair(dir.path(), "davss", &loaded).ok());
  EXPECT_EQ(loaded.public_key, first.public_key);
  EXPECT_EQ(loaded.secret_key, first.secret_key);

  // Either file existing is enough to refuse.
  WriteFile(dir.Sub("cgl.pub"), first.public_key + "\n");
  s = SaveCurveKeyPair(dir.path(), "cgl", MustGenerate());
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(fs::exists(dir.Sub("cgl.key")));
  WriteFile(dir.Sub("pas.key"), first.secret_key + "\n");
  s = SaveCurveKeyPair(dir.path(), "pas", MustGenerate());
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(fs::exists(dir.Sub("pas.pub")));
  EXPECT_EQ(ReadFile(dir.Sub("pas.key")), first.secret_key + "\n");
}

TEST(CurveKeysTest, ReadKeyFileTrimsWhiteSpace) {
  TempDir dir;
  const std::string key = MustGenerate().public_key;
  WriteFile(dir.Sub("a.pub"), "\n  \t" + key + " \r\n\n");
  std::string z85;
  Status s = ReadCurveKeyFile(dir.Sub("a.pub"), &z85);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(z85, key);
}

TEST(CurveKeysTest, ReadKeyFileRefusesBadContent) {
  TempDir dir;
  const std::string key = MustGenerate().public_key;
  const std::string bad[] = {"", "\n", "short", key + key, key.substr(0, 20) + " " + key.substr(21)};
  int i = 0;
  for (const std::string& text : bad) {
    const std::string path = dir.Sub("bad" + std::to_string(i++) + ".pub");
    WriteFile(path, text);
    std::string z85 = "unchanged";
    Status s = ReadCurveKeyFile(path, &z85);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find(path), std::string::npos) << "message should name the file: " << s.message();
    EXPECT_EQ(z85, "unchanged");
  }
}

TEST(CurveKeysTest, MissingFilesAreErrors) {
  TempDir dir;
  std::string z85;
  Status s = ReadCurveKeyFile(dir.Sub("absent.pub"), &z85);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("absent.pub"), std::string::npos) << s.message();

  CurveKeyPair pair;
  EXPECT_FALSE(LoadCurveKeyPair(dir.path(), "absent", &pair).ok());
  // Public key present, secret key missing.
  WriteFile(dir.Sub("half.pub"), MustGenerate().public_key + "\n");
  EXPECT_FALSE(LoadCurveKeyPair(dir.path(), "half", &pair).ok());
}

}  // namespace
}  // namespace refx
