// The statistics of model usage analytics against exact computations: the
// Mann-Kendall variance against a brute force over every arrangement of the
// series, p-values against the normal distribution computed here directly,
// Theil-Sen against every pairwise slope, Wilson and the Gamma-Poisson model
// at their edges, and the next-use quantiles against closed forms. Over 400
// lines: one test file for the one header of statistics, as elsewhere here.
#include "analytics/model_statistics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <vector>

#include "event/time.h"
#include "testing/fixed_times.h"

namespace genalytics {
namespace {

using testing::kMondayUs;

constexpr double kZ95 = 1.959963984540054;

// S, counted pair by pair.
double brute_force_s(const std::vector<double>& x) {
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    for (size_t j = i + 1; j < x.size(); ++j) s += (x[j] > x[i]) - (x[j] < x[i]);
  }
  return s;
}

// Var(S) under "no trend": the mean of S^2 over every distinct arrangement
// of the values (each equally likely), enumerated.
double brute_force_variance(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  double sum_squares = 0;
  double arrangements = 0;
  do {
    const double s = brute_force_s(x);
    sum_squares += s * s;
    arrangements += 1;
  } while (std::next_permutation(x.begin(), x.end()));
  return sum_squares / arrangements;
}

// The two-sided p-value of S with the continuity correction, from the
// standard normal CDF written as 0.5 * (1 + erf(z / sqrt 2)).
double normal_p_value(double s, double variance) {
  const double z = (std::abs(s) - 1) / std::sqrt(variance);
  return 2 * (1 - 0.5 * (1 + std::erf(z / std::sqrt(2.0))));
}

TEST(HourOfWeekTest, MondayMidnightIsZeroAndSundayLateIs167) {
  EXPECT_EQ(hour_of_week(kMondayUs), 0);
  EXPECT_EQ(hour_of_week(kMondayUs + kMicrosPerHour - 1), 0);
  EXPECT_EQ(hour_of_week(kMondayUs + kMicrosPerHour), 1);
  EXPECT_EQ(hour_of_week(kMondayUs + 6 * kMicrosPerDay + 23 * kMicrosPerHour + 30 * 60'000'000LL),
            167);
  EXPECT_EQ(hour_of_week(kMondayUs + 7 * kMicrosPerDay), 0);
  EXPECT_EQ(hour_of_week(kMondayUs - 1), 167);
}

TEST(HourOfWeekTest, TheEpochWasThursdayAndEarlierTimesWrap) {
  EXPECT_EQ(hour_of_week(0), 72);              // Thursday 00:00
  EXPECT_EQ(hour_of_week(-1), 71);             // Wednesday 23:59:59.999999
  EXPECT_EQ(hour_of_week(-3 * kMicrosPerDay), 0);  // Monday 1969-12-29 00:00
  EXPECT_EQ(hour_of_week(-3 * kMicrosPerDay - 1), 167);
}

TEST(MannKendallTest, RisingSeriesIsIncreasingWithTheExactPValue) {
  const std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  const Trend trend = mann_kendall_trend(x);
  EXPECT_EQ(trend.direction, TrendDirection::kIncreasing);
  EXPECT_EQ(trend.mann_kendall_s, 45);
  // Var(S) = 10 * 9 * 25 / 18 = 125; Z = 44 / sqrt(125).
  EXPECT_NEAR(trend.p_value, 8.303070332644999e-05, 1e-15);
  EXPECT_NEAR(trend.p_value, normal_p_value(45, 125), 1e-12);
  EXPECT_DOUBLE_EQ(trend.theil_sen_slope, 1);
  ASSERT_TRUE(trend.percent_per_week);
  EXPECT_DOUBLE_EQ(*trend.percent_per_week, 1.0 * 7 / 5.5 * 100);
  EXPECT_EQ(to_string(trend.direction), "increasing");
}

TEST(MannKendallTest, FallingSeriesIsDecreasingWithTheSamePValue) {
  const std::vector<double> x = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  const Trend trend = mann_kendall_trend(x);
  EXPECT_EQ(trend.direction, TrendDirection::kDecreasing);
  EXPECT_EQ(trend.mann_kendall_s, -45);
  EXPECT_NEAR(trend.p_value, 8.303070332644999e-05, 1e-15);
  EXPECT_DOUBLE_EQ(trend.theil_sen_slope, -1);
  EXPECT_DOUBLE_EQ(*trend.percent_per_week, -1.0 * 7 / 5.5 * 100);
  EXPECT_EQ(to_string(trend.direction), "decreasing");
}

TEST(MannKendallTest, FiveRisingPointsAreSignificantAtFivePercent) {
  const Trend trend = mann_kendall_trend(std::vector<double>{1, 2, 3, 4, 5});
  // S = 10, Var(S) = 5 * 4 * 15 / 18, Z = 9 / sqrt(Var(S)).
  EXPECT_NEAR(trend.p_value, 0.027486336111510353, 1e-15);
  EXPECT_EQ(trend.direction, TrendDirection::kIncreasing);
  EXPECT_EQ(mann_kendall_trend(std::vector<double>{1, 2, 3, 4, 5}, 0.01).direction,
            TrendDirection::kStable);
}

TEST(MannKendallTest, FlatSeriesWithNoiseIsStable) {
  const std::vector<double> x = {5, 5.3, 4.8, 5.1, 4.9, 5.2, 5.0, 4.7, 5.4, 5.05, 4.95, 5.15};
  const Trend trend = mann_kendall_trend(x);
  EXPECT_EQ(trend.direction, TrendDirection::kStable);
  EXPECT_EQ(trend.mann_kendall_s, 3);
  EXPECT_NEAR(trend.p_value, 0.8906603479582313, 1e-12);
  EXPECT_EQ(to_string(trend.direction), "stable");
}

TEST(MannKendallTest, AllZerosIsStableWithPOne) {
  const std::vector<double> x(30, 0);
  const Trend trend = mann_kendall_trend(x);
  EXPECT_EQ(trend.direction, TrendDirection::kStable);
  EXPECT_EQ(trend.p_value, 1);
  EXPECT_EQ(trend.mann_kendall_s, 0);
  EXPECT_EQ(trend.theil_sen_slope, 0);
  EXPECT_FALSE(trend.percent_per_week);
}

TEST(MannKendallTest, AllEqualAndShortSeriesAreStable) {
  EXPECT_EQ(mann_kendall_trend(std::vector<double>(10, 7)).p_value, 1);
  const Trend two = mann_kendall_trend(std::vector<double>{1, 5});
  EXPECT_EQ(two.direction, TrendDirection::kStable);
  EXPECT_EQ(two.p_value, 1);
  EXPECT_EQ(two.mann_kendall_s, 1);
  EXPECT_EQ(two.theil_sen_slope, 4);
  EXPECT_EQ(mann_kendall_trend(std::vector<double>{}).p_value, 1);
  EXPECT_EQ(mann_kendall_trend(std::vector<double>{3}).mann_kendall_s, 0);
}

TEST(MannKendallTest, TiedSeriesUsesTheTieCorrectedVariance) {
  const std::vector<double> x = {1, 1, 2, 2, 3, 3, 2, 4, 4, 5};
  const Trend trend = mann_kendall_trend(x);
  EXPECT_EQ(trend.mann_kendall_s, 35);
  // Ties 1x2, 2x3, 3x2, 4x2: Var(S) = (2250 - 18 - 66 - 18 - 18) / 18.
  EXPECT_NEAR(trend.p_value, normal_p_value(35, 2130.0 / 18), 1e-12);
  EXPECT_NEAR(trend.p_value, 0.0017747759975943317, 1e-15);
  EXPECT_EQ(trend.direction, TrendDirection::kIncreasing);
}

// On random small series with many ties, S is the pairwise count and the
// p-value follows from the variance of S over every arrangement.
TEST(MannKendallTest, PValueFollowsTheVarianceOfEveryArrangement) {
  std::mt19937_64 random(3);
  for (int round = 0; round < 40; ++round) {
    std::vector<double> x(3 + random() % 6);
    for (double& v : x) v = static_cast<double>(random() % 4);
    const Trend trend = mann_kendall_trend(x);
    const double s = brute_force_s(x);
    EXPECT_EQ(trend.mann_kendall_s, s);
    const double variance = brute_force_variance(x);
    if (s == 0 || variance == 0) {
      EXPECT_EQ(trend.p_value, 1);
    } else {
      EXPECT_NEAR(trend.p_value, normal_p_value(s, variance), 1e-9) << round;
    }
  }
}

TEST(TheilSenTest, MedianOfEveryPairwiseSlope) {
  EXPECT_EQ(theil_sen_slope(std::vector<double>{}), 0);
  EXPECT_EQ(theil_sen_slope(std::vector<double>{4}), 0);
  EXPECT_EQ(theil_sen_slope(std::vector<double>{1, 3}), 2);
  // Six slopes of 1 and 24.75, 32.7, 48.5, 96 to the outlier: the median
  // stays 1.
  EXPECT_DOUBLE_EQ(theil_sen_slope(std::vector<double>{1, 2, 3, 4, 100}), 1);
  // Slopes (0,1) 2, (0,2) 0.5, (1,2) -1, (0,3) 1, (1,3) 0.5, (2,3) 2:
  // sorted -1, 0.5, 0.5, 1, 2, 2 -> (0.5 + 1) / 2.
  EXPECT_DOUBLE_EQ(theil_sen_slope(std::vector<double>{0, 2, 1, 3}), 0.75);

  std::mt19937_64 random(11);
  std::uniform_real_distribution<double> uniform(-10, 10);
  for (int round = 0; round < 20; ++round) {
    std::vector<double> x(2 + random() % 40);
    for (double& v : x) v = uniform(random);
    std::vector<double> slopes;
    for (size_t i = 0; i < x.size(); ++i) {
      for (size_t j = i + 1; j < x.size(); ++j) {
        slopes.push_back((x[j] - x[i]) / static_cast<double>(j - i));
      }
    }
    std::sort(slopes.begin(), slopes.end());
    const size_t m = slopes.size();
    const double median = m % 2 ? slopes[m / 2] : (slopes[m / 2 - 1] + slopes[m / 2]) / 2;
    EXPECT_DOUBLE_EQ(theil_sen_slope(x), median);
  }
}

// Daily use counts of many shapes (sparse, weekly, trending, a step, at the
// edges of the doubles), long enough for the sampled bracket: the exact
// median of every slope however the bracket falls, down to a sample of two
// that misses it most times; and the Mann-Kendall S (counted apart, in a
// Fenwick tree over the values' ranks).
TEST(TheilSenTest, TheSampledBracketAlwaysGivesTheExactMedian) {
  std::mt19937_64 random(29);
  for (int round = 0; round < 300; ++round) {
    const size_t n = 46 + random() % 300;
    std::poisson_distribution<int> poisson(0.3 + static_cast<double>(random() % 100));
    std::vector<double> x(n);
    for (size_t i = 0; i < n; ++i) {
      switch (round % 8) {
        case 0:
          x[i] = poisson(random);
          break;
        case 1:
          x[i] = random() % 10 == 0 ? poisson(random) : 0;
          break;
        case 2:
          x[i] = i < n / 2 ? 0 : 100;
          break;
        case 3:
          x[i] = 3.0 * static_cast<double>(i) + poisson(random);
          break;
        case 4:
          x[i] = i % 7 < 5 ? poisson(random) : 0;
          break;
        case 5:  // slopes so close that the bracket's width is subnormal
          x[i] = poisson(random) * 1e-310;
          break;
        case 6:  // so far apart that they near the largest double
          x[i] = (poisson(random) - 50.0) * 1e300;
          break;
        default:  // and beyond it: differences of +-1.8e308 overflow to infinity
          x[i] = (i % 2 ? 1.0 : -1.0) * 1e308 *
                 (0.5 + 0.4 * static_cast<double>(random() % 1000) / 1000);
          break;
      }
    }
    // Every slope as theil_sen_slope computes it (times the lag's
    // reciprocal), and S.
    std::vector<double> slopes;
    int64_t s = 0;
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = i + 1; j < n; ++j) {
        slopes.push_back((x[j] - x[i]) * (1.0 / static_cast<double>(j - i)));
        s += x[j] > x[i] ? 1 : x[j] < x[i] ? -1 : 0;
      }
    }
    std::sort(slopes.begin(), slopes.end());
    const size_t m = slopes.size();
    const double median = m % 2 ? slopes[m / 2] : (slopes[m / 2 - 1] + slopes[m / 2]) / 2;
    SCOPED_TRACE(::testing::Message() << "round " << round << ", " << n << " days");
    // The mean of the middle two is NaN when they are -inf and +inf.
    const auto same = [](double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); };
    EXPECT_PRED2(same, theil_sen_slope(x), median);
    EXPECT_PRED2(same, theil_sen_slope(x, 16, 2), median);
    EXPECT_PRED2(same, theil_sen_slope(x, 2, 0), median);
    EXPECT_PRED2(same, theil_sen_slope(x, 0, 0), median);
    const Trend trend = mann_kendall_trend(x);
    EXPECT_EQ(trend.mann_kendall_s, static_cast<double>(s));
    EXPECT_PRED2(same, trend.theil_sen_slope, median);
  }
}

