// Ratios in results are unrounded fractions, nullopt when undefined (nothing
// to divide by). Answers give each one twice, as a fraction and as a
// percentage (server/analytics_json.h).
#pragma once

#include <optional>

namespace genalytics {

// part / whole; nullopt when whole is 0.
inline std::optional<double> ratio(double part, double whole) {
  if (whole == 0) return std::nullopt;
  return part / whole;
}

}  // namespace genalytics
