// The configuration: built-in defaults (the option structs' initialisers),
// overridden by a JSON file, then by environment variables, then by flags.
// Which keys exist, their types and ranges, and which variables and flags
// set them is described once, in cli/config_keys.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "demo/traffic_generator.h"
#include "server/app_server.h"

namespace genalytics {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct GenalyticsConfig {
  AppServerOptions server;        // server.production is set by the commands that use it
  ProductionOptions production;   // Redis and PostgreSQL settings (URLs may be empty)
  DemoOptions demo;
};

// The file searched in the working directory when no file is named.
inline constexpr const char* kDefaultConfigPath = "config/base.json";
// The defaults of an installed binary, beside the directory holding it
// (`cmake --install` puts the binary in PREFIX/bin).
inline constexpr const char* kInstalledConfigPath = "../share/genalytics/base.json";
// The variable naming the file when no --config is given.
inline constexpr const char* kConfigFileVariable = "GENALYTICS_CONFIG";

// A key set on the command line.
struct ConfigFlag {
  std::string path;  // the key, "server.port"
  std::string flag;  // as the key's description names it, "--port"
  std::string text;
};

// Reads an environment variable: nullopt when unset or empty.
using ConfigEnvironment = std::function<std::optional<std::string>(const std::string& name)>;
std::optional<std::string> process_environment(const std::string& name);

struct ConfigInputs {
  std::string file;  // --config; empty: see find_config_file
  ConfigEnvironment env = process_environment;
  std::vector<ConfigFlag> flags;      // in command-line order: the last of a key wins
  std::filesystem::path working_dir;  // where config/base.json is looked for; empty: the current one
  std::filesystem::path executable = "/proc/self/exe";
};

enum class ConfigSourceKind : uint8_t { kDefault, kFile, kEnvironment, kFlag };

struct ConfigSource {
  ConfigSourceKind kind = ConfigSourceKind::kDefault;
  std::string name;  // the file, variable or flag
  bool operator==(const ConfigSource&) const = default;
};

struct LoadedConfig {
  GenalyticsConfig config;
  std::string file;  // the file read; empty: none
  // Per key of config_keys() (same index), what set it, in order; empty:
  // its default. Only server.api_keys, to which every source adds, has more
  // than one.
  std::vector<std::vector<ConfigSource>> sources;
  std::vector<std::string> warnings;  // deprecated spellings, each naming the current one
};

// The file to read: inputs.file, else $GENALYTICS_CONFIG, else
// kDefaultConfigPath in the working directory when present, else
// kInstalledConfigPath from the executable's directory when present, else
// "" (built-in defaults). A named file need not exist (load_config says so).
std::string find_config_file(const ConfigInputs& inputs);

// Defaults < file < environment < flags. Throws ConfigError listing every
// error, one per line, each naming where it comes from (file, variable or
// flag), the key and what its value must be; an unknown key or section
// names the nearest known one. A file that cannot be read or parsed is an
// error too. Warnings are returned, not printed.
LoadedConfig load_config(const ConfigInputs& inputs);

struct ConfigFileCheck {
  std::vector<std::string> errors;  // empty: the file is valid
  std::vector<std::string> warnings;
  size_t keys_set = 0;
};

// Reads `file` alone onto the defaults, as load_config would, collecting
// its errors instead of throwing.
ConfigFileCheck check_config_file(const std::string& file);

}  // namespace genalytics
