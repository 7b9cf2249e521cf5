#include "actors/common/role_directory.hpp"

#include <mutex>

namespace fw {

void role_directory::put(const std::string& role, caf::actor handle) {
  std::unique_lock guard{mtx_};
  roles_[role] = std::move(handle);
}

void role_directory::erase(const std::string& role) {
  std::unique_lock guard{mtx_};
  roles_.erase(role);
}

caf::actor role_directory::get(const std::string& role) const {
  std::shared_lock guard{mtx_};
  if (auto i = roles_.find(role); i != roles_.end())
    return i->second;
  return {};
}

std::vector<std::pair<std::string, caf::actor>> role_directory::all() const {
  std::shared_lock guard{mtx_};
  return {roles_.begin(), roles_.end()};
}

void role_directory::clear() {
  std::unique_lock guard{mtx_};
  roles_.clear();
}

} // namespace fw
