// The role directory: local roles first, then peers' instances in turn; a peer's instance
// whose calls keep failing is skipped (circuit breaker); a lost peer's roles go at once.

#include "actors/common/role_directory.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>

#include <gtest/gtest.h>

#include <set>

namespace {

caf::behavior idle(caf::event_based_actor*) {
  return {[](int) {}};
}

struct role_directory_test : ::testing::Test {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  fw::role_directory dir;

  caf::actor spawn() {
    return sys.spawn(idle);
  }

  ~role_directory_test() override {
    dir.clear();
  }
};

TEST_F(role_directory_test, local_first_then_peers_in_turn) {
  auto b = spawn(), c = spawn(), local = spawn();
  dir.set_local_node("node-a");
  dir.put_node("node-b", {{"data-collector", b}});
  dir.put_node("node-c", {{"data-collector", c}, {"notifier", c}});
  std::set<caf::actor> seen;
  for (int i = 0; i < 4; ++i)
    seen.insert(dir.get("data-collector"));
  EXPECT_EQ(seen, (std::set<caf::actor>{b, c}));
  EXPECT_EQ(dir.get("user-manager"), caf::actor{});

  dir.put("data-collector", local);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(dir.get("data-collector"), local);
    EXPECT_EQ(dir.pick("data-collector"), local);
  }
  auto all = dir.instances("data-collector");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0], (std::pair<std::string, caf::actor>{"node-a", local}));
  EXPECT_EQ(all[1].first, "node-b");
  EXPECT_EQ(all[2].first, "node-c");
}

TEST_F(role_directory_test, a_lost_peer_and_a_dropped_role_are_no_longer_offered) {
  auto b = spawn(), c = spawn();
  dir.put_node("node-b", {{"data-collector", b}, {"user-manager", b}});
  dir.put_node("node-c", {{"data-collector", c}});
  dir.erase_node("node-c");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(dir.get("data-collector"), b);
  dir.put_node("node-b", {{"user-manager", b}}); // its data-collector stopped
  EXPECT_EQ(dir.get("data-collector"), caf::actor{});
  EXPECT_EQ(dir.get("user-manager"), b);
}

TEST_F(role_directory_test, an_instance_whose_calls_fail_is_skipped_until_it_answers) {
  auto b = spawn(), c = spawn();
  dir.put_node("node-b", {{"data-collector", b}});
  dir.put_node("node-c", {{"data-collector", c}});
  for (unsigned i = 0; i < fw::role_directory::breaker_failures; ++i)
    dir.report(b, false);
  for (int i = 0; i < 6; ++i) {
    auto picked = dir.pick("data-collector");
    EXPECT_EQ(picked, c);
    dir.report(picked, true);
  }
  // get() (roles calling each other, no reports) still offers both.
  std::set<caf::actor> seen;
  for (int i = 0; i < 4; ++i)
    seen.insert(dir.get("data-collector"));
  EXPECT_EQ(seen.size(), 2u);
  // With both failing there is nobody to call: the caller answers 503.
  for (unsigned i = 0; i < fw::role_directory::breaker_failures; ++i)
    dir.report(c, false);
  EXPECT_EQ(dir.pick("data-collector"), caf::actor{});
  // A restarted instance (new handle) starts afresh.
  auto b2 = spawn();
  dir.put_node("node-b", {{"data-collector", b2}});
  EXPECT_EQ(dir.pick("data-collector"), b2);
}

} // namespace
