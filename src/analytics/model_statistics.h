// The statistics behind model usage analytics (issue 10, seed 003): the hour
// of week, the trend of a daily series (Mann-Kendall with the Theil-Sen
// slope), Wilson score intervals, a Gamma-Poisson model of a use rate shrunk
// toward the fleet, and when the next use comes under an hour-of-week rate
// profile. Pure functions of their arguments: no store, no clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace genalytics {

inline constexpr int kHoursPerWeek = 168;

// Hour of week of a UTC time: Monday 00:00-01:00 is 0, Sunday 23:00 is 167
// (1970-01-01 was a Thursday). Any timestamp, negative ones included.
int hour_of_week(int64_t timestamp_us);

enum class TrendDirection : uint8_t { kIncreasing, kDecreasing, kStable };

// "increasing", "decreasing", "stable".
std::string_view to_string(TrendDirection direction);

struct Trend {
  TrendDirection direction = TrendDirection::kStable;
  // Two-sided Mann-Kendall p-value: normal approximation of S with the tie
  // correction of its variance and a continuity correction (Z = (S - sign S) / sd).
  double p_value = 1;
  double mann_kendall_s = 0;
  double theil_sen_slope = 0;  // per step (per day for daily series)
  // slope * 7 / mean of the series * 100; nullopt when the mean is 0.
  std::optional<double> percent_per_week;
};

// Mann-Kendall on `series` (in time order): increasing / decreasing when
// p < alpha and S > 0 / S < 0, else stable. Fewer than 3 points, or all
// equal (all zeros included): stable with p = 1 (S, the slope and the
// percentage are still those of the series). O(n^2) time and memory: meant
// for daily series of a window (at most a few hundred points).
Trend mann_kendall_trend(std::span<const double> series, double alpha = 0.05);

// Median of the pairwise slopes (x_j - x_i) / (j - i), i < j (x = index;
// the mean of the middle two for an even count). 0 for fewer than 2 points.
double theil_sen_slope(std::span<const double> series);

// The same, exactly, found by way of `sample_size` evenly spaced pairs whose
// slopes of ranks sample_size / 2 -+ margin are expected to bracket the
// median: one pass keeps the slopes between them and the median is selected
// among those; when they miss it, among all. theil_sen_slope uses 128 and 16
// (about three standard deviations of the sample median's rank); tests make
// the bracket miss with a small sample.
inline constexpr size_t kTheilSenSample = 128;
inline constexpr size_t kTheilSenMargin = 16;
double theil_sen_slope(std::span<const double> series, size_t sample_size, size_t margin);

struct Interval {
  double lower = 0;
  double upper = 1;
};

// Wilson score interval for successes / trials at `z` (default 95%), within
// [0, 1]: exactly 0 below when there are no successes, exactly 1 above when
// every trial succeeded. trials <= 0 -> [0, 1]; successes is clamped to
// [0, trials].
Interval wilson_interval(int64_t successes, int64_t trials, double z = 1.959963984540054);

// Gamma-Poisson model of a use rate (uses per day): a Gamma(shape, rate)
// prior or posterior of the rate.
struct GammaRate {
  double shape = 1;
  double rate = 1;  // in days: the prior's weight as days of observation
  double mean() const { return shape / rate; }
};

// Uses of one model over the days it could have been used (since it was
// first seen, within the window).
struct RateObservation {
  double uses = 0;
  double exposure_days = 0;
};

// The fleet prior, by the method of moments over the models' observed rates
// r_i = uses_i / exposure_days_i (models with exposure_days > 0; each model
// counts once). Mean m = the mean of r_i. Variance of the true rates v =
// the population variance of r_i minus the mean Poisson noise m / exposure_i
// (the part of the spread sampling alone explains). Then shape = m^2 / v,
// rate = m / v.
// Floors, so that the prior is proper and weak even for a fleet of one model
// or of identical rates: v >= m^2, i.e. shape <= 1 (a coefficient of
// variation of at least 1: the prior never counts for more than one use of
// evidence); m >= 0.5 / the fleet's total exposure (half a use over
// everything observed, when nothing was used). No model with exposure ->
// Gamma(1, 1) (mean one use a day, worth one day of observation).
GammaRate fleet_prior(std::span<const RateObservation> models);

// Posterior after observing `uses` in `exposure_days`:
// Gamma(shape + uses, rate + exposure_days).
GammaRate posterior(const GammaRate& prior, double uses, double exposure_days);

// Probability of no use in the next `horizon_days` under the posterior
// predictive (negative binomial at zero): (rate / (rate + horizon))^shape.
// 1 for a horizon <= 0.
double probability_of_no_use(const GammaRate& posterior, double horizon_days);

// When the next use comes, for Poisson arrivals whose rate depends on the
// hour of week: expected_uses[h] is the expected number of uses during
// hour-of-week h, constant within the hour. Quantiles of the first arrival
// after now: the time t at which the cumulative rate from now reaches
// -ln(1 - q).
struct NextUse {
  int64_t median_us = 0;            // the 50% quantile
  int64_t lower_us = 0;             // the 5% quantile
  std::optional<int64_t> upper_us;  // the 95% quantile; nullopt when beyond the horizon
};

// nullopt when the rates give less than a 50% chance of a use within
// `horizon_days` (default 28) of now. Negative or non-finite rates count
// as 0.
std::optional<NextUse> predict_next_use(std::span<const double, kHoursPerWeek> expected_uses,
                                        int64_t now_us, int horizon_days = 28);

}  // namespace genalytics
