// The subcommands of the genalytics binary. Each returns the process exit
// code: 0 on success, 1 on failure (the reason printed on stderr).
#pragma once

#include <string>

#include "cli/config.h"

namespace genalytics {

// Serves the API until SIGTERM or SIGINT, then drains and commits. With
// `production`, ingest goes to Redis and queries to PostgreSQL.
int run_serve(const GenalyticsConfig& config, bool production);

// Runs a pipeline worker (Redis stream -> PostgreSQL), the real-time hash and
// daily retention until SIGTERM or SIGINT.
int run_worker(const GenalyticsConfig& config);

struct CacheAnalysisFlags {
  int count = 0;  // 0: config cache-planning.top-n-routes
  int days = 7;
  std::string format = "table";
  double min_requests = 10;
  double min_latency_ms = 100;
  bool relative = false;
  bool simulate = false;
  int ttl_seconds = 300;
};

// Ranks the routes to cache (seed 002 System 1, or System 2 with
// --relative) from the embedded store or PostgreSQL (when
// config.production.postgres_url is set), optionally replaying the window
// against the plan. Tables and JSON go to stdout, headings to stderr.
int run_cache_analysis(const GenalyticsConfig& config, const CacheAnalysisFlags& flags);

// Runs the recording reverse proxy in front of `upstream` ("http://host:port")
// until SIGTERM or SIGINT; hits are stored in the embedded store, or in
// PostgreSQL when config.production.postgres_url is set.
int run_proxy(const GenalyticsConfig& config, const std::string& listen, const std::string& upstream,
              const std::string& user_header);

// Applies pending PostgreSQL migrations.
int run_migrate(const GenalyticsConfig& config);

// Drops raw-event partitions older than the retention period.
int run_retention(const GenalyticsConfig& config);

// Loads simulated traffic (`config.demo`) into the store; with `if_empty`,
// only when the store holds no events yet.
int run_demo(const GenalyticsConfig& config, bool if_empty);

// Loads an NDJSON file with a progress bar on stderr.
int run_ingest(const GenalyticsConfig& config, const std::string& file);

}  // namespace genalytics
