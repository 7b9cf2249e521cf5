// The data-collector through the gateway against a fake OpenSky that speaks the real
// wire format: interests with thresholds, immediate fetch of a new airport, flight
// queries, deduplication across collections, and every OpenSky failure mode (5xx and
// the circuit breaker, 429, outage): nothing invented is ever stored.

#include "actors/common/gzip.hpp"
#include "tests/fakes/fake_opensky.hpp"
#include "tests/integration/node_process.hpp"
#include "tests/support/net.hpp"
#include "tests/support/temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <chrono>

namespace {

using namespace std::chrono_literals;
using fw::test::fake_flight;
using fw::test::fake_opensky;
using fw::test::http_get;
using fw::test::http_request;
using fw::test::http_result;
using fw::test::node_process;
using json = nlohmann::json;

json body_of(const http_result& r) {
  return json::parse(r.body, nullptr, false);
}

std::int64_t unix_now() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

class data_collector : public ::testing::Test {
protected:
  void start(std::vector<std::pair<std::string, std::string>> extra = {}) {
    std::vector<std::pair<std::string, std::string>> env{
      {"FW_OPENSKY_BASE_URL", opensky.url()},
      {"FW_OPENSKY_AUTH_URL", opensky.token_url()},
      {"FW_COLLECTOR_INTERVAL", "1h"},
      {"FW_OPENSKY_TIMEOUT", "2s"},
    };
    for (auto& e : extra)
      env.push_back(std::move(e));
    node = std::make_unique<node_process>(node_process::options{{}, std::move(env), true});
    base = node->url() + "/data-collector";
  }

  void create_user(const std::string& email) {
    auto r = http_request("POST", node->url() + "/user-manager/users",
                          json{{"email", email}, {"first_name", "A"}, {"last_name", "B"}}.dump(),
                          {"Idempotency-Key: create-" + email});
    ASSERT_EQ(r.status, 201) << r.body;
  }

  http_result add_interest(const json& body) {
    return http_request("POST", base + "/interests", body.dump());
  }

  json flights(const std::string& airport, const std::string& query = "") {
    auto r = http_get(base + "/flights/" + airport + query);
    EXPECT_EQ(r.status, 200) << r.body;
    return body_of(r);
  }

  std::string metrics() {
    return http_get(node->url() + "/metrics").body;
  }

