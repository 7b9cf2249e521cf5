#pragma once
// What every role of a node shares: the effective settings, the metrics registry, the
// directory of live local roles and the data-collector's kept answers. Immutable after
// start except for the directory and the kept answers.

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

namespace data_collector {
class kept_answers;
}

struct node_context {
  settings cfg;
  std::shared_ptr<node_metrics> metrics;
  std::shared_ptr<role_directory> directory;
  /// The local data-collector's kept flight answers, which the gateway serves on its I/O
  /// threads (actors/data_collector/kept_answers.hpp); null: none are shared.
  std::shared_ptr<data_collector::kept_answers> kept_answers;

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
