#include "store/postgres_connection_pool.h"

namespace genalytics {

PostgresConnectionPool::PostgresConnectionPool(const std::string& url, size_t max_size)
    : pool_(url, max_size, set_up_session) {}

void PostgresConnectionPool::set_up_session(PgConnection& c) {
  // "relation already exists, skipping" notices are expected, not news.
  c.exec("SET client_min_messages = warning; SET application_name = 'genalytics'");
}

}  // namespace genalytics
