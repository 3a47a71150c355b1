// The configuration as people read it, made from its description
// (cli/config_keys.h): the defaults as JSON (config/base.json is exactly
// this text), the README's table, and the effective configuration with
// where each value came from.
#pragma once

#include <string>
#include <vector>

#include "cli/config.h"
#include "cli/config_keys.h"

namespace genalytics {

// Every key's default, by section in description order, two-space indented
// as config/base.json holds it, with a final newline.
std::string config_defaults_json();

// The README's table of keys: a header row, then one row per key (path,
// default as JSON, type and range, variables and flags, documentation and
// old spellings), each line ending in a newline.
std::string config_markdown_table();

// A key's value for people: JSON, with the password of a URL replaced by
// "***" and server.api_keys as a count ("2 keys (not shown)", "none").
std::string config_value_text(const ConfigKey& key, const GenalyticsConfig& config);

// What set a key: "default", "file F", "env V", "flag --x"; several joined
// by ", " (keys add up).
std::string config_source_text(const std::vector<ConfigSource>& sources);

// One line per key: `server.port = 8001  (flag --port)`.
std::vector<std::string> effective_config_lines(const LoadedConfig& loaded);

}  // namespace genalytics
