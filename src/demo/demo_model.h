// What the demo's two simulations (generations and route hits) share: the
// random numbers, the calendar arithmetic and the daily load curve. Internal
// to demo/.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include "demo/traffic_generator.h"
#include "event/time.h"

namespace genalytics::demo_model {

// Independent random streams derived from one seed, so that, say, the user ids
// do not change when the traffic model consumes one more number.
enum class RngStream : uint64_t {
  kUsers = 1,
  kIncidents,
  kTraffic,
  kIds,
  kRouteTraffic,
  kRouteIds,
  kModelFleet,
  kModelFleetIds
};

// xoshiro256** seeded through splitmix64, with our own distributions: the
// standard library's distributions differ between implementations, and the
// demo must give the same events for the same seed everywhere.
class DemoRng {
 public:
  DemoRng(uint64_t seed, RngStream stream) {
    uint64_t stream_key = static_cast<uint64_t>(stream);
    uint64_t x = splitmix64(seed) ^ splitmix64(stream_key);
    for (uint64_t& word : state_) word = splitmix64(x);
  }

  uint64_t next() {
    const uint64_t result = std::rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = std::rotl(state_[3], 45);
    return result;
  }

  // [0, 1)
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // [lo, hi]
  int uniform_int(int lo, int hi) {
    const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    return lo + static_cast<int>(((next() >> 32) * span) >> 32);
  }
  bool chance(double p) { return uniform() < p; }

  // Box-Muller.
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  double lognormal(double median, double sigma) { return median * std::exp(sigma * normal()); }
  // A lognormal factor whose mean is 1.
  double noise(double sigma) { return std::exp(sigma * normal() - sigma * sigma / 2); }
  double exponential(double mean) { return -mean * std::log(1.0 - uniform()); }

  // An index drawn with probability proportional to `weights`.
  size_t pick(std::span<const double> weights) {
    double total = 0;
    for (double w : weights) total += w;
    double x = uniform() * total;
    for (size_t i = 0; i + 1 < weights.size(); ++i) {
      if (x < weights[i]) return i;
      x -= weights[i];
    }
    return weights.size() - 1;
  }

  // A version-4 style UUID in canonical form.
  std::string uuid() {
    const uint64_t hi = (next() & ~0xF000ULL) | 0x4000ULL;        // version 4
    const uint64_t lo = (next() & ~(3ULL << 62)) | (1ULL << 63);  // variant 10xx
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text(36, '-');
    size_t pos = 0;
    for (int nibble = 0; nibble < 32; ++nibble) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
      const uint64_t word = nibble < 16 ? hi : lo;
      text[pos++] = kHex[(word >> (60 - 4 * (nibble % 16))) & 0xF];
    }
    return text;
  }

 private:
  static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  std::array<uint64_t, 4> state_;
};

inline int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

inline int utc_hour_of(int64_t us) {
  return static_cast<int>(((floor_div(us, kMicrosPerHour) % 24) + 24) % 24);
}

// 0 = Sunday ... 6 = Saturday; 1970-01-01 was a Thursday.
inline int utc_weekday_of(int64_t us) {
  return static_cast<int>(((floor_div(us, kMicrosPerDay) + 4) % 7 + 7) % 7);
}

// Relative load per UTC hour of day: quiet around 03:00, busy 14:00-20:00.
constexpr std::array<double, 24> kHourLoad = {0.62, 0.48, 0.36, 0.28, 0.30, 0.36, 0.46, 0.58,
                                              0.72, 0.86, 0.98, 1.08, 1.18, 1.30, 1.45, 1.56,
                                              1.62, 1.64, 1.60, 1.52, 1.40, 1.20, 0.98, 0.78};
constexpr double kWeekendLoad = 0.78;                        // Saturday and Sunday
constexpr double kWeekdayLoad = (7 - 2 * kWeekendLoad) / 5;  // keeps the weekly mean at 1
constexpr double kGrowthOverWindow = 0.15;                   // traffic grows 15% start to end
constexpr double kDayNoiseSigma = 0.12;
constexpr double kHourNoiseSigma = 0.18;

constexpr double kHourLoadMean = [] {
  double sum = 0;
  for (double load : kHourLoad) sum += load;
  return sum / kHourLoad.size();
}();
constexpr double kPeakHourLoad = [] {
  double peak = 0;
  for (double load : kHourLoad) peak = std::max(peak, load);
  return peak;
}();

// The users of the simulated service, the same for both simulations.
struct DemoPopulation {
  std::vector<std::string> ids;  // ids[0] is kDemoUserId
  std::vector<int64_t> first_active_us;
  std::vector<double> cumulative_weight;  // Zipf: a few users make most requests
};
DemoPopulation demo_population(const DemoOptions& options);

// Hands events to a generator's sink in batches of `batch_size` (at least 1),
// in the order added; flush() hands over the last, shorter one.
template <typename Event>
class DemoBatches {
 public:
  using Sink = std::function<void(std::vector<Event>&&)>;

  // REQUIRES: `sink` outlives this object.
  DemoBatches(size_t batch_size, const Sink& sink)
      : batch_size_(std::max<size_t>(batch_size, 1)), sink_(sink) {
    batch_.reserve(batch_size_);
  }

  void add(Event&& event) {
    batch_.push_back(std::move(event));
    if (batch_.size() == batch_size_) {
      sink_(std::move(batch_));
      batch_.clear();
      batch_.reserve(batch_size_);
    }
  }

  void flush() {
    if (!batch_.empty()) sink_(std::move(batch_));
    batch_.clear();
  }

 private:
  const size_t batch_size_;
  const Sink& sink_;
  std::vector<Event> batch_;
};

}  // namespace genalytics::demo_model
