#include "rollup/route_rollup.h"

#include "event/time.h"
#include "rollup/ratio.h"

namespace genalytics {
void RouteBucket::add(const RouteEvent& e) {
  ++requests;
  switch (e.status_class()) {
    case 2: ++successful; break;
    case 3: ++redirects; break;
    case 4: ++client_errors; break;
    case 5: ++server_errors; break;
    default: break;
  }
  duration_sum += e.duration_ms;
  durations.add(static_cast<double>(e.duration_ms));
  if (e.user_id) users.add(*e.user_id);
  if (e.request_size_bytes) {
    ++request_size_count;
    request_size_sum += *e.request_size_bytes;
  }
  if (e.response_size_bytes) {
    ++response_size_count;
    response_size_sum += *e.response_size_bytes;
  }
  if (e.db_query_count) {
    ++db_query_count;
    db_query_sum += *e.db_query_count;
  }
  if (e.cache_status == "hit") ++cache_hits;
  if (e.cache_status == "miss") ++cache_misses;
}

void RouteBucket::merge(const RouteBucket& o) {
  requests += o.requests;
  successful += o.successful;
  redirects += o.redirects;
  client_errors += o.client_errors;
  server_errors += o.server_errors;
  duration_sum += o.duration_sum;
  durations.merge(o.durations);
  users.merge(o.users);
  request_size_count += o.request_size_count;
  request_size_sum += o.request_size_sum;
  response_size_count += o.response_size_count;
  response_size_sum += o.response_size_sum;
  db_query_count += o.db_query_count;
  db_query_sum += o.db_query_sum;
  cache_hits += o.cache_hits;
  cache_misses += o.cache_misses;
}

std::optional<double> RouteBucket::avg_duration_ms() const { return ratio(duration_sum, requests); }
std::optional<double> RouteBucket::avg_request_size_bytes() const {
  return ratio(request_size_sum, request_size_count);
}
std::optional<double> RouteBucket::avg_response_size_bytes() const {
  return ratio(response_size_sum, response_size_count);
}
std::optional<double> RouteBucket::avg_db_query_count() const { return ratio(db_query_sum, db_query_count); }
std::optional<double> RouteBucket::success_rate() const { return ratio(successful, requests); }

void RouteDelta::add(const RouteEvent& e) {
  buckets_[RouteKey{floor_hour(e.timestamp_us), e.route, e.method, e.query_params_normalized_json}].add(e);
}

}  // namespace genalytics
