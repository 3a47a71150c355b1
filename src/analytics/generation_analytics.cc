#include "analytics/generation_analytics.h"

#include <algorithm>
#include <array>
#include <map>

#include "analytics/rates.h"
#include "event/time.h"
#include "event/uuid.h"

namespace genalytics {
namespace {

RollupColumns without_sketches() { return RollupColumns{false, false, false}; }

// Rows may carry more than the columns asked for (store.h): merge only those.
BucketParts parts_of(const RollupColumns& columns) {
  return BucketParts{columns.durations, columns.users, columns.sample_messages};
}

// `counts` by count desc, ties in name order.
std::vector<NamedCount> by_count_desc(const std::map<std::string, int64_t>& counts) {
  std::vector<NamedCount> sorted;
  sorted.reserve(counts.size());
  for (const auto& [name, count] : counts) sorted.push_back({name, count});
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const NamedCount& a, const NamedCount& b) { return a.count > b.count; });
  return sorted;
}

}  // namespace

TrendInterval parse_trend_interval(const std::string& text) {
  if (text == "hourly") return TrendInterval::kHourly;
  if (text == "daily") return TrendInterval::kDaily;
  throw InvalidArgument("interval", "interval must be hourly or daily");
}

GenerationSummary summarize(const RollupBucket& b) {
  GenerationSummary s;
  s.total_requests = b.requests;
  s.successful_generations = b.successes;
  s.failed_generations = b.failures;
  s.cancelled_generations = b.cancellations;
  s.success_rate = b.success_rate();
  s.avg_duration_ms = b.avg_duration_ms();
  s.p50_duration_ms = b.duration_quantile(0.50);
  s.p95_duration_ms = b.duration_quantile(0.95);
  s.p99_duration_ms = b.duration_quantile(0.99);
  s.avg_queue_wait_ms = b.avg_queue_wait_ms();
  s.avg_generation_time_ms = b.avg_generation_time_ms();
  s.unique_users = b.users.estimate();
  s.total_images_generated = b.images;
  return s;
}

RollupBucket GenerationAnalytics::merge_all(const TimeWindow& window,
                                            const RollupColumns& columns) const {
  RollupBucket total;
  store_.visit_rollups(Dimension::kAll, window.start_us, window.end_us, std::nullopt, columns,
                       [&](const RollupRow& row) { total.merge(row.bucket, parts_of(columns)); });
  return total;
}

GenerationOverview GenerationAnalytics::overview(const TimeWindow& window) const {
  return {window, summarize(merge_all(window, RollupColumns{}))};
}

GenerationTrends GenerationAnalytics::trends(const TimeWindow& window,
                                             TrendInterval interval) const {
  const bool daily = interval == TrendInterval::kDaily;
  auto bucket_start = [&](int64_t us) { return daily ? floor_day(us) : floor_hour(us); };
  const int64_t step = daily ? kMicrosPerDay : kMicrosPerHour;

  GenerationTrends result{window, interval, {}};
  std::vector<TrendPoint>& points = result.points;
  auto add_point = [&](int64_t start, const RollupBucket& bucket) {
    points.push_back({start, summarize(bucket)});
  };
  if (daily) {
    std::map<int64_t, RollupBucket> days;
    for (int64_t t = bucket_start(window.start_us); t < window.end_us; t += step) days[t];
    store_.visit_rollups(Dimension::kAll, window.start_us, window.end_us, std::nullopt,
                         RollupColumns{}, [&](const RollupRow& row) {
                           days[bucket_start(row.key.hour_us)].merge(row.bucket,
                                                                     parts_of(RollupColumns{}));
                         });
    points.reserve(days.size());
    for (const auto& [start, bucket] : days) add_point(start, bucket);
  } else {
    // Rows come in hour order, one per hour with events: the hours between
    // them are zeros.
    const RollupBucket empty;
    int64_t next = bucket_start(window.start_us);
    points.reserve(static_cast<size_t>((window.end_us - next + step - 1) / step));
    store_.visit_rollups(Dimension::kAll, window.start_us, window.end_us, std::nullopt,
                         RollupColumns{}, [&](const RollupRow& row) {
                           for (; next < row.key.hour_us; next += step) add_point(next, empty);
                           add_point(row.key.hour_us, row.bucket);
                           next = row.key.hour_us + step;
                         });
    for (; next < window.end_us; next += step) add_point(next, empty);
  }
  return result;
}

UserGenerations GenerationAnalytics::user(const std::string& user_id,
                                          const TimeWindow& window) const {
  auto canonical = canonical_uuid(user_id);
  if (!canonical) throw InvalidArgument("user_id", "user_id must be a UUID");

  RollupBucket total;
  std::map<std::string, int64_t> failures_by_type;
  std::map<std::string, int64_t> generations_by_model;
  std::optional<int64_t> last_event_us;
  store_.scan_user_events(*canonical, window.start_us, window.end_us,
                          [&](const GenerationEvent& e) {
                            total.add(e);
                            last_event_us = std::max(last_event_us.value_or(e.timestamp_us), e.timestamp_us);
                            if (e.is_failed_completion()) {
                              ++failures_by_type[e.error_type.value_or(std::string(kUnknownErrorType))];
                            }
                            if (e.is_completion() && e.model_checkpoint) {
                              ++generations_by_model[*e.model_checkpoint];
                            }
                          });
  return {window,
          std::move(*canonical),
          summarize(total),
          by_count_desc(failures_by_type),
          by_count_desc(generations_by_model),
          last_event_us};
}