  fake_opensky opensky;
  std::unique_ptr<node_process> node;
  std::string base;
  const std::int64_t now = unix_now();
};

// -- interests --------------------------------------------------------------------------

TEST_F(data_collector, interests_are_added_updated_listed_and_removed) {
  start();
  auto unknown = add_interest({{"email", "nobody@x.org"}, {"airport_code", "LIRF"}});
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(body_of(unknown)["error"], "not_found");

  create_user("mario@x.org");
  auto added = add_interest(
    {{"email", "Mario@X.org"}, {"airport_code", "lirf"}, {"high_value", 20}, {"low_value", 5}});
  EXPECT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(body_of(added), json({{"message", "Interest added and data fetch initiated"}}));
  ASSERT_EQ(add_interest({{"email", "mario@x.org"}, {"airport_code", "LICC"}}).status, 201);
  // Adding an existing interest updates its thresholds.
  ASSERT_EQ(add_interest({{"email", "mario@x.org"}, {"airport_code", "LIRF"}, {"high_value", 30}})
              .status,
            201);
  auto list = body_of(http_get(base + "/interests/mario@x.org"));
  EXPECT_EQ(list, json::parse(R"([
    {"user_email":"mario@x.org","airport_code":"LICC","high_value":null,"low_value":null},
    {"user_email":"mario@x.org","airport_code":"LIRF","high_value":30,"low_value":null}])"));

  auto put = http_request("PUT", base + "/interests",
                          json{{"email", "mario@x.org"}, {"airport_code", "LICC"},
                               {"high_value", 9}, {"low_value", 2}}
                            .dump());
  EXPECT_EQ(put.status, 200) << put.body;
  auto put_absent = http_request(
    "PUT", base + "/interests", json{{"email", "mario@x.org"}, {"airport_code", "EGLL"}}.dump());
  EXPECT_EQ(put_absent.status, 404) << put_absent.body;
  EXPECT_EQ(body_of(http_get(base + "/interests/mario@x.org"))[0]["high_value"], 9);

  auto del = http_request("DELETE", base + "/interests",
                          json{{"email", "mario@x.org"}, {"airport_code", "LICC"}}.dump());
  EXPECT_EQ(del.status, 200) << del.body;
  auto again = http_request("DELETE", base + "/interests",
                            json{{"email", "mario@x.org"}, {"airport_code", "LICC"}}.dump());
  EXPECT_EQ(again.status, 404) << again.body;
  EXPECT_EQ(body_of(http_get(base + "/interests/mario@x.org")).size(), 1u);
}

TEST_F(data_collector, an_interest_needs_its_user_but_no_user_manager) {
  // The user is looked up in the upsert itself (the users table is in the same database),
  // so a node without the user-manager adds interests of existing users, and only theirs.
  fw::test::temp_dir dir{"fw-dc-no-um"};
  const std::pair<std::string, std::string> storage{
    "FW_STORAGE_URL", "sqlite://" + (dir.path() / "fw.db").string()};
  start({storage});
  create_user("mario@x.org");
  node.reset();
  start({storage, {"FW_NODE_ROLES", "gateway,data-collector"}});
  ASSERT_EQ(http_get(node->url() + "/user-manager/ping").status, 503) << "no user-manager";

  auto added = add_interest({{"email", "Mario@x.org"}, {"airport_code", "LIRF"}});
  EXPECT_EQ(added.status, 201) << added.body;
  auto unknown = add_interest({{"email", "luigi@x.org"}, {"airport_code", "LIRF"}});
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(body_of(unknown),
            json({{"error", "not_found"}, {"message", "user luigi@x.org not found"}}));
  EXPECT_EQ(body_of(http_get(base + "/interests/mario@x.org")),
            json::parse(R"([{"user_email":"mario@x.org","airport_code":"LIRF",
                             "high_value":null,"low_value":null}])"));
  EXPECT_EQ(body_of(http_get(base + "/interests/luigi@x.org")), json::array());
}

TEST_F(data_collector, invalid_interests_are_400_with_a_reason) {
  start();
  create_user("mario@x.org");
  const std::vector<std::pair<json, std::string>> cases{
    {{{"email", "mario@x.org"}, {"airport_code", "LIRF"}, {"high_value", 5}, {"low_value", 5}},
     "greater than low_value"},
    {{{"email", "mario@x.org"}, {"airport_code", "LIRF"}, {"high_value", 3}, {"low_value", 9}},
     "greater than low_value"},
    {{{"email", "mario@x.org"}, {"airport_code", "LIRF"}, {"low_value", -1}}, "negative"},
    {{{"email", "mario@x.org"}, {"airport_code", "LIRF"}, {"high_value", "10"}}, "integer"},
    {{{"email", "mario@x.org"}, {"airport_code", "LIRF"}, {"high_value", 1.5}}, "integer"},
    {{{"email", "mario@x.org"}, {"airport_code", "ROMA1"}}, "ICAO"},
    {{{"email", "mario@x.org"}, {"airport_code", "LI"}}, "ICAO"},
    {{{"email", "mario@x.org"}, {"airport_code", "L1RF"}}, "ICAO"},
    {{{"email", "mario@x.org"}}, "airport_code is required"},
    {{{"airport_code", "LIRF"}}, "email is required"},
  };
  for (const auto& [body, reason] : cases) {
    auto r = add_interest(body);
    EXPECT_EQ(r.status, 400) << body.dump() << " -> " << r.body;
    EXPECT_NE(r.body.find(reason), std::string::npos) << body.dump() << " -> " << r.body;
  }
  EXPECT_EQ(body_of(http_get(base + "/interests/mario@x.org")), json::array());
}

