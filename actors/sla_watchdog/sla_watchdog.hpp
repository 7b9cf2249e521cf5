#pragma once
// The sla-watchdog role: Prometheus sampling against the SLA rules (prefix /sla-detector).
// Until its own protocol lands it answers ping and health (see basic_role.hpp).

#include "actors/common/node_context.hpp"

#include <caf/fwd.hpp>

namespace fw {

struct sla_watchdog_tag {
  static constexpr const char* name = "sla-watchdog";
};

/// Spawns the sla-watchdog role of this node.
caf::actor spawn_sla_watchdog(caf::actor_system& sys, const node_context_ptr& ctx);

} // namespace fw
