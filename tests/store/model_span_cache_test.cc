#include "store/model_span_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "event/time.h"

namespace genalytics {
namespace {

// 2024-02-28 00:00 UTC: the pieces run through a leap day.
constexpr int64_t kDay0 = 1'709'078'400'000'000;

int64_t hour(int i) { return kDay0 + i * kMicrosPerHour; }

std::vector<std::pair<int, int>> pieces(int64_t start_us, int64_t end_us,
                                        std::vector<int64_t> cuts = {}) {
  std::vector<std::pair<int, int>> out;  // (first hour from kDay0, hours)
  for (const ModelSpanKey& key : model_span_keys(start_us, end_us, cuts)) {
    out.emplace_back(static_cast<int>((key.start_us - kDay0) / kMicrosPerHour), key.hours);
  }
  return out;
}

TEST(ModelSpanKeysTest, WholeDaysAreOnePieceAndHoursOutsideWholeQuartersTheirOwn) {
  EXPECT_EQ(pieces(hour(0), hour(48)), (std::vector<std::pair<int, int>>{{0, 24}, {24, 24}}));
  // 22:00 of day 0 to 02:00 of day 3: two edge hours, days 1 and 2 (the
  // leap day), two edge hours.
  EXPECT_EQ(
      pieces(hour(22), hour(74)),
      (std::vector<std::pair<int, int>>{{22, 1}, {23, 1}, {24, 24}, {48, 24}, {72, 1}, {73, 1}}));
  // A window inside one day: hours only.
  EXPECT_EQ(pieces(hour(3), hour(6)), (std::vector<std::pair<int, int>>{{3, 1}, {4, 1}, {5, 1}}));
  EXPECT_TRUE(pieces(hour(5), hour(5)).empty());
  EXPECT_TRUE(pieces(hour(6), hour(5)).empty());
  // Not on hours: the hours starting inside [start, end), as a row read.
  EXPECT_EQ(pieces(hour(3) + 1, hour(5) + 1), (std::vector<std::pair<int, int>>{{4, 1}, {5, 1}}));
}

TEST(ModelSpanKeysTest, CutsSplitADayIntoQuartersAndHoursAndOutsideCutsAreIgnored) {
  EXPECT_EQ(pieces(hour(0), hour(72), {hour(30)}),
            (std::vector<std::pair<int, int>>{
                {0, 24}, {24, 6}, {30, 6}, {36, 6}, {42, 6}, {48, 24}}));
  // A cut on a day boundary, or outside the window, changes nothing.
  EXPECT_EQ(pieces(hour(0), hour(48), {hour(24), hour(-5), hour(100)}),
            (std::vector<std::pair<int, int>>{{0, 24}, {24, 24}}));
  // Inside an hour: at the next hour's start, the first hour past the cut.
  EXPECT_EQ(pieces(hour(0), hour(24), {hour(22) + 5}),
            (std::vector<std::pair<int, int>>{
                {0, 6}, {6, 6}, {12, 6}, {18, 1}, {19, 1}, {20, 1}, {21, 1}, {22, 1}, {23, 1}}));
  // Inside a day's first hour, so the day is cut into hours and quarters.
  EXPECT_EQ(pieces(hour(0), hour(48), {hour(24) + 5}),
            (std::vector<std::pair<int, int>>{{0, 24}, {24, 1}, {25, 1}, {26, 1}, {27, 1},
                                              {28, 1}, {29, 1}, {30, 6}, {36, 6}, {42, 6}}));
  // In the last hour of the window: past it, so no cut.
  EXPECT_EQ(pieces(hour(0), hour(24), {hour(23) + 5}).size(), 1u);
}

TEST(ModelSpanKeysTest, WholeWeeksFromMondayAreOnePiece) {
  // hour(96) is Sunday 2024-03-03 00:00, hour(120) Monday 2024-03-04.
  EXPECT_EQ(pieces(hour(100), hour(300)),
            (std::vector<std::pair<int, int>>{
                {100, 1}, {101, 1}, {102, 6}, {108, 6}, {114, 6}, {120, 168}, {288, 6}, {294, 6}}));
  // A cut inside the week (Wednesday 08:00) splits it into days, a
  // quarter and hours on each side.
  EXPECT_EQ(pieces(hour(120), hour(288), {hour(200)}),
            (std::vector<std::pair<int, int>>{{120, 24}, {144, 24}, {168, 24}, {192, 6}, {198, 1},
                                              {199, 1}, {200, 1}, {201, 1}, {202, 1}, {203, 1},
                                              {204, 6}, {210, 6}, {216, 24}, {240, 24}, {264, 24}}));
  // Across a year's end: Monday 2024-12-30 to Monday 2025-01-06 is one week.
  const int64_t monday = *parse_rfc3339("2024-12-30T00:00:00Z");
  const std::vector<ModelSpanKey> keys =
      model_span_keys(monday - 24 * kMicrosPerHour, monday + 8 * 24 * kMicrosPerHour, {});
  EXPECT_EQ(keys, (std::vector<ModelSpanKey>{{monday - 24 * kMicrosPerHour, 24},
                                             {monday, 168},
                                             {monday + 7 * 24 * kMicrosPerHour, 24}}));
}

ModelUsageRow usage_row(int h, const std::string& model, int64_t uses, double time_ms) {
  ModelUsageRow row;
  row.key = ModelHourKey{hour(h), model};
  row.bucket.uses = uses;
  row.bucket.completions = 1;
  row.bucket.successes = 1;
  row.bucket.generation_time_count = 1;
  row.bucket.generation_time_sum = static_cast<int64_t>(time_ms);
  row.bucket.generation_times.add(time_ms);
  row.bucket.gpu_memory.add(1000 + h);
  return row;
}

ModelParamRow param_row(int h, const std::string& model, const std::string& key,
                        const std::string& value, int64_t uses) {
  return ModelParamRow{{hour(h), model, key, value}, {uses, uses, uses * 100}};
}

TEST(BuildModelSpansTest, EachModelsRowsMergedPerPieceWithItsHourlyUses) {
  // Ordered by hour then model, as the stores read them.
  const std::vector<ModelUsageRow> usage = {usage_row(1, "a", 2, 100), usage_row(1, "b", 5, 900),
                                            usage_row(7, "a", 3, 300), usage_row(25, "a", 4, 500)};
  const std::vector<ModelParamRow> params = {
      param_row(1, "a", "steps", "20", 2), param_row(1, "b", "steps", "30", 5),
      param_row(7, "a", "sampler", "euler", 3), param_row(7, "a", "steps", "20", 3),
      param_row(25, "a", "steps", "20", 4)};
  const std::vector<ModelSpanKey> keys = model_span_keys(hour(0), hour(27), {});
  ASSERT_EQ(keys.size(), 4u);  // day 0, then hours 24, 25, 26
  const ModelSpans spans = build_model_spans(keys, usage, params);
  ASSERT_EQ(spans.size(), 4u);

  ASSERT_EQ(spans[0]->size(), 2u);
  const ModelSpan& a = (*spans[0])[0];
  EXPECT_EQ(a.model_id, "a");
  EXPECT_EQ(a.start_us, hour(0));
  EXPECT_EQ(a.hours, 24);
  ModelUsageBucket a_usage = usage[0].bucket;
  a_usage.merge(usage[2].bucket);
  EXPECT_EQ(a.usage, a_usage);
  std::vector<int64_t> a_hourly(24);
  a_hourly[1] = 2;
  a_hourly[7] = 3;
  EXPECT_EQ(a.hourly_uses, a_hourly);
  EXPECT_EQ(a.params, (std::vector<ModelParamTotal>{{"sampler", "euler", {3, 3, 300}},
                                                    {"steps", "20", {5, 5, 500}}}));
  const ModelSpan& b = (*spans[0])[1];
  EXPECT_EQ(b.model_id, "b");
  EXPECT_EQ(b.usage, usage[1].bucket);
  EXPECT_EQ(b.params, (std::vector<ModelParamTotal>{{"steps", "30", {5, 5, 500}}}));

  EXPECT_TRUE(spans[1]->empty());  // hour 24: nothing
  ASSERT_EQ(spans[2]->size(), 1u);
  EXPECT_EQ((*spans[2])[0].hours, 1);
  EXPECT_EQ((*spans[2])[0].hourly_uses[0], 4);
  EXPECT_EQ((*spans[2])[0].usage, usage[3].bucket);
  EXPECT_TRUE(spans[3]->empty());
}

// A store of rows the test changes, read through the cache as a store does.
struct RowSource {
  std::vector<ModelUsageRow> usage;  // by hour then model
  uint64_t seq = 0;
  std::vector<std::pair<int64_t, int64_t>> reads;

