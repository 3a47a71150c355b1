#include "testing/forwarding_store.h"
#include "pipeline/batch_writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <thread>

#include "event/time.h"
#include "store/sqlite_store.h"
#include "testing/events.h"
#include "testing/fixed_times.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using testing::kHour;
using testing::TempDir;

// `n` successful completions in hour kHour, their durations 100 + i ms.
std::vector<GenerationEvent> successful_completions(int n) {
  std::vector<GenerationEvent> events;
  for (int i = 0; i < n; ++i) events.push_back(testing::make_completion(kHour, true, 100 + i));
  return events;
}

// The real SQLite store, with writes held until released: lets a test fill
// the writer's queue deterministically.
class GatedStore : public genalytics::testing::ForwardingStore<SqliteStore> {
 public:
  using genalytics::testing::ForwardingStore<SqliteStore>::ForwardingStore;
  // Generation writes are held; route writes pass through.
  void write(EventSpan events, std::vector<uint8_t>* inserted) override {
    if (std::holds_alternative<std::span<const GenerationEvent>>(events)) {
      std::unique_lock lock(mutex_);
      ++writes_started_;
      changed_.notify_all();
      changed_.wait(lock, [&] { return open_; });
    }
    store_.write(events, inserted);
  }

  void wait_for_write() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return writes_started_ > 0; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int writes_started_ = 0;
  bool open_ = false;
};

TEST(BatchWriterTest, WriteReportsAcceptedAndDuplicates) {
  TempDir dir;
  SqliteStore store(dir.path());
  BatchWriter writer(&store, {});
  auto events = successful_completions(10);
  WriteResult first = writer.write(events);
  EXPECT_TRUE(first.ok);
  EXPECT_EQ(first.accepted, 10u);
  EXPECT_EQ(first.duplicates, 0u);
  events.push_back(testing::make_completion(kHour, false, 5));
  WriteResult second = writer.write(events);
  EXPECT_EQ(second.accepted, 1u);
  EXPECT_EQ(second.duplicates, 10u);
  EXPECT_EQ(store.count_generation_events(), 11);
}

TEST(BatchWriterTest, ConcurrentSubmissionsAreGroupCommittedWithTheirOwnResults) {
  TempDir dir;
  GatedStore store(dir.path());
  BatchWriter writer(&store, {});
  // The first submission occupies the writer; the next ones queue up and are
  // committed together.
  std::atomic<int> done{0};
  std::vector<WriteResult> results(6);
  auto first = successful_completions(3);
  ASSERT_EQ(writer.submit(first, [&](WriteResult r) { results[0] = r; ++done; }),
            SubmitStatus::kQueued);
  store.wait_for_write();
  for (int i = 1; i < 6; ++i) {
    auto events = successful_completions(i);
    if (i == 5) events.push_back(first[0]);  // one duplicate of the first submission
    ASSERT_EQ(writer.submit(events, [&, i](WriteResult r) { results[i] = r; ++done; }),
              SubmitStatus::kQueued);
  }
  store.open();
  writer.shutdown();
  EXPECT_EQ(done.load(), 6);
  EXPECT_EQ(results[0].accepted, 3u);
  for (int i = 1; i < 6; ++i) {
    EXPECT_TRUE(results[i].ok);
    EXPECT_EQ(results[i].accepted, static_cast<size_t>(i)) << i;
    EXPECT_EQ(results[i].duplicates, i == 5 ? 1u : 0u) << i;
  }
  EXPECT_EQ(store.count_generation_events(), 3 + 1 + 2 + 3 + 4 + 5);
}

TEST(BatchWriterTest, FullQueueRefusesWithoutQueueing) {
  TempDir dir;
  GatedStore store(dir.path());
  BatchWriter writer(&store, BatchWriter::Options{/*max_queued_events=*/10, 1000});
  std::atomic<int> done{0};
  ASSERT_EQ(writer.submit(successful_completions(8), [&](WriteResult) { ++done; }),
            SubmitStatus::kQueued);
  store.wait_for_write();
  EXPECT_EQ(writer.submit(successful_completions(2), [&](WriteResult) { ++done; }),
            SubmitStatus::kQueued);
  EXPECT_EQ(writer.submit(successful_completions(1), [&](WriteResult) { ++done; }),
            SubmitStatus::kQueueFull);
  EXPECT_EQ(writer.queued_events(), 10u);
  EXPECT_TRUE(writer.full());
  store.open();
  writer.shutdown();
  EXPECT_FALSE(writer.full());
  EXPECT_EQ(done.load(), 2);
  EXPECT_EQ(store.count_generation_events(), 10);
}

TEST(BatchWriterTest, OversizedSubmissionIsAcceptedWhenQueueIsEmpty) {
  TempDir dir;
  SqliteStore store(dir.path());
  BatchWriter writer(&store, BatchWriter::Options{5, 1000});
  WriteResult result = writer.write(successful_completions(50));
  EXPECT_EQ(result.accepted, 50u);
}

TEST(BatchWriterTest, ShutdownCommitsEverythingQueuedAndRefusesNewWork) {
  TempDir dir;
  SqliteStore store(dir.path());
  std::atomic<int> done{0};
  {
    BatchWriter writer(&store, {});
    for (int i = 0; i < 20; ++i) {
      ASSERT_EQ(writer.submit(successful_completions(5), [&](WriteResult r) { done += r.ok; }),
                SubmitStatus::kQueued);
    }
    writer.shutdown();
    EXPECT_EQ(writer.submit(successful_completions(1), [&](WriteResult) { ++done; }),
              SubmitStatus::kShuttingDown);
  }
  EXPECT_EQ(done.load(), 20);
  EXPECT_EQ(store.count_generation_events(), 100);
}

TEST(BatchWriterTest, StoreFailureIsReportedToEverySubmission) {
  TempDir dir;
  SqliteStore store(dir.path());
  {
    SqliteDatabase db(store.path(), false);
    db.exec("CREATE TRIGGER boom BEFORE INSERT ON generation_events "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;");
  }
  BatchWriter writer(&store, {});
  WriteResult result = writer.write(successful_completions(3));
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("disk on fire"), std::string::npos);
  EXPECT_EQ(store.count_generation_events(), 0);
}

}  // namespace
}  // namespace genalytics
