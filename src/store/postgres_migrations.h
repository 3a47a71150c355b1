// The PostgreSQL schema as versioned migrations, applied in order by
// PostgresStore and recorded in schema_migrations(version, applied_at), and
// the advisory lock that serializes every schema change (migrations,
// partition creation and drops) across the processes using a database.
#pragma once

#include <span>
#include <string_view>

namespace genalytics {

class PgConnection;

struct PostgresMigration {
  int version;
  std::string_view sql;
};

// Every migration by increasing version. A shipped migration is never
// edited: a change is a new migration.
std::span<const PostgresMigration> postgres_migrations();

// The schema version this build writes (the last migration).
int postgres_schema_version();

// Applies the migrations the database of `c` lacks, each in its own
// transaction, under the schema lock held for the session meanwhile: any
// number of processes may run it at once. Throws StoreError (PostgresError
// from the server); kInvalid when the database has a newer schema than this
// build knows. REQUIRES: no transaction open on `c`.
void apply_postgres_migrations(PgConnection& c);

// Takes the schema lock until the current transaction ends, waiting for
// other holders. Throws PostgresError. REQUIRES: a transaction is open on `c`.
void lock_postgres_schema(PgConnection& c);

}  // namespace genalytics