TEST_F(data_collector, deleting_a_user_removes_their_interests) {
  start();
  create_user("mario@x.org");
  ASSERT_EQ(add_interest({{"email", "mario@x.org"}, {"airport_code", "LIRF"}}).status, 201);
  auto del = http_request("DELETE", node->url() + "/user-manager/users/mario@x.org", "",
                          {"Idempotency-Key: del-1"});
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(body_of(http_get(base + "/interests/mario@x.org")), json::array());
  EXPECT_EQ(node->process().output().find("were not removed"), std::string::npos)
    << node->process().output();
}

// -- collection and flight queries ------------------------------------------------------

TEST_F(data_collector, a_new_airport_is_fetched_at_once_and_its_flights_are_queryable) {
  opensky.add_flight({"a00001", now - 7200, now - 3600, "LIRF", "EDDF", "DLH100"});
  opensky.add_flight({"a00002", now - 5400, now - 1800, "EGLL", "LIRF", "BAW200"});
  opensky.add_flight({"a00003", now - 9000, now - 600, "LICC", "LIRF", "AZA300"});
  opensky.add_flight({"a00004", now - 100000, now - 90000, "LIRF", "LFPG", "AFR400"});
  start();
  create_user("mario@x.org");
  ASSERT_EQ(add_interest({{"email", "mario@x.org"}, {"airport_code", "LIRF"}}).status, 201);
  ASSERT_TRUE(opensky.wait_for_flight_requests(2, 5s));
  json all;
  ASSERT_TRUE(fw::test::wait_until(
    [&] {
      all = flights("LIRF");
      return all.size() == 3;
    },
    5s))
    << all.dump() << node->process().output();
  // Newest first by the time at LIRF: a00003 arrived 600 s ago, a00002 1800 s ago, a00001
  // departed 7200 s ago. a00004 is outside the collected 24 h window.
  EXPECT_EQ(all[0]["icao24"], "a00003");
  EXPECT_EQ(all[1]["icao24"], "a00002");
  EXPECT_EQ(all[2]["icao24"], "a00001");
  EXPECT_EQ(all[2]["callsign"], "DLH100");
  EXPECT_EQ(all[2]["est_arrival_airport"], "EDDF");

  auto arrivals = flights("LIRF", "?type=arrivals");
  ASSERT_EQ(arrivals.size(), 2u);
  EXPECT_EQ(flights("LIRF", "?type=departures").size(), 1u);
  EXPECT_EQ(flights("lirf", "?limit=1").size(), 1u);
  EXPECT_EQ(flights("LIRF", "?type=arrivals&since=" + std::to_string(now - 1000)).size(), 1u);
  EXPECT_EQ(flights("LIRF", "?until=" + std::to_string(now - 1000)).size(), 2u);

  auto last = http_get(base + "/flights/last/LIRF?type=arrivals");
  EXPECT_EQ(last.status, 200) << last.body;
  EXPECT_EQ(body_of(last)["icao24"], "a00003");
  EXPECT_EQ(http_get(base + "/flights/last/KJFK").status, 404);

  auto avg = body_of(http_get(base + "/flights/average/LIRF?days=2"));
  EXPECT_EQ(avg["flights"], 3);
  EXPECT_EQ(avg["days"], 2);
  EXPECT_DOUBLE_EQ(avg["average_flights_per_day"].get<double>(), 1.5);
  EXPECT_EQ(body_of(http_get(base + "/flights/average/LIRF"))["days"], 7);

  for (auto bad : {"/flights/LIRF?type=both", "/flights/LIRF?limit=0", "/flights/LIRF?limit=5000",
                   "/flights/LIRF?since=abc", "/flights/ROM1", "/flights/average/LIRF?days=0",
                   "/flights/last/LIRF?type=x"}) {
    auto r = http_get(base + bad);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
  }
  auto m = metrics();
  EXPECT_NE(m.find(R"(flights_fetched_last_collection{airport_code="LIRF",node="test-node",service="data_collector"} 3)"),
            std::string::npos)
    << m;
}

