#pragma once
// The live handle of each local role, kept current by the node supervisor: a crashed role
// is absent until it is restarted, so callers (the gateway) never hold a dead handle.

#include <caf/actor.hpp>

#include <map>
#include <shared_mutex>
#include <string>
#include <vector>

namespace fw {

class role_directory {
public:
  void put(const std::string& role, caf::actor handle);
  void erase(const std::string& role);
  /// The role's live actor, or an invalid handle when it is down or not hosted here.
  caf::actor get(const std::string& role) const;
  /// Snapshot of every registered role.
  std::vector<std::pair<std::string, caf::actor>> all() const;
  /// Drops every handle (breaks reference cycles at shutdown).
  void clear();

private:
  mutable std::shared_mutex mtx_;
  std::map<std::string, caf::actor, std::less<>> roles_;
};

} // namespace fw
