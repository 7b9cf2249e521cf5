#include "persistence/storage_service.hpp"

#include "actors/common/exceptions.hpp"
#include "actors/common/log.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <pqxx/pqxx>
#include <sqlite3.h>

#include <filesystem>

namespace fw {

namespace {

class sqlite_connection : public storage_connection {
public:
  explicit sqlite_connection(const std::string& path) {
    auto parent = std::filesystem::path{path}.parent_path();
    std::error_code ignored;
    if (!parent.empty())
      std::filesystem::create_directories(parent, ignored);
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr)
        != SQLITE_OK) {
      std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw std::runtime_error("cannot open SQLite file " + path + ": " + why);
    }
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA busy_timeout=5000");
  }
  ~sqlite_connection() override {
    sqlite3_close(db_);
  }
  void probe() override {
    exec("SELECT 1");
  }

private:
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string why = err ? err : "unknown error";
      sqlite3_free(err);
      throw std::runtime_error(std::string{"SQLite: "} + why);
    }
  }
  sqlite3* db_ = nullptr;
};

class postgres_connection : public storage_connection {
public:
  explicit postgres_connection(const std::string& uri) : conn_(uri) {
  }
  void probe() override {
    pqxx::nontransaction tx{conn_};
    tx.exec("SELECT 1");
  }

private:
  pqxx::connection conn_;
};

struct storage_state {
  static constexpr const char* name = "storage";
  node_context_ptr ctx;
  storage_location where;
  std::unique_ptr<storage_connection> conn;
  std::string detail = "connecting";
  duration backoff{200};
};

using storage_impl = storage_actor::extend<caf::reacts_to<caf::connect_atom>>;

void try_connect(storage_impl::stateful_pointer<storage_state> self) {
  auto& st = self->state;
  try {
    st.conn = open_storage(st.where);
    st.conn->probe();
    st.detail.clear();
    st.backoff = duration{200};
    log::info("storage", "ready: ", st.where.describe());
  } catch (const std::exception& e) {
    st.conn.reset();
    st.detail = e.what();
    log::error("storage", "not ready (", st.where.describe(), "): ", st.detail, "; retrying in ",
               st.backoff.count(), " ms");
    self->delayed_send(self, st.backoff, caf::connect_atom::value);
    st.backoff = std::min(st.backoff * 2, duration{std::chrono::seconds{10}});
  }
}

storage_impl::behavior_type storage_service(storage_impl::stateful_pointer<storage_state> self,
                                            node_context_ptr ctx, storage_location where) {
  log_exceptions(self, storage_state::name);
  self->state.ctx = std::move(ctx);
  self->state.where = std::move(where);
  try_connect(self);
  return {
    [self](ping_atom) { return self->state.ctx->make_pong(storage_state::name); },
    [self](health_atom) {
      auto& st = self->state;
      if (st.conn) {
        try {
          st.conn->probe();
        } catch (const std::exception& e) {
          st.conn.reset();
          st.detail = std::string{"connection lost: "} + e.what();
          log::error("storage", st.detail);
          self->send(self, caf::connect_atom::value);
        }
      }
      return component_health{storage_state::name, st.conn != nullptr, st.detail};
    },
    [self](caf::connect_atom) {
      if (!self->state.conn)
        try_connect(self);
    },
  };
}

} // namespace

std::unique_ptr<storage_connection> open_storage(const storage_location& where) {
  if (where.kind == storage_location::backend::sqlite)
    return std::make_unique<sqlite_connection>(where.target);
  try {
    return std::make_unique<postgres_connection>(where.target);
  } catch (const pqxx::broken_connection& e) {
    throw std::runtime_error(std::string{"cannot connect to PostgreSQL: "} + e.what());
  }
}

caf::actor spawn_storage(caf::actor_system& sys, const node_context_ptr& ctx) {
  auto where = parse_storage_url(ctx->cfg.storage.url);
  // settings::validate() has checked the URL shape already.
  return caf::actor_cast<caf::actor>(sys.spawn<caf::detached>(storage_service, ctx, *where));
}

} // namespace fw
