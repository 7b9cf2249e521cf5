// What the data-collector publishes on to-alert-system after a collection: one event per
// interest of the collected airport, carrying the number of flights stored for the
// window and that interest's thresholds. Real storage (SQLite), topics, user-manager and
// data-collector actors; OpenSky is the fake.

#include "actors/common/topic_broker.hpp"
#include "actors/data_collector/data_collector.hpp"
#include "actors/user_manager/user_manager.hpp"
#include "messages/errors.hpp"
#include "messages/interfaces.hpp"
#include "messages/json.hpp"
#include "tests/fakes/fake_opensky.hpp"
#include "tests/support/actor_test.hpp"
#include "tests/support/net.hpp"
#include "tests/support/temp_dir.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <mutex>
#include <sstream>

namespace {

using namespace std::chrono_literals;

std::int64_t unix_now() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

struct event_log {
  std::mutex mtx;
  std::vector<fw::traffic_event> events;

  size_t size() {
    std::lock_guard guard{mtx};
    return events.size();
  }
};

struct data_collector_actor_test : ::testing::Test {
  data_collector_actor_test() {
    context = fw::test::sqlite_test_context(sys, dir.path() / "fw.db", [&](fw::settings& s) {
      s.opensky.base_url = opensky.url();
      s.opensky.auth_url = opensky.token_url();
      s.collector.interval = std::chrono::hours{1};
      // Flight query answers are kept for an hour: only new flights can refresh them.
      s.collector.query_cache_ttl = std::chrono::hours{1};
    });
    auto& directory = *context->directory;
    directory.put("topics", fw::spawn_topic_broker(sys, context));
    directory.put("user-manager", fw::spawn_user_manager(sys, context));
    directory.put("data-collector", fw::spawn_data_collector(sys, context));
    auto log = events;
    subscriber = sys.spawn([log](caf::event_based_actor*) -> caf::behavior {
      return {[log](fw::topic_event_atom, const std::string& topic, const std::string& payload) {
        EXPECT_EQ(topic, fw::topic_to_alert_system);
        std::lock_guard guard{log->mtx};
        log->events.push_back(nlohmann::json::parse(payload).get<fw::traffic_event>());
      }};
    });
    self->request(caf::actor_cast<fw::topic_broker_actor>(directory.get("topics")), 5s,
                  fw::subscribe_atom::value, std::string{fw::topic_to_alert_system}, subscriber)
      .receive([] {}, [](caf::error& e) { FAIL() << caf::to_string(e); });
  }

  ~data_collector_actor_test() override {
    caf::anon_send_exit(subscriber, caf::exit_reason::user_shutdown);
    fw::test::stop_directory(context);
  }

  template <class Reply, class... Ts>
  caf::expected<Reply> ask(const std::string& role, Ts... xs) {
    caf::expected<Reply> out{caf::make_error(caf::sec::request_timeout)};
    self->request(context->directory->get(role), 5s, std::move(xs)...)
      .receive([&](Reply& r) { out = std::move(r); }, [&](caf::error& e) { out = e; });
    return out;
  }

  void create_user(const std::string& email) {
    ASSERT_TRUE(fw::test::wait_until(
      [&] {
        auto r = ask<fw::command_reply>("user-manager", fw::create_user_atom::value,
                                        "key-" + email, fw::user{email, "A", "B", "", "", caf::none});
        return r && r->status == 201;
      },
      5s));
  }

