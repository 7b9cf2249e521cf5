#pragma once
// The user-manager role: users, idempotency keys and the Telegram link (prefix /user-manager).
// Until its own protocol lands it answers ping and health (see basic_role.hpp).

#include "actors/common/node_context.hpp"

#include <caf/fwd.hpp>

namespace fw {

struct user_manager_tag {
  static constexpr const char* name = "user-manager";
};

/// Spawns the user-manager role of this node.
caf::actor spawn_user_manager(caf::actor_system& sys, const node_context_ptr& ctx);

} // namespace fw
