#include "persistence/storage_service.hpp"

#include "actors/common/deadline_queue.hpp"
#include "actors/common/exceptions.hpp"
#include "actors/common/log.hpp"
#include "messages/errors.hpp"
#include "messages/interfaces.hpp"
#include "persistence/db_call.hpp"
#include "persistence/storage_worker.hpp"
#include "persistence/worker_choice.hpp"
#include "persistence/stores.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <memory>
#include <vector>

namespace fw {

namespace {

/// How long the schema migration at start may take before it counts as failed.
constexpr auto migration_timeout = std::chrono::seconds{60};

struct storage_state {
  static constexpr const char* name = "storage";
  node_context_ptr ctx;
  storage_location where;
  std::vector<storage_worker_actor> workers;
  std::vector<worker_load> load; // per worker: tasks given to it and not answered yet
  /// The callers of the tasks given to workers, until storage.timeout: then they get
  /// ec::unavailable, and the worker's late answer goes nowhere. Shared with the exit
  /// hook, which answers them when the service stops.
  std::shared_ptr<deadline_queue<caf::response_promise>> callers;
  size_t next = 0;
  bool ready = false;
  bool migrating = false;
  std::string detail = "migrating the schema";
  duration backoff{200};

  const storage_worker_actor& pick() {
    return workers[next++ % workers.size()];
  }

  /// Takes the worker for `task` (persistence/worker_choice.hpp).
  size_t assign(const db_task& task) {
    const auto i = choose_worker(load, task.bulk, next++);
    ++load[i].outstanding;
    load[i].bulk += task.bulk ? 1 : 0;
    return i;
  }

