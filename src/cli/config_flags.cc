#include "cli/config_flags.h"

#include <fmt/format.h>

#include <cstdio>
#include <stdexcept>

#include "cli/config_keys.h"
#include "cli/config_print.h"

namespace genalytics {
namespace {

// The command a flag name is for ("retention" of "retention --days"), and
// the flag as CLI11 names it ("--days").
std::pair<std::string_view, std::string_view> split_flag(std::string_view name) {
  const size_t space = name.find(' ');
  if (space == std::string_view::npos) return {{}, name};
  return {name.substr(0, space), name.substr(space + 1)};
}

// The value CLI11's help names: what the flag's text is.
std::string type_name(const ConfigKey& key) {
  switch (key.type) {
    case ConfigType::kInteger:
      return "INT";
    case ConfigType::kNumber:
    case ConfigType::kFraction:
      return "NUMBER";
    case ConfigType::kBoolean:
      return "BOOL";
    case ConfigType::kStringList:
      return "LIST";
    case ConfigType::kString:
    case ConfigType::kApiKeys:
      break;
  }
  return "TEXT";
}

void add_flag(CLI::App* command, const ConfigKey& key, const ConfigOverride& flag,
              ConfigCommandLine* line) {
  const std::string help = fmt::format("{} (default {}; config {})", flag.doc.empty() ? key.doc : flag.doc,
                                       config_value_text(key, GenalyticsConfig()), key.path);
  command
      ->add_option_function<std::string>(
          std::string(split_flag(flag.name).second),
          [line, path = std::string(key.path), name = std::string(flag.name)](const std::string& text) {
            line->flags.push_back({path, name, text});
          },
          help)
      ->type_name(flag.set_text ? "TEXT" : type_name(key));
}

}  // namespace

void add_config_file_flag(CLI::App* command, ConfigCommandLine* line) {
  command->add_option("--config", line->file,
                      fmt::format("JSON configuration file (default: ${}, else {} when present, "
                                  "else the installed share/genalytics/base.json)",
                                  kConfigFileVariable, kDefaultConfigPath));
}

void add_key_flags(CLI::App* command, std::initializer_list<std::string_view> paths,
                   ConfigCommandLine* line) {
  for (std::string_view path : paths) {
    const ConfigKey* key = find_config_key(path);
    if (!key) throw std::logic_error(fmt::format("no configuration key {}", path));
    const ConfigOverride* chosen = nullptr;
    for (const ConfigOverride& flag : key->flags) {
      const std::string_view for_command = split_flag(flag.name).first;
      if (for_command == command->get_name()) chosen = &flag;
      if (for_command.empty() && !chosen) chosen = &flag;
    }
    if (!chosen) {
      throw std::logic_error(fmt::format("{} lists no flag for {}", path, command->get_name()));
    }
    add_flag(command, *key, *chosen, line);
  }
}

void add_all_key_flags(CLI::App* command, ConfigCommandLine* line) {
  for (const ConfigKey& key : config_keys()) {
    for (const ConfigOverride& flag : key.flags) {
      if (split_flag(flag.name).first.empty()) add_flag(command, key, flag, line);
    }
  }
}

ConfigInputs config_inputs(const ConfigCommandLine& line) {
  ConfigInputs inputs;
  inputs.file = line.file;
  inputs.flags = line.flags;
  return inputs;
}

GenalyticsConfig load_command_config(const ConfigCommandLine& line) {
  LoadedConfig loaded = load_config(config_inputs(line));
  for (const std::string& warning : loaded.warnings) {
    fmt::print(stderr, "genalytics: warning: {}\n", warning);
  }
  return std::move(loaded.config);
}

}  // namespace genalytics