// A NaN point is in no pair's sign, as sign(NaN) is 0, and it cannot throw
// the ranks of the other points off (sorting NaN is undefined).
TEST(MannKendallTest, NanPointsCountInNoPair) {
  const double nan = std::nan("");
  for (const std::vector<double>& x :
       {std::vector<double>{1, 7, 8, nan, 2, 3, 4, 5}, std::vector<double>{1, nan, 2},
        std::vector<double>{nan, nan, 3, 1, nan, 2, 2, 9, nan}, std::vector<double>{nan, nan}}) {
    int64_t s = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      for (size_t j = i + 1; j < x.size(); ++j) s += x[j] > x[i] ? 1 : x[j] < x[i] ? -1 : 0;
    }
    EXPECT_EQ(mann_kendall_trend(x).mann_kendall_s, static_cast<double>(s));
  }
}

TEST(TrendTest, PercentPerWeekIsTheWeeklySlopeOverTheMean) {
  std::vector<double> x;
  for (int day = 0; day < 7; ++day) x.push_back(10 + 2 * day);  // mean 16
  const Trend trend = mann_kendall_trend(x);
  EXPECT_DOUBLE_EQ(trend.theil_sen_slope, 2);
  EXPECT_DOUBLE_EQ(*trend.percent_per_week, 87.5);
}

