// The subcommands of the genalytics binary. Each returns the process exit
// code: 0 on success, 1 on failure (the reason printed on stderr).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cli/config.h"
#include "store/sqlite_store.h"

namespace genalytics {

struct ConfigCommandLine;  // cli/config_flags.h
class PostgresStore;       // store/postgres_store.h

// Serves the API until SIGTERM or SIGINT, then drains and commits. With
// `production`, ingest goes to Redis and queries to PostgreSQL. Creates the
// embedded store when config.server.data_dir holds none.
int run_serve(const GenalyticsConfig& config, bool production);

// Runs a pipeline worker (Redis stream -> PostgreSQL), the real-time hash and
// daily retention until SIGTERM or SIGINT.
int run_worker(const GenalyticsConfig& config);

struct CacheAnalysisFlags {
  int days = 7;
  std::string format = "table";
  double min_requests = 10;
  double min_latency_ms = 100;
  bool relative = false;
  bool simulate = false;
  int ttl_seconds = 300;
};

// Ranks the config.server.routes.planning.top_n routes to cache (seed 002
// System 1, or System 2 with --relative) from the embedded store or PostgreSQL (when
// config.production.postgres_url is set), optionally replaying the window
// against the plan. Tables and JSON go to stdout, headings to stderr; JSON
// is the seed's bare array of rows (the API wraps it in {mode, window,
// routes}), or the simulation's object. Fails with "no store at ..." when
// the embedded store does not exist: it never creates one.
int run_cache_analysis(const GenalyticsConfig& config, const CacheAnalysisFlags& flags);  // cache_analysis.cc

struct ModelsFlags {
  std::string command;  // usage, recommend, report, simulate, scan, list
  std::string model_id;  // usage: one model
  int days = 30;
  std::string format = "table";  // table or json; report: json or csv
  std::string kind;              // recommend: cleanup, preload or performance
  std::string out;   // report: the file to write (default stdout)
  std::string dir;   // scan: the model folder
  bool dry_run = false;  // scan: list without registering
};

// `genalytics models ...` (seed 003, issue 10): usage statistics,
// recommendations, the report (JSON or CSV), the policy simulation, the
// inventory (list), and the folder scan that registers model files. Reads
// the embedded store or PostgreSQL (config.production.postgres_url); only
// scan creates an embedded store. Tables go to stdout, headings to stderr.
int run_models(const GenalyticsConfig& config, const ModelsFlags& flags);  // models.cc

// Runs the recording reverse proxy in front of `upstream` ("http://host:port",
// optionally with a trailing slash; see parse_upstream_url) until SIGTERM or
// SIGINT; hits are stored in the embedded store (created when missing), or in
// PostgreSQL when config.production.postgres_url is set. API keys do not
// apply: the proxy records straight into the store.
int run_proxy(const GenalyticsConfig& config, const std::string& listen, const std::string& upstream,
              const std::string& user_header);

// Applies pending PostgreSQL migrations.
int run_migrate(const GenalyticsConfig& config);

// Drops raw-event partitions older than the retention period.
int run_retention(const GenalyticsConfig& config);

// Loads simulated generation and route traffic (`config.demo`) into the
// store, creating it when missing; with `if_empty`, only when the store
// holds no generation events yet.
int run_demo(const GenalyticsConfig& config, bool if_empty);

// Loads an NDJSON file with a progress bar on stderr and prints the counts.
// Returns 1 when any line was rejected. Fails with "no store at ..." when
// the embedded store does not exist, unless `create`.
int run_ingest(const GenalyticsConfig& config, const std::string& file, bool create);

// The embedded store in `data_dir`, for commands that must not create one
// (a typo in --data-dir would leave an empty store behind). Throws
// std::invalid_argument "no store at DIR/genalytics.db (how_to_create)" when
// it does not exist.
std::unique_ptr<SqliteStore> open_existing_store(const std::string& data_dir,
                                                 std::string_view how_to_create,
                                                 const SqliteStoreOptions& options);

// PostgreSQL at config.production.postgres_url, as the configuration sets
// it up (open_postgres_store in server/app_server.h): every command opens it
// here. Throws std::invalid_argument when the URL is empty, StoreError.
std::unique_ptr<PostgresStore> open_postgres_store(const GenalyticsConfig& config);

enum class StoreOpening : uint8_t { kCreate, kExisting };

// The store the configuration names: PostgreSQL when
// config.production.postgres_url is set, else the embedded store in
// config.server.data_dir with the configured options, created when missing
// for kCreate, else refused as open_existing_store does (how_to_create).
std::unique_ptr<Store> open_configured_store(const GenalyticsConfig& config, StoreOpening opening,
                                             std::string_view how_to_create = {});

struct ConfigCommandFlags {
  std::string check_file;  // --check FILE: validate FILE alone
  bool defaults = false;   // --defaults: the defaults as JSON (config/base.json)
  bool markdown = false;   // --markdown: the README's table of keys
};

// `genalytics config`: prints every key's effective value and its source
// (default, file, env, flag), api keys as a count; deprecation warnings on
// stderr. --check prints every error of the file on stderr and returns 1,
// or one "FILE: ok" line. Throws ConfigError as load_config.
int run_config(const ConfigCommandLine& line, const ConfigCommandFlags& flags);  // config_command.cc

// Reads one key from stdin (up to the first newline) and prints
// "role:sha256hex", a line for --api-keys-file.
int run_hash_key(const std::string& role);

struct UpstreamAddress {
  std::string host;
  uint16_t port = 80;
};

// "http://host:port", "http://host:port/", "http://host" (port 80),
// "http://[::1]:8000" -> host and port. Throws std::invalid_argument saying
// what is not supported: another scheme (https: the proxy speaks plain HTTP
// to the app), user info, a path (each request keeps its own), a query or a
// fragment, or a missing or bad host or port.
UpstreamAddress parse_upstream_url(const std::string& text);

}  // namespace genalytics
