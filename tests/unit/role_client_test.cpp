// The gateway's calls to roles (gateway/role_client.hpp): a role that never answers gets
// the caller ec::timeout naming it once the timeout has passed, the one deadline timer of
// a bridge is armed again for later calls, and a role that answers in time is not cut off.

#include "actors/common/role_directory.hpp"
#include "gateway/role_client.hpp"
#include "messages/announce.hpp"
#include "messages/errors.hpp"
#include "messages/types.hpp"

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct test_config : caf::actor_system_config {
  test_config() {
    fw::announce_types(*this);
    set("scheduler.max-threads", std::size_t{2});
  }
};

caf::behavior bridge(caf::event_based_actor* self) {
  return {[self](fw::bridge_task& task) { task.run(self); }};
}

/// Answers ping after `delay` (a bridge_task sent to itself); never when `delay` is 0 (it
/// keeps the promises, so that no broken-promise error answers for it either).
caf::behavior role(caf::event_based_actor* self, std::chrono::milliseconds delay) {
  auto kept = std::make_shared<std::vector<caf::response_promise>>();
  return {
    [self, delay, kept](fw::ping_atom) -> caf::result<fw::pong> {
      auto rp = self->make_response_promise();
      if (delay == 0ms) {
        kept->push_back(rp);
        return rp;
      }
      self->delayed_send(self, delay, fw::bridge_task{[rp](caf::event_based_actor*) mutable {
                           rp.deliver(fw::pong{"role", "node"});
                         }});
      return rp;
    },
    [self](fw::bridge_task& task) { task.run(self); },
  };
}

struct role_client_test : ::testing::Test {
  role_client_test() {
    bridges.push_back(sys.spawn(bridge));
    directory->put("silent", sys.spawn(role, 0ms));
    directory->put("prompt", sys.spawn(role, 50ms));
    client = std::make_unique<fw::gateway::role_client>(bridges, directory, 300ms);
  }
  ~role_client_test() override {
    client.reset();
    for (const auto& [name, handle] : directory->all())
      caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
    directory->clear();
    for (auto& b : bridges)
      caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
  }

  /// Asks `role` for a pong: the outcome, and how long it took.
  std::pair<caf::expected<fw::pong>, clock_type::duration> ping(const std::string& name) {
    auto outcome = std::make_shared<std::promise<caf::expected<fw::pong>>>();
    auto answer = outcome->get_future();
    const auto start = clock_type::now();
    client->ask<fw::pong>(
      name, [outcome](caf::expected<fw::pong> r) { outcome->set_value(std::move(r)); },
      fw::ping_atom::value);
    if (answer.wait_for(5s) != std::future_status::ready)
      return {caf::make_error(caf::sec::runtime_error, "no answer within 5 s"), 5s};
    return {answer.get(), clock_type::now() - start};
  }

  test_config cfg;
  caf::actor_system sys{cfg};
  std::vector<caf::actor> bridges;
  std::shared_ptr<fw::role_directory> directory = std::make_shared<fw::role_directory>();
  std::unique_ptr<fw::gateway::role_client> client;
};

TEST_F(role_client_test, a_role_that_never_answers_times_out_each_time_naming_the_role) {
  for (int i = 0; i < 3; ++i) { // each call after the timer went idle must arm it again
    auto [r, took] = ping("silent");
    ASSERT_FALSE(r) << "call " << i;
    EXPECT_EQ(fw::code_of(r.error()), fw::ec::timeout) << "call " << i;
    EXPECT_EQ(fw::message_of(r.error()), "role silent did not answer within 300 ms");
    EXPECT_GE(took, 300ms) << "call " << i;
    EXPECT_LT(took, 1500ms) << "call " << i;
  }
}

TEST_F(role_client_test, a_role_that_answers_in_time_is_not_cut_off_by_an_earlier_calls_timer) {
  std::thread silent([this] { ping("silent"); }); // arms the timer for 300 ms from now
  std::this_thread::sleep_for(200ms);
  auto [r, took] = ping("prompt"); // due 100 ms after the silent call
  silent.join();
  ASSERT_TRUE(r) << fw::message_of(r.error());
  EXPECT_EQ(r->service, "role");
  EXPECT_LT(took, 300ms);
}

TEST_F(role_client_test, calls_opened_after_a_timeout_expire_at_their_own_deadline) {
  std::thread first([this] { ping("silent"); });
  std::this_thread::sleep_for(200ms);
  auto [r, took] = ping("silent"); // the tick at 300 ms must re-arm for this one
  first.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(fw::code_of(r.error()), fw::ec::timeout);
  EXPECT_GE(took, 300ms) << "expired by the first call's tick";
  EXPECT_LT(took, 1500ms);
}

} // namespace
