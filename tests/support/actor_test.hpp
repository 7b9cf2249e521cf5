#pragma once
// For tests that run roles as actors in the test process: an actor system configured as
// a node's (every message type announced, two scheduler threads) and a node context on
// SQLite with the storage service spawned.

#include "actors/common/node_context.hpp"
#include "messages/announce.hpp"
#include "persistence/storage_service.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <filesystem>
#include <functional>
#include <memory>

namespace fw::test {

struct actor_test_config : caf::actor_system_config {
  actor_test_config() {
    fw::announce_types(*this);
    set("scheduler.max-threads", std::size_t{2});
  }
};

/// A context named "test-node" on the SQLite file `db`, its directory holding "storage".
/// `configure` changes the settings before anything is spawned (actors read them from
/// their own threads, so they stay as they are afterwards).
inline node_context_ptr
sqlite_test_context(caf::actor_system& sys, const std::filesystem::path& db,
                    const std::function<void(settings&)>& configure = {}) {
  auto ctx = std::make_shared<node_context>();
  ctx->cfg.node.name = "test-node";
  ctx->cfg.storage.url = "sqlite://" + db.string();
  if (configure)
    configure(ctx->cfg);
  ctx->metrics = std::make_shared<node_metrics>("test-node");
  ctx->directory = std::make_shared<role_directory>();
  ctx->directory->put("storage", spawn_storage(sys, ctx));
  return ctx;
}

/// Stops every actor in the context's directory and empties it.
inline void stop_directory(const node_context_ptr& ctx) {
  for (const auto& [name, handle] : ctx->directory->all())
    caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
  ctx->directory->clear();
}

} // namespace fw::test
