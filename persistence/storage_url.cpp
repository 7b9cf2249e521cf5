#include "persistence/storage_url.hpp"

namespace fw {

std::optional<storage_location> parse_storage_url(const std::string& url) {
  constexpr std::string_view sqlite = "sqlite://";
  if (url.starts_with(sqlite)) {
    auto path = url.substr(sqlite.size());
    if (path.empty())
      return std::nullopt;
    return storage_location{storage_location::backend::sqlite, path};
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://"))
    return storage_location{storage_location::backend::postgres, url};
  return std::nullopt;
}

std::string storage_location::describe() const {
  if (kind == backend::sqlite)
    return "sqlite " + target;
  // postgresql://user:pw@host:port/db?opts -> postgresql host:port/db
  auto rest = target.substr(target.find("://") + 3);
  if (auto at = rest.rfind('@'); at != std::string::npos)
    rest = rest.substr(at + 1);
  if (auto q = rest.find('?'); q != std::string::npos)
    rest = rest.substr(0, q);
  return "postgresql " + rest;
}

} // namespace fw
