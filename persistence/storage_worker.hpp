#pragma once
// One storage worker: a detached actor (its own thread) owning one store_session. It runs
// the db_tasks it is given, timing each per operation, and turns a lost database into
// ec::unavailable; the next task opens a new session.

#include "actors/common/node_context.hpp"
#include "messages/interfaces.hpp"
#include "persistence/storage_url.hpp"

namespace fw {

/// Spawns a worker; the storage service links to it so they stop together.
storage_worker_actor spawn_storage_worker(caf::actor_system& sys, const node_context_ptr& ctx,
                                          const storage_location& where);

} // namespace fw
