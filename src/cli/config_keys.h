// The one description of the configuration (as DuckDB's settings.json):
// every key's path, type, range, one line of documentation, the
// environment variables and flags that set it and its old spellings, with
// the accessor of its GenalyticsConfig field. Each key's default is read
// from a default-constructed GenalyticsConfig through that accessor, so the
// option structs' initialisers are the only defaults. The loader
// (config.cc), `genalytics config`, config/base.json and the README's table
// come from this description or are tested against it.
//
// Adding a key: its option struct field, and one entry in config_keys.cc.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/config.h"

namespace genalytics {

class ApiKeys;

enum class ConfigType : uint8_t {
  kInteger,     // a JSON integer in [min, max]
  kNumber,      // a JSON number > 0
  kFraction,    // a JSON number in (0, 1]
  kString,
  kBoolean,
  kStringList,  // a JSON array of strings; in text, comma-separated
  kApiKeys,     // server.api_keys: [{"role": ..., "key" or "sha256": ...}]
};

// Applies the text of an environment variable or flag to the config;
// returns the reason when the text is refused.
using ConfigTextSetter = std::optional<std::string> (*)(GenalyticsConfig&, const std::string& text);

// An environment variable or flag that sets a key.
struct ConfigOverride {
  // "GENALYTICS_DATA_DIR"; a flag as CLI11 names it ("--port", "-n,--count"),
  // after a command's name when only that command offers it ("retention --days").
  std::string_view name;
  // Null: the text is read as the key's type (config_value_from_text) and set.
  ConfigTextSetter set_text = nullptr;
  // What the text is, when it is not a value of the key (for --help); empty: the key's doc.
  std::string_view doc;
};

struct ConfigKey {
  std::string_view path;  // "server.port": section, '.', name
  ConfigType type = ConfigType::kString;
  std::string_view doc;  // one line, for --help, `genalytics config` and the README
  int64_t min = 0;       // kInteger only
  int64_t max = 0;
  std::vector<ConfigOverride> env;
  std::vector<ConfigOverride> flags;
  std::vector<std::string_view> old_paths;  // deprecated spellings, read with a warning
  // The field as JSON. kApiKeys: one null per key (secrets are not kept readable).
  std::function<boost::json::value(const GenalyticsConfig&)> get;
  // REQUIRES: check_config_value(*this, value) is nullopt. kApiKeys adds
  // the keys to those already configured; every other type replaces.
  std::function<void(GenalyticsConfig&, const boost::json::value&)> set;

  std::string_view section() const { return path.substr(0, path.find('.')); }
  std::string_view name() const { return path.substr(path.find('.') + 1); }
};

// A section spelled another way before: its keys are read under the new
// name, with a warning.
struct ConfigSectionRename {
  std::string_view old_name;
  std::string_view name;
};

// Every key, in the order base.json and the README list them (sections
// together).
std::span<const ConfigKey> config_keys();
std::span<const ConfigSectionRename> config_section_renames();

// The key at `path` (current spelling only); nullptr when none.
const ConfigKey* find_config_key(std::string_view path);
// The index of `key` in config_keys(). REQUIRES: key is one of them.
size_t config_key_index(const ConfigKey& key);

// Nullopt when `value` has the key's type and is in its range; else what
// it must be ("an integer between 0 and 65535").
std::optional<std::string> check_config_value(const ConfigKey& key, const boost::json::value& value);
// What a value of the key must be: "an integer between 0 and 65535".
std::string expected_config_value(const ConfigKey& key);
// Short, for tables: "integer 0 to 65535", "number > 0", "list of strings".
std::string config_type_summary(const ConfigKey& key);
// The text of an environment variable or flag as the key's JSON value:
// integers and numbers in decimal, booleans true/false, strings as they
// are, lists comma-separated (items trimmed, empty ones dropped). Nullopt
// when the text is not of the type; the range is checked afterwards.
std::optional<boost::json::value> config_value_from_text(const ConfigKey& key, std::string_view text);

// Adds server.api_keys' entries (a JSON array) to `keys`. Returns the
// reason the first refused entry is refused ("entry 2: ..."), naming no key;
// the entries before it are added.
std::optional<std::string> add_api_key_entries(const boost::json::value& entries, ApiKeys* keys);

// The optimal string alignment distance (edits and adjacent swaps), for
// suggesting the key a typo meant.
size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace genalytics
