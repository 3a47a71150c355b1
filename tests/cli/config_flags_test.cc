// Flags that set configuration keys come from the description: their names,
// help and defaults, and the value reaches the key through the loader.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include "cli/config_flags.h"
#include "cli/config_keys.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

// Parses `args` after "genalytics" and loads with no file and no environment.
LoadedConfig parse_and_load(CLI::App& app, ConfigCommandLine& line, std::vector<const char*> args,
                            const genalytics::testing::TempDir& dir) {
  args.insert(args.begin(), "genalytics");
  app.parse(static_cast<int>(args.size()), args.data());
  ConfigInputs inputs = config_inputs(line);
  inputs.env = [](const std::string&) { return std::nullopt; };
  inputs.working_dir = dir.path();
  inputs.executable = dir.path() + "/genalytics";
  return load_config(inputs);
}

TEST(ConfigFlagsTest, ACommandsFlagSetsItsKey) {
  genalytics::testing::TempDir dir;
  CLI::App app;
  ConfigCommandLine line;
  CLI::App* retention = app.add_subcommand("retention");
  add_key_flags(retention, {"production.retention_days", "storage.data_dir"}, &line);
  const LoadedConfig loaded =
      parse_and_load(app, line, {"retention", "--days", "30", "--data-dir", "/d"}, dir);
  EXPECT_EQ(loaded.config.production.retention_days, 30);
  EXPECT_EQ(loaded.config.server.data_dir, "/d");
  const size_t at = config_key_index(*find_config_key("production.retention_days"));
  EXPECT_EQ(loaded.sources[at], (std::vector<ConfigSource>{{ConfigSourceKind::kFlag, "retention --days"}}));
}

TEST(ConfigFlagsTest, TheSameKeyTakesEachCommandsOwnFlag) {
  genalytics::testing::TempDir dir;
  CLI::App app;
  ConfigCommandLine line;
  add_key_flags(app.add_subcommand("worker"), {"production.retention_days"}, &line);
  const LoadedConfig loaded = parse_and_load(app, line, {"worker", "--retention-days", "12"}, dir);
  EXPECT_EQ(loaded.config.production.retention_days, 12);
}

TEST(ConfigFlagsTest, HelpShowsTheKeyAndItsDefault) {
  CLI::App app;
  ConfigCommandLine line;
  CLI::App* serve = app.add_subcommand("serve");
  add_key_flags(serve, {"server.port"}, &line);
  const std::string help = serve->get_option("--port")->get_description();
  EXPECT_NE(help.find("default 8001; config server.port"), std::string::npos) << help;
}

TEST(ConfigFlagsTest, AKeyWithoutAFlagForTheCommandIsAProgramError) {
  CLI::App app;
  ConfigCommandLine line;
  CLI::App* demo = app.add_subcommand("demo");
  EXPECT_THROW(add_key_flags(demo, {"server.threads"}, &line), std::logic_error);
  EXPECT_THROW(add_key_flags(demo, {"server.nope"}, &line), std::logic_error);
  // retention's --days is not demo's: demo.days has a flag of its own.
  EXPECT_THROW(add_key_flags(demo, {"production.retention_days"}, &line), std::logic_error);
}

TEST(ConfigFlagsTest, ConfigCommandOffersEveryFlagNotTiedToACommand) {
  CLI::App app;
  ConfigCommandLine line;
  CLI::App* config = app.add_subcommand("config");
  add_all_key_flags(config, &line);
  for (const char* flag : {"--port", "--host", "--data-dir", "--redis", "--postgres", "--api-keys-file"}) {
    EXPECT_NE(config->get_option_no_throw(flag), nullptr) << flag;
  }
  EXPECT_EQ(config->get_option_no_throw("--days"), nullptr);
}

}  // namespace
}  // namespace genalytics
