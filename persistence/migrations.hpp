#pragma once
// The schema, as an ordered list of versioned migrations. A database records the versions
// applied in table schema_migrations; at start every newer migration runs, each in one
// transaction, so a database written by an older version is upgraded in place, never
// dropped. Append new migrations at the end; never edit one that has shipped.

#include <string_view>
#include <vector>

namespace fw {

struct migration {
  int version;
  std::string_view description;
  std::string_view sqlite;   // statements separated by ';'
  std::string_view postgres; // statements separated by ';'
};

/// Every migration, ascending by version (1, 2, ...).
const std::vector<migration>& migrations();

/// The version of the newest migration this build knows.
int latest_schema_version();

/// Splits a migration's SQL into single statements (on ';', ignoring empty ones).
std::vector<std::string_view> split_statements(std::string_view sql);

} // namespace fw
