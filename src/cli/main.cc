// genalytics: the one binary. Subcommands: serve, worker, cache-analysis,
// models, proxy, migrate, retention, demo, ingest, config, hash-key. Flags
// that set configuration keys come from the keys' description
// (cli/config_keys.h); the others are the commands' own.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/config_flags.h"

namespace {

using genalytics::add_key_flags;
using genalytics::ConfigCommandLine;
using genalytics::load_command_config;

// --config and --data-dir, which every command reading the configuration takes.
void add_common_flags(CLI::App* command, ConfigCommandLine* line) {
  genalytics::add_config_file_flag(command, line);
  add_key_flags(command, {"storage.data_dir"}, line);
}

// Prints each line of a configuration error (there may be many) on stderr.
int config_failed(const genalytics::ConfigError& error) {
  std::string_view text = error.what();
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    fmt::print(stderr, "genalytics: {}\n", text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return 1;
}

struct ServeFlags {
  ConfigCommandLine config;
  bool no_worker = false;
  bool insecure_no_auth = false;
};

CLI::App* add_serve(CLI::App& app, ServeFlags* flags) {
  CLI::App* serve = app.add_subcommand(
      "serve", "Serve the REST API: on the embedded store, or with --redis and --postgres in production");
  add_common_flags(serve, &flags->config);
  add_key_flags(serve,
                {"server.host", "server.port", "production.redis_url", "production.postgres_url",
                 "production.namespace", "server.api_keys"},
                &flags->config);
  serve->add_flag("--no-worker", flags->no_worker,
                  "production: do not run pipeline workers in this process");
  serve->add_flag("--insecure-no-auth", flags->insecure_no_auth,
                  "allow listening on a non-loopback address without any API key");
  return serve;
}

int serve_command(const ServeFlags& flags) {
  genalytics::GenalyticsConfig config = load_command_config(flags.config);
  if (flags.no_worker) config.production.run_worker = false;
  config.server.insecure_no_auth = flags.insecure_no_auth;
  const bool production =
      !config.production.redis_url.empty() || !config.production.postgres_url.empty();
  return genalytics::run_serve(config, production);
}

CLI::App* add_cache_analysis(CLI::App& app, ConfigCommandLine* line,
                             genalytics::CacheAnalysisFlags* cache) {
  CLI::App* command = app.add_subcommand(
      "cache-analysis", "Rank the routes worth caching (seed 002: absolute thresholds or --relative)");
  add_common_flags(command, line);
  add_key_flags(command, {"production.postgres_url", "cache-planning.top-n-routes"}, line);
  command->add_option("-d,--days", cache->days, "days of history (default 7)")->check(CLI::Range(1, 3660));
  command->add_option("-f,--format", cache->format, "table or json (default table)")
      ->check(CLI::IsMember({"table", "json"}));
  command->add_option("--min-requests", cache->min_requests, "System 1: minimum requests per hour (default 10)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--min-latency", cache->min_latency_ms, "System 1: minimum p95 in ms (default 100)")
      ->check(CLI::NonNegativeNumber);
  command->add_flag("--relative", cache->relative, "System 2: rank by relative percentiles, no thresholds");
  command->add_flag("--simulate", cache->simulate, "replay the window's hits against the plan");
  command->add_option("--ttl", cache->ttl_seconds, "simulated cache TTL in seconds (default 300)")
      ->check(CLI::Range(1, 86'400 * 365));
  return command;
}

CLI::App* add_models(CLI::App& app, ConfigCommandLine* line, genalytics::ModelsFlags* models) {
  CLI::App* models_command = app.add_subcommand(
      "models", "Model usage analytics (seed 003): usage, recommend, report, simulate, list, scan");
  models_command->require_subcommand(1);
  auto model_command = [=](const char* name, const char* help) {
    CLI::App* command = models_command->add_subcommand(name, help);
    add_common_flags(command, line);
    add_key_flags(command, {"production.postgres_url"}, line);
    command->callback([models, name] { models->command = name; });
    return command;
  };
  auto add_days = [=](CLI::App* command) {
    command->add_option("-d,--days", models->days, "days of history (default 30)")->check(CLI::Range(1, 3660));
  };
  auto add_budget = [=](CLI::App* command) {
    add_key_flags(command, {"model_analytics.vram_budget_gb"}, line);
  };
  auto add_format = [=](CLI::App* command, std::vector<std::string> formats) {
    command->add_option("-f,--format", models->format, fmt::format("{} (default {})", fmt::join(formats, " or "), formats[0]))
        ->check(CLI::IsMember(formats));
  };
  CLI::App* usage = model_command("usage", "Usage statistics of every model, or of MODEL_ID");
  usage->add_option("model_id", models->model_id, "one model's statistics");
  add_days(usage);
  add_format(usage, {"table", "json"});
  CLI::App* recommend =
      model_command("recommend", "Cleanup, preload (with a schedule) and performance recommendations");
  add_days(recommend);
  add_budget(recommend);
  recommend->add_option("--kind", models->kind, "only cleanup, preload or performance")
      ->check(CLI::IsMember({"cleanup", "preload", "performance"}));
  add_format(recommend, {"table", "json"});
  CLI::App* report = model_command("report", "The whole report: usage and recommendations");
  add_days(report);
  add_budget(report);
  add_format(report, {"json", "csv"});
  report->add_option("--out", models->out, "write the report to FILE instead of stdout");
  CLI::App* simulate = model_command(
      "simulate", "Replay the window's generations: our schedule against LRU, LFU, keep-alive, Belady");
  add_days(simulate);
  add_budget(simulate);
  add_format(simulate, {"table", "json"});
  CLI::App* list = model_command("list", "The model inventory with each model's loaded state");
  add_format(list, {"table", "json"});
  CLI::App* scan = model_command(
      "scan", "Register the model files of a folder (ComfyUI layout: checkpoints/, loras/, vae/, ...)");
  scan->add_option("dir", models->dir, "the models folder")->required()->check(CLI::ExistingDirectory);
  scan->add_flag("--dry-run", models->dry_run, "list what would be registered, register nothing");
  add_format(scan, {"table", "json"});
  return models_command;
}

struct ProxyFlags {
  ConfigCommandLine config;
  std::string listen = "127.0.0.1:8080";
  std::string upstream = "http://127.0.0.1:8000";
  std::string user_header = "X-User-ID";
};

CLI::App* add_proxy(CLI::App& app, ProxyFlags* flags) {
  CLI::App* proxy = app.add_subcommand(
      "proxy", "Reverse proxy in front of an app that records every request as a route event");
  add_common_flags(proxy, &flags->config);
  add_key_flags(proxy, {"production.postgres_url"}, &flags->config);
  proxy->add_option("--listen", flags->listen, "address to listen on (default 127.0.0.1:8080)");
  proxy->add_option("--upstream", flags->upstream,
                    "the app, http://host:port (default http://127.0.0.1:8000); plain HTTP only, "
                    "no path, no user info");
  proxy->add_option("--user-header", flags->user_header,
                    "request header holding the user id (default X-User-ID)");
  return proxy;
}

CLI::App* add_config(CLI::App& app, ConfigCommandLine* line, genalytics::ConfigCommandFlags* flags) {
  CLI::App* config = app.add_subcommand(
      "config", "Print the effective configuration and where each value came from");
  genalytics::add_config_file_flag(config, line);
  genalytics::add_all_key_flags(config, line);
  config->add_option("--check", flags->check_file, "validate FILE alone: every error, or one ok line");
  config->add_flag("--defaults", flags->defaults, "print the defaults as JSON (config/base.json)");
  config->add_flag("--markdown", flags->markdown, "print the README's table of keys");
  return config;
}

// CLI11 reports an unknown command as an unexpected argument; name it.
bool unknown_command(CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-' ||
      !app.get_subcommands([&](CLI::App* command) { return command->get_name() == argv[1]; }).empty()) {
    return false;
  }
  std::string names;
  for (const CLI::App* command : app.get_subcommands([](CLI::App*) { return true; })) {
    names += (names.empty() ? "" : ", ") + command->get_name();
  }
  fmt::print(stderr, "genalytics: unknown command '{}' (commands: {}; see genalytics --help)\n",
             argv[1], names);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("genalytics"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"genalytics: analytics engine for generative-AI services"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "genalytics 0.1.0");

  ServeFlags serve_flags;
  CLI::App* serve = add_serve(app, &serve_flags);

  ConfigCommandLine worker_config;
  CLI::App* worker = app.add_subcommand(
      "worker",
      "Move events from the Redis streams into PostgreSQL (one consumer of the group per stream)");
  add_common_flags(worker, &worker_config);
  add_key_flags(worker,
                {"production.redis_url", "production.postgres_url", "production.namespace",
                 "production.retention_days"},
                &worker_config);

  ConfigCommandLine cache_config;
  genalytics::CacheAnalysisFlags cache;
  CLI::App* cache_analysis = add_cache_analysis(app, &cache_config, &cache);

  ConfigCommandLine models_config;
  genalytics::ModelsFlags models;
  CLI::App* models_command = add_models(app, &models_config, &models);

  ProxyFlags proxy_flags;
  CLI::App* proxy = add_proxy(app, &proxy_flags);

  ConfigCommandLine migrate_config;
  CLI::App* migrate = app.add_subcommand("migrate", "Apply pending PostgreSQL schema migrations");
  add_common_flags(migrate, &migrate_config);
  add_key_flags(migrate, {"production.postgres_url"}, &migrate_config);

  ConfigCommandLine retention_config;
  CLI::App* retention = app.add_subcommand(
      "retention", "Drop raw-event partitions older than the retention period (rollups are kept)");
  add_common_flags(retention, &retention_config);
  add_key_flags(retention, {"production.postgres_url", "production.retention_days"}, &retention_config);

  ConfigCommandLine demo_config;
  bool if_empty = false;
  CLI::App* demo = app.add_subcommand("demo", "Load simulated traffic ending now into the store");
  add_common_flags(demo, &demo_config);
  add_key_flags(demo, {"demo.days"}, &demo_config);
  demo->add_flag("--if-empty", if_empty, "only when the store holds no events yet");

  ConfigCommandLine ingest_config;
  std::string file;
  bool create = false;
  CLI::App* ingest = app.add_subcommand("ingest", "Load generation events from an NDJSON file");
  add_common_flags(ingest, &ingest_config);
  ingest->add_option("file", file, "NDJSON file, one event per line")->required()->check(CLI::ExistingFile);
  ingest->add_flag("--create", create, "create the store when --data-dir holds none");

  ConfigCommandLine config_line;
  genalytics::ConfigCommandFlags config_flags;
  CLI::App* config = add_config(app, &config_line, &config_flags);

  std::string role_name;
  CLI::App* hash_key = app.add_subcommand(
      "hash-key", "Print the line for an --api-keys-file: reads the key from stdin, prints role:sha256hex");
  hash_key->add_option("--role", role_name, "ingest, read or admin")
      ->required()
      ->check(CLI::IsMember({"ingest", "read", "admin"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (unknown_command(app, argc, argv)) return 2;
    return app.exit(error);
  }

  try {
    if (serve->parsed()) return serve_command(serve_flags);
    if (worker->parsed()) return genalytics::run_worker(load_command_config(worker_config));
    if (cache_analysis->parsed()) {
      return genalytics::run_cache_analysis(load_command_config(cache_config), cache);
    }
    if (models_command->parsed()) {
      if (models.command == "report" && models.format == "table") models.format = "json";
      return genalytics::run_models(load_command_config(models_config), models);
    }
    if (proxy->parsed()) {
      return genalytics::run_proxy(load_command_config(proxy_flags.config), proxy_flags.listen,
                                   proxy_flags.upstream, proxy_flags.user_header);
    }
    if (migrate->parsed()) return genalytics::run_migrate(load_command_config(migrate_config));
    if (retention->parsed()) return genalytics::run_retention(load_command_config(retention_config));
    if (demo->parsed()) return genalytics::run_demo(load_command_config(demo_config), if_empty);
    if (ingest->parsed()) return genalytics::run_ingest(load_command_config(ingest_config), file, create);
    if (config->parsed()) return genalytics::run_config(config_line, config_flags);
    if (hash_key->parsed()) return genalytics::run_hash_key(role_name);
  } catch (const genalytics::ConfigError& error) {
    return config_failed(error);
  } catch (const std::exception& error) {
    fmt::print(stderr, "genalytics: {}\n", error.what());
    return 1;
  }
  return 0;
}
