#include "store/rollup_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "event/time.h"
#include "testing/fixed_times.h"

namespace genalytics {
namespace {

using testing::kHour;

// The start of the i-th hour from kHour.
int64_t nth_hour(int i) { return kHour + i * kMicrosPerHour; }

// An entry of one row whose request count tells entries apart.
RollupCache::Entry rows(int64_t requests, int hour_index = 0) {
  RollupCache::Rows rows(1);
  rows[0].key = RollupKey{nth_hour(hour_index), Dimension::kAll, ""};
  rows[0].bucket.requests = requests;
  rows[0].bucket.durations.add(100);
  return std::make_shared<const RollupCache::Rows>(std::move(rows));
}

// The request count cached for each hour 0..n-1, -1 where none.
std::vector<int64_t> cached(RollupCache& cache, int n, uint64_t seq) {
  std::vector<RollupCache::Entry> entries;
  cache.lookup(Dimension::kAll, nth_hour(0), nth_hour(n), seq, &entries);
  std::vector<int64_t> out;
  for (const auto& entry : entries) out.push_back(entry ? (*entry)[0].bucket.requests : -1);
  return out;
}

TEST(RollupCacheTest, KeepsWhatWasInsertedPerDimensionAndHour) {
  RollupCache cache(1 << 20);
  EXPECT_EQ(cached(cache, 3, 0), (std::vector<int64_t>{-1, -1, -1}));
  cache.insert({Dimension::kAll, nth_hour(0)}, 0, rows(10));
  cache.insert({Dimension::kAll, nth_hour(2)}, 0, rows(12));
  cache.insert({Dimension::kModelCheckpoint, nth_hour(1)}, 0, rows(99));
  EXPECT_EQ(cached(cache, 3, 0), (std::vector<int64_t>{10, -1, 12}));
  std::vector<RollupCache::Entry> entries;
  cache.lookup(Dimension::kModelCheckpoint, nth_hour(1), nth_hour(2), 0, &entries);
  ASSERT_EQ(entries.size(), 1u);
  ASSERT_TRUE(entries[0]);
  EXPECT_EQ((*entries[0])[0].bucket.requests, 99);
  const auto stats = cache.stats();
  EXPECT_EQ(stats.entries, 3u);
  EXPECT_EQ(stats.hits, 3u);
  EXPECT_EQ(stats.misses, 4u);
}

TEST(RollupCacheTest, OwnWriteDropsItsKeysAndRefusesOlderReads) {
  RollupCache cache(1 << 20);
  cache.insert({Dimension::kAll, nth_hour(0)}, 0, rows(10));
  cache.insert({Dimension::kAll, nth_hour(1)}, 0, rows(11));
  const RollupCache::Key touched[] = {{Dimension::kAll, nth_hour(0)}};
  cache.invalidate(1, touched);
  EXPECT_EQ(cached(cache, 2, 1), (std::vector<int64_t>{-1, 11}));
  // A reader whose snapshot predates write 1 must not put its rows back.
  cache.insert({Dimension::kAll, nth_hour(0)}, 0, rows(10));
  EXPECT_EQ(cached(cache, 2, 1), (std::vector<int64_t>{-1, 11}));
  // One that saw write 1 may.
  cache.insert({Dimension::kAll, nth_hour(0)}, 1, rows(20));
  EXPECT_EQ(cached(cache, 2, 1), (std::vector<int64_t>{20, 11}));
  EXPECT_EQ(cache.stats().resets, 0u);
}

TEST(RollupCacheTest, WriteItWasNotToldAboutDropsEverything) {
  RollupCache cache(1 << 20);
  cache.insert({Dimension::kAll, nth_hour(0)}, 0, rows(10));
  cache.insert({Dimension::kAll, nth_hour(1)}, 0, rows(11));
  const RollupCache::Key touched[] = {{Dimension::kAll, nth_hour(0)}};
  cache.invalidate(1, touched);
  // Writes 1 (ours) and 2 (another process's): a reader sees 2.
  EXPECT_EQ(cached(cache, 2, 2), (std::vector<int64_t>{-1, -1}));
  EXPECT_EQ(cache.stats().resets, 1u);
  // Rows read before write 2 are refused, whatever their key.
  cache.insert({Dimension::kAll, nth_hour(1)}, 1, rows(11));
  EXPECT_EQ(cached(cache, 2, 2), (std::vector<int64_t>{-1, -1}));
  cache.insert({Dimension::kAll, nth_hour(1)}, 2, rows(21));
  EXPECT_EQ(cached(cache, 2, 2), (std::vector<int64_t>{-1, 21}));
}

TEST(RollupCacheTest, OwnWritesInAnyOrderKeepTheRest) {
  RollupCache cache(1 << 20);
  cache.insert({Dimension::kAll, nth_hour(3)}, 0, rows(13));
  const RollupCache::Key first[] = {{Dimension::kAll, nth_hour(0)}};
  const RollupCache::Key second[] = {{Dimension::kAll, nth_hour(1)}};
  cache.invalidate(2, second);
  cache.invalidate(1, first);
  EXPECT_EQ(cached(cache, 4, 2), (std::vector<int64_t>{-1, -1, -1, 13}));
  EXPECT_EQ(cache.stats().resets, 0u);
}

TEST(RollupCacheTest, ReaderAheadOfInvalidateResetsRatherThanServeStaleRows) {
  RollupCache cache(1 << 20);
  cache.insert({Dimension::kAll, nth_hour(0)}, 0, rows(10));
  // Write 1 committed; a reader sees it before the writer's invalidate().
  EXPECT_EQ(cached(cache, 1, 1), (std::vector<int64_t>{-1}));
  const RollupCache::Key touched[] = {{Dimension::kAll, nth_hour(0)}};
  cache.invalidate(1, touched);
  cache.insert({Dimension::kAll, nth_hour(0)}, 1, rows(20));
  EXPECT_EQ(cached(cache, 1, 1), (std::vector<int64_t>{20}));
}

TEST(RollupCacheTest, EvictsLeastRecentlyUsedPastCapacity) {
  const size_t entry_bytes = RollupCache::estimate_bytes(*rows(0));
  RollupCache cache(entry_bytes * 3);
  for (int i = 0; i < 3; ++i) cache.insert({Dimension::kAll, nth_hour(i)}, 0, rows(i, i));
  EXPECT_EQ(cached(cache, 1, 0), (std::vector<int64_t>{0}));  // hour 0 now most recent
  cache.insert({Dimension::kAll, nth_hour(3)}, 0, rows(3, 3));
  EXPECT_EQ(cached(cache, 4, 0), (std::vector<int64_t>{0, -1, 2, 3}));
  const auto stats = cache.stats();
  EXPECT_EQ(stats.evictions, 1u);
  EXPECT_LE(stats.bytes, entry_bytes * 3);
}

TEST(RollupCacheTest, ZeroCapacityKeepsNothing) {
  RollupCache cache(0);
  cache.insert({Dimension::kAll, nth_hour(0)}, 0, rows(10));
  EXPECT_EQ(cached(cache, 1, 0), (std::vector<int64_t>{-1}));
  EXPECT_EQ(cache.stats().entries, 0u);
}

// The store a window is visited over, as visit_window sees it: rows by
// (hour, value) in a snapshot at write `seq`; it counts the snapshots opened
// and records the runs of hours read.
struct WindowSource {
  uint64_t seq = 0;
  std::map<std::pair<int64_t, std::string>, int64_t> requests;  // (hour, value) -> requests
  int snapshots = 0;
  int uncached_reads = 0;
  std::vector<std::pair<int64_t, int64_t>> runs;

