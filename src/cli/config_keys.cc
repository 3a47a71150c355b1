// The description of every configuration key. One entry per key: its
// accessor reads and writes the option struct field (unit conversions
// live here), and the field's initialiser is the default.
#include "cli/config_keys.h"

#include <boost/json.hpp>

#include <chrono>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <unordered_map>

#include "server/auth.h"

namespace genalytics {
namespace {

using boost::json::value;

// How an entry reads and writes its field, as the JSON type's C++ type.
template <typename T>
struct Access {
  std::function<T(const GenalyticsConfig&)> get;
  std::function<void(GenalyticsConfig&, T)> set;
};

// The field `field` names (a lambda `auto& config -> auto&`), converted to T.
template <typename T, typename Field>
Access<T> as(Field field) {
  return {[field](const GenalyticsConfig& c) { return static_cast<T>(field(c)); },
          [field](GenalyticsConfig& c, T v) {
            field(c) = static_cast<std::remove_cvref_t<decltype(field(c))>>(std::move(v));
          }};
}

// A std::chrono duration field, in whole seconds.
template <typename Field>
Access<int64_t> in_seconds(Field field) {
  return {[field](const GenalyticsConfig& c) {
            return static_cast<int64_t>(
                std::chrono::duration_cast<std::chrono::seconds>(field(c)).count());
          },
          [field](GenalyticsConfig& c, int64_t s) { field(c) = std::chrono::seconds(s); }};
}

// A field in microseconds, in whole seconds.
template <typename Field>
Access<int64_t> micros_in_seconds(Field field) {
  return {[field](const GenalyticsConfig& c) { return static_cast<int64_t>(field(c) / 1'000'000); },
          [field](GenalyticsConfig& c, int64_t s) { field(c) = s * 1'000'000; }};
}

// A field in bytes, in MiB.
template <typename Field>
Access<int64_t> in_mib(Field field) {
  return {[field](const GenalyticsConfig& c) { return static_cast<int64_t>(field(c) >> 20); },
          [field](GenalyticsConfig& c, int64_t mb) { field(c) = static_cast<size_t>(mb) << 20; }};
}

// An entry under construction: .env(), .flag() and .was() add to it.
struct Entry {
  ConfigKey key;
  Entry&& env(std::string_view name, ConfigTextSetter set = nullptr, std::string_view doc = {}) && {
    key.env.push_back({name, set, doc});
    return std::move(*this);
  }
  Entry&& flag(std::string_view name, ConfigTextSetter set = nullptr, std::string_view doc = {}) && {
    key.flags.push_back({name, set, doc});
    return std::move(*this);
  }
  Entry&& was(std::string_view old_path) && {
    key.old_paths.push_back(old_path);
    return std::move(*this);
  }
  operator ConfigKey() && { return std::move(key); }  // NOLINT: the table's entries convert
};

Entry untyped(std::string_view path, ConfigType type, std::string_view doc) {
  Entry e;
  e.key.path = path;
  e.key.type = type;
  e.key.doc = doc;
  return e;
}

template <typename T>
Entry typed(std::string_view path, ConfigType type, Access<T> access, std::string_view doc) {
  Entry e = untyped(path, type, doc);
  e.key.get = [get = access.get](const GenalyticsConfig& c) {
    if constexpr (std::is_same_v<T, std::string>) {
      const std::string text = get(c);
      return value(boost::json::string_view(text.data(), text.size()));
    } else {
      return value(get(c));
    }
  };
  e.key.set = [set = access.set](GenalyticsConfig& c, const value& v) {
    if constexpr (std::is_same_v<T, std::string>) {
      set(c, std::string(v.as_string().data(), v.as_string().size()));
    } else if constexpr (std::is_same_v<T, bool>) {
      set(c, v.as_bool());
    } else {
      set(c, v.to_number<T>());
    }
  };
  return e;
}

Entry integer(std::string_view path, int64_t min, int64_t max, Access<int64_t> access,
              std::string_view doc) {
  Entry e = typed(path, ConfigType::kInteger, std::move(access), doc);
  e.key.min = min;
  e.key.max = max;
  return e;
}

// A number > 0, at most `max` when max > 0.
Entry number(std::string_view path, Access<double> access, std::string_view doc, int64_t max = 0) {
  Entry e = typed(path, ConfigType::kNumber, std::move(access), doc);
  e.key.max = max;
  return e;
}

Entry fraction(std::string_view path, Access<double> access, std::string_view doc) {
  return typed(path, ConfigType::kFraction, std::move(access), doc);
}

Entry text(std::string_view path, Access<std::string> access, std::string_view doc) {
  return typed(path, ConfigType::kString, std::move(access), doc);
}

Entry boolean(std::string_view path, Access<bool> access, std::string_view doc) {
  return typed(path, ConfigType::kBoolean, std::move(access), doc);
}

Entry string_list(std::string_view path, Access<std::vector<std::string>> access,
                  std::string_view doc) {
  Entry e = untyped(path, ConfigType::kStringList, doc);
  e.key.get = [get = access.get](const GenalyticsConfig& c) {
    boost::json::array items;
    for (const std::string& item : get(c)) {
      items.emplace_back(boost::json::string_view(item.data(), item.size()));
    }
    return value(std::move(items));
  };
  e.key.set = [set = access.set](GenalyticsConfig& c, const value& v) {
    std::vector<std::string> items;
    for (const value& item : v.as_array()) {
      items.emplace_back(item.as_string().data(), item.as_string().size());
    }
    set(c, std::move(items));
  };
  return e;
}

// Environment and flag texts of server.api_keys add to the keys, with
// ApiKeys' own messages (which never include a key).
std::optional<std::string> add_api_key_list(GenalyticsConfig& c, const std::string& text) {
  try {
    c.server.api_keys.add_key_list(text);
    return std::nullopt;
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
}

std::optional<std::string> add_api_key_file(GenalyticsConfig& c, const std::string& path) {
  try {
    c.server.api_keys.add_key_file(path);
    return std::nullopt;
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
}

Entry api_keys(std::string_view path, std::string_view doc) {
  Entry e = untyped(path, ConfigType::kApiKeys, doc);
  e.key.get = [](const GenalyticsConfig& c) {
    return value(boost::json::array(c.server.api_keys.size(), value(nullptr)));
  };
  e.key.set = [](GenalyticsConfig& c, const value& v) { add_api_key_entries(v, &c.server.api_keys); };
  return e;
}

// The field lambdas: `auto& config -> auto&`, for const and mutable configs.
#define GENALYTICS_FIELD(expr) [](auto& c) -> auto& { return c.expr; }

std::vector<ConfigKey> describe_keys() {
  constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();
  return {
      text("server.host", as<std::string>(GENALYTICS_FIELD(server.http.host)),
           "address to listen on; one other machines can reach needs API keys (or serve "
           "--insecure-no-auth)")
          .flag("--host"),
      integer("server.port", 0, 65535, as<int64_t>(GENALYTICS_FIELD(server.http.port)),
              "port to listen on; 0 picks a free one")
          .flag("--port"),
      integer("server.threads", 1, 256, as<int64_t>(GENALYTICS_FIELD(server.http.threads)),
              "HTTP worker threads"),
      integer("server.body_limit_bytes", 1024, int64_t{1} << 34,
              as<int64_t>(GENALYTICS_FIELD(server.http.body_limit)), "larger bodies get 413"),
      integer("server.max_body_bytes_in_flight", 1024, int64_t{1} << 40,
              as<int64_t>(GENALYTICS_FIELD(server.http.max_body_bytes_in_flight)),
              "request bodies held at once by all connections; past it a request gets 503 "
              "`server_busy` (Retry-After) before its body is read"),
      integer("server.max_connections", 1, 1'000'000,
              as<int64_t>(GENALYTICS_FIELD(server.http.max_connections)),
              "at the cap a new connection closes the one idle longest; when none is idle it "
              "gets 503"),
      integer("server.idle_timeout_s", 1, 86'400,
              in_seconds(GENALYTICS_FIELD(server.http.idle_timeout)),
              "idle keep-alive connections are closed after this")
          .was("server.idle_timeout_seconds"),
      integer("server.header_timeout_s", 1, 3'600,
              in_seconds(GENALYTICS_FIELD(server.http.header_timeout)),
              "a new connection must send its first byte, and every request its whole header, "
              "within this, else it is closed"),
      integer("server.drain_timeout_s", 0, 3'600,
              in_seconds(GENALYTICS_FIELD(server.http.drain_timeout)),
              "on SIGTERM, how long requests already begun may take to be read and answered"),
      api_keys("server.api_keys",
               "API keys, `[{\"role\": \"ingest\"|\"read\"|\"admin\", \"key\" or \"sha256\": "
               "...}]` (see \"API keys\"); GENALYTICS_API_KEYS (`role:key,...`) and "
               "`--api-keys-file` add to them")
          .env("GENALYTICS_API_KEYS", add_api_key_list, "comma-separated role:key pairs")
          .flag("--api-keys-file", add_api_key_file,
                "a file of API keys, one role:sha256hex per line (see genalytics hash-key); adds "
                "to server.api_keys and GENALYTICS_API_KEYS"),
      text("storage.data_dir", as<std::string>(GENALYTICS_FIELD(server.data_dir)),
           "where the embedded SQLite store lives")
          .env("GENALYTICS_DATA_DIR")
          .flag("--data-dir"),
      integer("storage.rollup_cache_mb", 0, int64_t{1} << 20,
              in_mib(GENALYTICS_FIELD(server.rollup_cache_bytes)),
              "memory for decoded hourly rollup rows, so queries merge sketches instead of "
              "reading them, and as much again for model spans; 0 turns both off"),
      integer("rollup.max_values_per_dimension_hour", 0, 1'000'000,
              as<int64_t>(GENALYTICS_FIELD(server.max_values_per_dimension_hour)),
              "distinct values of each attribute dimension (`attribute:<key>`) and model "
              "parameter an hour keeps in rows of their own, in both stores; the rest are summed "
              "in one `(other)` row. Fixed dimensions (model, error type, generation type) are "
              "not capped; each event rolls up at most its first 16 attribute keys"),
      integer("ingest.max_queued_events", 1, int64_t{1} << 32,
              as<int64_t>(GENALYTICS_FIELD(server.writer.max_queued_events)),
              "events waiting for commit before ingest answers 503"),
      integer("ingest.max_events_per_commit", 1, int64_t{1} << 32,
              as<int64_t>(GENALYTICS_FIELD(server.writer.max_events_per_commit)),
              "group-commit size"),
      integer("ingest.max_events_per_body", 1, int64_t{1} << 32,
              as<int64_t>(GENALYTICS_FIELD(server.limits.max_events_per_body)),
              "larger bodies are rejected"),
      integer("ingest.max_string_length", 1, 1 << 20,
              as<int64_t>(GENALYTICS_FIELD(server.limits.max_string_length)),
              "longer strings are rejected"),
      integer("ingest.max_error_message_length", 1, 1 << 24,
              as<int64_t>(GENALYTICS_FIELD(server.limits.max_error_message_length)),
              "longer messages are truncated"),
      integer("ingest.max_rejected_listed", 0, 1'000'000,
              as<int64_t>(GENALYTICS_FIELD(server.limits.max_rejected_listed)),
              "rejected events listed in an ingest answer (all are counted in `rejected_count`)"),
      integer("ingest.max_future_skew_s", 0, int64_t{1} << 32,
              micros_in_seconds(GENALYTICS_FIELD(server.limits.max_future_skew_us)),
              "events timestamped further ahead of the server's clock are rejected"),
      text("production.redis_url", as<std::string>(GENALYTICS_FIELD(production.redis_url)),
           "Redis, `redis://host:port[/db]`: with `postgres_url`, `serve` ingests into its "
           "streams and `worker` moves them into PostgreSQL")
          .env("GENALYTICS_REDIS_URL")
          .flag("--redis"),
      text("production.postgres_url", as<std::string>(GENALYTICS_FIELD(production.postgres_url)),
           "PostgreSQL, `postgresql://user@host:port/db`: when set, `serve`, `cache-analysis`, "
           "`models` and `proxy` use it instead of the embedded store")
          .env("GENALYTICS_POSTGRES_URL")
          .flag("--postgres"),
      text("production.namespace", as<std::string>(GENALYTICS_FIELD(production.ns)),
           "prefix of the stream keys")
          .flag("--redis-namespace"),
      integer("production.retention_days", 1, 36'500,
              as<int64_t>(GENALYTICS_FIELD(production.retention_days)),
              "raw events older than this are dropped (rollups kept)")
          .flag("worker --retention-days")
          .flag("retention --days"),
      integer("production.worker_batch_size", 1, 100'000,
              as<int64_t>(GENALYTICS_FIELD(production.worker.batch_size)),
              "entries per worker transaction"),
      integer("production.claim_idle_ms", 100, 86'400'000,
              as<int64_t>(GENALYTICS_FIELD(production.worker.claim_idle_ms)),
              "entries pending this long on a dead worker are reclaimed"),
      string_list("route-analytics.variable-params",
                  as<std::vector<std::string>>(
                      GENALYTICS_FIELD(server.routes.normalization.variable_params)),
                  "dropped from `query_params_normalized`"),
      boolean("route-analytics.template-ids",
              as<bool>(GENALYTICS_FIELD(server.routes.normalization.template_ids)),
              "concrete ids in paths become `{id}`"),
      integer("cache-planning.top-n-routes", 1, 10'000,
              as<int64_t>(GENALYTICS_FIELD(server.routes.planning.top_n)),
              "routes ranked when `cache-analysis -n` or the API's `n` is not given")
          .flag("cache-analysis -n,--count"),
      integer("cache-planning.pages-to-cache-per-route", 1, 1'000,
              as<int64_t>(GENALYTICS_FIELD(server.routes.planning.pages_to_cache_per_route)),
              "pages listed in `cache_keys`"),
      number("model_analytics.cleanup_unused_days",
             as<double>(GENALYTICS_FIELD(server.models.cleanup_unused_days)),
             "cleanup: a model unused for longer than this many days"),
      number("model_analytics.cleanup_min_uses_per_day",
             as<double>(GENALYTICS_FIELD(server.models.cleanup_min_uses_per_day)),
             "cleanup: a model used fewer times a day than this"),
      fraction("model_analytics.cleanup_min_success_rate",
               as<double>(GENALYTICS_FIELD(server.models.cleanup_min_success_rate)),
               "cleanup: a model whose success rate's Wilson upper bound is under this"),
      number("model_analytics.cleanup_horizon_days",
             as<double>(GENALYTICS_FIELD(server.models.cleanup_horizon_days)),
             "cleanup confidence: the probability of no use in this many days"),
      fraction("model_analytics.preload_min_success_rate",
               as<double>(GENALYTICS_FIELD(server.models.preload_min_success_rate)),
               "preload: a model whose success rate is over this (and is used enough)"),
      number("model_analytics.preload_min_uses_per_day",
             as<double>(GENALYTICS_FIELD(server.models.preload_min_uses_per_day)),
             "preload: used more times a day than this, or rising"),
      number("model_analytics.vram_budget_gb",
             as<double>(GENALYTICS_FIELD(server.models.vram_budget_gb)),
             "VRAM budget (GiB) of the preload schedule and the simulation", 100'000)
          .flag("--vram-budget-gb"),
      number("model_analytics.slow_p50_ms", as<double>(GENALYTICS_FIELD(server.models.slow_p50_ms)),
             "performance: a p50 generation time over this is slow"),
      fraction("model_analytics.low_success_rate",
               as<double>(GENALYTICS_FIELD(server.models.low_success_rate)),
               "performance: a success rate whose Wilson upper bound is under this is low"),
      number("model_analytics.variance_ratio",
             as<double>(GENALYTICS_FIELD(server.models.variance_ratio)),
             "performance: p95/p50 over this is high variance"),
      number("model_analytics.regression_ratio",
             as<double>(GENALYTICS_FIELD(server.models.regression_ratio)),
             "performance: a p95 of the recent days over this times the p95 of the days before "
             "is a regression"),
      integer("model_analytics.regression_recent_days", 1, 3'650,
              as<int64_t>(GENALYTICS_FIELD(server.models.regression_recent_days)),
              "performance: the recent days of the regression check"),
      integer("model_analytics.min_samples", 1, 1'000'000'000,
              as<int64_t>(GENALYTICS_FIELD(server.models.min_samples)),
              "performance: the timed generations each side of the regression check, and the "
              "variance figure, needs"),
      number("model_analytics.default_load_time_ms",
             as<double>(GENALYTICS_FIELD(server.models.default_load_time_ms)),
             "a model's load time when none was recorded (plus its size at "
             "`load_bytes_per_second`)"),
      number("model_analytics.load_bytes_per_second",
             as<double>(GENALYTICS_FIELD(server.models.load_bytes_per_second)),
             "load speed assumed for a model of known size without recorded loads"),
      number("model_analytics.default_vram_mb",
             as<double>(GENALYTICS_FIELD(server.models.default_vram_mb)),
             "a model's VRAM when none was recorded"),
      integer("model_analytics.common_params_top", 1, 1'000,
              as<int64_t>(GENALYTICS_FIELD(server.models.common_params_top)),
              "values listed per parameter key in `common_params`"),
      integer("demo.days", 1, 3'650, as<int64_t>(GENALYTICS_FIELD(demo.days)),
              "days of demo traffic, ending now")
          .flag("demo --days"),
      number("demo.generations_per_hour",
             as<double>(GENALYTICS_FIELD(demo.mean_generations_per_hour)),
             "mean demo generations an hour"),
      integer("demo.users", 1, 10'000'000, as<int64_t>(GENALYTICS_FIELD(demo.users)),
              "demo users"),
      integer("demo.seed", 0, kMaxInt64, as<int64_t>(GENALYTICS_FIELD(demo.seed)),
              "same seed and options, same demo events"),
  };
}

#undef GENALYTICS_FIELD

// The seeds' sections keep their hyphens; ours are snake_case.
constexpr ConfigSectionRename kSectionRenames[] = {{"model-analytics", "model_analytics"}};

}  // namespace

std::span<const ConfigKey> config_keys() {
  static const std::vector<ConfigKey> keys = describe_keys();
  return keys;
}

std::span<const ConfigSectionRename> config_section_renames() { return kSectionRenames; }

const ConfigKey* find_config_key(std::string_view path) {
  static const std::unordered_map<std::string_view, const ConfigKey*> by_path = [] {
    std::unordered_map<std::string_view, const ConfigKey*> map;
    for (const ConfigKey& key : config_keys()) map.emplace(key.path, &key);
    return map;
  }();
  auto it = by_path.find(path);
  return it == by_path.end() ? nullptr : it->second;
}

size_t config_key_index(const ConfigKey& key) {
  return static_cast<size_t>(&key - config_keys().data());
}

}  // namespace genalytics
