#pragma once
// storage.url: "sqlite://data/flightwatch.db" (relative), "sqlite:///var/lib/fw/fw.db"
// (absolute) or "postgresql://user:password@host:port/db" (libpq connection URI).

#include <chrono>
#include <optional>
#include <string>

namespace fw {

struct storage_location {
  enum class backend { sqlite, postgres };
  backend kind = backend::sqlite;
  std::string target; // SQLite file path, or the PostgreSQL URI as given
  /// Upper bound for one PostgreSQL statement (statement_timeout and tcp_user_timeout);
  /// zero keeps the server's default.
  std::chrono::milliseconds statement_timeout{0};
  /// A description that is safe to log and show: never the password.
  std::string describe() const;
};

std::optional<storage_location> parse_storage_url(const std::string& url);

} // namespace fw
