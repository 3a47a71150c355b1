#include "cli/commands.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>

#include "event/time.h"
#include "pipeline/ndjson_loader.h"
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

void require_production_urls(const ProductionOptions& production) {
  if (production.redis_url.empty() || production.postgres_url.empty()) {
    throw std::invalid_argument("--redis URL and --postgres URL are both required");
  }
}

}  // namespace

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
                 config.production.run_worker ? ", with one pipeline worker" : "");
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
  PostgresStore store(p.postgres_url);
  StreamWorker::Options options = p.worker;
  options.ns = p.ns;
  options.limits = config.server.limits;
  StreamWorker worker(&store, redis, options);
  LiveMetricsPublisher live(&store, redis, p.ns);
  RetentionScheduler retention(
      [&store](int days) { return store.drop_partitions_older_than(days); }, p.retention_days);
  std::jthread thread([&worker](std::stop_token stop) { worker.run(stop); });
  spdlog::info("worker {} moving {} into PostgreSQL", worker.consumer(), worker.stream_key());
  wait_for_stop_signal(signals);
  thread.request_stop();
  thread.join();
  const StreamWorker::Stats stats = worker.stats();
  spdlog::info("worker stopped: {} entries acknowledged, {} inserted, {} duplicates, {} dead-lettered",
               stats.entries_acknowledged, stats.inserted, stats.duplicates, stats.dead_lettered);
  return 0;
}

int run_migrate(const GenalyticsConfig& config) {
  if (config.production.postgres_url.empty()) throw std::invalid_argument("--postgres URL is required");
  PostgresStore::migrate(config.production.postgres_url);
  fmt::print(stderr, "schema at version {}\n", PostgresStore::schema_version());
  return 0;
}

int run_retention(const GenalyticsConfig& config) {
  if (config.production.postgres_url.empty()) throw std::invalid_argument("--postgres URL is required");
  PostgresStore store(config.production.postgres_url);
  const int64_t dropped = store.drop_partitions_older_than(config.production.retention_days);
  fmt::print(stderr, "dropped {} raw-event partition(s) older than {} days; rollups kept\n", dropped,
             config.production.retention_days);
  return 0;
}

int run_demo(const GenalyticsConfig& config, bool if_empty) {
  SqliteStore store(config.server.data_dir);
  if (if_empty && store.count_generation_events() > 0) {
    spdlog::info("{} already holds events; demo data not loaded", store.path());
    return 0;
  }
  DemoOptions options = config.demo;
  options.end_us = now_us();
  BatchWriter writer(&store, config.server.writer);
  uint64_t accepted = 0;
  const auto started = std::chrono::steady_clock::now();
  generate_demo_traffic(options, 20'000, [&](std::vector<GenerationEvent>&& events) {
    WriteResult result = writer.write(std::move(events));
    if (!result.ok) throw StoreError(result.error);
    accepted += result.accepted;
  });
  writer.shutdown();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print(stderr, "loaded {} demo events ({} days ending now) into {} in {:.1f} s\n", accepted,
             options.days, store.path(), seconds);
  return 0;
}

int run_ingest(const GenalyticsConfig& config, const std::string& file) {
  SqliteStore store(config.server.data_dir);
  BatchWriter writer(&store, config.server.writer);
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
  LoadStats stats = load_ndjson_file(file, writer, config.server.limits, progress, rejected);
  writer.shutdown();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print(stderr, "{}{}: {} accepted, {} duplicates, {} rejected in {:.1f} s\n", tty ? "\n" : "",
             file, stats.accepted, stats.duplicates, stats.rejected, seconds);
  return stats.rejected > 0 && stats.accepted == 0 && stats.duplicates == 0 ? 1 : 0;
}

}  // namespace genalytics
