// The node supervisor: one-for-one restarts with backoff, giving up past the restart
// limit, ordered shutdown, and killing a child that will not stop.

#include "actors/node/supervisor.hpp"
#include "tests/support/actor_test.hpp"
#include "messages/errors.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/node/roles.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

namespace {

using namespace std::chrono_literals;

using config = fw::test::actor_test_config;

/// Records what the test workers did, shared with the factories.
struct journal {
  std::mutex mtx;
  std::vector<std::string> stopped;
  int spawned = 0;
};

/// A worker that answers ping, throws on "crash", and notes when it stops.
fw::role_factory worker(std::string name, std::shared_ptr<journal> j, bool stubborn = false) {
  return [name, j, stubborn](caf::actor_system& sys, const fw::node_context_ptr&) {
    {
      std::lock_guard guard{j->mtx};
      ++j->spawned;
    }
    return sys.spawn([name, j, stubborn](caf::event_based_actor* self) -> caf::behavior {
      self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr&) {
        return caf::make_error(caf::sec::runtime_error);
      });
      self->attach_functor([name, j] {
        std::lock_guard guard{j->mtx};
        j->stopped.push_back(name);
      });
      if (stubborn)
        self->set_exit_handler([](caf::exit_msg&) { /* refuses to stop */ });
      return {
        [name](fw::ping_atom) { return fw::pong{name, "test"}; },
        [](const std::string& cmd) {
          if (cmd == "crash")
            throw std::runtime_error("boom");
        },
      };
    });
  };
}

struct supervisor_test : ::testing::Test {
  config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  std::shared_ptr<journal> j = std::make_shared<journal>();
  std::shared_ptr<fw::node_context> ctx = [] {
    auto c = std::make_shared<fw::node_context>();
    c->cfg.node.name = "test";
    c->metrics = std::make_shared<fw::node_metrics>("test");
    c->directory = std::make_shared<fw::role_directory>();
    return c;
  }();

  fw::supervisor_config make_config(std::vector<std::string> names) {
    fw::supervisor_config sc;
    sc.max_restarts = 2;
    sc.restart_window = 10s;
    sc.restart_backoff = 10ms;
    sc.restart_backoff_max = 50ms;
    sc.shutdown_timeout = 300ms;
    for (auto& n : names)
      sc.children.push_back({n, worker(n, j)});
    return sc;
  }

  caf::actor wait_for_role(const std::string& name, const caf::actor& not_this = {}) {
    for (int i = 0; i < 300; ++i) {
      auto h = ctx->directory->get(name);
      if (h && h != not_this)
        return h;
      std::this_thread::sleep_for(10ms);
    }
    return {};
  }

  caf::error wait_for_exit(const caf::actor& sup) {
    caf::error reason;
    bool got = false;
    self->monitor(sup);
    self->receive([&](caf::down_msg& msg) {
      reason = msg.reason;
      got = true;
    }, caf::after(5s) >> [] {});
    EXPECT_TRUE(got) << "supervisor did not exit";
    return reason;
  }

  std::string ping(const caf::actor& a) {
    std::string who;
    self->request(a, 2s, fw::ping_atom::value)
      .receive([&](fw::pong& p) { who = p.service; }, [](caf::error&) {});
    return who;
  }
};

TEST_F(supervisor_test, crashed_role_is_restarted_and_serves_again) {
  auto sup = fw::spawn_supervisor(sys, ctx, make_config({"storage", "worker"}));
  auto first = wait_for_role("worker");
  ASSERT_TRUE(first);
  EXPECT_EQ(ping(first), "worker");
  self->send(first, std::string{"crash"});
  auto second = wait_for_role("worker", first);
  ASSERT_TRUE(second) << "worker was not restarted";
  EXPECT_EQ(ping(second), "worker");
  EXPECT_EQ(j->spawned, 3); // storage, worker, worker again
  auto scrape = ctx->metrics->scrape();
  EXPECT_NE(scrape.find("flightwatch_role_restarts_total{node=\"test\",service=\"worker\"} 1"),
            std::string::npos)
    << scrape;
  self->send(sup, fw::shutdown_atom::value);
  EXPECT_FALSE(wait_for_exit(sup));
}

TEST_F(supervisor_test, role_that_keeps_crashing_stops_the_node) {
  auto sup = fw::spawn_supervisor(sys, ctx, make_config({"storage", "worker"}));
  caf::actor last;
  for (int i = 0; i < 3; ++i) {
    auto h = wait_for_role("worker", last);
    ASSERT_TRUE(h) << "crash " << i;
    self->send(h, std::string{"crash"});
    last = h;
  }
  auto reason = wait_for_exit(sup);
  ASSERT_TRUE(reason);
  EXPECT_NE(fw::message_of(reason).find("role worker crashed 3 times"), std::string::npos)
    << fw::message_of(reason);
  // The other children were stopped on the way out.
  std::lock_guard guard{j->mtx};
  EXPECT_NE(std::find(j->stopped.begin(), j->stopped.end(), "storage"), j->stopped.end());
}

TEST_F(supervisor_test, shutdown_stops_children_in_reverse_order) {
  auto sup = fw::spawn_supervisor(sys, ctx, make_config({"storage", "a", "b", "gateway"}));
  ASSERT_TRUE(wait_for_role("gateway"));
  self->send(sup, fw::shutdown_atom::value);
  EXPECT_FALSE(wait_for_exit(sup));
  std::lock_guard guard{j->mtx};
  EXPECT_EQ(j->stopped, (std::vector<std::string>{"gateway", "b", "a", "storage"}));
  EXPECT_FALSE(ctx->directory->get("storage"));
}

TEST_F(supervisor_test, child_that_ignores_shutdown_is_killed_after_timeout) {
  auto sc = make_config({"storage"});
  sc.children.push_back({"stubborn", worker("stubborn", j, true)});
  auto sup = fw::spawn_supervisor(sys, ctx, sc);
  ASSERT_TRUE(wait_for_role("stubborn"));
  auto start = std::chrono::steady_clock::now();
  self->send(sup, fw::shutdown_atom::value);
  EXPECT_FALSE(wait_for_exit(sup));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
}

} // namespace

TEST(node_roles, a_topic_without_its_consumer_on_the_node_is_reported) {
  EXPECT_TRUE(fw::in_process_topic_gaps(fw::all_roles()).empty());
  EXPECT_TRUE(fw::in_process_topic_gaps({"gateway", "user-manager"}).empty());
  auto gaps = fw::in_process_topic_gaps({"data-collector", "sla-watchdog"});
  ASSERT_EQ(gaps.size(), 2u);
  EXPECT_EQ(gaps[0].rfind("data-collector publishes to-alert-system but no alert-evaluator", 0),
            0u);
  EXPECT_EQ(gaps[1].rfind("sla-watchdog publishes sla_breach but no notifier", 0), 0u);
}
