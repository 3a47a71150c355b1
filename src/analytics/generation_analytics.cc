#include "analytics/generation_analytics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <unordered_map>

#include "analytics/rates.h"
#include "event/time.h"
#include "event/uuid.h"

namespace genalytics {
namespace {

constexpr std::array<const char*, 7> kDayNames = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                  "Thursday", "Friday", "Saturday"};

double round_to(double value, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(value * scale) / scale;
}

boost::json::value optional_ms(const std::optional<double>& value) {
  if (!value) return nullptr;
  return std::llround(*value);
}

RollupColumns without_sketches() { return RollupColumns{false, false, false}; }

// Rows may carry more than the columns asked for (store.h): merge only those.
BucketParts parts_of(const RollupColumns& columns) {
  return BucketParts{columns.durations, columns.users, columns.sample_messages};
}

}  // namespace

TrendInterval parse_trend_interval(const std::string& text) {
  if (text == "hourly") return TrendInterval::kHourly;
  if (text == "daily") return TrendInterval::kDaily;
  throw InvalidArgument("interval", "interval must be hourly or daily");
}

boost::json::object window_to_json(const TimeWindow& window) {
  return {{"start", format_rfc3339_seconds(window.start_us)},
          {"end", format_rfc3339_seconds(window.end_us)},
          {"hours", window.hours()}};
}

boost::json::object bucket_to_json(const RollupBucket& b) {
  return {
      {"total_requests", b.requests},
      {"successful_generations", b.successes},
      {"failed_generations", b.failures},
      {"cancelled_generations", b.cancellations},
      {"success_rate_pct", pct_json(b.success_rate())},
      {"success_rate", rate_json(b.success_rate())},
      {"avg_duration_ms", optional_ms(b.avg_duration_ms())},
      {"p50_duration_ms", optional_ms(b.duration_quantile(0.50))},
      {"p95_duration_ms", optional_ms(b.duration_quantile(0.95))},
      {"p99_duration_ms", optional_ms(b.duration_quantile(0.99))},
      {"avg_queue_wait_ms", optional_ms(b.avg_queue_wait_ms())},
      {"avg_generation_time_ms", optional_ms(b.avg_generation_time_ms())},
      {"unique_users", b.users.estimate()},
      {"total_images_generated", b.images},
  };
}

RollupBucket GenerationAnalytics::merge_all(const TimeWindow& window,
                                            const RollupColumns& columns) const {
  RollupBucket total;
  store_.visit_rollups(Dimension::kAll, window.start_us, window.end_us, std::nullopt, columns,
                       [&](const RollupRow& row) { total.merge(row.bucket, parts_of(columns)); });
  return total;
}

boost::json::object GenerationAnalytics::overview(const TimeWindow& window) const {
  boost::json::object result = bucket_to_json(merge_all(window, RollupColumns{}));
  result["window"] = window_to_json(window);
  return result;
}

boost::json::object GenerationAnalytics::trends(const TimeWindow& window,
                                                TrendInterval interval) const {
  const bool daily = interval == TrendInterval::kDaily;
  auto bucket_start = [&](int64_t us) { return daily ? floor_day(us) : floor_hour(us); };
  const int64_t step = daily ? kMicrosPerDay : kMicrosPerHour;

  boost::json::array points;
  auto add_point = [&](int64_t start, const RollupBucket& bucket) {
    boost::json::object point;
    point.reserve(16);
    point.emplace("timestamp", format_rfc3339_seconds(start));
    for (auto& field : bucket_to_json(bucket)) point.emplace(field.key(), std::move(field.value()));
    points.push_back(std::move(point));
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
  return {{"interval", daily ? "daily" : "hourly"},
          {"window", window_to_json(window)},
          {"data_points", std::move(points)}};
}

boost::json::object GenerationAnalytics::user(const std::string& user_id,
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

  auto by_count_desc = [](const std::map<std::string, int64_t>& counts) {
    std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    return sorted;
  };
  boost::json::array breakdown;
  for (const auto& [type, count] : by_count_desc(failures_by_type)) {
    breakdown.push_back({{"error_type", type}, {"count", count}});
  }
  boost::json::array models;
  for (const auto& [model, count] : by_count_desc(generations_by_model)) {
    models.push_back({{"model_checkpoint", model}, {"total_generations", count}});
  }

  boost::json::object result = bucket_to_json(total);
  result["user_id"] = *canonical;
  result["failure_breakdown"] = std::move(breakdown);
  result["models_used"] = std::move(models);
  result["last_generation_at"] =
      last_event_us ? boost::json::value(format_rfc3339_micros(*last_event_us)) : nullptr;
  result["window"] = window_to_json(window);
  return result;
}

boost::json::object GenerationAnalytics::models(const TimeWindow& window) const {
  std::map<std::string, RollupBucket> by_model;
  const RollupColumns columns{true, false, false};
  store_.visit_rollups(Dimension::kModelCheckpoint, window.start_us, window.end_us, std::nullopt,
                       columns, [&](const RollupRow& row) {
                         by_model[row.key.value].merge(row.bucket, parts_of(columns));
                       });
  std::vector<std::pair<std::string, const RollupBucket*>> sorted;
  for (const auto& [model, bucket] : by_model) sorted.emplace_back(model, &bucket);
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second->completions() > b.second->completions();
  });

  boost::json::array models;
  for (const auto& [model, b] : sorted) {
    models.push_back({
        {"model_checkpoint", model},
        {"total_generations", b->completions()},
        {"successful_generations", b->successes},
        {"failed_generations", b->failures},
        {"cancelled_generations", b->cancellations},
        {"total_requests", b->requests},
        {"success_rate_pct", pct_json(b->success_rate())},
        {"success_rate", rate_json(b->success_rate())},
        {"avg_duration_ms", optional_ms(b->avg_duration_ms())},
        {"p50_duration_ms", optional_ms(b->duration_quantile(0.50))},
        {"p95_duration_ms", optional_ms(b->duration_quantile(0.95))},
        {"p99_duration_ms", optional_ms(b->duration_quantile(0.99))},
        {"avg_generation_time_ms", optional_ms(b->avg_generation_time_ms())},
        {"avg_queue_wait_ms", optional_ms(b->avg_queue_wait_ms())},
        {"total_images_generated", b->images},
    });
  }
  return {{"window", window_to_json(window)}, {"models", std::move(models)}};
}

