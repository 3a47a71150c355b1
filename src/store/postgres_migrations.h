// The PostgreSQL schema as versioned migrations, applied in order by
// PostgresStore and recorded in schema_migrations(version, applied_at).
#pragma once

#include <span>
#include <string_view>

namespace genalytics {

struct PostgresMigration {
  int version;
  std::string_view sql;
};

// Every migration by increasing version. A shipped migration is never
// edited: a change is a new migration.
std::span<const PostgresMigration> postgres_migrations();

}  // namespace genalytics
