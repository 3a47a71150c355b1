// Loading the configuration through its description (cli/config_keys.h):
// every key of the file is a described key of a described section, every
// value has the key's type and range, or the process does not start.
#include "cli/config.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <algorithm>
#include <sstream>

#include "cli/config_keys.h"
#include "event/json_writer.h"

namespace genalytics {
namespace {

using boost::json::value;

bool is_section(std::string_view name) {
  for (const ConfigKey& key : config_keys()) {
    if (key.section() == name) return true;
  }
  return false;
}

// The key an old spelling names; nullptr when `path` is none.
const ConfigKey* find_by_old_path(std::string_view path) {
  for (const ConfigKey& key : config_keys()) {
    for (std::string_view old : key.old_paths) {
      if (old == path) return &key;
    }
  }
  return nullptr;
}

// The nearest of `candidates` to `name`, when near enough to be a typo.
std::optional<std::string> nearest(std::string_view name, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_distance = std::max<size_t>(2, name.size() / 3) + 1;
  for (const std::string& candidate : candidates) {
    const size_t distance = edit_distance(name, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

// For an unknown section: the section it nearly spells, or the key it
// names without its section ("port" -> "server.port").
std::optional<std::string> suggest_section(std::string_view name) {
  std::vector<std::string> sections;
  for (const ConfigKey& key : config_keys()) {
    if (sections.empty() || sections.back() != key.section()) sections.emplace_back(key.section());
  }
  if (auto section = nearest(name, sections)) return section;
  for (const ConfigKey& key : config_keys()) {
    if (key.name() == name) return std::string(key.path);
  }
  return std::nullopt;
}

std::optional<std::string> suggest_key(std::string_view section, std::string_view name) {
  std::vector<std::string> names;
  for (const ConfigKey& key : config_keys()) {
    if (key.section() == section) names.emplace_back(key.name());
  }
  if (auto near = nearest(name, names)) return fmt::format("{}.{}", section, *near);
  return std::nullopt;
}

// Applies one source after another onto `out`, collecting every error.
class Loader {
 public:
  explicit Loader(LoadedConfig* out) : out_(out) { out_->sources.resize(config_keys().size()); }

  void read_file(const std::string& file);
  void read_environment(const ConfigEnvironment& env);
  void read_flags(const std::vector<ConfigFlag>& flags);

  const std::vector<std::string>& errors() const { return errors_; }
  size_t keys_set() const { return keys_set_; }

 private:
  void read_section(const ConfigSource& file, const std::string& section, const value& members);
  void set_from_json(const ConfigKey& key, const value& v, const ConfigSource& source);
  void set_from_text(const ConfigKey& key, const ConfigOverride& by, const std::string& text,
                     const ConfigSource& source);
  void record(const ConfigKey& key, const ConfigSource& source);

  LoadedConfig* out_;
  std::vector<std::string> errors_;
  size_t keys_set_ = 0;
};

void Loader::read_file(const std::string& file) {
  std::ifstream in(file);
  if (!in) {
    errors_.push_back(fmt::format("cannot read config file {}", file));
    return;
  }
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  const value json = boost::json::parse(text.str(), ec);
  if (ec) {
    errors_.push_back(fmt::format("config file {} is not valid JSON: {}", file, ec.message()));
    return;
  }
  if (!json.is_object()) {
    errors_.push_back(fmt::format("config file {} must hold a JSON object", file));
    return;
  }
  const ConfigSource source{ConfigSourceKind::kFile, file};
  for (const auto& [name, members] : json.as_object()) {
    std::string section(name);
    for (const ConfigSectionRename& rename : config_section_renames()) {
      if (rename.old_name != section) continue;
      out_->warnings.push_back(
          fmt::format("{}: section \"{}\" is deprecated, use \"{}\"", file, section, rename.name));
      section = rename.name;
    }
    if (!is_section(section)) {
      const std::optional<std::string> meant = suggest_section(section);
      errors_.push_back(fmt::format("{}: unknown key \"{}\"{}", file, section,
                                    meant ? fmt::format(" (did you mean \"{}\"?)", *meant) : ""));
      continue;
    }
    read_section(source, section, members);
  }
}

void Loader::read_section(const ConfigSource& file, const std::string& section,
                          const value& members) {
  if (!members.is_object()) {
    errors_.push_back(fmt::format("{}: {} must be an object of keys (got {})", file.name, section,
                                  serialize_json(members)));
    return;
  }
  for (const auto& [name, v] : members.as_object()) {
    const std::string path = fmt::format("{}.{}", section, std::string_view(name));
    const ConfigKey* key = find_config_key(path);
    if (!key && (key = find_by_old_path(path))) {
      out_->warnings.push_back(
          fmt::format("{}: \"{}\" is deprecated, use \"{}\"", file.name, path, key->path));
    }
    if (!key) {
      const std::optional<std::string> meant = suggest_key(section, name);
      errors_.push_back(fmt::format("{}: unknown key \"{}\"{}", file.name, path,
                                    meant ? fmt::format(" (did you mean \"{}\"?)", *meant) : ""));
      continue;
    }
    if (!out_->sources[config_key_index(*key)].empty()) {
      errors_.push_back(fmt::format("{}: {} is set twice (once under an old spelling)", file.name,
                                    key->path));
      continue;
    }
    set_from_json(*key, v, file);
  }
}

void Loader::read_environment(const ConfigEnvironment& env) {
  for (const ConfigKey& key : config_keys()) {
    for (const ConfigOverride& variable : key.env) {
      const std::string name(variable.name);
      if (std::optional<std::string> text = env(name)) {
        set_from_text(key, variable, *text, {ConfigSourceKind::kEnvironment, name});
      }
    }
  }
}

void Loader::read_flags(const std::vector<ConfigFlag>& flags) {
  for (const ConfigFlag& flag : flags) {
    const ConfigKey* key = find_config_key(flag.path);
    const ConfigOverride* by = nullptr;
    for (size_t i = 0; key && i < key->flags.size(); ++i) {
      if (key->flags[i].name == flag.flag) by = &key->flags[i];
    }
    if (!by) {  // the command line offered a flag the description does not list
      errors_.push_back(fmt::format("{} does not set a configuration key {}", flag.flag, flag.path));
      continue;
    }
    set_from_text(*key, *by, flag.text, {ConfigSourceKind::kFlag, flag.flag});
  }
}

void Loader::set_from_json(const ConfigKey& key, const value& v, const ConfigSource& source) {
  if (std::optional<std::string> problem = check_config_value(key, v)) {
    errors_.push_back(fmt::format("{}: {} must be {} ({})", source.name, key.path,
                                  expected_config_value(key), *problem));
    return;
  }
  key.set(out_->config, v);
  record(key, source);
}

void Loader::set_from_text(const ConfigKey& key, const ConfigOverride& by, const std::string& text,
                           const ConfigSource& source) {
  if (by.set_text) {
    if (std::optional<std::string> problem = by.set_text(out_->config, text)) {
      errors_.push_back(fmt::format("{}: {}: {}", source.name, key.path, *problem));
    } else {
      record(key, source);
    }
    return;
  }
  if (std::optional<value> v = config_value_from_text(key, text)) {
    set_from_json(key, *v, source);
    return;
  }
  errors_.push_back(fmt::format("{}: {} must be {} (got \"{}\")", source.name, key.path,
                                expected_config_value(key), text));
}

void Loader::record(const ConfigKey& key, const ConfigSource& source) {
  std::vector<ConfigSource>& sources = out_->sources[config_key_index(key)];
  if (key.type != ConfigType::kApiKeys) sources.clear();  // replaced; keys add up
  sources.push_back(source);
  if (source.kind == ConfigSourceKind::kFile) ++keys_set_;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += (out.empty() ? "" : "\n") + line;
  return out;
}

}  // namespace

std::optional<std::string> process_environment(const std::string& name) {
  const char* text = std::getenv(name.c_str());
  if (text == nullptr || *text == '\0') return std::nullopt;
  return std::string(text);
}

std::string find_config_file(const ConfigInputs& inputs) {
  if (!inputs.file.empty()) return inputs.file;
  if (inputs.env) {
    if (std::optional<std::string> named = inputs.env(kConfigFileVariable)) return *named;
  }
  const std::filesystem::path local = inputs.working_dir / kDefaultConfigPath;
  if (std::filesystem::is_regular_file(local)) return local.string();
  std::error_code ec;
  const std::filesystem::path executable = std::filesystem::canonical(inputs.executable, ec);
  if (ec) return "";
  const std::filesystem::path installed =
      (executable.parent_path() / kInstalledConfigPath).lexically_normal();
  return std::filesystem::is_regular_file(installed, ec) ? installed.string() : "";
}

LoadedConfig load_config(const ConfigInputs& inputs) {
  LoadedConfig loaded;
  Loader loader(&loaded);
  loaded.file = find_config_file(inputs);
  if (!loaded.file.empty()) loader.read_file(loaded.file);
  if (inputs.env) loader.read_environment(inputs.env);
  loader.read_flags(inputs.flags);
  if (!loader.errors().empty()) throw ConfigError(joined(loader.errors()));
  return loaded;
}

ConfigFileCheck check_config_file(const std::string& file) {
  LoadedConfig loaded;
  Loader loader(&loaded);
  loader.read_file(file);
  return {loader.errors(), std::move(loaded.warnings), loader.keys_set()};
}

}  // namespace genalytics