TEST_F(data_collector, flight_lists_are_gzip_encoded_for_clients_that_accept_it) {
  for (int i = 0; i < 10; ++i)
    opensky.add_flight({"b0000" + std::to_string(i), now - 7200 + i * 60, now - 3600 + i * 60,
                        "LIRF", "EDDF", "DLH10" + std::to_string(i)});
  start();
  create_user("mario@x.org");
  ASSERT_EQ(add_interest({{"email", "mario@x.org"}, {"airport_code", "LIRF"}}).status, 201);
  ASSERT_TRUE(fw::test::wait_until([&] { return flights("LIRF").size() == 10; }, 5s));

  auto plain = http_get(base + "/flights/LIRF");
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(plain.headers.count("content-encoding"), 0u);
  EXPECT_EQ(plain.headers["vary"], "Accept-Encoding");
  auto get = [&](const std::string& path, const std::string& accept) {
    return http_request("GET", base + path, "", {"Accept-Encoding: " + accept});
  };
  auto zipped = get("/flights/LIRF", "deflate, gzip;q=0.8");
  ASSERT_EQ(zipped.status, 200);
  EXPECT_EQ(zipped.headers["content-encoding"], "gzip");
  EXPECT_EQ(zipped.headers["vary"], "Accept-Encoding");
  EXPECT_EQ(zipped.headers["content-type"], "application/json");
  EXPECT_LT(zipped.body.size() * 3, plain.body.size());
  EXPECT_EQ(fw::gzip_decompress(zipped.body), plain.body); // the same page, encoded

  auto refused = get("/flights/LIRF", "gzip;q=0, *");
  EXPECT_EQ(refused.headers.count("content-encoding"), 0u);
  EXPECT_EQ(refused.body, plain.body);
  // A page too small to gain goes out as it is, whatever the client accepts.
  auto small = get("/flights/LIRF?limit=1", "gzip");
  EXPECT_EQ(small.headers.count("content-encoding"), 0u);
  EXPECT_EQ(body_of(small).size(), 1u);
  // Errors are plain JSON.
  auto bad = get("/flights/LIRF?limit=0", "gzip");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.headers.count("content-encoding"), 0u);
  EXPECT_EQ(body_of(bad)["error"], "invalid_argument");
}

TEST_F(data_collector, kept_answers_show_new_flights_at_once) {
  // Answers are kept for an hour here: the gateway serves repeated queries from the
  // data-collector's kept answers (on its I/O thread), and new flights must still show at
  // once, on every route.
  opensky.add_flight({"k00001", now - 7200, now - 3600, "EDDF", "LIRF", "DLH1"});
  start({{"FW_COLLECTOR_QUERY_CACHE_TTL", "1h"}});
  create_user("mario@x.org");
  ASSERT_EQ(add_interest({{"email", "mario@x.org"}, {"airport_code", "LIRF"}}).status, 201);
  ASSERT_TRUE(fw::test::wait_until([&] { return flights("LIRF").size() == 1; }, 5s))
    << node->process().output();
  auto average = [&] {
    return body_of(http_get(base + "/flights/average/lirf?days=1"))["flights"];
  };
  auto last = [&] {
    return body_of(http_get(base + "/flights/last/LIRF?type=arrivals"))["icao24"];
  };
  auto zipped = [&] {
    auto r = http_request("GET", base + "/flights/LIRF", "", {"Accept-Encoding: gzip"});
    EXPECT_EQ(r.status, 200);
    return r;
  };
  const auto plain = http_get(base + "/flights/LIRF");
  for (int i = 0; i < 3; ++i) {
    auto again = http_get(base + "/flights/LIRF");
    EXPECT_EQ(again.body, plain.body);
    EXPECT_EQ(again.headers["vary"], "Accept-Encoding");
    EXPECT_EQ(again.headers["content-type"], "application/json");
    EXPECT_EQ(zipped().body, plain.body) << "a page this small goes out as it is";
    EXPECT_EQ(average(), 1);
    EXPECT_EQ(last(), "k00001");
  }
  EXPECT_EQ(http_get(base + "/flights/last/LIRF?type=departures").status, 404);
  EXPECT_EQ(http_get(base + "/flights/last/LIRF?type=departures").status, 404)
    << "a kept \"none\" is still the role's 404";
  EXPECT_EQ(http_get(base + "/flights/LIRF?limit=0").status, 400);
  auto m = metrics();
  EXPECT_NE(m.find(R"(flight_query_cache_lookups_total{node="test-node",result="hit",service="data_collector"})"),
            std::string::npos)
    << m;

  // A new flight to LIRF, stored by the collection of EDDF, where it departed (a new
  // airport is fetched at once; LIRF itself is not fetched again within the hour): every
  // route of LIRF shows it at once, an hour before the kept answers would expire.
  opensky.add_flight({"k00002", now - 3000, now - 600, "EDDF", "LIRF", "DLH2"});
  ASSERT_EQ(add_interest({{"email", "mario@x.org"}, {"airport_code", "EDDF"}}).status, 201);
  ASSERT_TRUE(fw::test::wait_until([&] { return flights("LIRF").size() == 2; }, 5s))
    << node->process().output();
  EXPECT_EQ(average(), 2);
  EXPECT_EQ(last(), "k00002");
  EXPECT_EQ(body_of(zipped())[0]["icao24"], "k00002");
}

