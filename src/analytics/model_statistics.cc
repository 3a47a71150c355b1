#include "analytics/model_statistics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <iterator>
#include <limits>
#include <vector>

#include "event/time.h"

namespace genalytics {
namespace {


// Floor division: hours before 1970 belong to the hour that starts before them.
int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int sign(double x) { return (x > 0) - (x < 0); }

// The median of `values` (reordered): the mean of the middle two for an
// even count. REQUIRES: !values.empty().
double median_of(std::vector<double>& values) {
  const size_t upper = values.size() / 2;
  const auto upper_it = values.begin() + static_cast<std::ptrdiff_t>(upper);
  std::nth_element(values.begin(), upper_it, values.end());
  if (values.size() % 2 == 1) return *upper_it;
  return (*std::max_element(values.begin(), upper_it) + *upper_it) / 2;
}

}  // namespace

int hour_of_week(int64_t timestamp_us) {
  // Hour 0 since the epoch is Thursday 00:00, which is hour 72 of its week.
  const int64_t hours = floor_div(timestamp_us, kMicrosPerHour) + 72;
  return static_cast<int>(((hours % kHoursPerWeek) + kHoursPerWeek) % kHoursPerWeek);
}

std::string_view to_string(TrendDirection direction) {
  switch (direction) {
    case TrendDirection::kIncreasing:
      return "increasing";
    case TrendDirection::kDecreasing:
      return "decreasing";
    case TrendDirection::kStable:
      break;
  }
  return "stable";
}

namespace {

// The values of ranks `rank` and `rank` - 1 (0-based; the second only when
// rank > 0) among `values`, every one of them within [low, high]. A pass
// counts the values in 64 buckets of equal width between low and high (the
// bucket grows with the value, so every value of a lower bucket is <= every
// value of a higher one), and selection runs only among the bucket's values
// that hold the rank: about 1/64 of them when they spread, all of them at
// worst (a bracket that is infinite or of no width is one bucket).
struct Ranked {
  double at = 0;
  double before = 0;
};

Ranked select_ranks(std::span<const double> values, size_t rank, double low, double high) {
  constexpr size_t kBuckets = 64;
  const double scale = static_cast<double>(kBuckets) / (high - low);
  const bool spread =
      std::isfinite(low) && std::isfinite(high) && high > low && std::isfinite(scale) && scale > 0;
  const auto bucket_of = [&](double value) {
    if (!spread) return size_t{0};
    // Through int64_t: a double's conversion to unsigned costs several
    // instructions on x86-64. 0 <= (value - low) * scale <= about kBuckets.
    return std::min(kBuckets - 1, static_cast<size_t>(static_cast<int64_t>((value - low) * scale)));
  };
  std::array<size_t, kBuckets> counts{};
  for (const double value : values) ++counts[bucket_of(value)];
  size_t bucket = 0;
  size_t lower = 0;  // values in the buckets below `bucket`
  while (lower + counts[bucket] <= rank) lower += counts[bucket++];
  std::vector<double> in_bucket;
  in_bucket.reserve(counts[bucket]);
  double lower_max = -std::numeric_limits<double>::infinity();
  for (const double value : values) {
    const size_t b = bucket_of(value);
    if (b == bucket) {
      in_bucket.push_back(value);
    } else if (b < bucket) {
      lower_max = std::max(lower_max, value);
    }
  }
  const auto at = in_bucket.begin() + static_cast<std::ptrdiff_t>(rank - lower);
  std::nth_element(in_bucket.begin(), at, in_bucket.end());
  Ranked ranked{*at, 0};
  if (rank > 0)
    ranked.before = at != in_bucket.begin() ? *std::max_element(in_bucket.begin(), at) : lower_max;
  return ranked;
}

// S = the sum over pairs i < j of sign(x_j - x_i): for each point, the
// earlier points below it minus those above it, counted in a Fenwick tree
// over the ranks of the distinct values. O(n log n), not a pass over every
// pair. `sorted` is the series' values other than NaN, sorted; a NaN point
// is in no pair's sign (sign(NaN) is 0).
int64_t mann_kendall_s(std::span<const double> series, std::span<const double> sorted) {
  std::vector<double> distinct(sorted.begin(), sorted.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  std::vector<int64_t> tree(distinct.size() + 1, 0);  // 1-based
  const auto count_below = [&](size_t rank) {         // earlier points of rank < `rank`
    int64_t count = 0;
    for (; rank > 0; rank &= rank - 1) count += tree[rank];
    return count;
  };
  int64_t s = 0;
  int64_t seen = 0;  // earlier points in the tree
  for (const double x : series) {
    if (std::isnan(x)) continue;
    const auto rank = static_cast<size_t>(std::lower_bound(distinct.begin(), distinct.end(), x) -
                                          distinct.begin());
    const int64_t below = count_below(rank);
    const int64_t above = seen - count_below(rank + 1);
    s += below - above;
    for (size_t i = rank + 1; i < tree.size(); i += i & (~i + 1)) ++tree[i];
    ++seen;
  }
  return s;
}

}  // namespace

double theil_sen_slope(std::span<const double> series) {
  return theil_sen_slope(series, kTheilSenSample, kTheilSenMargin);
}

double theil_sen_slope(std::span<const double> series, size_t sample_size, size_t margin) {
  const size_t n = series.size();
  if (n < 2) return 0;
  const size_t pairs = n * (n - 1) / 2;
  // Each lag's reciprocal once: a multiplication per pair, not a division
  // (every model's 90-day series is 4,005 pairs).
  std::vector<double> inverse(n);
  for (size_t lag = 1; lag < n; ++lag) inverse[lag] = 1.0 / static_cast<double>(lag);
  // Every slope, when no sample brackets the median.
  auto median_of_all = [&] {
    std::vector<double> slopes(pairs);
    double* slope = slopes.data();
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = i + 1; j < n; ++j) *slope++ = (series[j] - series[i]) * inverse[j - i];
    }
    return median_of(slopes);
  };
  if (sample_size == 0 || margin >= sample_size / 2 || pairs < 8 * sample_size) {
    return median_of_all();
  }
  // Selecting among every slope costs several passes over them. Instead,
  // the slopes of evenly spaced pairs give two values expected to bracket
  // the median; one pass counts the slopes below the bracket and keeps
  // those inside it, and the median is selected among those alone. When the
  // bracket misses the middle ranks, every slope is selected from: the
  // answer is always the exact median.
  std::vector<double> sample(sample_size);
  size_t row = 0;  // pair (row, row + 1) has index row_start
  size_t row_start = 0;
  for (size_t k = 0; k < sample_size; ++k) {
    const size_t index = k * pairs / sample_size;
    while (index >= row_start + (n - 1 - row)) row_start += n - 1 - row++;
    const size_t j = row + 1 + (index - row_start);
    sample[k] = (series[j] - series[row]) * inverse[j - row];
  }
  const auto low_it = sample.begin() + static_cast<std::ptrdiff_t>(sample_size / 2 - margin);
  const auto high_it = sample.begin() + static_cast<std::ptrdiff_t>(sample_size / 2 + margin);
  std::nth_element(sample.begin(), low_it, sample.end());
  const double low = *low_it;
  std::nth_element(low_it, high_it, sample.end());
  const double high = *high_it;
  size_t below = 0;
  size_t kept = 0;
  std::vector<double> middle(pairs);
  for (size_t i = 0; i + 1 < n; ++i) {
    const double x = series[i];
    for (size_t j = i + 1; j < n; ++j) {
      const double slope = (series[j] - x) * inverse[j - i];
      below += static_cast<size_t>(slope < low);
      middle[kept] = slope;
      // & not &&: no branch, which half the slopes would mispredict.
      kept += static_cast<size_t>(slope >= low) & static_cast<size_t>(slope <= high);
    }
  }
  const size_t lower_rank = (pairs - 1) / 2;  // the middle two (one for an odd count)
  const size_t upper_rank = pairs / 2;
  if (below > lower_rank || below + kept <= upper_rank) return median_of_all();
  middle.resize(kept);
  // upper_rank > below when the count is even: lower_rank >= below.
  const Ranked median = select_ranks(middle, upper_rank - below, low, high);
  return lower_rank == upper_rank ? median.at : (median.before + median.at) / 2;
}

