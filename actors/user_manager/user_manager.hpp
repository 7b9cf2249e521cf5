#pragma once
// The user-manager role (the seed's User Manager): registration, lookup and deletion of
// users, the Telegram link, and "does this user exist" for other roles. Commands run
// at most once per Idempotency-Key (idempotent_command.hpp); all database work runs on
// the storage workers.

#include "actors/common/node_context.hpp"

#include <caf/fwd.hpp>

namespace fw {

/// Spawns the role; its settings are user_manager.* and storage.timeout.
caf::actor spawn_user_manager(caf::actor_system& sys, const node_context_ptr& ctx);

} // namespace fw