TEST_F(data_collector, the_average_counts_only_the_last_x_days) {
  const std::int64_t day = 24 * 3600;
  opensky.add_flight({"g00001", now - 2 * 3600, now - 3600, "LIRF", "EDDF", "A1"});
  opensky.add_flight({"g00002", now - 3 * 3600, now - 7200, "EGLL", "LIRF", "A2"});
  opensky.add_flight({"g00003", now - day - 7200, now - day - 3600, "LIRF", "LICC", "A3"});
  opensky.add_flight({"g00004", now - 3 * day + 3600, now - 3 * day + 7200, "LIMC", "LIRF", "A4"});
  start({{"FW_COLLECTOR_WINDOW", "4d"}});
  create_user("mario@x.org");
  ASSERT_EQ(add_interest({{"email", "mario@x.org"}, {"airport_code", "LIRF"}}).status, 201);
  ASSERT_TRUE(fw::test::wait_until([&] { return flights("LIRF").size() == 4; }, 5s))
    << node->process().output();
  auto average = [&](const std::string& query) {
    auto r = http_get(base + "/flights/average/LIRF" + query);
    EXPECT_EQ(r.status, 200) << r.body;
    return body_of(r);
  };
  auto one = average("?days=1");
  EXPECT_EQ(one["flights"], 2);
  EXPECT_DOUBLE_EQ(one["average_flights_per_day"].get<double>(), 2.0);
  EXPECT_EQ(average("?days=2")["flights"], 3);
  auto four = average("?days=4");
  EXPECT_EQ(four["flights"], 4);
  EXPECT_DOUBLE_EQ(four["average_flights_per_day"].get<double>(), 1.0);
  auto departures = average("?days=4&type=departures");
  EXPECT_EQ(departures["flights"], 2);
  EXPECT_EQ(departures["type"], "departures");
}

TEST_F(data_collector, repeated_collections_store_each_flight_once) {
  opensky.add_flight({"b00001", now - 7200, now - 3600, "LIRF", "EDDF", "DLH100"});
  opensky.add_flight({"b00002", now - 5400, now - 1800, "EGLL", "LIRF", "BAW200"});
  start({{"FW_COLLECTOR_INTERVAL", "300ms"}});
  create_user("mario@x.org");
  ASSERT_EQ(add_interest({{"email", "mario@x.org"}, {"airport_code", "LIRF"}}).status, 201);
  ASSERT_TRUE(opensky.wait_for_flight_requests(8, 10s)) << node->process().output();
  EXPECT_EQ(flights("LIRF").size(), 2u);
  opensky.add_flight({"b00003", now - 900, now - 300, "LIRF", "LICC", "AZA1"});
  ASSERT_TRUE(fw::test::wait_until([&] { return flights("LIRF").size() == 3; }, 5s));
  ASSERT_TRUE(opensky.wait_for_flight_requests(opensky.flight_request_count() + 4, 5s));
  EXPECT_EQ(flights("LIRF").size(), 3u);
}

