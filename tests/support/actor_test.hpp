#pragma once
// For tests that run roles as actors in the test process: an actor system configured as
// a node's (every message type announced, two scheduler threads) and a node context on
// SQLite with the storage service spawned.

#include "actors/common/node_context.hpp"
#include "messages/announce.hpp"
#include "persistence/storage_service.hpp"
#include "tests/support/temp_dir.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

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

/// What a test of roles running in the test process holds, in construction order: a
/// scratch directory, the actor system, a scoped actor to ask with and a node context on
/// SQLite in that directory (no settings changed). Destruction stops the context's
/// services; a fixture stops the actors it spawned itself in its own destructor.
struct sqlite_actor_env {
  explicit sqlite_actor_env(const std::string& dir_prefix)
    : dir{dir_prefix}, context{sqlite_test_context(sys, dir.path() / "fw.db")} {
  }
  ~sqlite_actor_env() {
    stop_directory(context);
  }
  sqlite_actor_env(const sqlite_actor_env&) = delete;
  sqlite_actor_env& operator=(const sqlite_actor_env&) = delete;

  temp_dir dir;
  actor_test_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  node_context_ptr context;
};

} // namespace fw::test