Trend mann_kendall_trend(std::span<const double> series, double alpha) {
  const size_t n = series.size();
  Trend trend;
  // NaN has no place in an order (sorting it is undefined): left out.
  std::vector<double> sorted;
  sorted.reserve(n);
  std::copy_if(series.begin(), series.end(), std::back_inserter(sorted),
               [](double x) { return !std::isnan(x); });
  std::sort(sorted.begin(), sorted.end());
  const int64_t s = mann_kendall_s(series, sorted);
  trend.mann_kendall_s = static_cast<double>(s);
  trend.theil_sen_slope = theil_sen_slope(series);
  double sum = 0;
  for (double x : series) sum += x;
  if (n > 0 && sum != 0) {
    trend.percent_per_week = trend.theil_sen_slope * 7 / (sum / static_cast<double>(n)) * 100;
  }

  // Var(S) = [n(n-1)(2n+5) - sum over groups of ties t(t-1)(2t+5)] / 18.
  const auto term = [](double t) { return t * (t - 1) * (2 * t + 5); };
  double variance = term(static_cast<double>(n));
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    variance -= term(static_cast<double>(j - i));
    i = j;
  }
  variance /= 18;
  if (n < 3 || variance <= 0 || s == 0) return trend;  // stable, p = 1

  const double z = (static_cast<double>(s) - sign(static_cast<double>(s))) / std::sqrt(variance);
  trend.p_value = std::erfc(std::abs(z) / std::sqrt(2.0));
  if (trend.p_value < alpha) {
    trend.direction = s > 0 ? TrendDirection::kIncreasing : TrendDirection::kDecreasing;
  }
  return trend;
}

