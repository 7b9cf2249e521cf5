#pragma once
// The node's storage service ("storage" in the role directory). It brings the schema up
// to date at start (retrying with backoff while the database is down: the node keeps
// running and /health says why storage is not ready), then hands each db_task to one of
// its detached workers. Each worker owns one session (connection) and reopens it after
// the database was lost, so roles see ec::unavailable (503) while it is down and normal
// service once it is back, without a restart.

#include "actors/common/node_context.hpp"

#include <caf/fwd.hpp>

namespace fw {

/// Spawns the storage service and its `storage.pool_size` workers.
caf::actor spawn_storage(caf::actor_system& sys, const node_context_ptr& ctx);

} // namespace fw
