// genalytics: the one binary. Subcommands: serve, demo, ingest.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

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

genalytics::GenalyticsConfig configure(const CommonFlags& flags) {
  genalytics::GenalyticsConfig config = genalytics::load_config(flags.config_file);
  if (!flags.data_dir.empty()) config.server.data_dir = flags.data_dir;
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
  std::string host;
  int port = -1;
  CLI::App* serve = app.add_subcommand("serve", "Serve the REST API on the embedded store");
  add_common_flags(serve, &serve_flags);
  serve->add_option("--host", host, "address to listen on (default 127.0.0.1)");
  serve->add_option("--port", port, "port to listen on (default 8001)")->check(CLI::Range(0, 65535));

  CommonFlags demo_flags;
  int days = 0;
  bool if_empty = false;
  CLI::App* demo = app.add_subcommand("demo", "Load simulated traffic ending now into the store");
  add_common_flags(demo, &demo_flags);
  demo->add_option("--days", days, "days of traffic (default 30)")->check(CLI::Range(1, 3650));
  demo->add_flag("--if-empty", if_empty, "only when the store holds no events yet");

  CommonFlags ingest_flags;
  std::string file;
  CLI::App* ingest = app.add_subcommand("ingest", "Load generation events from an NDJSON file");
  add_common_flags(ingest, &ingest_flags);
  ingest->add_option("file", file, "NDJSON file, one event per line")->required()->check(CLI::ExistingFile);

  CLI11_PARSE(app, argc, argv);

  try {
    if (serve->parsed()) {
      genalytics::GenalyticsConfig config = configure(serve_flags);
      if (!host.empty()) config.server.http.host = host;
      if (port >= 0) config.server.http.port = static_cast<uint16_t>(port);
      return genalytics::run_serve(config);
    }
    if (demo->parsed()) {
      genalytics::GenalyticsConfig config = configure(demo_flags);
      if (days > 0) config.demo.days = days;
      return genalytics::run_demo(config, if_empty);
    }
    if (ingest->parsed()) return genalytics::run_ingest(configure(ingest_flags), file);
  } catch (const std::exception& error) {
    fmt::print(stderr, "genalytics: {}\n", error.what());
    return 1;
  }
  return 0;
}
