#pragma once
// PostgreSQL implementation of the stores through libpqxx: one connection per session,
// every statement prepared once per connection and executed with parameters.

#include "persistence/stores.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace fw {

/// Connects to the libpq URI `uri` (connect_timeout=5 is added when it has none). A
/// non-zero `statement_timeout` bounds every statement on the server and, through
/// tcp_user_timeout (unless the URI sets one), unanswered network writes, so a hung or
/// unreachable server fails calls (storage_unavailable) instead of blocking a worker.
std::unique_ptr<store_session> open_postgres_session(const std::string& uri,
                                                     std::chrono::milliseconds statement_timeout);

} // namespace fw
