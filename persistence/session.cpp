#include "persistence/stores.hpp"

#include "persistence/postgres/pg_session.hpp"
#include "persistence/sqlite/sqlite_session.hpp"
#include "persistence/storage_url.hpp"

namespace fw {

std::unique_ptr<store_session> open_session(const storage_location& where) {
  if (where.kind == storage_location::backend::sqlite)
    return open_sqlite_session(where.target);
  return open_postgres_session(where.target, where.statement_timeout);
}

} // namespace fw
