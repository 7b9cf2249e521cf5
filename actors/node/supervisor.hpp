#pragma once
// The node supervisor: spawns the node's children (storage, then the roles, gateway
// last), monitors them, restarts a crashed child one-for-one with exponential backoff,
// and gives up (quits with an error, so the process exits non-zero) when one child
// crashes more than `max_restarts` times within `restart_window`. On shutdown_atom it
// stops the children in reverse start order, each given `shutdown_timeout` to finish.

#include "actors/common/node_context.hpp"

#include <caf/fwd.hpp>

#include <string>
#include <vector>

namespace fw {

struct child_spec {
  std::string name;   // also its key in the role directory and its metrics label
  role_factory spawn;
};

struct supervisor_config {
  std::vector<child_spec> children; // start order
  unsigned max_restarts = 5;
  duration restart_window{std::chrono::seconds{60}};
  duration restart_backoff{100};
  duration restart_backoff_max{std::chrono::seconds{5}};
  duration shutdown_timeout{std::chrono::seconds{5}};

  /// From the node settings; children are added by the caller.
  static supervisor_config from(const node_settings& node);
  /// "" when usable, else what is wrong.
  std::string validate() const;
};

/// Spawns the supervisor. It quits normally after a requested shutdown, or with an
/// error naming the role that kept crashing.
caf::actor spawn_supervisor(caf::actor_system& sys, node_context_ptr ctx, supervisor_config cfg);

} // namespace fw
