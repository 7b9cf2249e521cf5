// The "affinity" scheduler policy: the node installs it in place of CAF's scheduler, an
// actor woken by the running one does not starve work queued by others, and fan-out
// still spreads over the threads.

#include "actors/node/affinity_scheduler.hpp"

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/coordinator.hpp>
#include <caf/send.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace fw {
namespace {

using namespace std::chrono_literals;
using coordinator = caf::scheduler::coordinator<affinity_scheduling>;

struct affinity_config : caf::actor_system_config {
  explicit affinity_config(size_t threads) {
    set("scheduler.max-threads", threads);
    set("logger.verbosity", caf::atom("quiet"));
    module_factories.push_back([](caf::actor_system& sys) -> caf::actor_system::module* {
      return new coordinator(sys);
    });
  }
};

TEST(AffinityScheduler, ReplacesCafsOwnScheduler) {
  affinity_config cfg{2};
  caf::actor_system sys{cfg};
  EXPECT_NE(dynamic_cast<coordinator*>(&sys.scheduler()), nullptr);
  EXPECT_EQ(sys.scheduler().num_workers(), 2u);
}

// Two actors messaging each other keep putting each other into the thread's next-job
// slot. On one thread, a message from outside must still be handled.
TEST(AffinityScheduler, ActorsMessagingEachOtherDoNotStarveOthers) {
  affinity_config cfg{1};
  caf::actor_system sys{cfg};
  std::atomic<bool> stop{false};
  std::atomic<long> volleys{0};
  auto player = [&](caf::event_based_actor* self) -> caf::behavior {
    return {[self, &stop, &volleys](int n, const caf::actor& other) {
      ++volleys;
      if (!stop)
        self->send(other, n + 1, caf::actor_cast<caf::actor>(self));
    }};
  };
  auto a = sys.spawn(player);
  auto b = sys.spawn(player);
  caf::anon_send(a, 0, b);
  while (volleys < 1000)
    std::this_thread::sleep_for(1ms);

  std::promise<void> seen;
  auto bystander = sys.spawn([&seen](caf::event_based_actor*) -> caf::behavior {
    return {[&seen](caf::ok_atom) { seen.set_value(); }};
  });
  caf::anon_send(bystander, caf::ok_atom::value);
  EXPECT_EQ(seen.get_future().wait_for(5s), std::future_status::ready)
    << "the bystander never ran while two actors played ping-pong";
  stop = true;
}

// An actor that wakes two others: the first one woken is pushed out of the slot to the
// shared queue and an idle thread picks it up, so both run at the same time.
TEST(AffinityScheduler, FanOutRunsOnIdleThreads) {
  affinity_config cfg{2};
  caf::actor_system sys{cfg};
  std::atomic<int> started{0};
  std::atomic<int> met{0};
  auto waiter = [&](caf::event_based_actor*) -> caf::behavior {
    return {[&](caf::ok_atom) {
      ++started;
      auto deadline = std::chrono::steady_clock::now() + 5s;
      while (started < 2 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
      if (started >= 2)
        ++met;
    }};
  };
  auto w1 = sys.spawn(waiter);
  auto w2 = sys.spawn(waiter);
  std::this_thread::sleep_for(50ms); // both initialised, both threads idle
  auto fan = sys.spawn([=](caf::event_based_actor* self) -> caf::behavior {
    return {[=](caf::ok_atom) {
      self->send(w1, caf::ok_atom::value);
      self->send(w2, caf::ok_atom::value);
    }};
  });
  caf::anon_send(fan, caf::ok_atom::value);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (met < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(met.load(), 2) << "the two woken actors did not run side by side";
}

// Requests and replies between many actors all arrive (nothing is lost in the slots,
// also when the system shuts down with jobs queued).
TEST(AffinityScheduler, EveryMessageIsDelivered) {
  affinity_config cfg{2};
  caf::actor_system sys{cfg};
  constexpr int actors = 200;
  constexpr int rounds = 50;
  std::atomic<int> replies{0};
  std::promise<void> all;
  auto echo = [](caf::event_based_actor*) -> caf::behavior {
    return {[](int n) { return n; }};
  };
  auto client = [&](caf::event_based_actor* self, caf::actor server) -> caf::behavior {
    for (int i = 0; i < rounds; ++i)
      self->request(server, caf::infinite, i).then([&](int) {
        if (++replies == actors * rounds)
          all.set_value();
      });
    return {};
  };
  for (int i = 0; i < actors; ++i)
    sys.spawn(client, sys.spawn(echo));
  EXPECT_EQ(all.get_future().wait_for(30s), std::future_status::ready);
  EXPECT_EQ(replies.load(), actors * rounds);
}

} // namespace
} // namespace fw
