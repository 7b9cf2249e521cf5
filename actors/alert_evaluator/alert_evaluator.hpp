#pragma once
// The alert-evaluator role: threshold evaluation of collected traffic (topic to-alert-system).
// Until its own protocol lands it answers ping and health (see basic_role.hpp).

#include "actors/common/node_context.hpp"

#include <caf/fwd.hpp>

namespace fw {

struct alert_evaluator_tag {
  static constexpr const char* name = "alert-evaluator";
};

/// Spawns the alert-evaluator role of this node.
caf::actor spawn_alert_evaluator(caf::actor_system& sys, const node_context_ptr& ctx);

} // namespace fw