  ModelSpans read(ModelSpanCache& cache, int64_t start_us, int64_t end_us) {
    return cache.read(start_us, end_us, {}, [&](const auto& body) {
      body(seq, [&](int64_t from, int64_t to) {
        reads.emplace_back(from, to);
        ModelSpanCache::Rows rows;
        for (const ModelUsageRow& row : usage) {
          if (row.key.hour_us >= from && row.key.hour_us < to) rows.usage.push_back(row);
        }
        return rows;
      });
    });
  }
};

// Uses per piece, for comparing reads.
std::vector<int64_t> uses_of(const ModelSpans& spans) {
  std::vector<int64_t> uses;
  for (const auto& piece : spans) {
    int64_t total = 0;
    for (const ModelSpan& span : *piece) total += span.usage.uses;
    uses.push_back(total);
  }
  return uses;
}

TEST(ModelSpanCacheTest, ReadsMissingPiecesOnceAndFollowsTheRollupCachesWrites) {
  RollupCache freshness(1 << 20);
  ModelSpanCache cache(1 << 20, freshness);
  RowSource source;
  source.usage = {usage_row(2, "a", 1, 100), usage_row(30, "a", 2, 100),
                  usage_row(50, "a", 3, 100)};
  // Day 0, day 1, and hours 48, 49, 50 of day 2.
  EXPECT_EQ(uses_of(source.read(cache, hour(0), hour(51))), (std::vector<int64_t>{1, 2, 0, 0, 3}));
  EXPECT_EQ(source.reads, (std::vector<std::pair<int64_t, int64_t>>{{hour(0), hour(51)}}));
  // From memory.
  EXPECT_EQ(uses_of(source.read(cache, hour(0), hour(51))), (std::vector<int64_t>{1, 2, 0, 0, 3}));
  EXPECT_EQ(source.reads.size(), 1u);
  EXPECT_EQ(cache.stats().hits, 5u);

  // Write 1 changes hour 30 (day 1): that day alone is read again.
  source.seq = 1;
  source.usage[1].bucket.uses = 7;
  const RollupCache::Key touched[] = {{Dimension::kAll, hour(30)}};
  freshness.invalidate(1, touched);
  EXPECT_EQ(uses_of(source.read(cache, hour(0), hour(51))), (std::vector<int64_t>{1, 7, 0, 0, 3}));
  EXPECT_EQ(source.reads.back(), (std::pair{hour(24), hour(48)}));
  EXPECT_EQ(source.reads.size(), 2u);

  // Write 2, which nobody reported (another process): everything is read again.
  source.seq = 2;
  source.usage[0].bucket.uses = 9;
  EXPECT_EQ(uses_of(source.read(cache, hour(0), hour(51))), (std::vector<int64_t>{9, 7, 0, 0, 3}));
  EXPECT_EQ(source.reads.back(), (std::pair{hour(0), hour(51)}));
}

TEST(ModelSpanCacheTest, ReadBeforeAWriteIsNotKeptAndZeroCapacityKeepsNothing) {
  RollupCache freshness(1 << 20);
  ModelSpanCache cache(1 << 20, freshness);
  RowSource source;
  source.usage = {usage_row(2, "a", 1, 100)};
  // Write 1 to hour 2 is committed and reported while a reader still reads
  // its snapshot of write 0: what it read is answered, not kept.
  const RollupCache::Key touched[] = {{Dimension::kAll, hour(2)}};
  freshness.invalidate(1, touched);
  EXPECT_EQ(uses_of(source.read(cache, hour(0), hour(24))), (std::vector<int64_t>{1}));
  EXPECT_EQ(cache.stats().entries, 0u);

  ModelSpanCache off(0, freshness);
  source.seq = 1;
  EXPECT_EQ(uses_of(source.read(off, hour(0), hour(24))), (std::vector<int64_t>{1}));
  EXPECT_EQ(uses_of(source.read(off, hour(0), hour(24))), (std::vector<int64_t>{1}));
  EXPECT_EQ(off.stats().entries, 0u);
  EXPECT_EQ(source.reads.size(), 3u);
}

TEST(ModelSpanCacheTest, EvictsLeastRecentlyUsedPastCapacity) {
  RollupCache freshness(1 << 20);
  RowSource source;
  for (int d = 0; d < 4; ++d) source.usage.push_back(usage_row(24 * d + 1, "a", d + 1, 100));
  std::vector<ModelSpan> one_day =
      *build_model_spans(model_span_keys(hour(0), hour(24), {}), source.usage, {})[0];
  // Room for about two days.
  ModelSpanCache cache(ModelSpanCache::estimate_bytes(one_day) * 5 / 2, freshness);
  source.read(cache, hour(0), hour(24));
  source.read(cache, hour(24), hour(48));
  source.read(cache, hour(0), hour(24));   // day 0 is now the most recent
  source.read(cache, hour(48), hour(72));  // evicts day 1
  EXPECT_EQ(cache.stats().evictions, 1u);
  const size_t reads = source.reads.size();
  source.read(cache, hour(0), hour(24));
  EXPECT_EQ(source.reads.size(), reads);
  source.read(cache, hour(24), hour(48));
  EXPECT_EQ(source.reads.size(), reads + 1);
  EXPECT_LE(cache.stats().bytes, ModelSpanCache::estimate_bytes(one_day) * 5 / 2);
}

TEST(ModelSpanCacheTest, AWindowLargerThanTheCacheKeepsItsOldestPieces) {
  RollupCache freshness(1 << 20);
  RowSource source;
  for (int d = 0; d < 8; ++d) source.usage.push_back(usage_row(24 * d + 1, "a", d + 1, 100));
  const std::vector<ModelSpan> one_day =
      *build_model_spans(model_span_keys(hour(0), hour(24), {}), source.usage, {})[0];
  // Room for four days, half of it for what one read offers.
  ModelSpanCache cache(ModelSpanCache::estimate_bytes(one_day) * 9 / 2, freshness);
  EXPECT_EQ(uses_of(source.read(cache, hour(0), hour(192))),
            (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(cache.stats().entries, 2u);
  EXPECT_EQ(uses_of(source.read(cache, hour(0), hour(192))),
            (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  // Days 0 and 1 from memory; the rest read, not evicting them.
  EXPECT_EQ(source.reads.back(), (std::pair{hour(48), hour(192)}));
  EXPECT_EQ(cache.stats().hits, 2u);
}

}  // namespace
}  // namespace genalytics
