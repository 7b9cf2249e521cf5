#include "persistence/storage_worker.hpp"

#include "actors/common/exceptions.hpp"
#include "actors/common/log.hpp"
#include "messages/errors.hpp"
#include "persistence/stores.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <chrono>
#include <map>

namespace fw {

namespace {

struct worker_state {
  static constexpr const char* name = "storage-worker";
  node_context_ptr ctx;
  storage_location where;
  std::unique_ptr<store_session> session;
  prometheus::Family<prometheus::Histogram>* latency = nullptr;
  prometheus::Family<prometheus::Counter>* failures = nullptr;
  std::map<std::string, prometheus::Histogram*, std::less<>> latency_by_op;

  prometheus::Histogram& latency_of(const char* op) {
    auto i = latency_by_op.find(op);
    if (i != latency_by_op.end())
      return *i->second;
    auto labels = ctx->metrics->labels("storage");
    labels.emplace("operation", op);
    labels.emplace("backend", where.kind == storage_location::backend::sqlite ? "sqlite"
                                                                              : "postgres");
    // Buckets from 50 µs to ~1.6 s: store calls are sub-millisecond when healthy.
    auto& h = latency->Add(labels, prometheus::Histogram::BucketBoundaries{
                                     0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                     0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5});
    latency_by_op.emplace(op, &h);
    return h;
  }

  void count_failure(const char* op, const char* kind) {
    auto labels = ctx->metrics->labels("storage");
    labels.emplace("operation", op);
    labels.emplace("kind", kind);
    failures->Add(labels).Increment();
  }

  /// The open session, opening one first if needed; throws storage_unavailable. A new
  /// session checks the schema too (cheap when current): a database recreated under a
  /// running node gets its tables again instead of failing every call. Then it readies
  /// its statements, so that this cost falls on the connect (at start, see the storage
  /// service's connect_workers()) rather than on the first requests.
  store_session& open() {
    if (!session) {
      auto fresh = open_session(where);
      fresh->migrate();
      fresh->prepare_statements();
      session = std::move(fresh);
    }
    return *session;
  }
};

using worker_pointer = storage_worker_actor::stateful_pointer<worker_state>;

caf::result<void> run_task(worker_pointer self, db_task& task) {
  auto& st = self->state;
  const auto started = std::chrono::steady_clock::now();
  try {
    task.run(st.open());
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    st.latency_of(task.operation).Observe(took.count());
    return caf::unit;
  } catch (const storage_unavailable& e) {
    if (st.session)
      log::warn("storage", "connection lost during ", task.operation, ": ", e.what());
    st.session.reset();
    st.count_failure(task.operation, "unavailable");
    return make_error(ec::unavailable, std::string{"storage unavailable: "} + e.what());
  } catch (const std::exception& e) {
    log::error("storage", task.operation, " failed: ", e.what());
    st.count_failure(task.operation, "error");
    return make_error(ec::internal, std::string{"storage operation "} + task.operation
                                      + " failed");
  }
}

storage_worker_actor::behavior_type storage_worker(worker_pointer self, node_context_ptr ctx,
                                                   storage_location where) {
  log_exceptions(self, worker_state::name);
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.where = std::move(where);
  auto& registry = st.ctx->metrics->registry();
  st.latency = &prometheus::BuildHistogram()
                  .Name("flightwatch_store_operation_duration_seconds")
                  .Help("Time of one store operation on a storage worker")
                  .Register(registry);
  st.failures = &prometheus::BuildCounter()
                   .Name("flightwatch_store_failures_total")
                   .Help("Store operations that failed, by kind (unavailable or error)")
                   .Register(registry);
  return {
    [self](ping_atom) { return self->state.ctx->make_pong("storage"); },
    [self](health_atom) {
      auto& st = self->state;
      try {
        st.open().probe();
        return component_health{"storage", true, {}};
      } catch (const std::exception& e) {
        st.session.reset();
        return component_health{"storage", false, e.what()};
      }
    },
    [self](db_task& task) { return run_task(self, task); },
  };
}

} // namespace

storage_worker_actor spawn_storage_worker(caf::actor_system& sys, const node_context_ptr& ctx,
                                          const storage_location& where) {
  return sys.spawn<caf::detached>(storage_worker, ctx, where);
}

} // namespace fw
