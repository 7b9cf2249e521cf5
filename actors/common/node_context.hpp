#pragma once
// What every role of a node shares: the effective settings, the metrics registry and the
// directory of live local roles. Immutable after start except for the directory.

#include "actors/common/metrics.hpp"
#include "actors/common/role_directory.hpp"
#include "config/settings.hpp"
#include "messages/types.hpp"

#include <functional>
#include <memory>

namespace caf {
class actor;
class actor_system;
} // namespace caf

namespace fw {

struct node_context {
  settings cfg;
  std::shared_ptr<node_metrics> metrics;
  std::shared_ptr<role_directory> directory;

  /// The answer every role gives to ping.
  pong make_pong(const std::string& role) const {
    return pong{role, cfg.node.name};
  }
};

using node_context_ptr = std::shared_ptr<const node_context>;

/// Spawns one role (or node service) of this node; the supervisor calls it at start and
/// after every crash.
using role_factory = std::function<caf::actor(caf::actor_system&, const node_context_ptr&)>;

} // namespace fw
