#include "store/model_span_cache.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "event/time.h"

namespace genalytics {

int64_t ModelSpanKey::end_us() const { return start_us + hours * kMicrosPerHour; }

namespace {

// Whether a piece of `hours` hours may start at `hour_us`: blocks are
// aligned to the epoch's hours shifted to a Monday (1970-01-01 was a
// Thursday, hour 72 of its week; 72 is a multiple of every smaller level).
bool aligned(int64_t hour_us, int hours) {
  const int64_t since_monday = hour_us / kMicrosPerHour + 72;
  return ((since_monday % hours) + hours) % hours == 0;
}

}  // namespace

std::vector<ModelSpanKey> model_span_keys(int64_t start_us, int64_t end_us,
                                          std::span<const int64_t> cuts) {
  std::vector<ModelSpanKey> keys;
  const auto [first, last] = RollupCache::hours_of(start_us, end_us);
  std::vector<int64_t> bounds;
  // An hour is on the cut's far side when it starts at or after the cut.
  for (int64_t cut : cuts) {
    const int64_t bound = RollupCache::hours_of(cut, cut).first;
    if (bound > first && bound < last) bounds.push_back(bound);
  }
  bounds.push_back(last);
  std::sort(bounds.begin(), bounds.end());
  auto next_bound = bounds.begin();
  for (int64_t hour = first; hour < last;) {
    while (*next_bound <= hour) ++next_bound;  // `last` stops it
    for (int hours : kModelSpanLevels) {
      if (hours == 1 || (aligned(hour, hours) && hour + hours * kMicrosPerHour <= *next_bound)) {
        keys.push_back({hour, hours});
        break;
      }
    }
    hour = keys.back().end_us();
  }
  return keys;
}

ModelSpans build_model_spans(std::span<const ModelSpanKey> keys,
                             std::span<const ModelUsageRow> usage,
                             std::span<const ModelParamRow> params) {
  ModelSpans pieces;
  pieces.reserve(keys.size());
  auto usage_row = usage.begin();
  auto param_row = params.begin();
  for (const ModelSpanKey& key : keys) {
    // Rows of earlier hours belong to no key.
    while (usage_row != usage.end() && usage_row->key.hour_us < key.start_us) ++usage_row;
    while (param_row != params.end() && param_row->key.hour_us < key.start_us) ++param_row;
    // A span and its params by (key, value), keyed by views of the rows'
    // strings, which outlive the maps.
    struct Building {
      ModelSpan span;
      std::map<std::pair<std::string_view, std::string_view>, ModelParamBucket> params;
    };
    std::map<std::string_view, Building> spans;
    auto span_of = [&](const std::string& model_id) -> Building& {
      auto [it, inserted] = spans.try_emplace(model_id);
      if (inserted) {
        it->second.span.start_us = key.start_us;
        it->second.span.hours = key.hours;
        it->second.span.model_id = model_id;
        it->second.span.hourly_uses.assign(static_cast<size_t>(key.hours), 0);
      }
      return it->second;
    };
    // Rows out of order (before the key) are skipped, as rows between keys.
    for (; usage_row != usage.end() && usage_row->key.hour_us < key.end_us(); ++usage_row) {
      if (usage_row->key.hour_us < key.start_us) continue;
      ModelSpan& span = span_of(usage_row->key.model_id).span;
      span.usage.merge(usage_row->bucket);
      span.hourly_uses[static_cast<size_t>((usage_row->key.hour_us - key.start_us) /
                                           kMicrosPerHour)] += usage_row->bucket.uses;
    }
    for (; param_row != params.end() && param_row->key.hour_us < key.end_us(); ++param_row) {
      if (param_row->key.hour_us < key.start_us) continue;
      span_of(param_row->key.model_id)
          .params[{param_row->key.key, param_row->key.value}]
          .merge(param_row->bucket);
    }
    auto piece = std::make_shared<std::vector<ModelSpan>>();
    piece->reserve(spans.size());
    for (auto& [model_id, building] : spans) {
      ModelSpan& span = building.span;
      // Pieces are kept and merged many times: compact their sketches.
      span.usage.generation_times.compact();
      span.usage.gpu_memory.compact();
      span.params.reserve(building.params.size());
      for (const auto& [param, bucket] : building.params) {
        span.params.push_back({std::string(param.first), std::string(param.second), bucket});
      }
      piece->push_back(std::move(span));
    }
    pieces.push_back(std::move(piece));
  }
  return pieces;
}

ModelSpanCache::ModelSpanCache(size_t capacity_bytes, RollupCache& freshness)
    : capacity_bytes_(capacity_bytes), freshness_(freshness), pieces_(capacity_bytes) {}

size_t ModelSpanCache::estimate_bytes(const std::vector<ModelSpan>& spans) {
  // The bookkeeping, then each span's heap.
  size_t bytes =
      LruByteMap<ModelSpanKey, Piece>::kEntryOverhead + spans.capacity() * sizeof(ModelSpan);
  for (const ModelSpan& span : spans) {
    bytes += span.model_id.capacity() + span.hourly_uses.capacity() * sizeof(int64_t) +
             span.usage.generation_times.heap_bytes() +
             span.usage.gpu_memory.heap_bytes() + span.params.capacity() * sizeof(ModelParamTotal);
    for (const ModelParamTotal& param : span.params) {
      bytes += param.key.capacity() + param.value.capacity();
    }
  }
  return bytes;
}

ModelSpans ModelSpanCache::read(int64_t start_us, int64_t end_us, std::span<const int64_t> cuts,
                                const InSnapshot& in_snapshot) {
  const std::vector<ModelSpanKey> keys = model_span_keys(start_us, end_us, cuts);
  if (keys.empty()) return {};
  ModelSpans pieces(keys.size());
  // The rows of each run of missing pieces, read in the snapshot; the spans
  // are built after it closes, so that it holds back no checkpoint.
  struct Run {
    size_t first = 0;
    size_t last = 0;
    Rows rows;
  };
  std::vector<Run> runs;
  uint64_t seq = 0;
  in_snapshot([&](uint64_t snapshot_seq, const ReadHours& read_hours) {
    seq = snapshot_seq;
    if (capacity_bytes_ > 0) {
      freshness_.observe_snapshot(seq);
      MutexLock lock(mutex_);
      for (size_t i = 0; i < keys.size(); ++i) {
        pieces[i] = find(keys[i]);
        if (pieces[i]) {
          ++stats_.hits;
        } else {
          ++stats_.misses;
        }
      }
    }
    for (size_t i = 0; i < keys.size();) {
      if (pieces[i]) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < keys.size() && !pieces[j]) ++j;
      runs.push_back(Run{i, j, read_hours(keys[i].start_us, keys[j - 1].end_us())});
      i = j;
    }
  });
  // A window larger than the cache keeps its oldest pieces and reads the
  // rest each time, rather than evicting its own pieces as it goes and
  // keeping none.
  size_t budget = capacity_bytes_ / 2;
  for (Run& run : runs) {
    const std::span<const ModelSpanKey> run_keys(
        keys.begin() + static_cast<std::ptrdiff_t>(run.first),
        keys.begin() + static_cast<std::ptrdiff_t>(run.last));
    ModelSpans read = build_model_spans(run_keys, run.rows.usage, run.rows.params);
    run.rows = Rows{};
    for (size_t k = run.first; k < run.last; ++k) {
      pieces[k] = std::move(read[k - run.first]);
      const size_t bytes = estimate_bytes(*pieces[k]);
      if (bytes > budget) {
        budget = 0;
        continue;
      }
      budget -= bytes;
      insert(keys[k], seq, pieces[k], bytes);
    }
  }
  return pieces;
}

