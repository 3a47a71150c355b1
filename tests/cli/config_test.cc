// The configuration's description, its strict loader, its sources in
// order, and the files made from it (config/base.json, the README's table).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "cli/config.h"
#include "cli/config_keys.h"
#include "cli/config_print.h"
#include "event/json_writer.h"
#include "server/auth.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using boost::json::value;

// The repository: this file is tests/cli/config_test.cc in it.
std::filesystem::path source_dir() {
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ConfigTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    const std::filesystem::path path = std::filesystem::path(dir_.path()) / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path.string();
  }

  // Only what the test sets: no process environment, no config/base.json.
  ConfigInputs inputs(const std::string& file = "") {
    ConfigInputs in;
    in.file = file;
    in.env = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      return it == env_.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    in.working_dir = dir_.path();
    in.executable = std::filesystem::path(dir_.path()) / "bin" / "genalytics";
    return in;
  }

  // The ConfigError load_config throws for `text` as a file.
  std::string error_of(const std::string& text) {
    const std::string file = write("my.json", text);
    try {
      load_config(inputs(file));
    } catch (const ConfigError& error) {
      return error.what();
    }
    ADD_FAILURE() << "no ConfigError for " << text;
    return {};
  }

  std::map<std::string, std::string> env_;
  genalytics::testing::TempDir dir_;
};

TEST_F(ConfigTest, UnknownKeyNamesTheFileTheKeyAndTheNearestKey) {
  const std::string error = error_of(R"({"server": {"prot": 8080}})");
  EXPECT_NE(error.find("my.json: unknown key \"server.prot\" (did you mean \"server.port\"?)"),
            std::string::npos)
      << error;
}

TEST_F(ConfigTest, UnknownSectionNamesTheNearestSection) {
  const std::string error = error_of(R"({"sever": {"port": 8080}})");
  EXPECT_NE(error.find("my.json: unknown key \"sever\" (did you mean \"server\"?)"), std::string::npos)
      << error;
  // A key written without its section is pointed to its place.
  EXPECT_NE(error_of(R"({"port": 8080})").find("(did you mean \"server.port\"?)"), std::string::npos);
  // Nothing near: no guess.
  const std::string far = error_of(R"({"zzzzzzzzzz": 1})");
  EXPECT_NE(far.find("my.json: unknown key \"zzzzzzzzzz\""), std::string::npos) << far;
  EXPECT_EQ(far.find("did you mean"), std::string::npos) << far;
}

TEST_F(ConfigTest, WrongTypeNamesTheKeyTheFileAndTheType) {
  EXPECT_NE(error_of(R"({"server": {"port": "eighty"}})")
                .find("my.json: server.port must be an integer between 0 and 65535 (got \"eighty\")"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"route-analytics": {"template-ids": "yes"}})")
                .find("route-analytics.template-ids must be true or false"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"route-analytics": {"variable-params": ["page", 2]}})")
                .find("route-analytics.variable-params must be an array of strings"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"server": 8080})").find("my.json: server must be an object of keys (got 8080)"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"server": {"port": 80.5}})").find("server.port must be an integer"),
            std::string::npos);
}

TEST_F(ConfigTest, OutOfRangeNamesTheKeyAndTheRange) {
  EXPECT_NE(error_of(R"({"server": {"port": 70000}})")
                .find("my.json: server.port must be an integer between 0 and 65535 (got 70000)"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model_analytics": {"low_success_rate": 1.5}})")
                .find("model_analytics.low_success_rate must be a number greater than 0 and at most 1"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model_analytics": {"slow_p50_ms": 0}})")
                .find("model_analytics.slow_p50_ms must be a number greater than 0 (got 0)"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"production": {"retention_days": 0}})")
                .find("production.retention_days must be an integer between 1 and 36500"),
            std::string::npos);
}

TEST_F(ConfigTest, EveryErrorOfAFileIsReported) {
  const std::string text = R"({"sever": {}, "server": {"port": -1, "threds": 2}, "demo": {"days": "x"}})";
  const std::string error = error_of(text);
  EXPECT_NE(error.find("\"sever\""), std::string::npos) << error;
  EXPECT_NE(error.find("server.port must be"), std::string::npos) << error;
  EXPECT_NE(error.find("\"server.threds\" (did you mean \"server.threads\"?)"), std::string::npos) << error;
  EXPECT_NE(error.find("demo.days must be"), std::string::npos) << error;
  const ConfigFileCheck check = check_config_file(write("my.json", text));
  EXPECT_EQ(check.errors.size(), 4u);
}