  void finished(size_t i, bool bulk) {
    --load[i].outstanding;
    load[i].bulk -= bulk ? 1 : 0;
  }
};

using storage_impl =
  storage_actor::extend<caf::reacts_to<caf::connect_atom>, caf::reacts_to<caf::tick_atom>>;
using storage_pointer = storage_impl::stateful_pointer<storage_state>;

/// How the callers' deadline_queue arms this actor's one tick.
auto tick_arming(storage_pointer self) {
  return [self](caf::timespan delay) { self->delayed_send(self, delay, caf::tick_atom::value); };
}

/// Answers every caller whose task is overdue, then re-arms for the oldest one left.
void expire_overdue(storage_pointer self) {
  auto& st = self->state;
  st.callers->on_tick(
    [timeout = st.ctx->cfg.storage.timeout](caf::response_promise& rp) {
      rp.deliver(storage_timeout_error(timeout));
    },
    tick_arming(self));
}

/// Has every worker open its session now (a worker connects on its first task): else the
/// first requests after a start each wait for a connection, a schema check and, on
/// PostgreSQL, a new server process. Best effort: a worker that cannot connect now tries
/// again on its next task.
void connect_workers(storage_pointer self) {
  const auto timeout = self->state.ctx->cfg.storage.timeout;
  for (const auto& worker : self->state.workers)
    self->request(worker, timeout, health_atom::value)
      .then([](const component_health&) {}, [](const caf::error&) {});
}

/// Runs the migrations on a worker; on failure retries with backoff (up to 10 s apart).
void migrate(storage_pointer self) {
  auto& st = self->state;
  if (st.ready || st.migrating)
    return;
  st.migrating = true;
  auto version = std::make_shared<int>(0);
  self
    ->request(st.pick(), migration_timeout,
              db_task{"migrate", [version](store_session& s) { *version = s.migrate(); }})
    .then(
      [self, version] {
        auto& st = self->state;
        st.migrating = false;
        st.ready = true;
        st.detail.clear();
        st.backoff = duration{200};
        log::info("storage", "ready: ", st.where.describe(), ", schema version ", *version);
        connect_workers(self);
      },
      [self](caf::error& err) {
        auto& st = self->state;
        st.migrating = false;
        st.detail = message_of(err);
        log::error("storage", "not ready (", st.where.describe(), "): ", st.detail,
                   "; retrying in ", st.backoff.count(), " ms");
        self->delayed_send(self, st.backoff, caf::connect_atom::value);
        st.backoff = std::min(st.backoff * 2, duration{std::chrono::seconds{10}});
      });
}

storage_impl::behavior_type storage_service(storage_pointer self, node_context_ptr ctx,
                                            storage_location where) {
  log_exceptions(self, storage_state::name);
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.where = std::move(where);
  st.callers =
    std::make_shared<deadline_queue<caf::response_promise>>(st.ctx->cfg.storage.timeout);
  // Callers ask without a timeout, so none may be left waiting when the service stops (a
  // worker crashed, the node shuts down).
  self->attach_functor([callers = st.callers](const caf::error&) {
    callers->expire(std::chrono::steady_clock::time_point::max(), [](caf::response_promise& rp) {
      rp.deliver(storage_stopped_error());
    });
  });
  const auto pool_size = std::max(1u, st.ctx->cfg.storage.pool_size);
  for (unsigned i = 0; i < pool_size; ++i) {
    st.workers.push_back(spawn_storage_worker(self->system(), st.ctx, st.where));
    st.load.emplace_back();
    self->link_to(st.workers.back());
  }
  migrate(self);
  return {
    [self](ping_atom) { return self->state.ctx->make_pong(storage_state::name); },
    [self](health_atom) -> caf::result<component_health> {
      auto& st = self->state;
      if (!st.ready)
        return component_health{storage_state::name, false, st.detail};
      // The probe blocks, so a worker runs it; a worker stuck behind a slow statement
      // must not make /health hang, hence the timeout.
      auto rp = self->make_response_promise<component_health>();
      const auto timeout = st.ctx->cfg.storage.timeout;
      self->request(st.pick(), timeout, health_atom::value)
        .then([rp](component_health& h) mutable { rp.deliver(std::move(h)); },
              [rp, timeout](caf::error& err) mutable {
                rp.deliver(component_health{storage_state::name, false,
                                            message_of(err == caf::sec::request_timeout
                                                         ? storage_timeout_error(timeout)
                                                         : storage_error(err))});
              });
      return rp;
    },
    [self](db_task& task) -> caf::result<void> {
      auto& st = self->state;
      if (!st.ready)
        return make_error(ec::unavailable, "storage not ready: " + st.detail);
      // Through this actor rather than delegated, so that it sees the task finish. Its
      // deadline is kept here (callers ask without a timeout of their own: see db_call).
      const auto i = st.assign(task);
      const bool bulk = task.bulk;
      caf::response_promise rp = self->make_response_promise();
      const auto ticket = st.callers->open_armed(rp, tick_arming(self));
      self->request(st.workers[i], caf::infinite, std::move(task))
        .then(
          [self, i, bulk, ticket]() {
            self->state.finished(i, bulk);
            if (auto caller = self->state.callers->close(ticket))
              caller->deliver(caf::unit);
          },
          [self, i, bulk, ticket](caf::error& err) {
            self->state.finished(i, bulk);
            if (auto caller = self->state.callers->close(ticket))
              caller->deliver(std::move(err));
          });
      return rp;
    },
    [self](caf::tick_atom) { expire_overdue(self); },
    [self](caf::connect_atom) { migrate(self); },
  };
}

} // namespace

caf::actor spawn_storage(caf::actor_system& sys, const node_context_ptr& ctx) {
  // settings::validate() has checked the URL shape already.
  auto where = *parse_storage_url(ctx->cfg.storage.url);
  where.statement_timeout = ctx->cfg.storage.timeout;
  // The service itself never blocks (its workers do), so it runs on the scheduler.
  return caf::actor_cast<caf::actor>(sys.spawn(storage_service, ctx, std::move(where)));
}

} // namespace fw