ModelSpanCache::Entry ModelSpanCache::find(const ModelSpanKey& key) {
  Piece* piece = pieces_.find(key);
  if (piece == nullptr) return nullptr;
  if (!freshness_.unchanged_since(Dimension::kAll, key.start_us, key.end_us(), piece->seq)) {
    pieces_.erase(key);
    return nullptr;
  }
  return piece->spans;
}

void ModelSpanCache::insert(const ModelSpanKey& key, uint64_t seq, Entry spans, size_t bytes) {
  if (capacity_bytes_ == 0) return;
  // A write after the snapshot already changed these hours: not worth keeping.
  if (!freshness_.unchanged_since(Dimension::kAll, key.start_us, key.end_us(), seq)) return;
  MutexLock lock(mutex_);
  // Another reader's, as new or newer, stays.
  if (const Piece* existing = pieces_.find(key); existing != nullptr && existing->seq >= seq)
    return;
  stats_.evictions += pieces_.put(key, Piece{std::move(spans), seq}, bytes);
}

ModelSpanCache::Stats ModelSpanCache::stats() const {
  MutexLock lock(mutex_);
  Stats stats = stats_;
  stats.entries = pieces_.size();
  stats.bytes = pieces_.bytes();
  return stats;
}

}  // namespace genalytics
