// The embedded store's schema as versioned migrations, applied in order by
// SqliteStore; the file's PRAGMA user_version is the last one applied.
#pragma once

#include <span>
#include <string_view>

namespace genalytics {

struct SqliteMigration {
  int version;
  std::string_view sql;  // one or more statements
};

// Every migration by increasing version, from 1 without gaps: migration v
// takes a file from version v - 1 to v. A shipped migration is never
// edited: a change is a new migration (tests/store/sqlite_migrations_test.cc
// holds the schema files of earlier builds have).
std::span<const SqliteMigration> sqlite_migrations();

}  // namespace genalytics
