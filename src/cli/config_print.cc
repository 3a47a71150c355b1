#include "cli/config_print.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "event/json_writer.h"

namespace genalytics {
namespace {

// JSON on one line, with a space after each comma of an array, as a person
// writes a short list.
std::string inline_json(const boost::json::value& v) {
  if (!v.is_array()) return serialize_json(v);
  std::string out = "[";
  for (const boost::json::value& item : v.as_array()) {
    out += (out.size() > 1 ? ", " : "") + serialize_json(item);
  }
  return out + "]";
}

std::string markdown_cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string set_by_cell(const ConfigKey& key) {
  std::string out;
  for (const auto* list : {&key.env, &key.flags}) {
    for (const ConfigOverride& by : *list) out += fmt::format("{}`{}`", out.empty() ? "" : ", ", by.name);
  }
  return out;
}

std::string meaning_cell(const ConfigKey& key) {
  std::string out(key.doc);
  for (std::string_view old : key.old_paths) out += fmt::format(" (was `{}`)", old);
  return out;
}

// "postgresql://user:secret@host/db" -> "postgresql://user:***@host/db".
std::string without_password(std::string text) {
  const size_t scheme = text.find("://");
  if (scheme == std::string::npos) return text;
  const size_t authority = scheme + 3;
  const size_t at = text.find('@', authority);
  const size_t slash = text.find('/', authority);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return text;
  const size_t colon = text.find(':', authority);
  if (colon == std::string::npos || colon > at) return text;
  return text.replace(colon + 1, at - colon - 1, "***");
}

}  // namespace

std::string config_defaults_json() {
  const GenalyticsConfig defaults;
  std::string out = "{";
  std::string_view section;
  for (const ConfigKey& key : config_keys()) {
    if (key.section() != section) {
      out += fmt::format("{}\n  \"{}\": {{\n", section.empty() ? "" : "\n  },", key.section());
      section = key.section();
    } else {
      out += ",\n";
    }
    out += fmt::format("    \"{}\": {}", key.name(), inline_json(key.get(defaults)));
  }
  return out + "\n  }\n}\n";
}

std::string config_markdown_table() {
  const GenalyticsConfig defaults;
  std::string out = "| key | default | type | set by | meaning |\n|---|---|---|---|---|\n";
  for (const ConfigKey& key : config_keys()) {
    out += fmt::format("| `{}` | `{}` | {} | {} | {} |\n", key.path,
                       markdown_cell(inline_json(key.get(defaults))),
                       markdown_cell(config_type_summary(key)), set_by_cell(key),
                       markdown_cell(meaning_cell(key)));
  }
  return out;
}

std::string config_value_text(const ConfigKey& key, const GenalyticsConfig& config) {
  const boost::json::value v = key.get(config);
  if (key.type == ConfigType::kApiKeys) {
    const size_t count = v.as_array().size();
    return count == 0 ? "none" : fmt::format("{} key{} (not shown)", count, count == 1 ? "" : "s");
  }
  return without_password(inline_json(v));
}

std::string config_source_text(const std::vector<ConfigSource>& sources) {
  if (sources.empty()) return "default";
  std::string out;
  for (const ConfigSource& source : sources) {
    constexpr std::string_view kKinds[] = {"default", "file", "env", "flag"};
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ", kKinds[static_cast<int>(source.kind)],
                       source.name);
  }
  return out;
}

std::vector<std::string> effective_config_lines(const LoadedConfig& loaded) {
  std::vector<std::string> lines;
  for (const ConfigKey& key : config_keys()) {
    lines.push_back(fmt::format("{} = {}  ({})", key.path, config_value_text(key, loaded.config),
                                config_source_text(loaded.sources[config_key_index(key)])));
  }
  return lines;
}

}  // namespace genalytics
