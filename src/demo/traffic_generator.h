// Simulated generation traffic for `genalytics demo` and for tests: a daily
// load curve, heavy users, models that differ in speed and failure rate,
// error types with messages, cancellations and batches. Requests and
// completions carry params (steps, cfg, sampler, resolution, and on a share
// of them LoRAs, a VAE or a ControlNet of the checkpoint's family); one
// checkpoint rises over the window and one declines.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "event/generation_event.h"
#include "event/route_event.h"

namespace genalytics {

// The user id used by the seeds' examples; always among the demo's users.
inline constexpr std::string_view kDemoUserId = "550e8400-e29b-41d4-a716-446655440000";

struct DemoOptions {
  int days = 30;
  int64_t end_us = 0;                 // traffic ends here (usually now)
  uint64_t seed = 42;                 // same seed and options => same events
  double mean_generations_per_hour = 120;
  int users = 400;
};

// Generates the traffic of the `days` days ending at `end_us` and hands it to
// `sink` in batches of at most `batch_size` events, in timestamp order.
// Deterministic for given options.
void generate_demo_traffic(const DemoOptions& options, size_t batch_size,
                           const std::function<void(std::vector<GenerationEvent>&&)>& sink);

// Route hits of the same simulated service over the same days, in timestamp order,
// handed to `sink` in batches of at most `batch_size`. Deterministic for given options.
// Each event is recorded as a proxy sees it: `route_full` is the request target as
// called (path and query string, concrete ids in the path) and `route` its path;
// pass it through normalize_route_event (event/route_normalizer.h) with the
// configured normalization before storing it. The service: content listings with
// pagination and sorting, item pages, tags, generation job submissions (POST)
// and status polling, auth and health checks, about 8 hits per generation, with
// the daily load curve, the same users, realistic latencies, sizes, status codes
// and cache statuses.
void generate_demo_route_traffic(const DemoOptions& options, size_t batch_size,
                                 const std::function<void(std::vector<RouteEvent>&&)>& sink);

}  // namespace genalytics
