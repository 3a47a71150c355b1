// The mean the hourly rows derive from an exact sum and its count.
#pragma once

#include <cstdint>
#include <optional>

namespace genalytics {

// numerator / denominator, or nullopt for no count.
inline std::optional<double> ratio(int64_t numerator, int64_t denominator) {
  if (denominator == 0) return std::nullopt;
  return static_cast<double>(numerator) / static_cast<double>(denominator);
}

}  // namespace genalytics
