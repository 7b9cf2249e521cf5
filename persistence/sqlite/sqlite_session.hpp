#pragma once
// SQLite implementation of the stores: one file, WAL journal, busy timeout, statements
// prepared once per session and reused.

#include "persistence/stores.hpp"

#include <memory>
#include <string>

namespace fw {

/// Opens (creating the file and its directory if needed) the SQLite database at `path`.
std::unique_ptr<store_session> open_sqlite_session(const std::string& path);

} // namespace fw
