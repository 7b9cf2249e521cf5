#pragma once
// The node's storage service: opens SQLite or connects to PostgreSQL and reports whether
// storage is ready. It runs detached (its own thread) because every database call
// blocks. A database that is down at start or lost later is retried with backoff; until
// then health says "not ready" with the reason, and the node keeps running.

#include "actors/common/node_context.hpp"
#include "persistence/storage_url.hpp"

#include <caf/fwd.hpp>

#include <memory>

namespace fw {

/// Opens one connection to the configured backend; throws std::runtime_error with a
/// message that is safe to show (no password).
class storage_connection {
public:
  virtual ~storage_connection() = default;
  /// A cheap round trip proving the connection still works; throws when it does not.
  virtual void probe() = 0;
};

std::unique_ptr<storage_connection> open_storage(const storage_location& where);

/// Spawns the storage service ("storage" in the role directory).
caf::actor spawn_storage(caf::actor_system& sys, const node_context_ptr& ctx);

} // namespace fw
