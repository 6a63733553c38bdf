// OutcomeIndex: outcomes survive reopening, a torn last line is ignored and
// cut off, a refused resend keeps the acceptance, WaitNewer wakes on a newer
// outcome and times out without one.
#include "adapters/forward/outcome_index.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "tests/unit/test_util.h"

namespace refx::adapters {
namespace {

ForwardOutcome Accepted(const std::string& ref, const std::string& id, uint64_t seq) {
  ForwardOutcome o;
  o.referrer_reference = ref;
  o.accepted = true;
  o.referral_id = id;
  o.seq = seq;
  return o;
}

ForwardOutcome Refused(const std::string& ref, Status why) {
  ForwardOutcome o;
  o.referrer_reference = ref;
  o.refusal = std::move(why);
  return o;
}

TEST(OutcomeIndexTest, OutcomesSurviveReopenAndATornLineIsIgnored) {
  testing::TempDir tmp;
  const std::string path = tmp.Sub("outcomes.log");
  {
    std::unique_ptr<OutcomeIndex> index;
    ASSERT_TRUE(OutcomeIndex::Open(path, &index).ok());
    ASSERT_TRUE(index->Record({Accepted("A-1", "R-0000000001", 1),
                               Refused("A-2", Status::PermissionDenied("may not\tsubmit\nthis"))})
                    .ok());
  }
  std::ofstream(path, std::ios::app) << "A\tA-3\tR-00000";  // a crash mid-append
  std::unique_ptr<OutcomeIndex> index;
  ASSERT_TRUE(OutcomeIndex::Open(path, &index).ok());
  ForwardOutcome o;
  ASSERT_TRUE(index->Find("A-1", &o).ok());
  EXPECT_TRUE(o.accepted);
  EXPECT_EQ(o.referral_id, "R-0000000001");
  EXPECT_EQ(o.seq, 1u);
  ASSERT_TRUE(index->Find("A-2", &o).ok());
  EXPECT_FALSE(o.accepted);
  EXPECT_EQ(o.refusal.code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(o.refusal.message(), "may not submit this");
  EXPECT_EQ(index->Find("A-3", &o).code(), Status::Code::kNotFound);
  // The next record starts a line of its own.
  ASSERT_TRUE(index->Record({Accepted("A-4", "R-0000000004", 4)}).ok());
  index.reset();
  ASSERT_TRUE(OutcomeIndex::Open(path, &index).ok());
  ASSERT_TRUE(index->Find("A-4", &o).ok());
  EXPECT_EQ(o.seq, 4u);
}

TEST(OutcomeIndexTest, ARefusedResendKeepsTheAcceptance) {
  testing::TempDir tmp;
  std::unique_ptr<OutcomeIndex> index;
  ASSERT_TRUE(OutcomeIndex::Open(tmp.Sub("outcomes.log"), &index).ok());
  ASSERT_TRUE(index->Record({Accepted("A-1", "R-0000000001", 1)}).ok());
  const uint64_t v = index->Version("A-1");
  ASSERT_TRUE(index->Record({Refused("A-1", Status::IdempotencyConflict("different referral"))}).ok());
  EXPECT_GT(index->Version("A-1"), v);
  ForwardOutcome o;
  ASSERT_TRUE(index->Find("A-1", &o).ok());
  EXPECT_TRUE(o.accepted);
  EXPECT_EQ(o.seq, 1u);
  EXPECT_EQ(o.refusal.code(), Status::Code::kIdempotencyConflict);
}

TEST(OutcomeIndexTest, WaitNewerWakesOnANewerOutcome) {
  testing::TempDir tmp;
  std::unique_ptr<OutcomeIndex> index;
  ASSERT_TRUE(OutcomeIndex::Open(tmp.Sub("outcomes.log"), &index).ok());
  ForwardOutcome o;
  EXPECT_EQ(index->WaitNewer("A-1", 0, std::chrono::steady_clock::now() + std::chrono::milliseconds(10), &o).code(),
            Status::Code::kTimeout);
  std::thread recorder([&] { ASSERT_TRUE(index->Record({Accepted("A-1", "R-0000000001", 1)}).ok()); });
  Status s = index->WaitNewer("A-1", 0, std::chrono::steady_clock::now() + std::chrono::seconds(60), &o);
  recorder.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(o.referral_id, "R-0000000001");
}

TEST(OutcomeIndexTest, ResentAnswersAreCompactedAwayKeepingTheLatestPerReference) {
  testing::TempDir tmp;
  const std::string path = tmp.Sub("outcomes.log");
  auto lines_in = [&path] {
    std::ifstream in(path);
    std::string line;
    size_t n = 0;
    while (std::getline(in, line)) ++n;
    return n;
  };
  {
    std::unique_ptr<OutcomeIndex> index;
    ASSERT_TRUE(OutcomeIndex::Open(path, &index, /*compact_after_lines=*/20).ok());
    // Three references answered again and again (resends after lost acks),
    // one of them later refused as a conflicting resubmission.
    for (int round = 0; round < 10; ++round) {
      ASSERT_TRUE(index->Record({Accepted("A-1", "R-0000000001", 1), Accepted("A-2", "R-0000000002", 2),
                                 Refused("A-3", Status::PermissionDenied("may not submit"))})
                      .ok());
    }
    ASSERT_TRUE(index->Record({Refused("A-1", Status::IdempotencyConflict("different referral"))}).ok());
    // 31 answers written; compacted whenever past 20 lines and twice the references.
    EXPECT_LE(index->lines(), 20u);
    EXPECT_EQ(index->lines(), lines_in());
    ASSERT_TRUE(index->Record({Accepted("A-4", "R-0000000004", 4)}).ok());
  }
  EXPECT_FALSE(std::ifstream(path + ".compact").good()) << "no temporary file left behind";
  std::unique_ptr<OutcomeIndex> index;
  ASSERT_TRUE(OutcomeIndex::Open(path, &index).ok());
  ForwardOutcome o;
  ASSERT_TRUE(index->Find("A-1", &o).ok());
  EXPECT_TRUE(o.accepted);
  EXPECT_EQ(o.referral_id, "R-0000000001");
  EXPECT_EQ(o.refusal.code(), Status::Code::kIdempotencyConflict) << "the later refusal is kept beside the acceptance";
  ASSERT_TRUE(index->Find("A-2", &o).ok());
  EXPECT_EQ(o.seq, 2u);
  ASSERT_TRUE(index->Find("A-3", &o).ok());
  EXPECT_FALSE(o.accepted);
  EXPECT_EQ(o.refusal.code(), Status::Code::kPermissionDenied);
  ASSERT_TRUE(index->Find("A-4", &o).ok()) << "an answer appended after a compaction survives";
  EXPECT_EQ(o.seq, 4u);
}

TEST(OutcomeIndexTest, PublishWakesWaitersAndWriteDurablyMakesItSurvive) {
  testing::TempDir tmp;
  const std::string path = tmp.Sub("outcomes.log");
  {
    std::unique_ptr<OutcomeIndex> index;
    ASSERT_TRUE(OutcomeIndex::Open(path, &index).ok());
    ForwardOutcome o;
    std::thread forwarder([&] { index->Publish({Accepted("A-1", "R-0000000001", 1)}); });
    Status s = index->WaitNewer("A-1", 0, std::chrono::steady_clock::now() + std::chrono::seconds(60), &o);
    forwarder.join();
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(o.seq, 1u);
    index->Publish({Accepted("A-2", "R-0000000002", 2)});
    ASSERT_TRUE(index->WriteDurably({Accepted("A-1", "R-0000000001", 1)}).ok());
  }
  std::unique_ptr<OutcomeIndex> index;
  ASSERT_TRUE(OutcomeIndex::Open(path, &index).ok());
  ForwardOutcome o;
  EXPECT_TRUE(index->Find("A-1", &o).ok()) << "written durably";
  EXPECT_EQ(index->Find("A-2", &o).code(), Status::Code::kNotFound) << "published only: not on disk";
}

}  // namespace
}  // namespace refx::adapters