TEST_F(ConfigTest, ApiKeysKeepTheirValidationAndAreNeverShownInErrors) {
  const std::string error =
      error_of(R"({"server": {"api_keys": [{"role": "read", "key": "s3cret"}, {"role": "boss", "key": "x"}]}})");
  EXPECT_NE(error.find("server.api_keys must be an array of"), std::string::npos) << error;
  EXPECT_NE(error.find("entry 1"), std::string::npos) << error;
  EXPECT_EQ(error.find("s3cret"), std::string::npos) << error;
  EXPECT_NE(error_of(R"({"server": {"api_keys": [{"role": "read", "sha256": "abc"}]}})").find("entry 0: "),
            std::string::npos);
}

TEST_F(ConfigTest, DeprecatedSpellingIsReadWithAWarningNamingTheNewOne) {
  const std::string file =
      write("old.json", R"({"server": {"idle_timeout_seconds": 7}, "model-analytics": {"min_samples": 9}})");
  const LoadedConfig loaded = load_config(inputs(file));
  EXPECT_EQ(loaded.config.server.http.idle_timeout, std::chrono::seconds(7));
  EXPECT_EQ(loaded.config.server.models.min_samples, 9);
  ASSERT_EQ(loaded.warnings.size(), 2u);
  EXPECT_NE(loaded.warnings[0].find("\"server.idle_timeout_seconds\" is deprecated, use \"server.idle_timeout_s\""),
            std::string::npos)
      << loaded.warnings[0];
  EXPECT_NE(loaded.warnings[1].find("\"model-analytics\" is deprecated, use \"model_analytics\""),
            std::string::npos)
      << loaded.warnings[1];
  const ConfigKey& idle = *find_config_key("server.idle_timeout_s");
  EXPECT_EQ(loaded.sources[config_key_index(idle)],
            (std::vector<ConfigSource>{{ConfigSourceKind::kFile, file}}));
  // Both spellings at once is a mistake, not a silent choice.
  EXPECT_NE(error_of(R"({"server": {"idle_timeout_seconds": 7, "idle_timeout_s": 8}})").find("set twice"),
            std::string::npos);
}

TEST_F(ConfigTest, SourcesApplyInOrderDefaultFileEnvironmentFlag) {
  const ConfigKey& data_dir = *find_config_key("storage.data_dir");
  const size_t at = config_key_index(data_dir);
  LoadedConfig loaded = load_config(inputs());
  EXPECT_EQ(loaded.config.server.data_dir, AppServerOptions().data_dir);
  EXPECT_TRUE(loaded.sources[at].empty());

  const std::string file = write("c.json", R"({"storage": {"data_dir": "/from-file"}})");
  loaded = load_config(inputs(file));
  EXPECT_EQ(loaded.config.server.data_dir, "/from-file");
  EXPECT_EQ(loaded.sources[at], (std::vector<ConfigSource>{{ConfigSourceKind::kFile, file}}));

  env_["GENALYTICS_DATA_DIR"] = "/from-env";
  loaded = load_config(inputs(file));
  EXPECT_EQ(loaded.config.server.data_dir, "/from-env");
  EXPECT_EQ(loaded.sources[at],
            (std::vector<ConfigSource>{{ConfigSourceKind::kEnvironment, "GENALYTICS_DATA_DIR"}}));

  ConfigInputs with_flag = inputs(file);
  with_flag.flags.push_back({"storage.data_dir", "--data-dir", "/from-flag"});
  loaded = load_config(with_flag);
  EXPECT_EQ(loaded.config.server.data_dir, "/from-flag");
  EXPECT_EQ(loaded.sources[at], (std::vector<ConfigSource>{{ConfigSourceKind::kFlag, "--data-dir"}}));
  EXPECT_NE(effective_config_lines(loaded)[at].find("storage.data_dir = \"/from-flag\"  (flag --data-dir)"),
            std::string::npos)
      << effective_config_lines(loaded)[at];
}

