// simulate_bench: the model policy simulator (issue 10) over 10^6 uses in
// 30 days of 500 models with a Zipf popularity and daily rhythms, timed
// (median of --runs) beside a plain LRU replay of the same uses alone: the
// least any replay costs. Goal: simulate() under 2 s. Prints every policy's
// figures once, and how much ours beats LRU and keep-alive by.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <list>
#include <map>
#include <random>

#include "analytics/model_simulation.h"
#include "harness.h"

namespace genalytics::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kUsPerHour = int64_t{3'600'000'000};
constexpr int64_t kUsPerDay = 24 * kUsPerHour;
// 2025-01-27T00:00:00Z, a Monday: the history starts here.
constexpr int64_t kHistoryStartUs = 1'737'936'000'000'000;
constexpr double kGoalMs = 2000;

struct Flags {
  int64_t uses = 1'000'000;
  int days = 30;
  int history_days = 14;
  int models = 500;
  double zipf_s = 1;
  double vram_budget_gb = 24;
  int runs = 5;
  uint64_t seed = 3;
};

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Models of 2-10 GB that load at 1 s + 1.5 s per GB, each with a Zipf share
// of the uses (rank order shuffled against size) and a daily peak hour; uses
// fall around it (normal, sd 2.5 h), on any day of their period.
SimInput make_trace(const Flags& flags) {
  std::mt19937_64 random(flags.seed);
  std::uniform_real_distribution<double> unit(0, 1);
  std::normal_distribution<double> around(0, 2.5);
  SimInput input;
  std::vector<double> share;
  std::vector<double> peak;
  for (int m = 0; m < flags.models; ++m) {
    const double gb = 2 + 8 * unit(random);
    input.models.push_back({fmt::format("model-{:03}", m), 1000 + 1500 * gb, gb * 1024});
    share.push_back(1 / std::pow(m + 1, flags.zipf_s));
    peak.push_back(24 * unit(random));
  }
  std::discrete_distribution<uint32_t> pick(share.begin(), share.end());
  input.budget_mb = flags.vram_budget_gb * 1024;
  input.history_start_us = kHistoryStartUs;
  input.start_us = kHistoryStartUs + flags.history_days * kUsPerDay;
  input.end_us = input.start_us + flags.days * kUsPerDay;
  const auto fill = [&](std::vector<SimUse>& uses, int64_t from_us, int days, int64_t count) {
    uses.reserve(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      const uint32_t m = pick(random);
      const int day = static_cast<int>(unit(random) * days);
      const double hour = std::fmod(peak[m] + around(random) + 48, 24);
      uses.push_back({from_us + day * kUsPerDay + static_cast<int64_t>(hour * kUsPerHour), m});
    }
    std::sort(uses.begin(), uses.end(),
              [](const SimUse& a, const SimUse& b) { return a.timestamp_us < b.timestamp_us; });
  };
  fill(input.history, kHistoryStartUs, flags.history_days,
       flags.uses * flags.history_days / flags.days);
  fill(input.uses, input.start_us, flags.days, flags.uses);
  return input;
}

// The comparison: LRU over the window's uses and nothing else (a std::list
// and an iterator per model), its warm hits returned so it is not optimised away.
int64_t plain_lru(const SimInput& input) {
  std::list<uint32_t> recency;  // most recent first
  std::vector<std::list<uint32_t>::iterator> where(input.models.size(), recency.end());
  double loaded_mb = 0;
  int64_t warm = 0;
  for (const SimUse& use : input.uses) {
    const double vram = input.models[use.model].vram_mb;
    if (where[use.model] != recency.end()) {
      recency.splice(recency.begin(), recency, where[use.model]);
      ++warm;
      continue;
    }
    if (vram > input.budget_mb) continue;
    while (loaded_mb + vram > input.budget_mb) {
      loaded_mb -= input.models[recency.back()].vram_mb;
      where[recency.back()] = recency.end();
      recency.pop_back();
    }
    recency.push_front(use.model);
    where[use.model] = recency.begin();
    loaded_mb += vram;
  }
  return warm;
}

int run(const Flags& flags) {
  const SimInput input = make_trace(flags);
  fmt::print(
      "simulate_bench: {} uses over {} days (+{} of history over {} days), {} models (Zipf s={}, "
      "daily rhythms), VRAM budget {} GB\n",
      with_commas(static_cast<int64_t>(input.uses.size())), flags.days,
      with_commas(static_cast<int64_t>(input.history.size())), flags.history_days, flags.models,
      flags.zipf_s, flags.vram_budget_gb);

  SimResult result;
  std::vector<double> simulate_ms;
  for (int run = 0; run < flags.runs; ++run) {
    const Clock::time_point start = Clock::now();
    result = simulate(input);
    simulate_ms.push_back(ms_since(start));
  }
  int64_t lru_warm = 0;
  std::vector<double> lru_ms;
  for (int run = 0; run < flags.runs; ++run) {
    const Clock::time_point start = Clock::now();
    lru_warm = plain_lru(input);
    lru_ms.push_back(ms_since(start));
  }

  fmt::print("  {:<14} {:>9} {:>12} {:>13} {:>17}\n", "policy", "warm-hit", "cold starts",
             "load-seconds", "hour-start loads");
  std::map<std::string, PolicyResult> by_name;
  for (const PolicyResult& policy : result.policies) {
    fmt::print("  {:<14} {:>8.1f}% {:>12} {:>13} {:>17}\n", policy.policy,
               100 * policy.warm_hit_ratio(), with_commas(policy.cold_starts),
               with_commas(std::llround(policy.load_seconds)),
               with_commas(policy.hour_start_loads));
    by_name[policy.policy] = policy;
  }
  const PolicyResult& ours = by_name["ours"];
  for (const char* name : {"lru", "keep_alive_5m"}) {
    const PolicyResult& other = by_name[name];
    fmt::print("  ours vs {}: warm-hit {:+.1f} points, load-seconds {:+.1f}%\n", name,
               100 * (ours.warm_hit_ratio() - other.warm_hit_ratio()),
               100 * (ours.load_seconds / other.load_seconds - 1));
  }
  const double simulate_median = median(simulate_ms);
  const double lru_median = median(lru_ms);
  fmt::print(
      "  simulate() (every policy, walk-forward fit): {:.0f} ms (median of {}) "
      "(goal < {:.0f} ms: {})\n",
      simulate_median, flags.runs, kGoalMs, simulate_median < kGoalMs ? "met" : "MISSED");
  fmt::print(
      "  plain LRU replay alone (window only, {} warm hits): {:.1f} ms (median of {}); "
      "simulate() is {:.1f}x that\n",
      with_commas(lru_warm), lru_median, flags.runs, simulate_median / lru_median);
  return simulate_median < kGoalMs ? 0 : 1;
}

}  // namespace
}  // namespace genalytics::bench

int main(int argc, char** argv) {
  genalytics::bench::Flags flags;
  CLI::App app{"simulate_bench: the model policy simulator beside a plain LRU replay"};
  app.add_option("--uses", flags.uses, "model uses in the simulated window")
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  app.add_option("--days", flags.days, "days simulated")->check(CLI::Range(1, 3660));
  app.add_option("--history-days", flags.history_days, "days of history before them (fit only)")
      ->check(CLI::Range(0, 3660));
  app.add_option("--models", flags.models, "models")->check(CLI::Range(1, 1'000'000));
  app.add_option("--zipf-s", flags.zipf_s, "Zipf exponent of model popularity")
      ->check(CLI::Range(0.0, 10.0));
  app.add_option("--vram-budget-gb", flags.vram_budget_gb, "the GPU's VRAM budget")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--runs", flags.runs, "repetitions; medians are printed")
      ->check(CLI::Range(1, 100));
  app.add_option("--seed", flags.seed, "random seed of the trace");
  CLI11_PARSE(app, argc, argv);
  try {
    return genalytics::bench::run(flags);
  } catch (const std::exception& e) {
    fmt::print(stderr, "simulate_bench: {}\n", e.what());
    return 1;
  }
}
