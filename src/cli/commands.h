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
