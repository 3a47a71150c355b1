// genalytics: the one binary. Subcommands: serve, worker, cache-analysis,
// models, proxy, migrate, retention, demo, ingest, hash-key.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "cli/commands.h"

namespace {

struct CommonFlags {
  std::string config_file;
  std::string data_dir;
};

void add_common_flags(CLI::App* command, CommonFlags* flags) {
  command->add_option("--config", flags->config_file,
                      "JSON configuration file (default: config/base.json when present)");
  command->add_option("--data-dir", flags->data_dir,
                      "folder of the embedded SQLite store (default: ./genalytics-data)");
}

struct ProductionFlags {
  std::string redis_url;
  std::string postgres_url;
  std::string ns;
  int retention_days = 0;
};

void add_redis_flags(CLI::App* command, ProductionFlags* flags) {
  command->add_option("--redis", flags->redis_url, "Redis URL, redis://host:port[/db]");
  command->add_option("--redis-namespace", flags->ns, "prefix of the stream keys (default genalytics)");
}

void add_postgres_flag(CLI::App* command, ProductionFlags* flags) {
  command->add_option("--postgres", flags->postgres_url,
                      "PostgreSQL URL, postgresql://user@host:port/db");
}

genalytics::GenalyticsConfig configure(const CommonFlags& flags, const ProductionFlags& production = {}) {
  genalytics::GenalyticsConfig config = genalytics::load_config(flags.config_file);
  if (!flags.data_dir.empty()) config.server.data_dir = flags.data_dir;
  if (!production.redis_url.empty()) config.production.redis_url = production.redis_url;
  if (!production.postgres_url.empty()) config.production.postgres_url = production.postgres_url;
  if (!production.ns.empty()) config.production.ns = production.ns;
  if (production.retention_days > 0) config.production.retention_days = production.retention_days;
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("genalytics"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"genalytics: analytics engine for generative-AI services"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "genalytics 0.1.0");

  CommonFlags serve_flags;
  ProductionFlags serve_production;
  std::string host;
  int port = -1;
  bool no_worker = false;
  std::string api_keys_file;
  bool insecure_no_auth = false;
  CLI::App* serve = app.add_subcommand(
      "serve", "Serve the REST API: on the embedded store, or with --redis and --postgres in production");
  add_common_flags(serve, &serve_flags);
  serve->add_option("--host", host, "address to listen on (default 127.0.0.1)");
  serve->add_option("--port", port, "port to listen on (default 8001)")->check(CLI::Range(0, 65535));
  add_redis_flags(serve, &serve_production);
  add_postgres_flag(serve, &serve_production);
  serve->add_flag("--no-worker", no_worker,
                  "production: do not run pipeline workers in this process");
  serve->add_option("--api-keys-file", api_keys_file,
                    "API keys, one role:sha256hex per line (see genalytics hash-key); adds to "
                    "server.api_keys and GENALYTICS_API_KEYS");
  serve->add_flag("--insecure-no-auth", insecure_no_auth,
                  "allow listening on a non-loopback address without any API key");

  CommonFlags worker_flags;
  ProductionFlags worker_production;
  CLI::App* worker = app.add_subcommand(
      "worker",
      "Move events from the Redis streams into PostgreSQL (one consumer of the group per stream)");
  add_common_flags(worker, &worker_flags);
  add_redis_flags(worker, &worker_production);
  add_postgres_flag(worker, &worker_production);
  worker->add_option("--retention-days", worker_production.retention_days,
                     "drop raw events older than this, daily (default 90)")
      ->check(CLI::Range(1, 36500));

  CommonFlags cache_flags;
  ProductionFlags cache_production;
  genalytics::CacheAnalysisFlags cache;
  CLI::App* cache_analysis = app.add_subcommand(
      "cache-analysis", "Rank the routes worth caching (seed 002: absolute thresholds or --relative)");
  add_common_flags(cache_analysis, &cache_flags);
  add_postgres_flag(cache_analysis, &cache_production);
  cache_analysis->add_option("-n,--count", cache.count, "routes to list (default: cache-planning.top-n-routes, 20)")
      ->check(CLI::Range(1, 10'000));
  cache_analysis->add_option("-d,--days", cache.days, "days of history (default 7)")->check(CLI::Range(1, 3660));
  cache_analysis->add_option("-f,--format", cache.format, "table or json (default table)")
      ->check(CLI::IsMember({"table", "json"}));
  cache_analysis->add_option("--min-requests", cache.min_requests, "System 1: minimum requests per hour (default 10)")
      ->check(CLI::NonNegativeNumber);
  cache_analysis->add_option("--min-latency", cache.min_latency_ms, "System 1: minimum p95 in ms (default 100)")
      ->check(CLI::NonNegativeNumber);
  cache_analysis->add_flag("--relative", cache.relative, "System 2: rank by relative percentiles, no thresholds");
  cache_analysis->add_flag("--simulate", cache.simulate, "replay the window's hits against the plan");
  cache_analysis->add_option("--ttl", cache.ttl_seconds, "simulated cache TTL in seconds (default 300)")
      ->check(CLI::Range(1, 86'400 * 365));

  CommonFlags models_flags;
  ProductionFlags models_production;
  genalytics::ModelsFlags models;
  CLI::App* models_command = app.add_subcommand(
      "models", "Model usage analytics (seed 003): usage, recommend, report, simulate, list, scan");
  models_command->require_subcommand(1);
  auto model_command = [&](const char* name, const char* help) {
    CLI::App* command = models_command->add_subcommand(name, help);
    add_common_flags(command, &models_flags);
    add_postgres_flag(command, &models_production);
    command->callback([&models, name] { models.command = name; });
    return command;
  };
  auto add_days = [&](CLI::App* command) {
    command->add_option("-d,--days", models.days, "days of history (default 30)")->check(CLI::Range(1, 3660));
  };
  auto add_budget = [&](CLI::App* command) {
    command->add_option("--vram-budget-gb", models.vram_budget_gb,
                        "VRAM budget in GB (default: model-analytics.vram_budget_gb, 24)")
        ->check(CLI::Range(0.0, 100'000.0));
  };
  auto add_format = [&](CLI::App* command, std::vector<std::string> formats) {
    command->add_option("-f,--format", models.format, fmt::format("{} (default {})", fmt::join(formats, " or "), formats[0]))
        ->check(CLI::IsMember(formats));
  };
  CLI::App* models_usage = model_command("usage", "Usage statistics of every model, or of MODEL_ID");
  models_usage->add_option("model_id", models.model_id, "one model's statistics");
  add_days(models_usage);
  add_format(models_usage, {"table", "json"});
  CLI::App* models_recommend =
      model_command("recommend", "Cleanup, preload (with a schedule) and performance recommendations");
  add_days(models_recommend);
  add_budget(models_recommend);
  models_recommend->add_option("--kind", models.kind, "only cleanup, preload or performance")
      ->check(CLI::IsMember({"cleanup", "preload", "performance"}));
  add_format(models_recommend, {"table", "json"});
  CLI::App* models_report = model_command("report", "The whole report: usage and recommendations");
  add_days(models_report);
  add_budget(models_report);
  add_format(models_report, {"json", "csv"});
  models_report->add_option("--out", models.out, "write the report to FILE instead of stdout");
  CLI::App* models_simulate = model_command(
      "simulate", "Replay the window's generations: our schedule against LRU, LFU, keep-alive, Belady");
  add_days(models_simulate);
  add_budget(models_simulate);
  add_format(models_simulate, {"table", "json"});
  CLI::App* models_list = model_command("list", "The model inventory with each model's loaded state");
  add_format(models_list, {"table", "json"});
  CLI::App* models_scan = model_command(
      "scan", "Register the model files of a folder (ComfyUI layout: checkpoints/, loras/, vae/, ...)");
  models_scan->add_option("dir", models.dir, "the models folder")->required()->check(CLI::ExistingDirectory);
  models_scan->add_flag("--dry-run", models.dry_run, "list what would be registered, register nothing");
  add_format(models_scan, {"table", "json"});

  CommonFlags proxy_flags;
  ProductionFlags proxy_production;
  std::string listen = "127.0.0.1:8080", upstream = "http://127.0.0.1:8000", user_header = "X-User-ID";
  CLI::App* proxy = app.add_subcommand(
      "proxy", "Reverse proxy in front of an app that records every request as a route event");
  add_common_flags(proxy, &proxy_flags);
  add_postgres_flag(proxy, &proxy_production);
  proxy->add_option("--listen", listen, "address to listen on (default 127.0.0.1:8080)");
  proxy->add_option("--upstream", upstream,
                    "the app, http://host:port (default http://127.0.0.1:8000); plain HTTP only, "
                    "no path, no user info");
  proxy->add_option("--user-header", user_header, "request header holding the user id (default X-User-ID)");

  CommonFlags migrate_flags;
  ProductionFlags migrate_production;
  CLI::App* migrate = app.add_subcommand("migrate", "Apply pending PostgreSQL schema migrations");
  add_common_flags(migrate, &migrate_flags);
  add_postgres_flag(migrate, &migrate_production);

  CommonFlags retention_flags;
  ProductionFlags retention_production;
  CLI::App* retention = app.add_subcommand(
      "retention", "Drop raw-event partitions older than the retention period (rollups are kept)");
  add_common_flags(retention, &retention_flags);
  add_postgres_flag(retention, &retention_production);
  retention->add_option("--days", retention_production.retention_days, "retention in days (default 90)")
      ->check(CLI::Range(1, 36500));

  CommonFlags demo_flags;
  int days = 0;
  bool if_empty = false;
  CLI::App* demo = app.add_subcommand("demo", "Load simulated traffic ending now into the store");
  add_common_flags(demo, &demo_flags);
  demo->add_option("--days", days, "days of traffic (default 30)")->check(CLI::Range(1, 3650));
  demo->add_flag("--if-empty", if_empty, "only when the store holds no events yet");

  CommonFlags ingest_flags;
  std::string file;
  bool create = false;
  CLI::App* ingest = app.add_subcommand("ingest", "Load generation events from an NDJSON file");
  add_common_flags(ingest, &ingest_flags);
  ingest->add_option("file", file, "NDJSON file, one event per line")->required()->check(CLI::ExistingFile);
  ingest->add_flag("--create", create, "create the store when --data-dir holds none");

  std::string role_name;
  CLI::App* hash_key = app.add_subcommand(
      "hash-key", "Print the line for an --api-keys-file: reads the key from stdin, prints role:sha256hex");
  hash_key->add_option("--role", role_name, "ingest, read or admin")
      ->required()
      ->check(CLI::IsMember({"ingest", "read", "admin"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // CLI11 reports an unknown command as an unexpected argument; name it.
    if (argc > 1 && argv[1][0] != '-' &&
        app.get_subcommands([&](CLI::App* command) { return command->get_name() == argv[1]; }).empty()) {
      std::string names;
      for (const CLI::App* command : app.get_subcommands([](CLI::App*) { return true; })) {
        names += (names.empty() ? "" : ", ") + command->get_name();
      }
      fmt::print(stderr, "genalytics: unknown command '{}' (commands: {}; see genalytics --help)\n",
                 argv[1], names);
      return 2;
    }
    return app.exit(error);
  }

  try {
    if (serve->parsed()) {
      genalytics::GenalyticsConfig config = configure(serve_flags, serve_production);
      if (!host.empty()) config.server.http.host = host;
      if (port >= 0) config.server.http.port = static_cast<uint16_t>(port);
      if (no_worker) config.production.run_worker = false;
      if (const char* keys = std::getenv("GENALYTICS_API_KEYS")) {
        config.server.api_keys.add_key_list(keys);
      }
      if (!api_keys_file.empty()) config.server.api_keys.add_key_file(api_keys_file);
      config.server.insecure_no_auth = insecure_no_auth;
      const bool production =
          !config.production.redis_url.empty() || !config.production.postgres_url.empty();
      return genalytics::run_serve(config, production);
    }
    if (worker->parsed()) return genalytics::run_worker(configure(worker_flags, worker_production));
    if (cache_analysis->parsed()) {
      return genalytics::run_cache_analysis(configure(cache_flags, cache_production), cache);
    }
    if (models_command->parsed()) {
      if (models.command == "report" && models.format == "table") models.format = "json";
      return genalytics::run_models(configure(models_flags, models_production), models);
    }
    if (proxy->parsed()) {
      return genalytics::run_proxy(configure(proxy_flags, proxy_production), listen, upstream, user_header);
    }
    if (migrate->parsed()) return genalytics::run_migrate(configure(migrate_flags, migrate_production));
    if (retention->parsed()) {
      return genalytics::run_retention(configure(retention_flags, retention_production));
    }
    if (demo->parsed()) {
      genalytics::GenalyticsConfig config = configure(demo_flags);
      if (days > 0) config.demo.days = days;
      return genalytics::run_demo(config, if_empty);
    }
    if (ingest->parsed()) return genalytics::run_ingest(configure(ingest_flags), file, create);
    if (hash_key->parsed()) return genalytics::run_hash_key(role_name);
  } catch (const std::exception& error) {
    fmt::print(stderr, "genalytics: {}\n", error.what());
    return 1;
  }
  return 0;
}
