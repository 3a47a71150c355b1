// Every ratio in an answer is given twice: `<name>` as a fraction and
// `<name>_pct` as 100 x that fraction, so a reader never has to guess which
// one a field holds. Both are null when the ratio is undefined (nothing to
// divide by).
#pragma once

#include <boost/json/value.hpp>
#include <cmath>
#include <optional>

namespace genalytics {

// The fraction, rounded to 4 decimals (0.9132).
inline boost::json::value rate_json(const std::optional<double>& fraction) {
  if (!fraction) return nullptr;
  return std::round(*fraction * 1e4) / 1e4;
}

// 100 x the fraction, rounded to 2 decimals (91.32): the same figure as
// rate_json's.
inline boost::json::value pct_json(const std::optional<double>& fraction) {
  if (!fraction) return nullptr;
  return std::round(*fraction * 1e4) / 1e2;
}

// part / whole; nullopt when whole is 0.
inline std::optional<double> ratio(double part, double whole) {
  if (whole == 0) return std::nullopt;
  return part / whole;
}

}  // namespace genalytics
