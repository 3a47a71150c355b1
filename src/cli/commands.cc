#include "cli/commands.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iostream>
#include <thread>

#include <boost/url/parse.hpp>

#include "demo/model_fleet.h"
#include "demo/traffic_generator.h"
#include "event/route_normalizer.h"
#include "event/time.h"
#include "pipeline/ndjson_loader.h"
#include "server/auth.h"
#include "server/route_proxy.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace genalytics {

namespace {

// Blocks the stop signals in every thread started after this call; the
// caller waits for them with wait_for_stop_signal().
sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

void wait_for_stop_signal(const sigset_t& signals) {
  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("received {}, stopping", signal == SIGTERM ? "SIGTERM" : "SIGINT");
}

// Submits route events and waits for their commit; a full queue waits for
// room (BatchWriter::write's counterpart for route events).
WriteResult write_routes(BatchWriter& writer, std::vector<RouteEvent> events) {
  for (;;) {
    std::promise<WriteResult> done;
    std::future<WriteResult> result = done.get_future();
    const SubmitStatus status =
        writer.submit(events, [&done](WriteResult r) { done.set_value(std::move(r)); });
    if (status == SubmitStatus::kQueued) return result.get();
    if (status == SubmitStatus::kShuttingDown) throw StoreError("the writer is shutting down");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void require_production_urls(const ProductionOptions& production) {
  if (production.redis_url.empty() || production.postgres_url.empty()) {
    throw std::invalid_argument("--redis URL and --postgres URL are both required");
  }
}

}  // namespace

std::unique_ptr<SqliteStore> open_existing_store(const std::string& data_dir,
                                                 std::string_view how_to_create,
                                                 const SqliteStoreOptions& options) {
  // SqliteStore's file name in its data dir (store/sqlite_store.h).
  const std::filesystem::path path = std::filesystem::path(data_dir) / "genalytics.db";
  if (!std::filesystem::is_regular_file(path)) {
    throw std::invalid_argument(fmt::format("no store at {} ({})", path.string(), how_to_create));
  }
  return std::make_unique<SqliteStore>(data_dir, options);
}

std::unique_ptr<PostgresStore> open_postgres_store(const GenalyticsConfig& config) {
  if (config.production.postgres_url.empty()) throw std::invalid_argument("--postgres URL is required");
  return open_postgres_store(config.production.postgres_url, config.server);
}

std::unique_ptr<Store> open_configured_store(const GenalyticsConfig& config, StoreOpening opening,
                                             std::string_view how_to_create) {
  if (!config.production.postgres_url.empty()) return open_postgres_store(config);
  const SqliteStoreOptions options = sqlite_store_options(config.server);
  if (opening == StoreOpening::kCreate) {
    return std::make_unique<SqliteStore>(config.server.data_dir, options);
  }
  return open_existing_store(config.server.data_dir, how_to_create, options);
}

int run_serve(const GenalyticsConfig& config, bool production) {
  const sigset_t signals = block_stop_signals();
  AppServerOptions options = config.server;
  if (production) {
    require_production_urls(config.production);
    options.production = config.production;
  }
  AppServer server(options);
  if (production) {
    spdlog::info("genalytics serving on http://{}:{} (ingest to {}, queries from PostgreSQL{})",
                 options.http.host, server.port(), config.production.redis_url,
                 config.production.run_worker ? ", with a pipeline worker per stream" : "");
  } else {
    spdlog::info("genalytics serving on http://{}:{} (data in {})", options.http.host,
                 server.port(), options.data_dir);
  }
  wait_for_stop_signal(signals);
  server.stop();
  spdlog::info("stopped; everything acknowledged is durable");
  return 0;
}

int run_worker(const GenalyticsConfig& config) {
  require_production_urls(config.production);
  const sigset_t signals = block_stop_signals();
  const ProductionOptions& p = config.production;
  const RedisOptions redis = RedisOptions::from_url(p.redis_url);
  const std::unique_ptr<PostgresStore> store = open_postgres_store(config);
  StreamWorker::Options options = p.worker;
  options.ns = p.ns;
  options.limits = config.server.limits;
  options.normalization = config.server.routes.normalization;
  StreamWorkerThreads workers(store.get(), redis, options);
  LiveMetricsPublisher live(store.get(), redis, p.ns);
  RetentionScheduler retention(
      [&store](int days) { return store->drop_partitions_older_than(days); }, p.retention_days);
  for (const StreamWorker* worker : workers.workers()) {
    spdlog::info("worker {} moving {} into PostgreSQL", worker->consumer(), worker->stream_key());
  }
  wait_for_stop_signal(signals);
  workers.stop();
  spdlog::info("worker stopped");
  for (const StreamWorker* worker : workers.workers()) {
    const StreamWorker::Stats stats = worker->stats();
    spdlog::info("{}: {} entries acknowledged, {} inserted, {} duplicates, {} dead-lettered",
                 worker->stream_key(), stats.entries_acknowledged, stats.inserted, stats.duplicates,
                 stats.dead_lettered);
  }
  return 0;
}

int run_migrate(const GenalyticsConfig& config) {
  if (config.production.postgres_url.empty()) throw std::invalid_argument("--postgres URL is required");
  PostgresStore::migrate(config.production.postgres_url);
  fmt::print(stderr, "schema at version {}\n", PostgresStore::schema_version());
  return 0;
}

int run_retention(const GenalyticsConfig& config) {
  const int64_t dropped =
      open_postgres_store(config)->drop_partitions_older_than(config.production.retention_days);
  fmt::print(stderr, "dropped {} raw-event partition(s) older than {} days; rollups kept\n", dropped,
             config.production.retention_days);
  return 0;
}

int run_demo(const GenalyticsConfig& config, bool if_empty) {
  SqliteStore store(config.server.data_dir, sqlite_store_options(config.server));
  if (if_empty && store.count_generation_events() > 0) {
    spdlog::info("{} already holds events; demo data not loaded", store.path());
    return 0;
  }
  DemoOptions options = config.demo;
  options.end_us = now_us();
  BatchWriter writer(&store, config.server.writer);
  uint64_t accepted = 0;
  uint64_t routes_accepted = 0;
  const auto started = std::chrono::steady_clock::now();
  // The model fleet serving the traffic: its loads, unloads, downloads and
  // health checks follow from each batch of generations.
  DemoModelFleet fleet(options, DemoFleetOptions{});
  uint64_t models_accepted = 0;
  auto write_models = [&](std::vector<ModelEvent>&& events) {
    if (events.empty()) return;
    WriteResult result = writer.write(EventBatch(std::move(events)));
    if (!result.ok) throw StoreError(result.error);
    models_accepted += result.accepted;
  };
  generate_demo_traffic(options, 20'000, [&](std::vector<GenerationEvent>&& events) {
    std::vector<ModelEvent> model_events = fleet.observe(events);
    WriteResult result = writer.write(std::move(events));
    if (!result.ok) throw StoreError(result.error);
    accepted += result.accepted;
    write_models(std::move(model_events));
  });
  write_models(fleet.finish());
  const RouteNormalization& normalization = config.server.routes.normalization;
  generate_demo_route_traffic(options, 20'000, [&](std::vector<RouteEvent>&& events) {
    for (RouteEvent& event : events) normalize_route_event(&event, normalization);
    WriteResult result = write_routes(writer, std::move(events));
    if (!result.ok) throw StoreError(result.error);
    routes_accepted += result.accepted;
  });
  writer.shutdown();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print(stderr,
             "loaded {} demo generation events, {} route events and {} model events ({} days "
             "ending now) into {} in {:.1f} s\n",
             accepted, routes_accepted, models_accepted, options.days, store.path(), seconds);
  return 0;
}

