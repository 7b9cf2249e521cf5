#pragma once
// Asynchronous requests from HTTP I/O threads to role actors, without blocking: the call
// is wrapped in a bridge_task and run by a bridge actor, which makes the CAF request and
// hands the reply (or error) to the callback on a CAF worker thread. The callback then
// completes the HTTP response (the responder posts it back to the connection).
//
// Timeouts do not use CAF's per-request timeout: each one costs two events on CAF's clock
// thread (arm and cancel, each a lock, a condition-variable broadcast and a wake-up of that
// thread), which profiling showed to be the largest single cost of a gateway request
// (docs/performance.md). Each bridge keeps a call_tracker instead: every call of a
// role_client has the same timeout, so send order is deadline order, and one delayed tick
// per bridge, armed for the oldest open call, expires the calls. An expired call gets what
// CAF's own timeout delivers: sec::request_timeout as the response to its request, which
// also removes the response handler, so a late reply is dropped.

#include "actors/common/deadline_queue.hpp"
#include "actors/common/role_directory.hpp"
#include "gateway/http_server.hpp"
#include "messages/errors.hpp"
#include "messages/type_ids.hpp"

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/message_id.hpp>
#include <caf/send.hpp>
#include <caf/sec.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace fw::gateway {

/// The calls in flight of one bridge actor, oldest first, and their common timeout. Only
/// closures that run in that bridge touch it, so it needs no lock.
class call_tracker : public std::enable_shared_from_this<call_tracker> {
public:
  using clock = std::chrono::steady_clock;

  explicit call_tracker(std::chrono::milliseconds timeout) : calls_(timeout) {
  }

  /// Starts the deadline of the request that `self` just sent, whose response will carry
  /// `response_id`; returns the ticket that close() takes.
  std::uint64_t open(caf::event_based_actor* self, caf::message_id response_id) {
    return calls_.open_armed(response_id,
                             [this, self](clock::duration delay) { arm(self, delay); });
  }

  /// The call got its response (a reply, an error or its timeout).
  void close(std::uint64_t ticket) {
    calls_.close(ticket);
  }

private:
  void arm(caf::event_based_actor* self, clock::duration delay) {
    self->delayed_send(caf::actor_cast<caf::actor>(self), delay,
                       bridge_task{[tracker = shared_from_this()](caf::event_based_actor* s) {
                         tracker->tick(s);
                       }});
  }

  /// Answers every open call that is due with sec::request_timeout, then re-arms for the
  /// oldest call still open.
  void tick(caf::event_based_actor* self) {
    calls_.on_tick(
      [self](caf::message_id response_id) {
        self->eq_impl(response_id, self->ctrl(), self->context(),
                      caf::make_error(caf::sec::request_timeout));
      },
      [this, self](clock::duration delay) { arm(self, delay); });
  }

  deadline_queue<caf::message_id> calls_;
};

class role_client {
public:
  role_client(std::vector<caf::actor> bridges, std::shared_ptr<const role_directory> directory,
              std::chrono::milliseconds timeout)
    : bridges_(std::move(bridges)), directory_(std::move(directory)), timeout_(timeout) {
    for (size_t i = 0; i < bridges_.size(); ++i)
      trackers_.push_back(std::make_shared<call_tracker>(timeout));
  }

  /// Sends `msg...` to a live instance of `role`, the local one if any, else a peer's whose
  /// circuit breaker lets calls through; `done(caf::expected<Reply>)` gets the reply or an
  /// error naming the role (ec::unavailable when no instance is live or it stops before
  /// answering, ec::timeout after the configured timeout). Callable from any thread;
  /// `done` runs once, on the calling thread or on a CAF worker.
  template <class Reply, class Done, class... Ts>
  void ask(const std::string& role, Done done, Ts... msg) const {
    auto target = directory_->pick(role);
    if (!target) {
      done(caf::expected<Reply>{make_error(ec::unavailable, "role " + role + " is not running")});
      return;
    }
    const auto idx = pick_bridge();
    auto task = bridge_task{[target = std::move(target), tracker = trackers_[idx],
                             directory = directory_, done = std::move(done), role,
                             timeout = timeout_, msg...](caf::event_based_actor* self) mutable {
      auto handle = self->request(target, caf::infinite, msg...);
      const auto ticket = tracker->open(self, handle.id());
      // Both handlers share one callback; only one of them ever runs.
      auto cb = std::make_shared<Done>(std::move(done));
      handle.then(
        [tracker, ticket, cb, directory, target](Reply& reply) {
          tracker->close(ticket);
          directory->report(target, true);
          (*cb)(caf::expected<Reply>{std::move(reply)});
        },
        [tracker, ticket, cb, directory, target, role = std::move(role),
         timeout](caf::error& err) {
          tracker->close(ticket);
          // An error the role sent back is an answer; CAF's own errors (timeout, the
          // instance or its node gone) count against the instance.
          directory->report(target, err.category() != caf::atom("system"));
          (*cb)(caf::expected<Reply>{name_the_role(std::move(err), role, timeout)});
        });
    }};
    send_batched(idx, std::move(task));
  }

private:
  /// The calls an I/O thread has made in its current pass over ready connections.
  struct pending_batch {
    std::vector<bridge_task> tasks;
    const role_client* owner = nullptr;
    size_t bridge = 0;
  };
  static pending_batch& batch() {
    thread_local pending_batch b;
    return b;
  }

  /// The bridge of the open batch, so a call joins it; otherwise the next in turn.
  size_t pick_bridge() const {
    auto& b = batch();
    if (!b.tasks.empty() && b.owner == this)
      return b.bridge;
    return next_.fetch_add(1, std::memory_order_relaxed) % bridges_.size();
  }

  /// On an HTTP I/O thread, the calls of one pass go to the bridge as one message (one
  /// mailbox element, at most one wake-up); elsewhere each call is sent at once.
  void send_batched(size_t idx, bridge_task task) const {
    auto& b = batch();
    if (!b.tasks.empty()) {
      if (b.owner == this && b.bridge == idx)
        b.tasks.push_back(std::move(task));
      else
        caf::anon_send(bridges_[idx], std::move(task));
      return;
    }
    b.owner = this;
    b.bridge = idx;
    b.tasks.push_back(std::move(task));
    auto flush = [bridge = bridges_[idx]] {
      auto tasks = std::make_shared<std::vector<bridge_task>>();
      tasks->swap(batch().tasks);
      caf::anon_send(bridge, bridge_task{[tasks](caf::event_based_actor* self) {
                       for (auto& t : *tasks)
                         t.run(self);
                     }});
    };
    if (!http_server::defer_on_io_thread(flush))
      flush();
  }

  /// CAF's own request errors become project errors that say which role failed.
  static caf::error name_the_role(caf::error err, const std::string& role,
                                  std::chrono::milliseconds timeout) {
    if (err == caf::sec::request_timeout)
      return make_error(ec::timeout, "role " + role + " did not answer within "
                                       + std::to_string(timeout.count()) + " ms");
    if (err == caf::sec::request_receiver_down)
      return make_error(ec::unavailable, "role " + role + " stopped before answering");
    return err;
  }

  std::vector<caf::actor> bridges_;
  std::vector<std::shared_ptr<call_tracker>> trackers_; ///< one per bridge, same index
  std::shared_ptr<const role_directory> directory_;
  std::chrono::milliseconds timeout_;
  mutable std::atomic<size_t> next_{0};
};

} // namespace fw::gateway