TEST(WilsonTest, EdgesAndKnownValues) {
  const Interval none = wilson_interval(0, 0);
  EXPECT_EQ(none.lower, 0);
  EXPECT_EQ(none.upper, 1);

  const Interval zero = wilson_interval(0, 10);
  EXPECT_EQ(zero.lower, 0);
  EXPECT_NEAR(zero.upper, kZ95 * kZ95 / (10 + kZ95 * kZ95), 1e-15);  // 0.2775...

  const Interval all = wilson_interval(10, 10);
  EXPECT_NEAR(all.lower, 10 / (10 + kZ95 * kZ95), 1e-15);  // 0.7224...
  EXPECT_EQ(all.upper, 1);

  const Interval one = wilson_interval(1, 1);
  EXPECT_NEAR(one.lower, 1 / (1 + kZ95 * kZ95), 1e-15);  // 0.2065...
  EXPECT_EQ(one.upper, 1);

  const Interval half = wilson_interval(5, 10);
  EXPECT_NEAR(half.lower, 0.236593090512564, 1e-12);
  EXPECT_NEAR(half.upper, 0.7634069094874361, 1e-12);

  // 2 failures of 3 is not evidence of a success rate under 50%.
  const Interval two_of_three = wilson_interval(1, 3);
  EXPECT_GT(two_of_three.upper, 0.5);

  const Interval large = wilson_interval(500'000, 1'000'000);
  EXPECT_NEAR(large.lower, 0.4990200198900048, 1e-12);
  EXPECT_NEAR(large.upper, 0.5009799801099952, 1e-12);

  // Out-of-range counts are clamped.
  EXPECT_EQ(wilson_interval(12, 10).upper, 1);
  EXPECT_EQ(wilson_interval(-1, 10).lower, 0);
  EXPECT_EQ(wilson_interval(3, -5).upper, 1);
}

TEST(FleetPriorTest, EdgesGiveAProperWeakPrior) {
  const GammaRate empty = fleet_prior({});
  EXPECT_EQ(empty.shape, 1);
  EXPECT_EQ(empty.rate, 1);

  // One model: 30 uses in 30 days. Mean 1, variance floored at 1.
  const std::vector<RateObservation> one = {{30, 30}};
  const GammaRate single = fleet_prior(one);
  EXPECT_DOUBLE_EQ(single.shape, 1);
  EXPECT_DOUBLE_EQ(single.rate, 1);

  // Identical rates: the same floor.
  const std::vector<RateObservation> same = {{10, 10}, {20, 20}, {40, 40}};
  EXPECT_DOUBLE_EQ(fleet_prior(same).shape, 1);
  EXPECT_DOUBLE_EQ(fleet_prior(same).mean(), 1);

  // Nothing used: mean floored at half a use over the 60 days observed.
  const std::vector<RateObservation> unused = {{0, 30}, {0, 30}};
  const GammaRate floor = fleet_prior(unused);
  EXPECT_DOUBLE_EQ(floor.mean(), 0.5 / 60);
  EXPECT_DOUBLE_EQ(floor.shape, 1);

  // Models without exposure are not observations.
  const std::vector<RateObservation> unexposed = {{5, 0}, {3, -1}};
  EXPECT_EQ(fleet_prior(unexposed).shape, 1);
  EXPECT_EQ(fleet_prior(unexposed).rate, 1);
}

TEST(FleetPriorTest, MethodOfMomentsOnAHandExample) {
  // Rates 0, 1, 5 per day over 100 days each: mean 2, population variance
  // (4 + 1 + 9) / 3 = 14/3, Poisson noise 2 / 100; v = 14/3 - 0.02.
  const std::vector<RateObservation> fleet = {{0, 100}, {100, 100}, {500, 100}};
  const double v = 14.0 / 3 - 0.02;
  const GammaRate prior = fleet_prior(fleet);
  EXPECT_NEAR(prior.shape, 4 / v, 1e-12);
  EXPECT_NEAR(prior.rate, 2 / v, 1e-12);
}

// Rates drawn from Gamma(0.5, 1) (mean 0.5 a day, a spread fleet as Zipf
// popularity gives), uses Poisson over 200 days: the method of moments
// recovers the generating prior. (A narrower fleet, shape > 1, meets the
// floor: the prior stays at shape 1.)
TEST(FleetPriorTest, RecoversTheGeneratingGammaOnAFleet) {
  std::mt19937_64 random(7);
  std::gamma_distribution<double> rates(0.5, 1.0);  // shape, scale
  std::vector<RateObservation> fleet;
  for (int i = 0; i < 20'000; ++i) {
    const double exposure = 200;
    std::poisson_distribution<int> uses(rates(random) * exposure);
    fleet.push_back({static_cast<double>(uses(random)), exposure});
  }
  const GammaRate prior = fleet_prior(fleet);
  EXPECT_NEAR(prior.mean(), 0.5, 0.01);
  EXPECT_NEAR(prior.shape, 0.5, 0.03);
  EXPECT_NEAR(prior.rate, 1, 0.06);

  std::gamma_distribution<double> narrow(4.0, 0.125);
  for (RateObservation& model : fleet) {
    std::poisson_distribution<int> uses(narrow(random) * model.exposure_days);
    model.uses = uses(random);
  }
  const GammaRate floored = fleet_prior(fleet);
  EXPECT_NEAR(floored.mean(), 0.5, 0.01);
  EXPECT_EQ(floored.shape, 1);
}

TEST(GammaPoissonTest, PosteriorAndNoUseProbabilityAtTheEdges) {
  const GammaRate prior{.shape = 0.5, .rate = 2};
  const GammaRate unused = posterior(prior, 0, 30);
  EXPECT_EQ(unused.shape, 0.5);
  EXPECT_EQ(unused.rate, 32);
  // Zero uses: (32 / 62)^0.5.
  EXPECT_NEAR(probability_of_no_use(unused, 30), std::sqrt(32.0 / 62), 1e-15);
  // Horizon 0: certain.
  EXPECT_EQ(probability_of_no_use(unused, 0), 1);
  EXPECT_EQ(probability_of_no_use(unused, -3), 1);
  // Huge exposure without a use: almost certainly unused.
  EXPECT_GT(probability_of_no_use(posterior(prior, 0, 1e9), 30), 1 - 1e-7);
  // Huge exposure at one use a day: the Poisson limit exp(-30).
  const GammaRate steady = posterior(prior, 1e9, 1e9);
  EXPECT_NEAR(probability_of_no_use(steady, 30) / std::exp(-30.0), 1, 1e-6);
  // A model used often is not expected to go unused.
  EXPECT_LT(probability_of_no_use(posterior(prior, 300, 30), 30), 1e-12);
}

using Profile = std::array<double, kHoursPerWeek>;

TEST(PredictNextUseTest, ConstantRateGivesTheExponentialQuantiles) {
  Profile rates;
  rates.fill(0.5);  // a use every 2 hours on average
  const int64_t now = kMondayUs + 17 * kMicrosPerHour + 1'234'567;
  const std::optional<NextUse> next = predict_next_use(rates, now);
  ASSERT_TRUE(next);
  const auto at = [&](double cumulative) {
    return now + std::llround(cumulative / 0.5 * kMicrosPerHour);
  };
  EXPECT_NEAR(next->median_us, at(std::log(2.0)), 1);
  EXPECT_NEAR(next->lower_us, at(-std::log(0.95)), 1);
  ASSERT_TRUE(next->upper_us);
  EXPECT_NEAR(*next->upper_us, at(std::log(20.0)), 1);
}

TEST(PredictNextUseTest, RateInOneHourOfWeekOnly) {
  Profile rates{};
  rates[10] = 3;  // Monday 10:00-11:00, three uses expected
  // Just after that hour: the next chance is next Monday 10:00.
  const int64_t now = kMondayUs + 11 * kMicrosPerHour + 5;
  const std::optional<NextUse> next = predict_next_use(rates, now);
  ASSERT_TRUE(next);
  const int64_t hour = kMondayUs + 7 * kMicrosPerDay + 10 * kMicrosPerHour;
  EXPECT_NEAR(next->lower_us, hour + std::llround(-std::log(0.95) / 3 * kMicrosPerHour), 1);
  EXPECT_NEAR(next->median_us, hour + std::llround(std::log(2.0) / 3 * kMicrosPerHour), 1);
  ASSERT_TRUE(next->upper_us);  // ln 20 = 2.996 < 3: within that hour
  EXPECT_NEAR(*next->upper_us, hour + std::llround(std::log(20.0) / 3 * kMicrosPerHour), 1);

  // 0.2 a week: after three weeks 0.6, the median 0.0931 into the fourth
  // week's hour; 95% is beyond 28 days.
  rates[10] = 0.2;
  const std::optional<NextUse> rare = predict_next_use(rates, now);
  ASSERT_TRUE(rare);
  EXPECT_NEAR(
      rare->median_us,
      hour + 3 * 7 * kMicrosPerDay + std::llround((std::log(2.0) - 0.6) / 0.2 * kMicrosPerHour), 2);
  EXPECT_EQ(rare->lower_us, hour + std::llround(-std::log(0.95) / 0.2 * kMicrosPerHour));
  EXPECT_FALSE(rare->upper_us);

  // 0.1 a week: 0.4 within 28 days, under a 50% chance.
  rates[10] = 0.1;
  EXPECT_FALSE(predict_next_use(rates, now));
  // A longer horizon reaches it.
  EXPECT_TRUE(predict_next_use(rates, now, 56));
}

TEST(PredictNextUseTest, AllZerosAndNoHorizonGiveNothing) {
  Profile zeros{};
  EXPECT_FALSE(predict_next_use(zeros, kMondayUs));
  Profile rates;
  rates.fill(100);
  EXPECT_FALSE(predict_next_use(rates, kMondayUs, 0));
  // Negative and non-finite rates count as 0.
  Profile bad;
  bad.fill(-1);
  bad[5] = std::nan("");
  EXPECT_FALSE(predict_next_use(bad, kMondayUs));
}

TEST(PredictNextUseTest, CrossesTheWeekBoundary) {
  Profile rates{};
  rates[0] = 2;  // Monday 00:00-01:00
  // Sunday 23:30: the next Monday is half an hour away.
  const int64_t now = kMondayUs + 6 * kMicrosPerDay + 23 * kMicrosPerHour + 30 * 60'000'000LL;
  const std::optional<NextUse> next = predict_next_use(rates, now);
  ASSERT_TRUE(next);
  const int64_t monday = kMondayUs + 7 * kMicrosPerDay;
  EXPECT_EQ(hour_of_week(monday), 0);
  EXPECT_NEAR(next->median_us, monday + std::llround(std::log(2.0) / 2 * kMicrosPerHour), 1);
  // ln 20 > 2: the 95% quantile is the Monday after.
  ASSERT_TRUE(next->upper_us);
  EXPECT_NEAR(*next->upper_us,
              monday + 7 * kMicrosPerDay + std::llround((std::log(20.0) - 2) / 2 * kMicrosPerHour),
              1);

  // From inside the hour, only its rest counts.
  const int64_t inside = kMondayUs + 15 * 60'000'000LL;  // Monday 00:15, 0.75 h left: 1.5
  const std::optional<NextUse> partial = predict_next_use(rates, inside);
  ASSERT_TRUE(partial);
  EXPECT_NEAR(partial->median_us, inside + std::llround(std::log(2.0) / 2 * kMicrosPerHour), 1);
  ASSERT_TRUE(partial->upper_us);
  EXPECT_NEAR(
      *partial->upper_us,
      kMondayUs + 7 * kMicrosPerDay + std::llround((std::log(20.0) - 1.5) / 2 * kMicrosPerHour), 1);
}

}  // namespace
}  // namespace genalytics