int run_ingest(const GenalyticsConfig& config, const std::string& file, bool create) {
  const SqliteStoreOptions options = sqlite_store_options(config.server);
  const std::unique_ptr<SqliteStore> store =
      create ? std::make_unique<SqliteStore>(config.server.data_dir, options)
             : open_existing_store(config.server.data_dir,
                                   "check --data-dir, or pass --create to make a new store", options);
  BatchWriter writer(store.get(), config.server.writer);
  const bool tty = isatty(STDERR_FILENO);
  const auto started = std::chrono::steady_clock::now();
  auto progress = [&](const LoadStats& s) {
    if (!tty) return;
    const double fraction =
        s.bytes_total ? static_cast<double>(s.bytes_read) / static_cast<double>(s.bytes_total) : 1.0;
    constexpr int kWidth = 40;
    const int filled = static_cast<int>(fraction * kWidth);
    fmt::print(stderr, "\r[{:=<{}}{: <{}}] {:5.1f}%  {} accepted, {} duplicates, {} rejected",
               "", filled, "", kWidth - filled, fraction * 100.0, s.accepted, s.duplicates,
               s.rejected);
  };
  uint64_t reported = 0;
  auto rejected = [&](const RejectedLine& line) {
    if (++reported > 20) return;  // the count in the summary covers the rest
    for (const FieldError& e : line.errors) {
      fmt::print(stderr, "{}line {}: {}{}{}\n", tty ? "\r" : "", line.line, e.field,
                 e.field.empty() ? "" : ": ", e.message);
    }
  };
  LoadStats stats = load_ndjson_file(file, writer, event_kind<GenerationKind>(),
                                     {config.server.limits, config.server.routes.normalization},
                                     progress, rejected);
  writer.shutdown();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print(stderr, "{}{}: {} accepted, {} duplicates, {} rejected in {:.1f} s\n", tty ? "\n" : "",
             file, stats.accepted, stats.duplicates, stats.rejected, seconds);
  return stats.rejected > 0 ? 1 : 0;
}

