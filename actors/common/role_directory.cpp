#include "actors/common/role_directory.hpp"

#include <algorithm>
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
  auto r = remote_.find(role);
  if (r == remote_.end() || r->second.empty())
    return {};
  auto n = turn_.fetch_add(1, std::memory_order_relaxed) % r->second.size();
  return std::next(r->second.begin(), static_cast<std::ptrdiff_t>(n))->second.handle;
}

caf::actor role_directory::pick(const std::string& role) const {
  std::shared_lock guard{mtx_};
  if (auto i = roles_.find(role); i != roles_.end())
    return i->second;
  auto r = remote_.find(role);
  if (r == remote_.end() || r->second.empty())
    return {};
  const auto count = r->second.size();
  const auto start = turn_.fetch_add(1, std::memory_order_relaxed);
  for (size_t k = 0; k < count; ++k) {
    auto& inst = std::next(r->second.begin(), static_cast<std::ptrdiff_t>((start + k) % count))
                   ->second;
    if (inst.breaker->allow())
      return inst.handle;
  }
  return {};
}

void role_directory::report(const caf::actor& handle, bool answered) const {
  std::shared_lock guard{mtx_};
  for (const auto& [role, nodes] : remote_)
    for (const auto& [node, inst] : nodes)
      if (inst.handle == handle) {
        if (answered)
          inst.breaker->record_success();
        else
          inst.breaker->record_failure();
        return;
      }
}

std::vector<std::pair<std::string, caf::actor>> role_directory::all() const {
  std::shared_lock guard{mtx_};
  return {roles_.begin(), roles_.end()};
}

void role_directory::clear() {
  std::unique_lock guard{mtx_};
  roles_.clear();
  remote_.clear();
}

void role_directory::put_node(const std::string& node,
                              std::vector<std::pair<std::string, caf::actor>> roles) {
  std::unique_lock guard{mtx_};
  for (auto& [role, nodes] : remote_)
    if (std::none_of(roles.begin(), roles.end(), [&](const auto& r) { return r.first == role; }))
      nodes.erase(node);
  for (auto& [role, handle] : roles) {
    if (!handle)
      continue;
    auto& inst = remote_[role][node];
    if (inst.handle != handle) // a new instance (restarted) starts with a closed breaker
      inst = {std::move(handle),
              std::make_shared<circuit_breaker>(breaker_failures, breaker_open)};
  }
}

void role_directory::erase_node(const std::string& node) {
  std::unique_lock guard{mtx_};
  for (auto& [role, nodes] : remote_)
    nodes.erase(node);
}

void role_directory::erase_all_nodes() {
  std::unique_lock guard{mtx_};
  remote_.clear();
}

void role_directory::set_local_node(std::string name) {
  std::unique_lock guard{mtx_};
  local_node_ = std::move(name);
}

std::vector<std::pair<std::string, caf::actor>>
role_directory::instances(const std::string& role) const {
  std::shared_lock guard{mtx_};
  std::vector<std::pair<std::string, caf::actor>> out;
  if (auto i = roles_.find(role); i != roles_.end())
    out.emplace_back(local_node_, i->second);
  if (auto r = remote_.find(role); r != remote_.end())
    for (const auto& [node, inst] : r->second)
      out.emplace_back(node, inst.handle);
  return out;
}

} // namespace fw
