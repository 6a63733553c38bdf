// OutcomeIndex: outcomes survive reopening, a torn last line is ignored and
// cut off, a refused resend keeps the acceptance, WaitNewer wakes on a newer
// outcome and times out without one, answers older than `keep` leave memory
// (given back to the system after a bulk load's sweep) and the file, and
// lines written before they carried a time are still read.
#include "adapters/forward/outcome_index.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <thread>
#include <vector>

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

size_t LinesIn(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) ++n;
  return n;
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
  auto lines_in = [&path] { return LinesIn(path); };
  {
    std::unique_ptr<OutcomeIndex> index;
    OutcomeIndexOptions options;
    options.compact_after_lines = 20;
    ASSERT_TRUE(OutcomeIndex::Open(path, &index, options).ok());
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

TEST(OutcomeIndexTest, AnswersOlderThanKeepLeaveMemoryAndTheFile) {
  testing::TempDir tmp;
  const std::string path = tmp.Sub("outcomes.log");
  int64_t now = 1'800'000'000;
  OutcomeIndexOptions options;
  options.compact_after_lines = 4;
  options.keep = std::chrono::hours(24);
  options.now = [&now] { return now; };
  auto lines_in = [&path] { return LinesIn(path); };
  std::unique_ptr<OutcomeIndex> index;
  ASSERT_TRUE(OutcomeIndex::Open(path, &index, options).ok());
  // A bulk load: a thousand answers on one day.
  for (int i = 0; i < 1000; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_TRUE(index->Record({Accepted("BULK-" + n, "R-" + n, static_cast<uint64_t>(i + 1))}).ok());
  }
  ForwardOutcome o;
  ASSERT_TRUE(index->Find("BULK-7", &o).ok());
  const uint64_t old_version = index->Version("BULK-7");
  EXPECT_EQ(index->references(), 1000u);

  now += 23 * 3600;
  EXPECT_TRUE(index->Find("BULK-7", &o).ok()) << "kept for a day";
  now += 2 * 3600;
  EXPECT_EQ(index->Find("BULK-7", &o).code(), Status::Code::kNotFound) << "older than a day";
  // The next answer sweeps memory and compacts the file to what is left.
  ASSERT_TRUE(index->Record({Accepted("NEW-1", "R-2000", 2000), Accepted("BULK-7", "R-7", 8)}).ok());
  EXPECT_EQ(index->references(), 2u);
  EXPECT_EQ(index->lines(), 2u);
  EXPECT_EQ(lines_in(), 2u);
  EXPECT_GT(index->Version("BULK-7"), old_version) << "a version above any seen before the sweep";

  // Reopened a day later still: nothing kept is taken in.
  index.reset();
  now += 25 * 3600;
  ASSERT_TRUE(OutcomeIndex::Open(path, &index, options).ok());
  EXPECT_EQ(index->references(), 0u);
  EXPECT_EQ(index->Find("NEW-1", &o).code(), Status::Code::kNotFound);
}

// Resident memory of this process, in bytes.
size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

// Whether a sanitizer replaces glibc's allocator (GCC says so with
// __SANITIZE_ADDRESS__, clang 14 only through __has_feature).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define REFX_SANITIZER_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define REFX_SANITIZER_ALLOCATOR 1
#endif
#endif

TEST(OutcomeIndexTest, ASweepOfABulkLoadGivesItsMemoryBackToTheSystem) {
#ifdef REFX_SANITIZER_ALLOCATOR
  GTEST_SKIP() << "the sanitizer's allocator, not glibc's, holds the memory";
#else
  testing::TempDir tmp;
  int64_t now = 1'800'000'000;
  OutcomeIndexOptions options;
  options.keep = std::chrono::hours(24);
  options.now = [&now] { return now; };
  std::unique_ptr<OutcomeIndex> index;
  ASSERT_TRUE(OutcomeIndex::Open(tmp.Sub("outcomes.log"), &index, options).ok());
  const size_t before = ResidentBytes();
  // 300,000 answers published as the forwarder does, in batches.
  for (int b = 0; b < 300; ++b) {
    std::vector<ForwardOutcome> batch;
    for (int i = 0; i < 1000; ++i) {
      const std::string n = std::to_string(b * 1000 + i);
      batch.push_back(Accepted("BULK-REFERENCE-" + n, "R-" + n, static_cast<uint64_t>(b * 1000 + i + 1)));
    }
    index->Publish(batch);
  }
  const size_t loaded = ResidentBytes();
  ASSERT_GT(loaded, before + (40u << 20)) << "the load should take tens of MB";
  now += 25 * 3600;
  index->Publish({Accepted("NEW-1", "R-900000", 900000)});
  EXPECT_EQ(index->references(), 1u);
  const size_t after = ResidentBytes();
  EXPECT_LT(after, before + (loaded - before) / 4)
      << "resident MB: " << (before >> 20) << " before, " << (loaded >> 20) << " loaded, " << (after >> 20)
      << " after the sweep";
#endif
}

TEST(OutcomeIndexTest, LinesWithoutATimeAreReadAndKeptFromWhenRead) {
  testing::TempDir tmp;
  const std::string path = tmp.Sub("outcomes.log");
  // The format before lines carried RECORDED-AT.
  std::ofstream(path) << "A\tOLD-1\tR-0000000001\t1\nR\tOLD-2\t" << static_cast<int>(Status::Code::kPermissionDenied)
                      << "\tmay not submit\n";
  int64_t now = 1'800'000'000;
  OutcomeIndexOptions options;
  options.keep = std::chrono::hours(24);
  options.now = [&now] { return now; };
  std::unique_ptr<OutcomeIndex> index;
  ASSERT_TRUE(OutcomeIndex::Open(path, &index, options).ok());
  ForwardOutcome o;
  ASSERT_TRUE(index->Find("OLD-1", &o).ok());
  EXPECT_EQ(o.seq, 1u);
  EXPECT_EQ(o.recorded_at, now);
  ASSERT_TRUE(index->Find("OLD-2", &o).ok());
  EXPECT_EQ(o.refusal.code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(o.refusal.message(), "may not submit");
  now += 25 * 3600;
  EXPECT_EQ(index->Find("OLD-1", &o).code(), Status::Code::kNotFound);
  // A line with a malformed time is skipped, not taken as 0 or as now.
  index.reset();
  std::ofstream(path) << "A\tBAD-1\tR-0000000001\t1\tyesterday\n";
  ASSERT_TRUE(OutcomeIndex::Open(path, &index, options).ok());
  EXPECT_EQ(index->Find("BAD-1", &o).code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace refx::adapters
