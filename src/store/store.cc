#include "store/store.h"

#include <algorithm>
#include <ostream>
#include <unordered_map>

#include "store/model_span_cache.h"

namespace genalytics {

const char* to_string(StoreFailure failure) {
  switch (failure) {
    case StoreFailure::kUnavailable: return "unavailable";
    case StoreFailure::kCorrupt: return "corrupt";
    case StoreFailure::kInvalid: return "invalid";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& out, StoreFailure failure) {
  return out << to_string(failure);
}

std::vector<Store::UrlCount> Store::most_requested_urls(
    const std::string& route, const std::string& method,
    const std::string& query_params_normalized_json, int64_t start_us, int64_t end_us,
    size_t limit) const {
  std::unordered_map<std::string, int64_t> calls;
  scan_route_events(start_us, end_us, [&](const RouteEvent& e) {
    if (e.route == route && e.method == method &&
        e.query_params_normalized_json == query_params_normalized_json) {
      ++calls[e.route_full];
    }
  });
  std::vector<UrlCount> ranked;
  ranked.reserve(calls.size());
  for (auto& [url, requests] : calls) ranked.push_back({url, requests});
  const size_t keep = std::min(limit, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(keep), ranked.end(),
                    [](const UrlCount& a, const UrlCount& b) {
                      return a.requests != b.requests ? a.requests > b.requests : a.url < b.url;
                    });
  ranked.resize(keep);
  return ranked;
}

ModelSpans Store::read_model_spans(int64_t start_us, int64_t end_us,
                                   std::span<const int64_t> cuts) const {
  const std::vector<ModelSpanKey> keys = model_span_keys(start_us, end_us, cuts);
  if (keys.empty()) return {};
  const int64_t first = keys.front().start_us;
  const int64_t last = keys.back().end_us();
  return build_model_spans(keys, read_model_usage(first, last, std::nullopt, true),
                           read_model_params(first, last, std::nullopt));
}

}  // namespace genalytics
