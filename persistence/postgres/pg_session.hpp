#pragma once
// PostgreSQL implementation of the stores through libpqxx: one connection per session,
// every statement prepared once per connection and executed with parameters.

#include "persistence/stores.hpp"

#include <memory>
#include <string>

namespace fw {

/// Connects to the libpq URI `uri` (a connect_timeout is added when it has none).
std::unique_ptr<store_session> open_postgres_session(const std::string& uri);

} // namespace fw
