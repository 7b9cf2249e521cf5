// The alert-evaluator as an outbox: an event handled again (Kafka redelivers what was
// not committed) changes no state and publishes the very notice it produced the first
// time. Real storage (SQLite) and topics; events are handed to the evaluator as the
// topics service does.

#include "actors/alert_evaluator/alert_evaluator.hpp"
#include "actors/common/topic_broker.hpp"
#include "messages/interfaces.hpp"
#include "messages/json.hpp"
#include "tests/support/actor_test.hpp"
#include "tests/support/net.hpp"
#include "tests/support/temp_dir.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <mutex>

namespace {

using namespace std::chrono_literals;

struct notice_log {
  std::mutex mtx;
  std::vector<std::string> payloads; // as published on to-notifier

  std::vector<std::string> all() {
    std::lock_guard guard{mtx};
    return payloads;
  }
};

struct alert_evaluator_actor_test : ::testing::Test, fw::test::sqlite_actor_env {
  alert_evaluator_actor_test() : sqlite_actor_env{"fw-eval-actor"} {
    context->directory->put("topics", fw::spawn_topic_broker(sys, context));
    evaluator = fw::spawn_alert_evaluator(sys, context);
    auto log = notices;
    subscriber = sys.spawn([log](caf::event_based_actor*) -> caf::behavior {
      return {[log](fw::topic_event_atom, const std::string&, const std::string& payload) {
        std::lock_guard guard{log->mtx};
        log->payloads.push_back(payload);
      }};
    });
    self->request(caf::actor_cast<fw::topic_broker_actor>(context->directory->get("topics")), 5s,
                  fw::subscribe_atom::value, std::string{fw::topic_to_notifier}, subscriber)
      .receive([] {}, [](caf::error& e) { FAIL() << caf::to_string(e); });
  }

  ~alert_evaluator_actor_test() override {
    caf::anon_send_exit(evaluator, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(subscriber, caf::exit_reason::user_shutdown);
  }

  /// Hands `ev` to the evaluator as the topics service does; true once it acknowledged.
  /// Storage may still be migrating at first: then the evaluator answers with an error.
  bool handle(const fw::traffic_event& ev) {
    const auto payload = nlohmann::json(ev).dump();
    return fw::test::wait_until(
      [&] {
        bool ok = false;
        self->request(evaluator, 5s, fw::topic_event_atom::value,
                      std::string{fw::topic_to_alert_system}, payload)
          .receive([&] { ok = true; }, [](caf::error&) {});
        return ok;
      },
      5s);
  }

  static fw::traffic_event event(std::string id, std::int64_t flights) {
    fw::traffic_event ev;
    ev.event_id = std::move(id);
    ev.user_email = "anna@x.org";
    ev.airport_code = "LIRF";
    ev.flight_count = flights;
    ev.high_value = 5;
    ev.window_end = 1'700'000'000;
    ev.window_start = ev.window_end - 86'400;
    return ev;
  }

  caf::actor evaluator;
  std::shared_ptr<notice_log> notices = std::make_shared<notice_log>();
  caf::actor subscriber;
};

TEST_F(alert_evaluator_actor_test, an_event_handled_again_publishes_the_same_notice_once_more) {
  ASSERT_TRUE(handle(event("ev-1", 9)));
  ASSERT_TRUE(fw::test::wait_until([&] { return notices->all().size() == 1; }, 5s));
  const auto first = notices->all()[0];
  auto notice = nlohmann::json::parse(first).get<fw::alert_notice>();
  EXPECT_EQ(notice.event_id, "ev-1:firing");
  EXPECT_EQ(notice.kind, "firing");
  EXPECT_EQ(notice.flight_count, 9);
  EXPECT_EQ(notice.threshold, 5);

  // The same event again, now with the alert firing: the recorded notice, unchanged
  // (same text and creation time), not a new evaluation against the new state.
  ASSERT_TRUE(handle(event("ev-1", 9)));
  ASSERT_TRUE(fw::test::wait_until([&] { return notices->all().size() == 2; }, 5s));
  EXPECT_EQ(notices->all()[1], first);

  // A new event with the same traffic: still firing, within the repeat interval, so no
  // notice; the redelivery above did not disturb the state.
  ASSERT_TRUE(handle(event("ev-2", 9)));
  // Traffic back under the threshold: one "resolved".
  ASSERT_TRUE(handle(event("ev-3", 2)));
  ASSERT_TRUE(fw::test::wait_until([&] { return notices->all().size() == 3; }, 5s));
  auto resolved = nlohmann::json::parse(notices->all()[2]).get<fw::alert_notice>();
  EXPECT_EQ(resolved.event_id, "ev-3:resolved");
  EXPECT_EQ(resolved.kind, "resolved");
  // And that one redelivered: the same "resolved" again, nothing else.
  ASSERT_TRUE(handle(event("ev-3", 2)));
  ASSERT_TRUE(fw::test::wait_until([&] { return notices->all().size() == 4; }, 5s));
  EXPECT_EQ(notices->all()[3], notices->all()[2]);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(notices->all().size(), 4u);
}

} // namespace