int run_hash_key(const std::string& role) {
  if (!parse_api_role(role)) throw std::invalid_argument("--role must be ingest, read or admin");
  std::string key;
  std::getline(std::cin, key);
  if (!key.empty() && key.back() == '\r') key.pop_back();
  if (key.empty()) throw std::invalid_argument("hash-key reads the key from stdin; it was empty");
  fmt::print("{}:{}\n", role, sha256_hex(key));
  return 0;
}

namespace {

// "host:port" -> (host, port).
std::pair<std::string, uint16_t> parse_host_port(const std::string& flag, const std::string& text) {
  const size_t colon = text.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      std::from_chars(text.data() + colon + 1, text.data() + text.size(), port).ec != std::errc() ||
      port < 0 || port > 65535) {
    throw std::invalid_argument(fmt::format("{} must be host:port (got {})", flag, text));
  }
  return {text.substr(0, colon), static_cast<uint16_t>(port)};
}

}  // namespace

UpstreamAddress parse_upstream_url(const std::string& text) {
  auto fail = [&text](std::string_view why) {
    return std::invalid_argument(
        fmt::format("--upstream {}: {}; give http://host:port, e.g. http://127.0.0.1:8000", text, why));
  };
  auto url = boost::urls::parse_uri(text);
  if (!url) {
    if (text.find("://") == std::string::npos) throw fail("the scheme is missing");
    throw fail("not a URL");
  }
  if (url->scheme() != "http") {
    throw fail(url->scheme() == "https"
                   ? "https is not supported: the proxy speaks plain HTTP to the app (run it "
                     "next to the app and terminate TLS in front of the proxy)"
                   : fmt::format("scheme {} is not supported", std::string_view(url->scheme())));
  }
  if (url->has_userinfo()) throw fail("user info is not supported");
  if (!url->encoded_path().empty() && url->encoded_path() != "/") {
    throw fail("a path is not supported: every request is forwarded with its own path");
  }
  if (url->has_query()) throw fail("a query string is not supported");
  if (url->has_fragment()) throw fail("a fragment is not supported");
  UpstreamAddress address;
  switch (url->host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::name:
      address.host = url->host();
      break;
    case boost::urls::host_type::ipv6:
      address.host = url->encoded_host_address();  // without the brackets
      break;
    default:
      throw fail("unsupported host");
  }
  if (address.host.empty()) throw fail("the host is missing");
  if (url->has_port()) {
    const std::string_view digits = url->port();
    int port = 0;
    if (std::from_chars(digits.data(), digits.data() + digits.size(), port).ec != std::errc() ||
        port < 1 || port > 65535) {
      throw fail("the port must be 1 to 65535");
    }
    address.port = static_cast<uint16_t>(port);
  }
  return address;
}

int run_proxy(const GenalyticsConfig& config, const std::string& listen, const std::string& upstream,
              const std::string& user_header) {
  const sigset_t signals = block_stop_signals();
  const std::unique_ptr<Store> store = open_configured_store(config, StoreOpening::kCreate);
  BatchWriter writer(store.get(), config.server.writer);
  std::atomic<int64_t> dropped{0};
  RouteProxy::Options options;
  std::tie(options.listen_host, options.listen_port) = parse_host_port("--listen", listen);
  const UpstreamAddress upstream_address = parse_upstream_url(upstream);
  options.upstream_host = upstream_address.host;
  options.upstream_port = upstream_address.port;
  options.user_header = user_header;
  const RouteNormalization normalization = config.server.routes.normalization;
  options.normalize = [normalization](RouteEvent& event) { normalize_route_event(&event, normalization); };
  // Recording never delays or fails a proxied request: a full queue drops the record.
  RouteProxy proxy(options, [&writer, &dropped](RouteEvent&& event) {
    std::vector<RouteEvent> one;
    one.push_back(std::move(event));
    if (writer.submit(std::move(one), [](WriteResult) {}) != SubmitStatus::kQueued) ++dropped;
  });
  proxy.start();
  spdlog::info("proxy on {}:{} -> {}:{}, recording route hits", options.listen_host, proxy.port(),
               options.upstream_host, options.upstream_port);
  wait_for_stop_signal(signals);
  proxy.stop();
  writer.shutdown();
  if (dropped > 0) spdlog::warn("{} route hits were not recorded (ingest queue full)", dropped.load());
  return 0;
}

}  // namespace genalytics