  fw::test::temp_dir dir{"fw-dc-actor"};
  fw::test::fake_opensky opensky;
  fw::test::actor_test_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  fw::node_context_ptr context;
  std::shared_ptr<event_log> events = std::make_shared<event_log>();
  caf::actor subscriber;
  const std::int64_t now = unix_now();
};

TEST_F(data_collector_actor_test, one_event_per_interest_with_the_stored_count) {
  opensky.add_flight({"f00001", now - 7200, now - 3600, "LIRF", "EDDF", "DLH1"});
  opensky.add_flight({"f00002", now - 5400, now - 1800, "EGLL", "LIRF", "BAW2"});
  opensky.add_flight({"f00003", now - 9000, now - 600, "LICC", "LIRF", "AZA3"});
  create_user("anna@x.org");
  auto added = ask<fw::interest>("data-collector", fw::add_interest_atom::value,
                                 fw::interest{"anna@x.org", "LIRF", std::int64_t{2},
                                              std::int64_t{1}});
  ASSERT_TRUE(added) << caf::to_string(added.error());
  ASSERT_TRUE(fw::test::wait_until([&] { return events->size() == 1; }, 5s));
  {
    std::lock_guard guard{events->mtx};
    const auto& ev = events->events[0];
    EXPECT_EQ(ev.user_email, "anna@x.org");
    EXPECT_EQ(ev.airport_code, "LIRF");
    EXPECT_EQ(ev.flight_count, 3);
    EXPECT_EQ(ev.high_value, std::int64_t{2});
    EXPECT_EQ(ev.low_value, std::int64_t{1});
    EXPECT_EQ(ev.window_end - ev.window_start, 24 * 3600);
    EXPECT_GE(ev.window_end, now);
    EXPECT_EQ(ev.event_id.size(), 32u);
  }

  // A second user's interest in the airport just collected: OpenSky is not asked again
  // (the interval is an hour); that interest alone gets its event, with its own
  // thresholds and id, and the count as stored.
  const auto fetches = opensky.flight_request_count();
  opensky.add_flight({"f00004", now - 1000, now - 100, "LIMC", "LIRF", "AZA4"});
  create_user("bob@x.org");
  ASSERT_TRUE(ask<fw::interest>("data-collector", fw::add_interest_atom::value,
                                fw::interest{"bob@x.org", "LIRF", caf::none, std::int64_t{10}}));
  ASSERT_TRUE(fw::test::wait_until([&] { return events->size() == 2; }, 5s));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(events->size(), 2u);
  EXPECT_EQ(opensky.flight_request_count(), fetches);
  std::lock_guard guard{events->mtx};
  const auto& b = events->events[1];
  EXPECT_EQ(b.user_email, "bob@x.org");
  EXPECT_EQ(b.flight_count, 3);
  EXPECT_EQ(b.high_value, caf::none);
  EXPECT_EQ(b.low_value, std::int64_t{10});
  EXPECT_EQ(b.window_end - b.window_start, 24 * 3600);
  EXPECT_NE(b.event_id, events->events[0].event_id);
}

/// The value of the data-collector's flight_query_cache_lookups_total{result}.
double cache_lookups(const fw::node_context_ptr& ctx, const std::string& result) {
  std::istringstream text{ctx->metrics->scrape()};
  for (std::string line; std::getline(text, line);)
    if (line.rfind("flight_query_cache_lookups_total{", 0) == 0
        && line.find("result=\"" + result + "\"") != std::string::npos)
      return std::stod(line.substr(line.rfind(' ') + 1));
  return -1;
}

TEST_F(data_collector_actor_test, flight_queries_are_answered_again_until_new_flights_are_stored) {
  opensky.add_flight({"f00001", now - 7200, now - 3600, "LIRF", "EDDF", "DLH1"});
  create_user("anna@x.org");
  ASSERT_TRUE(ask<fw::interest>("data-collector", fw::add_interest_atom::value,
                                fw::interest{"anna@x.org", "lirf", caf::none, caf::none}));
  ASSERT_TRUE(fw::test::wait_until([&] { return events->size() == 1; }, 5s));
  auto list = [&] {
    return ask<fw::json_body>("data-collector", fw::list_flights_atom::value,
                              fw::flight_query{"LIRF", "", 100, caf::none, caf::none}, false);
  };
  auto listed = [&] {
    auto body = list();
    return body && !body->gzip ? nlohmann::json::parse(body->content).size() : 0u;
  };
  auto count = [&] {
    auto avg = ask<std::string>("data-collector", fw::average_flights_atom::value,
                                std::string{"LIRF"}, std::string{}, std::int64_t{1});
    return avg ? nlohmann::json::parse(*avg).at("flights").get<std::int64_t>() : -1;
  };
  auto last = [&] {
    auto f = ask<fw::flight>("data-collector", fw::last_flight_atom::value, std::string{"LIRF"},
                             std::string{"departures"});
    return f ? f->icao24 : caf::to_string(f.error());
  };
  ASSERT_TRUE(list());
  EXPECT_EQ(nlohmann::json::parse(list()->content)[0].get<fw::flight>().icao24, "f00001");
  EXPECT_EQ(listed(), 1u);
  EXPECT_EQ(count(), 1);
  EXPECT_EQ(count(), 1);
  EXPECT_EQ(last(), "f00001");
  EXPECT_EQ(last(), "f00001");
  EXPECT_EQ(cache_lookups(context, "miss"), 3);
  EXPECT_EQ(cache_lookups(context, "hit"), 4) << "repeated queries are not run again";

  // New flights reach LIRF through the collection of another airport (EDDF, the arrival
  // end): LIRF's answers must change at once, though they would be kept for an hour.
  opensky.add_flight({"f00002", now - 3000, now - 600, "LIRF", "EDDF", "DLH3"});
  ASSERT_TRUE(ask<fw::interest>("data-collector", fw::add_interest_atom::value,
                                fw::interest{"anna@x.org", "EDDF", caf::none, caf::none}));
  ASSERT_TRUE(fw::test::wait_until([&] { return events->size() == 2; }, 5s));
  ASSERT_TRUE(fw::test::wait_until([&] { return count() == 2; }, 2s))
    << "the flights stored by the collection of EDDF do not show at LIRF";
  EXPECT_EQ(listed(), 2u);
  EXPECT_EQ(last(), "f00002");
}

TEST_F(data_collector_actor_test, no_event_when_opensky_fails) {
  opensky.add_flight({"f00001", now - 7200, now - 3600, "LIRF", "EDDF", "DLH1"});
  opensky.fail_next(2, 503);
  create_user("anna@x.org");
  ASSERT_TRUE(ask<fw::interest>("data-collector", fw::add_interest_atom::value,
                                fw::interest{"anna@x.org", "LIRF", caf::none, caf::none}));
  ASSERT_TRUE(opensky.wait_for_flight_requests(1, 5s));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(events->size(), 0u);
  auto stored = ask<fw::json_body>("data-collector", fw::list_flights_atom::value,
                                   fw::flight_query{"LIRF", "", 100, caf::none, caf::none}, true);
  ASSERT_TRUE(stored);
  EXPECT_EQ(*stored, (fw::json_body{"[]", false})); // too small to be worth gzip
}

} // namespace
