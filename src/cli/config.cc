#include "cli/config.h"

#include <boost/json.hpp>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

namespace genalytics {
namespace {

const boost::json::value* find(const boost::json::object& root, std::string_view section,
                               std::string_view key) {
  auto s = root.find(section);
  if (s == root.end()) return nullptr;
  if (!s->value().is_object()) throw ConfigError(fmt::format("config: {} must be an object", section));
  auto k = s->value().as_object().find(key);
  return k == s->value().as_object().end() ? nullptr : &k->value();
}

template <typename T>
void read_int(const boost::json::object& root, std::string_view section, std::string_view key,
              T* out, int64_t min, int64_t max) {
  const boost::json::value* v = find(root, section, key);
  if (!v) return;
  auto n = v->is_int64() ? std::optional<int64_t>(v->as_int64())
           : v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(max)
               ? std::optional<int64_t>(static_cast<int64_t>(v->as_uint64()))
               : std::nullopt;
  if (!n || *n < min || *n > max) {
    throw ConfigError(fmt::format("config: {}.{} must be an integer between {} and {}", section,
                                  key, min, max));
  }
  *out = static_cast<T>(*n);
}

void read_double(const boost::json::object& root, std::string_view section, std::string_view key,
                 double* out) {
  const boost::json::value* v = find(root, section, key);
  if (!v) return;
  if (!v->is_number() || v->to_number<double>() <= 0) {
    throw ConfigError(fmt::format("config: {}.{} must be a positive number", section, key));
  }
  *out = v->to_number<double>();
}

// A number in (0, 1].
void read_fraction(const boost::json::object& root, std::string_view section, std::string_view key,
                   double* out) {
  const boost::json::value* v = find(root, section, key);
  if (!v) return;
  if (!v->is_number() || v->to_number<double>() <= 0 || v->to_number<double>() > 1) {
    throw ConfigError(fmt::format("config: {}.{} must be a number in (0, 1]", section, key));
  }
  *out = v->to_number<double>();
}

void read_string(const boost::json::object& root, std::string_view section, std::string_view key,
                 std::string* out) {
  const boost::json::value* v = find(root, section, key);
  if (!v) return;
  if (!v->is_string()) throw ConfigError(fmt::format("config: {}.{} must be a string", section, key));
  *out = std::string(v->as_string());
}

// server.api_keys: [{"role": "read", "key": "..."} or {"role": "read", "sha256": "hex"}, ...].
void read_api_keys(const boost::json::object& root, ApiKeys* keys) {
  const boost::json::value* v = find(root, "server", "api_keys");
  if (!v) return;
  constexpr std::string_view kShape =
      "config: server.api_keys must be an array of {\"role\": \"ingest|read|admin\", \"key\": "
      "\"...\"} or {\"role\": ..., \"sha256\": \"64 hex digits\"}";
  if (!v->is_array()) throw ConfigError(std::string(kShape));
  size_t index = 0;
  for (const boost::json::value& item : v->as_array()) {
    const boost::json::object* entry = item.if_object();
    const boost::json::value* role_name = entry ? entry->if_contains("role") : nullptr;
    const std::optional<ApiRole> role =
        role_name && role_name->is_string() ? parse_api_role(role_name->as_string()) : std::nullopt;
    const boost::json::value* key = entry ? entry->if_contains("key") : nullptr;
    const boost::json::value* hash = entry ? entry->if_contains("sha256") : nullptr;
    if (!role || (key == nullptr) == (hash == nullptr)) {
      throw ConfigError(fmt::format("{} (entry {})", kShape, index));
    }
    try {
      if (key) {
        if (!key->is_string() || key->as_string().empty()) throw std::invalid_argument("key must be a non-empty string");
        keys->add_key(*role, key->as_string());
      } else {
        if (!hash->is_string()) throw std::invalid_argument("sha256 must be a string");
        keys->add_key_hash(*role, hash->as_string());
      }
    } catch (const std::invalid_argument& error) {
      throw ConfigError(fmt::format("config: server.api_keys entry {}: {}", index, error.what()));
    }
    ++index;
  }
}

}  // namespace

GenalyticsConfig load_config(const std::string& path) {
  GenalyticsConfig config;
  std::string file = path;
  if (file.empty()) {
    if (!std::filesystem::exists(kDefaultConfigPath)) return config;
    file = kDefaultConfigPath;
  }
  std::ifstream in(file);
  if (!in) throw ConfigError(fmt::format("cannot read config file {}", file));
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  boost::json::value json = boost::json::parse(text.str(), ec);
  if (ec) throw ConfigError(fmt::format("config file {} is not valid JSON: {}", file, ec.message()));
  if (!json.is_object()) throw ConfigError(fmt::format("config file {} must hold a JSON object", file));
  const auto& root = json.as_object();

  auto& server = config.server;
  read_string(root, "server", "host", &server.http.host);
  read_int(root, "server", "port", &server.http.port, 0, 65535);
  read_int(root, "server", "threads", &server.http.threads, 1, 256);
  read_int(root, "server", "body_limit_bytes", &server.http.body_limit, 1024, int64_t{1} << 34);
  read_int(root, "server", "max_body_bytes_in_flight", &server.http.max_body_bytes_in_flight, 1024,
           int64_t{1} << 40);
  read_int(root, "server", "max_connections", &server.http.max_connections, 1, 1'000'000);
  int64_t idle = server.http.idle_timeout.count();
  read_int(root, "server", "idle_timeout_seconds", &idle, 1, 86'400);
  server.http.idle_timeout = std::chrono::seconds(idle);
  using std::chrono::duration_cast, std::chrono::seconds;
  int64_t header_timeout = duration_cast<seconds>(server.http.header_timeout).count();
  read_int(root, "server", "header_timeout_s", &header_timeout, 1, 3'600);
  server.http.header_timeout = seconds(header_timeout);
  int64_t drain_timeout = duration_cast<seconds>(server.http.drain_timeout).count();
  read_int(root, "server", "drain_timeout_s", &drain_timeout, 0, 3'600);
  server.http.drain_timeout = seconds(drain_timeout);
  read_api_keys(root, &server.api_keys);
  read_string(root, "storage", "data_dir", &server.data_dir);
  int64_t cache_mb = static_cast<int64_t>(server.rollup_cache_bytes >> 20);
  read_int(root, "storage", "rollup_cache_mb", &cache_mb, 0, int64_t{1} << 20);
  server.rollup_cache_bytes = static_cast<size_t>(cache_mb) << 20;
  read_int(root, "rollup", "max_values_per_dimension_hour",
           &server.sqlite.max_values_per_dimension_hour, 0, 1'000'000);
  read_int(root, "ingest", "max_queued_events", &server.writer.max_queued_events, 1, int64_t{1} << 32);
  read_int(root, "ingest", "max_events_per_commit", &server.writer.max_events_per_commit, 1,
           int64_t{1} << 32);
  read_int(root, "ingest", "max_string_length", &server.limits.max_string_length, 1, 1 << 20);
  read_int(root, "ingest", "max_error_message_length", &server.limits.max_error_message_length, 1,
           1 << 24);
  read_int(root, "ingest", "max_events_per_body", &server.limits.max_events_per_body, 1,
           int64_t{1} << 32);
  read_int(root, "ingest", "max_rejected_listed", &server.limits.max_rejected_listed, 0, 1'000'000);
  int64_t future_skew_s = server.limits.max_future_skew_us / 1'000'000;
  read_int(root, "ingest", "max_future_skew_s", &future_skew_s, 0, int64_t{1} << 32);
  server.limits.max_future_skew_us = future_skew_s * 1'000'000;
  read_string(root, "production", "redis_url", &config.production.redis_url);
  read_string(root, "production", "postgres_url", &config.production.postgres_url);
  read_string(root, "production", "namespace", &config.production.ns);
  read_int(root, "production", "retention_days", &config.production.retention_days, 1, 36500);
  read_int(root, "production", "worker_batch_size", &config.production.worker.batch_size, 1, 100'000);
  read_int(root, "production", "claim_idle_ms", &config.production.worker.claim_idle_ms, 100,
           86'400'000);
  RouteApiOptions& routes = config.server.routes;
  if (const boost::json::value* v = find(root, "route-analytics", "variable-params")) {
    if (!v->is_array()) throw ConfigError("config: route-analytics.variable-params must be an array of strings");
    routes.normalization.variable_params.clear();
    for (const auto& p : v->as_array()) {
      if (!p.is_string()) throw ConfigError("config: route-analytics.variable-params must be an array of strings");
      routes.normalization.variable_params.emplace_back(p.as_string());
    }
  }
  if (const boost::json::value* v = find(root, "route-analytics", "template-ids")) {
    if (!v->is_bool()) throw ConfigError("config: route-analytics.template-ids must be true or false");
    routes.normalization.template_ids = v->as_bool();
  }
  read_int(root, "cache-planning", "top-n-routes", &routes.planning.top_n, 1, 10'000);
  read_int(root, "cache-planning", "pages-to-cache-per-route", &routes.planning.pages_to_cache_per_route, 1, 1000);
  ModelAnalyticsConfig& models = config.server.models;
  read_double(root, "model-analytics", "cleanup_unused_days", &models.cleanup_unused_days);
  read_double(root, "model-analytics", "cleanup_min_uses_per_day", &models.cleanup_min_uses_per_day);
  read_fraction(root, "model-analytics", "cleanup_min_success_rate", &models.cleanup_min_success_rate);
  read_double(root, "model-analytics", "cleanup_horizon_days", &models.cleanup_horizon_days);
  read_fraction(root, "model-analytics", "preload_min_success_rate", &models.preload_min_success_rate);
  read_double(root, "model-analytics", "preload_min_uses_per_day", &models.preload_min_uses_per_day);
  read_double(root, "model-analytics", "vram_budget_gb", &models.vram_budget_gb);
  read_double(root, "model-analytics", "slow_p50_ms", &models.slow_p50_ms);
  read_fraction(root, "model-analytics", "low_success_rate", &models.low_success_rate);
  read_double(root, "model-analytics", "variance_ratio", &models.variance_ratio);
  read_double(root, "model-analytics", "regression_ratio", &models.regression_ratio);
  read_int(root, "model-analytics", "regression_recent_days", &models.regression_recent_days, 1, 3650);
  read_int(root, "model-analytics", "min_samples", &models.min_samples, 1, 1'000'000'000);
  read_double(root, "model-analytics", "default_load_time_ms", &models.default_load_time_ms);
  read_double(root, "model-analytics", "load_bytes_per_second", &models.load_bytes_per_second);
  read_double(root, "model-analytics", "default_vram_mb", &models.default_vram_mb);
  read_int(root, "model-analytics", "common_params_top", &models.common_params_top, 1, 1000);
  read_int(root, "demo", "days", &config.demo.days, 1, 3650);
  read_int(root, "demo", "users", &config.demo.users, 1, 10'000'000);
  read_int(root, "demo", "seed", &config.demo.seed, 0, INT64_MAX);
  read_double(root, "demo", "generations_per_hour", &config.demo.mean_generations_per_hour);
  return config;
}

}  // namespace genalytics