TEST_F(ConfigTest, ApiKeysAddUpFromEverySourceAndAreNeverPrinted) {
  const std::string file = write("k.json", R"({"server": {"api_keys": [{"role": "read", "key": "s3cret"}]}})");
  const std::string keys_file = write("keys.txt", "ingest:" + sha256_hex("other") + "\n");
  env_["GENALYTICS_API_KEYS"] = "admin:envkey";
  ConfigInputs in = inputs(file);
  in.flags.push_back({"server.api_keys", "--api-keys-file", keys_file});
  const LoadedConfig loaded = load_config(in);
  EXPECT_EQ(loaded.config.server.api_keys.size(), 3u);
  EXPECT_TRUE(loaded.config.server.api_keys.match("envkey", ApiRole::kAdmin).allowed);
  const size_t at = config_key_index(*find_config_key("server.api_keys"));
  EXPECT_EQ(loaded.sources[at].size(), 3u);
  const std::string line = effective_config_lines(loaded)[at];
  EXPECT_NE(line.find("server.api_keys = 3 keys (not shown)"), std::string::npos) << line;
  EXPECT_EQ(line.find("s3cret"), std::string::npos);
  EXPECT_EQ(line.find("envkey"), std::string::npos);

  env_["GENALYTICS_API_KEYS"] = "boss:x";
  try {
    load_config(inputs());
    ADD_FAILURE() << "a bad GENALYTICS_API_KEYS was accepted";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("GENALYTICS_API_KEYS: server.api_keys: "), std::string::npos)
        << error.what();
  }
}

TEST_F(ConfigTest, FlagValuesAreCheckedAsFileValues) {
  ConfigInputs in = inputs();
  in.flags.push_back({"server.port", "--port", "eighty"});
  in.flags.push_back({"demo.days", "demo --days", "0"});
  try {
    load_config(in);
    ADD_FAILURE() << "bad flags were accepted";
  } catch (const ConfigError& error) {
    const std::string text = error.what();
    EXPECT_NE(text.find("--port: server.port must be an integer between 0 and 65535 (got \"eighty\")"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("demo --days: demo.days must be an integer between 1 and 3650 (got 0)"),
              std::string::npos)
        << text;
  }
  in.flags = {{"route-analytics.variable-params", "--none", "a"}};
  EXPECT_THROW(load_config(in), ConfigError);  // a flag the key does not list
}

TEST_F(ConfigTest, FileIsNamedElseVariableElseWorkingDirElseInstalledElseNone) {
  EXPECT_EQ(find_config_file(inputs()), "");
  const std::string installed = write("share/genalytics/base.json", "{}");
  write("bin/genalytics", "");
  EXPECT_EQ(find_config_file(inputs()), installed);
  const std::string local = write("config/base.json", "{}");
  EXPECT_EQ(find_config_file(inputs()), local);
  env_[kConfigFileVariable] = "/etc/genalytics.json";
  EXPECT_EQ(find_config_file(inputs()), "/etc/genalytics.json");
  EXPECT_EQ(find_config_file(inputs("named.json")), "named.json");
  try {
    load_config(inputs("named.json"));
    ADD_FAILURE() << "a missing named file was accepted";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("cannot read config file named.json"), std::string::npos);
  }
}

TEST(ConfigDescriptionTest, EveryKeyIsSectionDotNameOnceWithAnInRangeDefault) {
  const GenalyticsConfig defaults;
  std::set<std::string_view> paths, flags;
  for (const ConfigKey& key : config_keys()) {
    EXPECT_EQ(std::count(key.path.begin(), key.path.end(), '.'), 1) << key.path;
    EXPECT_TRUE(paths.insert(key.path).second) << key.path << " described twice";
    EXPECT_FALSE(key.doc.empty()) << key.path;
    EXPECT_EQ(check_config_value(key, key.get(defaults)), std::nullopt) << key.path;
    for (std::string_view old : key.old_paths) EXPECT_EQ(find_config_key(old), nullptr) << old;
    for (const ConfigOverride& flag : key.flags) {
      EXPECT_TRUE(flags.insert(flag.name).second) << flag.name << " sets two keys";
    }
    if (key.type == ConfigType::kApiKeys) {
      for (const auto* list : {&key.env, &key.flags}) {
        for (const ConfigOverride& by : *list) EXPECT_NE(by.set_text, nullptr) << by.name;
      }
    }
  }
}

// A value of the key's type and range that is not its default.
value other_value(const ConfigKey& key, const value& default_value) {
  switch (key.type) {
    case ConfigType::kInteger: {
      const int64_t d = default_value.as_int64();
      return value(d < key.max ? d + 1 : d - 1);
    }
    case ConfigType::kNumber:
    case ConfigType::kFraction:
      return value(default_value.to_number<double>() / 2);
    case ConfigType::kString:
      return value(default_value.as_string().empty() ? "set" : "other");
    case ConfigType::kBoolean:
      return value(!default_value.as_bool());
    case ConfigType::kStringList:
      return boost::json::array{"one", "two"};
    case ConfigType::kApiKeys:
      return boost::json::array{boost::json::object{{"role", "read"}, {"key", "round-trip"}}};
  }
  return nullptr;
}

