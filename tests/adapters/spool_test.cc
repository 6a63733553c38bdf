// The spool (adapters/spool/spool.h) on real files: what Append stores
// survives reopening, cursors are durable, acknowledged units leave, tmp/
// is discarded, a damaged unit is reported, and concurrent appends all land.
#include "adapters/spool/spool.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "tests/unit/test_util.h"

namespace refx::adapters {
namespace {

namespace fs = std::filesystem;

std::vector<v1::Referral> Referrals(const std::string& prefix, int n) {
  std::vector<v1::Referral> out;
  for (int i = 0; i < n; ++i) {
    v1::Referral r;
    r.set_referrer_reference(prefix + "-" + std::to_string(i));
    r.set_narrative("synthetic narrative " + std::to_string(i));
    out.push_back(std::move(r));
  }
  return out;
}

size_t FilesIn(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

TEST(SpoolTest, AppendThenOldestGivesTheUnitBack) {
  testing::TempDir tmp;
  std::unique_ptr<Spool> spool;
  ASSERT_TRUE(Spool::Open(tmp.Sub("spool"), &spool).ok());
  SpoolUnit unit;
  EXPECT_EQ(spool->Oldest(&unit).code(), Status::Code::kNotFound);
  ASSERT_TRUE(spool->Append(Referrals("A", 3), "http").ok());
  ASSERT_TRUE(spool->Append(Referrals("B", 2), "file:b.csv").ok());
  ASSERT_TRUE(spool->Oldest(&unit).ok());
  EXPECT_EQ(unit.source, "http");
  ASSERT_EQ(unit.size(), 3u);
  const std::vector<v1::Referral> referrals = unit.Decoded();
  EXPECT_EQ(referrals[2].referrer_reference(), "A-2");
  EXPECT_EQ(referrals[2].narrative(), "synthetic narrative 2");
  std::string reference;
  ASSERT_TRUE(ReferenceOfEncoded(unit.encoded[2], &reference));
  EXPECT_EQ(reference, "A-2");
  EXPECT_EQ(unit.acknowledged, 0u);
  SpoolUnit next;
  ASSERT_TRUE(spool->Next(unit.name, &next).ok());
  EXPECT_EQ(next.source, "file:b.csv");
  EXPECT_EQ(next.size(), 2u);
  EXPECT_EQ(spool->Next(next.name, &next).code(), Status::Code::kNotFound);
  SpoolFigures f = spool->Figures();
  EXPECT_EQ(f.units, 2u);
  EXPECT_EQ(f.referrals, 5u);
  EXPECT_TRUE(spool->FindWaiting("B-1").ok());
  EXPECT_EQ(spool->FindWaiting("C-0").code(), Status::Code::kNotFound);
}

// A reference sent again (a resend after a lost answer) is in two units:
// it is waiting while either copy is, and not once both are acknowledged.
TEST(SpoolTest, AReferenceInTwoUnitsIsWaitingUntilBothAreAcknowledged) {
  testing::TempDir tmp;
  std::unique_ptr<Spool> spool;
  ASSERT_TRUE(Spool::Open(tmp.Sub("spool"), &spool).ok());
  ASSERT_TRUE(spool->Append(Referrals("A", 3), "http").ok());
  ASSERT_TRUE(spool->Append(Referrals("A", 2), "http").ok());  // again
  SpoolUnit first, second;
  ASSERT_TRUE(spool->Oldest(&first).ok());
  ASSERT_TRUE(spool->Next(first.name, &second).ok());
  ASSERT_TRUE(spool->MarkAcknowledged(first.name, 2).ok());
  EXPECT_TRUE(spool->FindWaiting("A-0").ok()) << "its second copy is still waiting";
  EXPECT_TRUE(spool->FindWaiting("A-2").ok());
  ASSERT_TRUE(spool->MarkAcknowledged(second.name, 1).ok());
  EXPECT_EQ(spool->FindWaiting("A-0").code(), Status::Code::kNotFound);
  EXPECT_TRUE(spool->FindWaiting("A-1").ok());
  ASSERT_TRUE(spool->MarkAcknowledged(first.name, 3).ok());
  ASSERT_TRUE(spool->MarkAcknowledged(second.name, 2).ok());
  for (const char* reference : {"A-0", "A-1", "A-2"}) {
    EXPECT_EQ(spool->FindWaiting(reference).code(), Status::Code::kNotFound) << reference;
  }
}

TEST(SpoolTest, RefusesAReferralWithoutReferenceAndStoresNothing) {
  testing::TempDir tmp;
  std::unique_ptr<Spool> spool;
  ASSERT_TRUE(Spool::Open(tmp.Sub("spool"), &spool).ok());
  auto refs = Referrals("A", 3);
  refs[1].clear_referrer_reference();
  Status s = spool->Append(refs, "http");
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(spool->Append({}, "http").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(spool->Figures().units, 0u);
  EXPECT_EQ(FilesIn(tmp.Sub("spool/new")), 0u);
}

TEST(SpoolTest, CursorIsDurableAndAcknowledgedUnitsLeave) {
  testing::TempDir tmp;
  std::string dir = tmp.Sub("spool");
  {
    std::unique_ptr<Spool> spool;
    ASSERT_TRUE(Spool::Open(dir, &spool).ok());
    ASSERT_TRUE(spool->Append(Referrals("A", 4), "file:a.csv").ok());
    ASSERT_TRUE(spool->Append(Referrals("B", 1), "http").ok());
    SpoolUnit unit;
    ASSERT_TRUE(spool->Oldest(&unit).ok());
    ASSERT_TRUE(spool->MarkAcknowledged(unit.name, 3).ok());
    EXPECT_EQ(spool->FindWaiting("A-2").code(), Status::Code::kNotFound);
    EXPECT_TRUE(spool->FindWaiting("A-3").ok());
    EXPECT_EQ(spool->MarkAcknowledged(unit.name, 5).code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(spool->MarkAcknowledged("nope.unit", 1).code(), Status::Code::kNotFound);
  }
  std::unique_ptr<Spool> spool;
  ASSERT_TRUE(Spool::Open(dir, &spool).ok());
  EXPECT_EQ(spool->Figures().referrals, 2u);
  EXPECT_EQ(spool->FindWaiting("A-0").code(), Status::Code::kNotFound);
  EXPECT_TRUE(spool->FindWaiting("A-3").ok());
  SpoolUnit unit;
  ASSERT_TRUE(spool->Oldest(&unit).ok());
  EXPECT_EQ(unit.source, "file:a.csv");
  EXPECT_EQ(unit.acknowledged, 3u);
  ASSERT_TRUE(spool->MarkAcknowledged(unit.name, 4).ok());
  EXPECT_FALSE(fs::exists(dir + "/new/" + unit.name));
  EXPECT_FALSE(fs::exists(dir + "/cursor/" + unit.name));
  ASSERT_TRUE(spool->Oldest(&unit).ok());
  EXPECT_EQ(unit.source, "http");
  ASSERT_TRUE(spool->MarkAcknowledged(unit.name, 1).ok());
  EXPECT_EQ(spool->Oldest(&unit).code(), Status::Code::kNotFound);
  EXPECT_EQ(spool->Figures().units, 0u);
  // Names keep rising after a reopen, so a new unit sorts after old ones.
  ASSERT_TRUE(spool->Append(Referrals("C", 1), "http").ok());
  ASSERT_TRUE(spool->Oldest(&unit).ok());
  EXPECT_GT(unit.name, std::string("00000000000000000002.unit"));
}

TEST(SpoolTest, OpenDiscardsTmpAndStrayCursors) {
  testing::TempDir tmp;
  std::string dir = tmp.Sub("spool");
  {
    std::unique_ptr<Spool> spool;
    ASSERT_TRUE(Spool::Open(dir, &spool).ok());
  }
  std::ofstream(dir + "/tmp/00000000000000000009.unit") << "half written";
  std::ofstream(dir + "/cursor/00000000000000000007.unit") << "3\n";
  std::unique_ptr<Spool> spool;
  ASSERT_TRUE(Spool::Open(dir, &spool).ok());
  EXPECT_EQ(FilesIn(dir + "/tmp"), 0u);
  EXPECT_EQ(FilesIn(dir + "/cursor"), 0u);
  EXPECT_EQ(spool->Figures().units, 0u);
}

TEST(SpoolTest, DamagedUnitIsReportedNotSkipped) {
  testing::TempDir tmp;
  std::string dir = tmp.Sub("spool");
  std::string name;
  {
    std::unique_ptr<Spool> spool;
    ASSERT_TRUE(Spool::Open(dir, &spool).ok());
    ASSERT_TRUE(spool->Append(Referrals("A", 2), "http").ok());
    SpoolUnit unit;
    ASSERT_TRUE(spool->Oldest(&unit).ok());
    name = unit.name;
  }
  {
    std::fstream f(dir + "/new/" + name, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(12);
    f.put('\x7f');
  }
  std::unique_ptr<Spool> spool;
  Status s = Spool::Open(dir, &spool);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find(name), std::string::npos) << s.ToString();
}

TEST(SpoolTest, ConcurrentAppendsAllLandOnce) {
  testing::TempDir tmp;
  std::string dir = tmp.Sub("spool");
  constexpr int kThreads = 16, kPerThread = 40;
  {
    std::unique_ptr<Spool> spool;
    ASSERT_TRUE(Spool::Open(dir, &spool).ok());
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          if (!spool->Append(Referrals("T" + std::to_string(t) + "-" + std::to_string(i), 1), "http").ok()) {
            ++failures;
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    // Grouped: never more units than appends.
    EXPECT_LE(spool->Figures().units, static_cast<uint64_t>(kThreads * kPerThread));
  }
  std::unique_ptr<Spool> spool;
  ASSERT_TRUE(Spool::Open(dir, &spool).ok());
  std::multiset<std::string> seen;
  SpoolUnit unit;
  while (spool->Oldest(&unit).ok()) {
    for (const auto& r : unit.Decoded()) seen.insert(r.referrer_reference());
    ASSERT_TRUE(spool->MarkAcknowledged(unit.name, unit.size()).ok());
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kPerThread));
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      EXPECT_EQ(seen.count("T" + std::to_string(t) + "-" + std::to_string(i) + "-0"), 1u);
    }
  }
}

TEST(SpoolTest, AppendEncodedKeepsTheBytesAndTheirReferences) {
  testing::TempDir tmp;
  std::unique_ptr<Spool> spool;
  ASSERT_TRUE(Spool::Open(tmp.Sub("spool"), &spool).ok());
  std::vector<EncodedReferral> encoded;
  const std::string long_reference(300, 'L');  // a two-byte length
  for (const std::string& ref : {std::string("E-1"), long_reference}) {
    v1::Referral r;
    r.set_referrer_reference(ref);
    r.set_narrative("synthetic narrative");
    encoded.push_back({ref, r.SerializeAsString()});
  }
  const std::vector<std::string> sent = {encoded[0].bytes, encoded[1].bytes};
  ASSERT_TRUE(spool->AppendEncoded(std::move(encoded), "file:x.csv").ok());
  EXPECT_TRUE(spool->FindWaiting(long_reference).ok());
  SpoolUnit unit;
  ASSERT_TRUE(spool->Oldest(&unit).ok());
  EXPECT_EQ(unit.encoded, sent) << "the forwarder sends exactly the bytes spooled";
  std::string reference;
  ASSERT_TRUE(ReferenceOfEncoded(unit.encoded[1], &reference));
  EXPECT_EQ(reference, long_reference);
  // Bytes where field 1 is not first (another writer's order): parsed instead.
  v1::Referral tail_first;
  tail_first.set_narrative("synthetic");
  std::string odd = tail_first.SerializeAsString() + std::string("\x0a\x03T-9", 5);
  ASSERT_TRUE(ReferenceOfEncoded(odd, &reference));
  EXPECT_EQ(reference, "T-9");
  EXPECT_FALSE(ReferenceOfEncoded(std::string("\xff\xff\xff", 3), &reference));
}

}  // namespace
}  // namespace refx::adapters
