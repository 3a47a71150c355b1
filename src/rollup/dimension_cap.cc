#include "rollup/dimension_cap.h"

#include <algorithm>

namespace genalytics {

std::vector<bool> admit_values(std::span<const std::string> stored,
                               std::span<const ValueWeight> candidates, size_t cap) {
  std::vector<std::string_view> known(stored.begin(), stored.end());
  std::sort(known.begin(), known.end());
  known.erase(std::unique(known.begin(), known.end()), known.end());
  const auto is_known = [&](std::string_view value) {
    return std::binary_search(known.begin(), known.end(), value);
  };
  const size_t real_stored = known.size() - (is_known(kOtherValue) ? 1 : 0);

  std::vector<bool> admitted(candidates.size(), true);
  std::vector<size_t> fresh;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (candidates[i].value != kOtherValue && !is_known(candidates[i].value)) fresh.push_back(i);
  }
  std::sort(fresh.begin(), fresh.end(), [&](size_t a, size_t b) {
    if (candidates[a].weight != candidates[b].weight) {
      return candidates[a].weight > candidates[b].weight;
    }
    return candidates[a].value < candidates[b].value;
  });
  const size_t room = cap > real_stored ? cap - real_stored : 0;
  for (size_t rank = room; rank < fresh.size(); ++rank) admitted[fresh[rank]] = false;
  return admitted;
}

}  // namespace genalytics
