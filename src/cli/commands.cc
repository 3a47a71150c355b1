#include "cli/commands.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>

#include "event/time.h"
#include "pipeline/ndjson_loader.h"

namespace genalytics {

int run_serve(const GenalyticsConfig& config) {
  // Block the stop signals in every thread; this one waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  EmbeddedServer server(config.server);
  spdlog::info("genalytics serving on http://{}:{} (data in {})", config.server.http.host,
               server.port(), config.server.data_dir);
  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("received {}, draining in-flight requests", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  server.stop();
  spdlog::info("stopped; everything acknowledged is committed");
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