ModelReport GenerationAnalytics::models(const TimeWindow& window) const {
  std::map<std::string, RollupBucket> by_model;
  const RollupColumns columns{true, false, false};
  store_.visit_rollups(Dimension::kModelCheckpoint, window.start_us, window.end_us, std::nullopt,
                       columns, [&](const RollupRow& row) {
                         by_model[row.key.value].merge(row.bucket, parts_of(columns));
                       });
  ModelReport result{window, {}};
  result.models.reserve(by_model.size());
  for (const auto& [model, bucket] : by_model) result.models.push_back({model, summarize(bucket)});
  std::stable_sort(result.models.begin(), result.models.end(),
                   [](const ModelStats& a, const ModelStats& b) {
                     return a.summary.completions() > b.summary.completions();
                   });
  return result;
}

FailureReport GenerationAnalytics::failures(const TimeWindow& window) const {
  FailureReport result{window, 0, 0, std::nullopt, {}, {}};
  std::map<std::string, RollupBucket> by_type;
  const RollupColumns type_columns{false, true, true};
  store_.visit_rollups(Dimension::kErrorType, window.start_us, window.end_us, std::nullopt,
                       type_columns, [&](const RollupRow& row) {
                         by_type[row.key.value].merge(row.bucket, parts_of(type_columns));
                       });
  result.error_types.reserve(by_type.size());
  for (auto& [type, b] : by_type) {
    result.error_types.push_back({type, b.failures, b.avg_duration_ms(), b.users.estimate(),
                                  std::move(b.sample_messages)});
  }
  std::stable_sort(result.error_types.begin(), result.error_types.end(),
                   [](const ErrorTypeStats& a, const ErrorTypeStats& b) { return a.count > b.count; });

  std::map<int64_t, RollupBucket> days;
  for (int64_t t = floor_day(window.start_us); t < window.end_us; t += kMicrosPerDay) days[t];
  store_.visit_rollups(Dimension::kAll, window.start_us, window.end_us, std::nullopt,
                       without_sketches(), [&](const RollupRow& row) {
                         days[floor_day(row.key.hour_us)].merge(row.bucket,
                                                                parts_of(without_sketches()));
                       });
  result.failure_trends.reserve(days.size());
  for (const auto& [day, b] : days) {
    result.total_failures += b.failures;
    result.total_completions += b.completions();
    result.failure_trends.push_back({day, b.failures, b.completions(),
                                     ratio(static_cast<double>(b.failures),
                                           static_cast<double>(b.completions()))});
  }
  result.failure_rate = ratio(static_cast<double>(result.total_failures),
                              static_cast<double>(result.total_completions));
  return result;
}

PeakHours GenerationAnalytics::peak_hours(const TimeWindow& window) const {
  // Every hour of the window counts, with or without traffic.
  std::array<int64_t, 24> slots{};
  std::array<std::array<int64_t, 24>, 7> weekly_slots{};
  for (int64_t t = window.start_us; t < window.end_us; t += kMicrosPerHour) {
    ++slots[hour_of_day(t)];
    ++weekly_slots[day_of_week(t)][hour_of_day(t)];
  }
  std::array<RollupBucket, 24> by_hour;
  std::array<std::array<int64_t, 24>, 7> weekly_requests{};
  const RollupColumns hour_columns{true, false, false};
  store_.visit_rollups(Dimension::kAll, window.start_us, window.end_us, std::nullopt, hour_columns,
                       [&](const RollupRow& row) {
                         const int hour = hour_of_day(row.key.hour_us);
                         weekly_requests[day_of_week(row.key.hour_us)][hour] += row.bucket.requests;
                         by_hour[hour].merge(row.bucket, parts_of(hour_columns));
                       });
  PeakHours result;
  result.window = window;
  double peak_average = -1;
  for (int h = 0; h < 24; ++h) {
    const RollupBucket& b = by_hour[h];
    HourOfDayStats& hour = result.hours[h];
    hour.avg_requests = ratio(static_cast<double>(b.requests), static_cast<double>(slots[h]));
    hour.total_requests = b.requests;
    hour.p95_duration_ms = b.duration_quantile(0.95);
    hour.success_rate = b.success_rate();
    if (hour.avg_requests && *hour.avg_requests > peak_average) {
      result.peak_hour = h;
      peak_average = *hour.avg_requests;
    }
  }
  for (int d = 0; d < 7; ++d) {
    for (int h = 0; h < 24; ++h) {
      result.weekly_avg_requests[d][h] = ratio(static_cast<double>(weekly_requests[d][h]),
                                               static_cast<double>(weekly_slots[d][h]));
    }
  }
  return result;
}

}  // namespace genalytics