TEST_F(ConfigTest, EveryKeyRoundTripsThroughAFile) {
  const GenalyticsConfig defaults;
  for (const ConfigKey& key : config_keys()) {
    const value written = other_value(key, key.get(defaults));
    ASSERT_EQ(check_config_value(key, written), std::nullopt) << key.path;
    boost::json::object file;
    file[key.section()].emplace_object()[key.name()] = written;
    const LoadedConfig loaded = load_config(inputs(write("one.json", serialize_json(file))));
    const value read = key.get(loaded.config);
    if (key.type == ConfigType::kApiKeys) {
      EXPECT_EQ(read.as_array().size(), 1u);
    } else {
      EXPECT_EQ(read, written) << key.path << ": wrote " << serialize_json(written) << ", read "
                               << serialize_json(read);
    }
    EXPECT_NE(read, key.get(defaults)) << key.path;
    EXPECT_EQ(loaded.sources[config_key_index(key)].size(), 1u) << key.path;
  }
}

TEST(ConfigFilesTest, BaseJsonIsTheDefaults) {
  EXPECT_EQ(read_text(source_dir() / kDefaultConfigPath), config_defaults_json())
      << "regenerate it: genalytics config --defaults > config/base.json";
  boost::system::error_code ec;
  boost::json::parse(config_defaults_json(), ec);
  EXPECT_FALSE(ec) << config_defaults_json();
}

// The README's rows of the configuration table, by key.
std::map<std::string, std::string> readme_rows() {
  const std::string readme = read_text(source_dir() / "README.md");
  const size_t section = readme.find("\n## Configuration\n");
  EXPECT_NE(section, std::string::npos) << "README.md has no ## Configuration";
  const size_t end = readme.find("\n## ", section + 1);
  std::istringstream lines(readme.substr(section, end - section));
  std::map<std::string, std::string> rows;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    const size_t close = line.find('`', 3);
    EXPECT_TRUE(rows.emplace(line.substr(3, close - 3), line).second) << line;
  }
  return rows;
}

// A table row's cells, split at each '|' that is not escaped.
std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  std::string cell;
  for (size_t i = 1; i < row.size(); ++i) {
    if (row[i] == '|' && row[i - 1] != '\\') {
      out.push_back(cell);
      cell.clear();
    } else {
      cell += row[i];
    }
  }
  return out;
}

TEST(ConfigFilesTest, ReadmeTableIsTheDescription) {
  std::map<std::string, std::string> rows = readme_rows();
  std::istringstream expected(config_markdown_table());
  std::string line;
  std::getline(expected, line);  // header
  std::getline(expected, line);  // rule
  for (const ConfigKey& key : config_keys()) {
    ASSERT_TRUE(std::getline(expected, line));
    auto row = rows.find(std::string(key.path));
    if (row == rows.end()) {
      ADD_FAILURE() << key.path << " is missing from README.md's table";
      continue;
    }
    EXPECT_EQ(cells(row->second).at(1), cells(line).at(1)) << "README.md's default of " << key.path;
    EXPECT_EQ(row->second, line) << "README.md's row of " << key.path
                                 << " differs from the description (genalytics config --markdown)";
    rows.erase(row);
  }
  for (const auto& [name, row] : rows) ADD_FAILURE() << "README.md's table names an unknown key: " << name;
}

TEST(ConfigPrintTest, UrlPasswordsAreNotShown) {
  GenalyticsConfig config;
  config.production.postgres_url = "postgresql://app:hunter2@db:5432/genalytics";
  EXPECT_EQ(config_value_text(*find_config_key("production.postgres_url"), config),
            "\"postgresql://app:***@db:5432/genalytics\"");
  config.production.redis_url = "redis://cache:6379/0";
  EXPECT_EQ(config_value_text(*find_config_key("production.redis_url"), config), "\"redis://cache:6379/0\"");
}

TEST(ConfigDescriptionTest, EditDistanceCountsAnAdjacentSwapAsOne) {
  EXPECT_EQ(edit_distance("prot", "port"), 1u);
  EXPECT_EQ(edit_distance("sever", "server"), 1u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("same", "same"), 0u);
}

}  // namespace
}  // namespace genalytics