Interval wilson_interval(int64_t successes, int64_t trials, double z) {
  if (trials <= 0) return {};
  successes = std::clamp<int64_t>(successes, 0, trials);
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(successes) / n;
  const double z2 = z * z;
  const double denominator = 1 + z2 / n;
  const double center = (p + z2 / (2 * n)) / denominator;
  const double half = z * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator;
  Interval interval;
  interval.lower = successes == 0 ? 0 : std::clamp(center - half, 0.0, 1.0);
  interval.upper = successes == trials ? 1 : std::clamp(center + half, 0.0, 1.0);
  return interval;
}

GammaRate fleet_prior(std::span<const RateObservation> models) {
  double count = 0;
  double rate_sum = 0;
  double rate_square_sum = 0;
  double noise_sum = 0;  // sum of 1 / exposure_i, for the mean Poisson noise
  double exposure_sum = 0;
  for (const RateObservation& model : models) {
    if (!(model.exposure_days > 0) || !std::isfinite(model.exposure_days)) continue;
    const double rate = std::max(0.0, model.uses) / model.exposure_days;
    count += 1;
    rate_sum += rate;
    rate_square_sum += rate * rate;
    noise_sum += 1 / model.exposure_days;
    exposure_sum += model.exposure_days;
  }
  if (count == 0) return {};
  const double mean = std::max(rate_sum / count, 0.5 / exposure_sum);
  const double observed_variance =
      std::max(0.0, rate_square_sum / count - (rate_sum / count) * (rate_sum / count));
  const double variance = std::max(observed_variance - mean * noise_sum / count, mean * mean);
  return {.shape = mean * mean / variance, .rate = mean / variance};
}

GammaRate posterior(const GammaRate& prior, double uses, double exposure_days) {
  return {.shape = prior.shape + uses, .rate = prior.rate + exposure_days};
}

double probability_of_no_use(const GammaRate& posterior, double horizon_days) {
  if (!(horizon_days > 0)) return 1;
  return std::exp(-posterior.shape * std::log1p(horizon_days / posterior.rate));
}

std::optional<NextUse> predict_next_use(std::span<const double, kHoursPerWeek> expected_uses,
                                        int64_t now_us, int horizon_days) {
  if (horizon_days <= 0) return std::nullopt;
  // The cumulative rate at which each quantile q is reached: -ln(1 - q).
  const double lower_target = -std::log(0.95);
  const double median_target = std::log(2.0);
  const double upper_target = std::log(20.0);
  const int64_t horizon_us = now_us + int64_t{horizon_days} * 24 * kMicrosPerHour;

  NextUse next;
  std::optional<int64_t> lower;
  std::optional<int64_t> median;
  double cumulative = 0;  // expected uses from now to segment_start
  int64_t segment_start = now_us;
  while (segment_start < horizon_us) {
    const int64_t hour_end = (floor_div(segment_start, kMicrosPerHour) + 1) * kMicrosPerHour;
    const int64_t segment_end = std::min(hour_end, horizon_us);
    const double per_hour = expected_uses[static_cast<size_t>(hour_of_week(segment_start))];
    if (per_hour > 0 && std::isfinite(per_hour)) {
      const double added = per_hour * static_cast<double>(segment_end - segment_start) / kMicrosPerHour;
      // The time within this segment at which `target` is reached, if it is.
      const auto reached = [&](double target) -> std::optional<int64_t> {
        if (cumulative + added < target) return std::nullopt;
        const double hours = (target - cumulative) / per_hour;
        return segment_start + std::llround(hours * kMicrosPerHour);
      };
      if (!lower) lower = reached(lower_target);
      if (!median) median = reached(median_target);
      next.upper_us = reached(upper_target);
      if (next.upper_us) break;
      cumulative += added;
    }
    segment_start = segment_end;
  }
  if (!median) return std::nullopt;
  next.lower_us = *lower;
  next.median_us = *median;
  return next;
}

}  // namespace genalytics
