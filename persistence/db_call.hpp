#pragma once
// How a role runs blocking store code without blocking its own thread: the work travels
// to a storage worker as a db_task, and `done` runs back in the role with the result.
//
//   db_call<std::optional<user>>(self, storage, "find_user",
//     [email](store_session& s) { return s.users().find(email); },
//     [](caf::expected<std::optional<user>> found) { ... });
//
// The result crosses threads through a shared slot that the worker fills before it
// replies; CAF's message passing orders the write before the read. The request carries no
// timeout of its own: the storage service answers ec::unavailable once a task has taken
// storage.timeout (one timer for all tasks instead of two clock events per call).

#include "messages/errors.hpp"
#include "messages/interfaces.hpp"
#include "persistence/stores.hpp"

#include <caf/actor_cast.hpp>
#include <caf/expected.hpp>
#include <caf/sec.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace fw {

/// Storage took longer than `timeout`.
inline caf::error storage_timeout_error(std::chrono::milliseconds timeout) {
  return make_error(ec::unavailable,
                    "storage did not answer within " + std::to_string(timeout.count()) + " ms");
}

/// Storage stopped (a worker crashed, the node shuts down) before answering a call.
inline caf::error storage_stopped_error() {
  return make_error(ec::unavailable, "storage stopped before answering");
}

/// CAF's request errors in terms a caller of storage understands.
inline caf::error storage_error(caf::error err) {
  if (err == caf::sec::request_receiver_down)
    return storage_stopped_error();
  return err;
}

/// How the storage service schedules a call (persistence/worker_choice.hpp): `bulk` for
/// work no HTTP request waits for (a collection's flight batch, the alert pipeline's
/// evaluations and notifications), so that the requests' calls do not queue behind it.
enum class db_lane { short_task, bulk };

/// Runs `work(store_session&) -> R` on a storage worker; `done(caf::expected<R>)` runs in
/// `self`. `storage` may be an invalid handle (storage not running): done gets
/// ec::unavailable.
template <class R, class Self, class Work, class Done>
void db_call(Self* self, const caf::actor& storage, const char* operation, Work work, Done done,
             db_lane lane = db_lane::short_task) {
  if (!storage) {
    done(caf::expected<R>{make_error(ec::unavailable, "storage is not running")});
    return;
  }
  auto slot = std::make_shared<std::optional<R>>();
  auto cb = std::make_shared<Done>(std::move(done));
  auto target = caf::actor_cast<storage_actor>(storage);
  self
    ->request(target, caf::infinite,
              db_task{operation,
                      [slot, work = std::move(work)](store_session& s) mutable {
                        slot->emplace(work(s));
                      },
                      lane == db_lane::bulk})
    .then([slot, cb] { (*cb)(caf::expected<R>{std::move(**slot)}); },
          [cb](caf::error& err) { (*cb)(caf::expected<R>{storage_error(std::move(err))}); });
}

} // namespace fw
