// The command-line side of the configuration: --config and the flags that
// set keys, taken from the keys' description (cli/config_keys.h) so a flag's
// name, help and default cannot differ from the key's.
#pragma once

#include <CLI/CLI.hpp>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "cli/config.h"

namespace genalytics {

// What one command was told about its configuration.
struct ConfigCommandLine {
  std::string file;               // --config
  std::vector<ConfigFlag> flags;  // key flags given, in the order CLI11 reports them
};

// Adds --config FILE.
void add_config_file_flag(CLI::App* command, ConfigCommandLine* line);

// Adds, for each key of `paths`, the flag its description lists for this
// command: one named after the command ("retention --days") first, else one
// without a command. Throws std::logic_error when the key is not described
// or lists no such flag (a mistake in the program, seen at start-up).
void add_key_flags(CLI::App* command, std::initializer_list<std::string_view> paths,
                   ConfigCommandLine* line);

// Adds every key flag named without a command (for `genalytics config`).
void add_all_key_flags(CLI::App* command, ConfigCommandLine* line);

// The inputs load_config reads for `line`: the process environment, the
// working directory and the executable.
ConfigInputs config_inputs(const ConfigCommandLine& line);

// load_config(config_inputs(line)), its warnings printed on stderr. Throws
// ConfigError.
GenalyticsConfig load_command_config(const ConfigCommandLine& line);

}  // namespace genalytics
