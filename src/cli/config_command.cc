// genalytics config: the effective configuration and where each value came
// from, a file's check, and the defaults and README table made from the
// description.
#include <fmt/format.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/config_flags.h"
#include "cli/config_print.h"

namespace genalytics {
namespace {

void print_warnings(const std::vector<std::string>& warnings) {
  for (const std::string& warning : warnings) fmt::print(stderr, "genalytics: warning: {}\n", warning);
}

int check_file(const std::string& file) {
  const ConfigFileCheck check = check_config_file(file);
  print_warnings(check.warnings);
  for (const std::string& error : check.errors) fmt::print(stderr, "genalytics: {}\n", error);
  if (!check.errors.empty()) {
    fmt::print(stderr, "{}: {} error{}\n", file, check.errors.size(), check.errors.size() == 1 ? "" : "s");
    return 1;
  }
  fmt::print("{}: ok ({} key{} set{})\n", file, check.keys_set, check.keys_set == 1 ? "" : "s",
             check.warnings.empty() ? "" : fmt::format(", {} deprecated", check.warnings.size()));
  return 0;
}

}  // namespace

int run_config(const ConfigCommandLine& line, const ConfigCommandFlags& flags) {
  if (flags.defaults) {
    fmt::print("{}", config_defaults_json());
    return 0;
  }
  if (flags.markdown) {
    fmt::print("{}", config_markdown_table());
    return 0;
  }
  if (!flags.check_file.empty()) return check_file(flags.check_file);
  const LoadedConfig loaded = load_config(config_inputs(line));
  print_warnings(loaded.warnings);
  fmt::print("# file: {}\n", loaded.file.empty() ? "none (built-in defaults)" : loaded.file);
  for (const std::string& text : effective_config_lines(loaded)) fmt::print("{}\n", text);
  return 0;
}

}  // namespace genalytics