TEST_F(data_collector, opensky_failures_store_nothing_and_open_the_breaker) {
  opensky.add_flight({"c00001", now - 7200, now - 3600, "LIRF", "EDDF", "DLH100"});
  opensky.fail_next(100, 500);
  start({{"FW_COLLECTOR_INTERVAL", "200ms"},
         {"FW_OPENSKY_BREAKER_FAILURES", "3"},
         {"FW_OPENSKY_BREAKER_OPEN", "1s"}});
  create_user("mario@x.org");
  ASSERT_EQ(add_interest({{"email", "mario@x.org"}, {"airport_code", "LIRF"}}).status, 201);
  // Three failed calls open the breaker; while it is open OpenSky is not called at all.
  ASSERT_TRUE(fw::test::wait_until(
    [&] { return metrics().find("opensky_circuit_breaker_state{node=\"test-node\",service=\"data_collector\"} 1") != std::string::npos; },
    5s))
    << metrics();
  const auto calls_when_open = opensky.flight_request_count();
  EXPECT_EQ(calls_when_open, 3u);
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(opensky.flight_request_count(), calls_when_open);
  EXPECT_EQ(flights("LIRF"), json::array()); // nothing invented
  EXPECT_NE(metrics().find("opensky_api_calls_total{node=\"test-node\",service=\"data_collector\",status=\"500\"} 3"), std::string::npos);

  // OpenSky recovers: the trial call after breaker_open succeeds and closes the breaker.
  opensky.clear_scripted_failures();
  ASSERT_TRUE(fw::test::wait_until([&] { return flights("LIRF").size() == 1; }, 5s))
    << node->process().output();
  EXPECT_NE(metrics().find("opensky_circuit_breaker_state{node=\"test-node\",service=\"data_collector\"} 0"), std::string::npos);
}

TEST_F(data_collector, rate_limited_collection_waits_for_the_retry_after) {
  opensky.add_flight({"d00001", now - 7200, now - 3600, "LIRF", "EDDF", "DLH100"});
  opensky.rate_limit_next(1, 2);
  opensky.set_remaining_credits(321);
  start({{"FW_COLLECTOR_INTERVAL", "200ms"}});
  create_user("mario@x.org");
  const auto start_time = std::chrono::steady_clock::now();
  ASSERT_EQ(add_interest({{"email", "mario@x.org"}, {"airport_code", "LIRF"}}).status, 201);
  ASSERT_TRUE(opensky.wait_for_flight_requests(1, 5s));
  ASSERT_TRUE(fw::test::wait_until([&] { return flights("LIRF").size() == 1; }, 8s));
  // The second call came only after the 2 s OpenSky asked for.
  auto reqs = opensky.flight_requests();
  ASSERT_GE(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].status, 429u);
  EXPECT_GE(std::chrono::steady_clock::now() - start_time, 2s);
  EXPECT_NE(metrics().find("opensky_credits_remaining{node=\"test-node\",service=\"data_collector\"} 321"), std::string::npos);
}

TEST_F(data_collector, credentials_are_used_and_an_expired_token_is_refreshed_once) {
  opensky.add_flight({"e00001", now - 7200, now - 3600, "LIRF", "EDDF", "DLH100"});
  opensky.require_credentials("fw-client", "s3cret");
  start({{"FW_OPENSKY_CLIENT_ID", "fw-client"},
         {"FW_OPENSKY_CLIENT_SECRET", "s3cret"},
         {"FW_COLLECTOR_INTERVAL", "300ms"}});
  create_user("mario@x.org");
  ASSERT_EQ(add_interest({{"email", "mario@x.org"}, {"airport_code", "LIRF"}}).status, 201);
  ASSERT_TRUE(fw::test::wait_until([&] { return flights("LIRF").size() == 1; }, 5s));
  EXPECT_EQ(opensky.tokens_issued(), 1u);
  opensky.expire_tokens();
  const auto before = opensky.flight_request_count();
  ASSERT_TRUE(opensky.wait_for_flight_requests(before + 4, 5s));
  EXPECT_EQ(opensky.tokens_issued(), 2u);
  for (const auto& r : opensky.flight_requests())
    EXPECT_TRUE(r.had_bearer);
  EXPECT_EQ(node->process().output().find("s3cret"), std::string::npos);
}

} // namespace
