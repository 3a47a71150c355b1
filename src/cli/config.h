// Configuration: built-in defaults, overridden by a JSON file
// (config/base.json or --config), overridden by command-line flags.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

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

// The file searched when no --config is given (relative to the working dir).
inline constexpr const char* kDefaultConfigPath = "config/base.json";

// Loads `path`, or kDefaultConfigPath when it exists and `path` is empty,
// onto the built-in defaults. Throws ConfigError naming the key on a missing
// file (explicit path only), malformed JSON or a value of the wrong type.
GenalyticsConfig load_config(const std::string& path);

}  // namespace genalytics
