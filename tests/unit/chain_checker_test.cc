// Unit tests for refx::eventlog::ChainChecker: a chain built with ChainHash
// (the reference implementation in eventlog/hash_chain.h), fed whole and
// with each kind of damage.

#include "eventlog/chain_checker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "eventlog/hash_chain.h"

namespace refx::eventlog {
namespace {

struct Link {
  uint64_t seq;
  std::string bytes;
  std::string hash;
};

// Seqs 1..n with distinct bytes, chained from the genesis hash.
std::vector<Link> Chain(uint64_t n) {
  std::vector<Link> out;
  std::string prev = GenesisHash();
  for (uint64_t seq = 1; seq <= n; ++seq) {
    Link l{seq, "event-" + std::to_string(seq), ""};
    l.hash = ChainHash(prev, seq, l.bytes);
    prev = l.hash;
    out.push_back(l);
  }
  return out;
}

class ChainCheckerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto()); }
};

TEST_F(ChainCheckerTest, AnIntactChainLinksThroughAndEndsOnItsLastHash) {
  const std::vector<Link> links = Chain(5);
  ChainChecker checker;
  for (const Link& l : links) EXPECT_EQ(checker.Feed(l.seq, l.bytes, l.hash), ChainBreak::kNone) << l.seq;
  EXPECT_FALSE(checker.broken());
  EXPECT_EQ(checker.break_seq(), 0u);
  EXPECT_EQ(checker.checked(), 5u);
  EXPECT_EQ(checker.last_seq(), 5u);
  EXPECT_EQ(checker.expected(), 6u);
  EXPECT_EQ(checker.last_hash_bytes(), links.back().hash);
}

TEST_F(ChainCheckerTest, NothingFedLeavesTheGenesisHash) {
  ChainChecker checker;
  EXPECT_EQ(checker.last_seq(), 0u);
  EXPECT_EQ(checker.last_hash_bytes(), GenesisHash());
}

TEST_F(ChainCheckerTest, AlteredBytesBreakAtThatSeqAndStopTheWalk) {
  std::vector<Link> links = Chain(5);
  links[2].bytes[0] ^= 1;  // seq 3
  ChainChecker checker;
  EXPECT_EQ(checker.Feed(1, links[0].bytes, links[0].hash), ChainBreak::kNone);
  EXPECT_EQ(checker.Feed(2, links[1].bytes, links[1].hash), ChainBreak::kNone);
  EXPECT_EQ(checker.Feed(3, links[2].bytes, links[2].hash), ChainBreak::kHashMismatch);
  EXPECT_EQ(checker.break_seq(), 3u);
  EXPECT_EQ(checker.break_kind(), ChainBreak::kHashMismatch);
  EXPECT_EQ(checker.recomputed_hash(), ChainHash(links[1].hash, 3, links[2].bytes));
  // The walk stops: later events, even good ones, are not judged.
  EXPECT_EQ(checker.Feed(4, links[3].bytes, links[3].hash), ChainBreak::kStopped);
  EXPECT_EQ(checker.break_seq(), 3u);
  EXPECT_EQ(checker.last_seq(), 2u);
  EXPECT_EQ(checker.last_hash_bytes(), links[1].hash);
  EXPECT_EQ(checker.checked(), 2u);
}

TEST_F(ChainCheckerTest, AnAlteredStoredHashBreaksTheNextLink) {
  std::vector<Link> links = Chain(4);
  links[1].hash[5] ^= 1;  // seq 2's stored hash: seq 2 itself no longer matches
  ChainChecker checker;
  EXPECT_EQ(checker.Feed(1, links[0].bytes, links[0].hash), ChainBreak::kNone);
  EXPECT_EQ(checker.Feed(2, links[1].bytes, links[1].hash), ChainBreak::kHashMismatch);
  EXPECT_EQ(checker.break_seq(), 2u);
}

TEST_F(ChainCheckerTest, AGapNamesTheFirstMissingSeq) {
  const std::vector<Link> links = Chain(5);
  ChainChecker checker;
  EXPECT_EQ(checker.Feed(1, links[0].bytes, links[0].hash), ChainBreak::kNone);
  EXPECT_EQ(checker.Feed(4, links[3].bytes, links[3].hash), ChainBreak::kMissing);
  EXPECT_EQ(checker.break_seq(), 2u);
  EXPECT_EQ(checker.last_seq(), 1u);
}

TEST_F(ChainCheckerTest, AMissingFirstEventIsSeqOne) {
  const std::vector<Link> links = Chain(3);
  ChainChecker checker;
  EXPECT_EQ(checker.Feed(2, links[1].bytes, links[1].hash), ChainBreak::kMissing);
  EXPECT_EQ(checker.break_seq(), 1u);
}

TEST_F(ChainCheckerTest, ARepeatedSeqIsOutOfOrder) {
  const std::vector<Link> links = Chain(3);
  ChainChecker checker;
  EXPECT_EQ(checker.Feed(1, links[0].bytes, links[0].hash), ChainBreak::kNone);
  EXPECT_EQ(checker.Feed(2, links[1].bytes, links[1].hash), ChainBreak::kNone);
  EXPECT_EQ(checker.Feed(2, links[1].bytes, links[1].hash), ChainBreak::kOutOfOrder);
  EXPECT_EQ(checker.break_seq(), 2u);
}

TEST_F(ChainCheckerTest, AStoredHashOfTheWrongSizeIsNamed) {
  const std::vector<Link> links = Chain(2);
  ChainChecker checker;
  EXPECT_EQ(checker.Feed(1, links[0].bytes, links[0].hash.substr(0, 31)), ChainBreak::kBadHashSize);
  EXPECT_EQ(checker.break_seq(), 1u);
}

TEST_F(ChainCheckerTest, AWalkStartsMidwayFromAGivenHash) {
  const std::vector<Link> links = Chain(6);
  ChainChecker checker(4, links[2].hash);
  for (size_t i = 3; i < links.size(); ++i) {
    EXPECT_EQ(checker.Feed(links[i].seq, links[i].bytes, links[i].hash), ChainBreak::kNone);
  }
  EXPECT_EQ(checker.checked(), 3u);
  // A wrong starting hash breaks the first link.
  ChainChecker wrong(4, links[1].hash);
  EXPECT_EQ(wrong.Feed(4, links[3].bytes, links[3].hash), ChainBreak::kHashMismatch);
  EXPECT_EQ(wrong.break_seq(), 4u);
}

TEST_F(ChainCheckerTest, AnUnknownPredecessorLeavesOnlyTheFirstLinkUnchecked) {
  std::vector<Link> links = Chain(6);
  ChainChecker checker(4, "");
  EXPECT_EQ(checker.Feed(4, links[3].bytes, links[3].hash), ChainBreak::kNone);
  links[4].bytes += "!";
  EXPECT_EQ(checker.Feed(5, links[4].bytes, links[4].hash), ChainBreak::kHashMismatch);
  EXPECT_EQ(checker.break_seq(), 5u);
}

}  // namespace
}  // namespace refx::eventlog
