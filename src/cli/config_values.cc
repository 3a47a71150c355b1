// The types of configuration values: what each accepts, in JSON and as the
// text of an environment variable or flag, and how each is described.
#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "cli/config_keys.h"
#include "event/json_writer.h"
#include "server/auth.h"

namespace genalytics {
namespace {

using boost::json::value;

std::string got(const value& v) {
  std::string text = serialize_json(v);
  constexpr size_t kShown = 60;
  if (text.size() > kShown) text = text.substr(0, kShown - 3) + "...";
  return "got " + text;
}

std::optional<int64_t> as_int64(const value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return static_cast<int64_t>(v.as_uint64());
  }
  return std::nullopt;
}

// A number > 0, at most `max` (0: unbounded).
bool positive_number(const value& v, double max) {
  if (!v.is_number()) return false;
  const double d = v.to_number<double>();
  return std::isfinite(d) && d > 0 && (max == 0 || d <= max);
}

bool string_list(const value& v) {
  return v.is_array() &&
         std::all_of(v.as_array().begin(), v.as_array().end(), [](const value& item) { return item.is_string(); });
}

std::string_view trim(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

template <typename T>
std::optional<T> parse_whole(std::string_view text) {
  T out{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return out;
}

}  // namespace

std::optional<std::string> check_config_value(const ConfigKey& key, const value& v) {
  bool ok = false;
  switch (key.type) {
    case ConfigType::kInteger: {
      const std::optional<int64_t> n = as_int64(v);
      ok = n && *n >= key.min && *n <= key.max;
      break;
    }
    case ConfigType::kNumber:
      ok = positive_number(v, static_cast<double>(key.max));
      break;
    case ConfigType::kFraction:
      ok = positive_number(v, 1);
      break;
    case ConfigType::kString:
      ok = v.is_string();
      break;
    case ConfigType::kBoolean:
      ok = v.is_bool();
      break;
    case ConfigType::kStringList:
      ok = string_list(v);
      break;
    case ConfigType::kApiKeys: {
      ApiKeys trial;  // the shape and every hash checked, never the value shown
      return add_api_key_entries(v, &trial);
    }
  }
  if (ok) return std::nullopt;
  return got(v);
}

std::string expected_config_value(const ConfigKey& key) {
  switch (key.type) {
    case ConfigType::kInteger:
      return fmt::format("an integer between {} and {}", key.min, key.max);
    case ConfigType::kNumber:
      return key.max > 0 ? fmt::format("a number greater than 0 and at most {}", key.max)
                         : "a number greater than 0";
    case ConfigType::kFraction:
      return "a number greater than 0 and at most 1";
    case ConfigType::kString:
      return "a string";
    case ConfigType::kBoolean:
      return "true or false";
    case ConfigType::kStringList:
      return "an array of strings";
    case ConfigType::kApiKeys:
      return "an array of {\"role\": \"ingest|read|admin\", \"key\": \"...\"} or "
             "{\"role\": ..., \"sha256\": \"64 hex digits\"}";
  }
  return {};
}

std::string config_type_summary(const ConfigKey& key) {
  switch (key.type) {
    case ConfigType::kInteger:
      return fmt::format("integer {} to {}", key.min, key.max);
    case ConfigType::kNumber:
      return key.max > 0 ? fmt::format("number > 0, at most {}", key.max) : "number > 0";
    case ConfigType::kFraction:
      return "fraction (0, 1]";
    case ConfigType::kString:
      return "string";
    case ConfigType::kBoolean:
      return "boolean";
    case ConfigType::kStringList:
      return "list of strings";
    case ConfigType::kApiKeys:
      return "API keys";
  }
  return {};
}

std::optional<value> config_value_from_text(const ConfigKey& key, std::string_view text) {
  switch (key.type) {
    case ConfigType::kInteger:
      if (auto n = parse_whole<int64_t>(text)) return value(*n);
      return std::nullopt;
    case ConfigType::kNumber:
    case ConfigType::kFraction:
      if (auto d = parse_whole<double>(text)) return value(*d);
      return std::nullopt;
    case ConfigType::kString:
      return value(boost::json::string_view(text.data(), text.size()));
    case ConfigType::kBoolean:
      if (text == "true" || text == "1") return value(true);
      if (text == "false" || text == "0") return value(false);
      return std::nullopt;
    case ConfigType::kStringList: {
      boost::json::array items;
      for (size_t start = 0; start <= text.size();) {
        const size_t comma = std::min(text.find(',', start), text.size());
        if (std::string_view item = trim(text.substr(start, comma - start)); !item.empty()) {
          items.emplace_back(boost::json::string_view(item.data(), item.size()));
        }
        start = comma + 1;
      }
      return value(std::move(items));
    }
    case ConfigType::kApiKeys:
      return std::nullopt;  // its variable and flag have setters of their own
  }
  return std::nullopt;
}

std::optional<std::string> add_api_key_entries(const boost::json::value& entries, ApiKeys* keys) {
  if (!entries.is_array()) return "not an array";
  size_t index = 0;
  for (const value& item : entries.as_array()) {
    const boost::json::object* entry = item.if_object();
    const value* role_name = entry ? entry->if_contains("role") : nullptr;
    const std::optional<ApiRole> role =
        role_name && role_name->is_string() ? parse_api_role(role_name->as_string()) : std::nullopt;
    const value* key = entry ? entry->if_contains("key") : nullptr;
    const value* hash = entry ? entry->if_contains("sha256") : nullptr;
    if (!role || (key == nullptr) == (hash == nullptr)) return fmt::format("entry {}", index);
    try {
      if (key) {
        if (!key->is_string() || key->as_string().empty()) {
          throw std::invalid_argument("key must be a non-empty string");
        }
        keys->add_key(*role, key->as_string());
      } else {
        if (!hash->is_string()) throw std::invalid_argument("sha256 must be a string");
        keys->add_key_hash(*role, hash->as_string());
      }
    } catch (const std::invalid_argument& error) {
      return fmt::format("entry {}: {}", index, error.what());
    }
    ++index;
  }
  return std::nullopt;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  // d[i][j]: distance between a's first i and b's first j characters.
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);  // adjacent swap: "prot" -> "port"
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace genalytics