boost::json::object GenerationAnalytics::failures(const TimeWindow& window) const {
  std::map<std::string, RollupBucket> by_type;
  const RollupColumns type_columns{false, true, true};
  store_.visit_rollups(Dimension::kErrorType, window.start_us, window.end_us, std::nullopt,
                       type_columns, [&](const RollupRow& row) {
                         by_type[row.key.value].merge(row.bucket, parts_of(type_columns));
                       });
  std::vector<std::pair<std::string, const RollupBucket*>> sorted;
  for (const auto& [type, bucket] : by_type) sorted.emplace_back(type, &bucket);
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second->failures > b.second->failures;
  });
  boost::json::array error_types;
  for (const auto& [type, b] : sorted) {
    boost::json::array messages;
    for (const std::string& m : b->sample_messages) messages.emplace_back(m);
    error_types.push_back({{"error_type", type},
                           {"count", b->failures},
                           {"avg_duration_ms", optional_ms(b->avg_duration_ms())},
                           {"affected_users", b->users.estimate()},
                           {"sample_messages", std::move(messages)}});
  }

  std::map<int64_t, RollupBucket> days;
  for (int64_t t = floor_day(window.start_us); t < window.end_us; t += kMicrosPerDay) days[t];
  store_.visit_rollups(Dimension::kAll, window.start_us, window.end_us, std::nullopt,
                       without_sketches(), [&](const RollupRow& row) {
                         days[floor_day(row.key.hour_us)].merge(row.bucket,
                                                                parts_of(without_sketches()));
                       });
  RollupBucket total;
  boost::json::array trends;
  for (const auto& [day, b] : days) {
    total.merge(b);
    std::optional<double> rate;
    if (b.completions() > 0) rate = static_cast<double>(b.failures) / static_cast<double>(b.completions());
    trends.push_back({{"date", format_date(day)},
                      {"failures", b.failures},
                      {"completions", b.completions()},
                      {"failure_rate", rate_json(rate)},
                      {"failure_rate_pct", pct_json(rate)}});
  }
  std::optional<double> overall;
  if (total.completions() > 0) {
    overall = static_cast<double>(total.failures) / static_cast<double>(total.completions());
  }
  return {{"window", window_to_json(window)},
          {"total_failures", total.failures},
          {"total_completions", total.completions()},
          {"failure_rate", rate_json(overall)},
          {"failure_rate_pct", pct_json(overall)},
          {"error_types", std::move(error_types)},
          {"failure_trends", std::move(trends)}};
}

boost::json::object GenerationAnalytics::peak_hours(const TimeWindow& window) const {
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
  auto average = [](int64_t total, int64_t count) -> boost::json::value {
    if (count == 0) return nullptr;
    return round_to(static_cast<double>(total) / static_cast<double>(count), 4);
  };
  boost::json::array hours;
  std::optional<int> peak_hour;
  double peak_average = -1;
  for (int h = 0; h < 24; ++h) {
    const RollupBucket& b = by_hour[h];
    if (slots[h] > 0 && static_cast<double>(b.requests) / static_cast<double>(slots[h]) > peak_average) {
      peak_hour = h;
      peak_average = static_cast<double>(b.requests) / static_cast<double>(slots[h]);
    }
    hours.push_back({{"hour_of_day", h},
                     {"avg_requests", average(b.requests, slots[h])},
                     {"total_requests", b.requests},
                     {"p95_duration_ms", optional_ms(b.duration_quantile(0.95))},
                     {"success_rate_pct", pct_json(b.success_rate())},
                     {"success_rate", rate_json(b.success_rate())}});
  }
  boost::json::array weekly;
  for (int d = 0; d < 7; ++d) {
    boost::json::array row;
    for (int h = 0; h < 24; ++h) row.push_back(average(weekly_requests[d][h], weekly_slots[d][h]));
    weekly.push_back({{"day_of_week", d}, {"day_name", kDayNames[d]}, {"avg_requests", std::move(row)}});
  }
  return {{"window", window_to_json(window)},
          {"days", static_cast<double>(window.hours()) / 24.0},
          {"peak_hour", peak_hour ? boost::json::value(*peak_hour) : nullptr},
          {"peak_hours", std::move(hours)},
          {"day_of_week_matrix", std::move(weekly)}};
}

}  // namespace genalytics
