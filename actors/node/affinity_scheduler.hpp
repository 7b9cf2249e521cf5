#pragma once
// A CAF scheduler policy: CAF's work sharing (one shared queue, idle threads sleep on it)
// plus a one-job "next" slot per scheduler thread, as Go's runnext and Tokio's LIFO slot.
//
// Why: with plain work sharing every actor made runnable by a message goes to the shared
// queue and wakes a sleeping thread. A request and its reply (gateway bridge -> role ->
// bridge) then hop between threads at every step, each hop a futex wake-up and a cold
// cache, while the thread that sent the message would have been free a moment later.
// Measured on 2 cores, that hand-off cost more CPU per request than the role's own work
// (docs/performance.md, "Scheduler policy").
//
// How: an actor made runnable by the actor running on a scheduler thread goes into that
// thread's slot and runs there next, without waking anyone. A second one pushes the
// first out to the shared queue (and wakes an idle thread), so fan-out still spreads.
// Everything else (from I/O threads, the clock, other processes' messages via the
// middleman) goes to the shared queue as before. After max_streak slot jobs in a row a
// thread takes the shared queue's oldest job first, so two actors messaging each other
// cannot starve the rest.
//
// The price: a slot job runs only on its thread, after the job running there. Actors do
// not block (blocking work runs on the storage workers and other dedicated threads), so
// that wait is one actor activation.

#include <caf/policy/unprofiled.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <utility>

namespace fw {

class affinity_scheduling : public caf::policy::unprofiled {
public:
  /// Slot jobs a thread runs in a row before it serves the shared queue first.
  static constexpr unsigned max_streak = 4;

  struct coordinator_data {
    explicit coordinator_data(caf::scheduler::abstract_coordinator*) {
    }
    std::mutex lock;
    std::condition_variable cv;
    std::deque<caf::resumable*> queue; ///< guarded by lock
    std::size_t sleeping = 0;          ///< threads waiting on cv; guarded by lock
  };

  struct worker_data {
    explicit worker_data(caf::scheduler::abstract_coordinator*) {
    }
    caf::resumable* next = nullptr; ///< the slot; only its own thread touches it
    unsigned streak = 0;            ///< slot jobs run in a row
  };

  template <class Coordinator>
  void central_enqueue(Coordinator* self, caf::resumable* job) {
    push_shared(d(self), job);
  }

  template <class Worker>
  void external_enqueue(Worker* self, caf::resumable* job) {
    push_shared(d(self->parent()), job);
  }

  /// Called on the worker's own thread, by the job it is running.
  template <class Worker>
  void internal_enqueue(Worker* self, caf::resumable* job) {
    if (auto* displaced = std::exchange(d(self).next, job))
      push_shared(d(self->parent()), displaced);
  }

  /// The job yielded (its throughput limit): behind everything else.
  template <class Worker>
  void resume_job_later(Worker* self, caf::resumable* job) {
    push_shared(d(self->parent()), job);
  }

  template <class Worker>
  caf::resumable* dequeue(Worker* self) {
    auto& mine = d(self);
    auto& shared = d(self->parent());
    if (mine.next != nullptr) {
      if (mine.streak < max_streak) {
        ++mine.streak;
        return std::exchange(mine.next, nullptr);
      }
      mine.streak = 0;
      std::unique_lock<std::mutex> guard{shared.lock};
      if (shared.queue.empty())
        return std::exchange(mine.next, nullptr);
      // Give the oldest shared job its turn; the slot job queues behind it, where an idle
      // thread may take it.
      auto* job = shared.queue.front();
      shared.queue.pop_front();
      shared.queue.push_back(std::exchange(mine.next, nullptr));
      const bool wake = shared.sleeping > 0;
      guard.unlock();
      if (wake)
        shared.cv.notify_one();
      return job;
    }
    mine.streak = 0;
    std::unique_lock<std::mutex> guard{shared.lock};
    while (shared.queue.empty()) {
      ++shared.sleeping;
      shared.cv.wait(guard);
      --shared.sleeping;
    }
    auto* job = shared.queue.front();
    shared.queue.pop_front();
    return job;
  }

  /// Hands the slot's job to `f` (shutdown cleanup).
  template <class Worker, class UnaryFunction>
  void foreach_resumable(Worker* self, UnaryFunction f) {
    if (auto* job = std::exchange(d(self).next, nullptr))
      f(job);
  }

  /// Hands every queued job to `f` (shutdown cleanup).
  template <class Coordinator, class UnaryFunction>
  void foreach_central_resumable(Coordinator* self, UnaryFunction f) {
    auto& shared = d(self);
    std::deque<caf::resumable*> jobs;
    {
      std::lock_guard<std::mutex> guard{shared.lock};
      jobs.swap(shared.queue);
    }
    for (auto* job : jobs)
      f(job);
  }

private:
  static void push_shared(coordinator_data& shared, caf::resumable* job) {
    bool wake;
    {
      std::lock_guard<std::mutex> guard{shared.lock};
      shared.queue.push_back(job);
      wake = shared.sleeping > 0;
    }
    if (wake)
      shared.cv.notify_one();
  }
};

} // namespace fw