  std::vector<RollupRow> rows_of(int64_t start, int64_t end,
                                 const std::optional<std::string>& value) const {
    std::vector<RollupRow> out;
    for (const auto& [key, count] : requests) {
      if (key.first < start || key.first >= end || (value && key.second != *value)) continue;
      RollupRow row{RollupKey{key.first, Dimension::kModelCheckpoint, key.second}, RollupBucket()};
      row.bucket.requests = count;
      out.push_back(std::move(row));
    }
    return out;
  }

  // (hour index, value, requests) of every row visited.
  using Seen = std::vector<std::tuple<int, std::string, int64_t>>;
  Seen visit(RollupCache& cache, int64_t start, int64_t end,
             const std::optional<std::string>& value) {
    Seen seen;
    cache.visit_window(
        Dimension::kModelCheckpoint, start, end, value,
        [&](const auto& body) {
          ++snapshots;
          body(seq, [&](int64_t run_start, int64_t run_end) {
            runs.emplace_back(run_start, run_end);
            return rows_of(run_start, run_end, std::nullopt);
          });
        },
        [&] {
          ++uncached_reads;
          return rows_of(start, end, value);
        },
        [&](const RollupRow& row) {
          seen.emplace_back(static_cast<int>((row.key.hour_us - kHour) / kMicrosPerHour),
                            row.key.value, row.bucket.requests);
        });
    return seen;
  }
};

using Seen = WindowSource::Seen;

TEST(RollupCacheTest, VisitWindowReadsMissingHoursOnceThenAnswersFromMemory) {
  RollupCache cache(1 << 20);
  WindowSource source;
  source.requests = {
      {{nth_hour(0), "flux"}, 1}, {{nth_hour(0), "sdxl"}, 2}, {{nth_hour(2), "sdxl"}, 3}};
  const Seen all = {{0, "flux", 1}, {0, "sdxl", 2}, {2, "sdxl", 3}};
  EXPECT_EQ(source.visit(cache, nth_hour(0), nth_hour(3), std::nullopt), all);
  EXPECT_EQ(source.runs, (std::vector<std::pair<int64_t, int64_t>>{{nth_hour(0), nth_hour(3)}}));
  EXPECT_EQ(source.snapshots, 1);
  // From memory: one snapshot for the sequence number, nothing read.
  EXPECT_EQ(source.visit(cache, nth_hour(0), nth_hour(3), std::string("sdxl")),
            (Seen{{0, "sdxl", 2}, {2, "sdxl", 3}}));
  EXPECT_EQ(source.runs.size(), 1u);
  EXPECT_EQ(source.snapshots, 2);
  // Write 1 changes hour 1 only: that hour alone is read again.
  source.seq = 1;
  source.requests[{nth_hour(1), "flux"}] = 4;
  const RollupCache::Key touched[] = {{Dimension::kModelCheckpoint, nth_hour(1)}};
  cache.invalidate(1, touched);
  EXPECT_EQ(source.visit(cache, nth_hour(0), nth_hour(3), std::nullopt),
            (Seen{{0, "flux", 1}, {0, "sdxl", 2}, {1, "flux", 4}, {2, "sdxl", 3}}));
  EXPECT_EQ(source.runs.back(), (std::pair{nth_hour(1), nth_hour(2)}));
  EXPECT_EQ(source.uncached_reads, 0);
}

TEST(RollupCacheTest, VisitWindowReadsUncachedWhenOffOrTooLongAndNothingForNoHours) {
  WindowSource source;
  source.requests = {{{nth_hour(0), "flux"}, 1}, {{nth_hour(0), "sdxl"}, 2}};
  RollupCache off(0);
  EXPECT_EQ(source.visit(off, nth_hour(0), nth_hour(1), std::string("sdxl")),
            (Seen{{0, "sdxl", 2}}));
  EXPECT_EQ(source.uncached_reads, 1);
  EXPECT_EQ(source.snapshots, 0);
  RollupCache cache(1 << 20);
  const int64_t too_long = (RollupCache::kMaxHoursPerLookup + 1) * kMicrosPerHour;
  EXPECT_EQ(source.visit(cache, nth_hour(0), nth_hour(0) + too_long, std::nullopt).size(), 2u);
  EXPECT_EQ(source.uncached_reads, 2);
  EXPECT_EQ(source.snapshots, 0);
  // A window inside one hour after its start holds no hour.
  EXPECT_TRUE(source.visit(cache, nth_hour(0) + 1, nth_hour(0) + 2, std::nullopt).empty());
  EXPECT_EQ(source.uncached_reads, 2);
  EXPECT_EQ(source.snapshots, 0);
}

}  // namespace
}  // namespace genalytics
