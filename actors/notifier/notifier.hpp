#pragma once
// The notifier role: Telegram delivery of alerts and SLA breaches (topics to-notifier, sla_breach).
// Until its own protocol lands it answers ping and health (see basic_role.hpp).

#include "actors/common/node_context.hpp"

#include <caf/fwd.hpp>

namespace fw {

struct notifier_tag {
  static constexpr const char* name = "notifier";
};

/// Spawns the notifier role of this node.
caf::actor spawn_notifier(caf::actor_system& sys, const node_context_ptr& ctx);

} // namespace fw
