#include "store/rollup_cache.h"

#include <gtest/gtest.h>

#include "event/time.h"

namespace genalytics {
namespace {

constexpr int64_t kHour0 = 1'750'000'000'000'000 / kMicrosPerHour * kMicrosPerHour;

int64_t hour(int i) { return kHour0 + i * kMicrosPerHour; }

// An entry of one row whose request count tells entries apart.
RollupCache::Entry rows(int64_t requests, int hour_index = 0) {
  RollupCache::Rows rows(1);
  rows[0].key = RollupKey{hour(hour_index), Dimension::kAll, ""};
  rows[0].bucket.requests = requests;
  rows[0].bucket.durations.add(100);
  return std::make_shared<const RollupCache::Rows>(std::move(rows));
}

// The request count cached for each hour 0..n-1, -1 where none.
std::vector<int64_t> cached(RollupCache& cache, int n, uint64_t seq) {
  std::vector<RollupCache::Entry> entries;
  cache.lookup(Dimension::kAll, hour(0), hour(n), seq, &entries);
  std::vector<int64_t> out;
  for (const auto& entry : entries) out.push_back(entry ? (*entry)[0].bucket.requests : -1);
  return out;
}

TEST(RollupCacheTest, KeepsWhatWasInsertedPerDimensionAndHour) {
  RollupCache cache(1 << 20);
  EXPECT_EQ(cached(cache, 3, 0), (std::vector<int64_t>{-1, -1, -1}));
  cache.insert({Dimension::kAll, hour(0)}, 0, rows(10));
  cache.insert({Dimension::kAll, hour(2)}, 0, rows(12));
  cache.insert({Dimension::kModelCheckpoint, hour(1)}, 0, rows(99));
  EXPECT_EQ(cached(cache, 3, 0), (std::vector<int64_t>{10, -1, 12}));
  std::vector<RollupCache::Entry> entries;
  cache.lookup(Dimension::kModelCheckpoint, hour(1), hour(2), 0, &entries);
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
  cache.insert({Dimension::kAll, hour(0)}, 0, rows(10));
  cache.insert({Dimension::kAll, hour(1)}, 0, rows(11));
  const RollupCache::Key touched[] = {{Dimension::kAll, hour(0)}};
  cache.invalidate(1, touched);
  EXPECT_EQ(cached(cache, 2, 1), (std::vector<int64_t>{-1, 11}));
  // A reader whose snapshot predates write 1 must not put its rows back.
  cache.insert({Dimension::kAll, hour(0)}, 0, rows(10));
  EXPECT_EQ(cached(cache, 2, 1), (std::vector<int64_t>{-1, 11}));
  // One that saw write 1 may.
  cache.insert({Dimension::kAll, hour(0)}, 1, rows(20));
  EXPECT_EQ(cached(cache, 2, 1), (std::vector<int64_t>{20, 11}));
  EXPECT_EQ(cache.stats().resets, 0u);
}

TEST(RollupCacheTest, WriteItWasNotToldAboutDropsEverything) {
  RollupCache cache(1 << 20);
  cache.insert({Dimension::kAll, hour(0)}, 0, rows(10));
  cache.insert({Dimension::kAll, hour(1)}, 0, rows(11));
  const RollupCache::Key touched[] = {{Dimension::kAll, hour(0)}};
  cache.invalidate(1, touched);
  // Writes 1 (ours) and 2 (another process's): a reader sees 2.
  EXPECT_EQ(cached(cache, 2, 2), (std::vector<int64_t>{-1, -1}));
  EXPECT_EQ(cache.stats().resets, 1u);
  // Rows read before write 2 are refused, whatever their key.
  cache.insert({Dimension::kAll, hour(1)}, 1, rows(11));
  EXPECT_EQ(cached(cache, 2, 2), (std::vector<int64_t>{-1, -1}));
  cache.insert({Dimension::kAll, hour(1)}, 2, rows(21));
  EXPECT_EQ(cached(cache, 2, 2), (std::vector<int64_t>{-1, 21}));
}

TEST(RollupCacheTest, OwnWritesInAnyOrderKeepTheRest) {
  RollupCache cache(1 << 20);
  cache.insert({Dimension::kAll, hour(3)}, 0, rows(13));
  const RollupCache::Key first[] = {{Dimension::kAll, hour(0)}};
  const RollupCache::Key second[] = {{Dimension::kAll, hour(1)}};
  cache.invalidate(2, second);
  cache.invalidate(1, first);
  EXPECT_EQ(cached(cache, 4, 2), (std::vector<int64_t>{-1, -1, -1, 13}));
  EXPECT_EQ(cache.stats().resets, 0u);
}

TEST(RollupCacheTest, ReaderAheadOfInvalidateResetsRatherThanServeStaleRows) {
  RollupCache cache(1 << 20);
  cache.insert({Dimension::kAll, hour(0)}, 0, rows(10));
  // Write 1 committed; a reader sees it before the writer's invalidate().
  EXPECT_EQ(cached(cache, 1, 1), (std::vector<int64_t>{-1}));
  const RollupCache::Key touched[] = {{Dimension::kAll, hour(0)}};
  cache.invalidate(1, touched);
  cache.insert({Dimension::kAll, hour(0)}, 1, rows(20));
  EXPECT_EQ(cached(cache, 1, 1), (std::vector<int64_t>{20}));
}

TEST(RollupCacheTest, EvictsLeastRecentlyUsedPastCapacity) {
  const size_t entry_bytes = RollupCache::estimate_bytes(*rows(0));
  RollupCache cache(entry_bytes * 3);
  for (int i = 0; i < 3; ++i) cache.insert({Dimension::kAll, hour(i)}, 0, rows(i, i));
  EXPECT_EQ(cached(cache, 1, 0), (std::vector<int64_t>{0}));  // hour 0 now most recent
  cache.insert({Dimension::kAll, hour(3)}, 0, rows(3, 3));
  EXPECT_EQ(cached(cache, 4, 0), (std::vector<int64_t>{0, -1, 2, 3}));
  const auto stats = cache.stats();
  EXPECT_EQ(stats.evictions, 1u);
  EXPECT_LE(stats.bytes, entry_bytes * 3);
}

TEST(RollupCacheTest, ZeroCapacityKeepsNothing) {
  RollupCache cache(0);
  cache.insert({Dimension::kAll, hour(0)}, 0, rows(10));
  EXPECT_EQ(cached(cache, 1, 0), (std::vector<int64_t>{-1}));
  EXPECT_EQ(cache.stats().entries, 0u);
}

}  // namespace
}  // namespace genalytics
