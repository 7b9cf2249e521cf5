// The data-collector's input rules (ICAO codes, thresholds, flight queries), OpenSky's
// flight JSON, and the circuit breaker that guards every OpenSky call.

#include "actors/common/circuit_breaker.hpp"
#include "actors/data_collector/interest_rules.hpp"
#include "actors/data_collector/opensky_client.hpp"

#include <gtest/gtest.h>

namespace {

using namespace fw::data_collector;
using namespace std::chrono_literals;

TEST(interest_rules, airport_codes_are_four_letters_upper_cased) {
  std::string code = " lirf ";
  EXPECT_EQ(check_airport(code), std::nullopt);
  EXPECT_EQ(code, "LIRF");
  for (std::string bad : {"", "LIR", "LIRFX", "L1RF", "LI-F", "ÄBCD"})
    EXPECT_NE(check_airport(bad), std::nullopt) << bad;
}

TEST(interest_rules, thresholds) {
  auto with = [](caf::optional<std::int64_t> high, caf::optional<std::int64_t> low) {
    fw::interest i{" Anna@X.org", "lirf", high, low};
    return check_interest(i);
  };
  EXPECT_EQ(with(caf::none, caf::none), std::nullopt);
  EXPECT_EQ(with(std::int64_t{10}, caf::none), std::nullopt);
  EXPECT_EQ(with(caf::none, std::int64_t{0}), std::nullopt);
  EXPECT_EQ(with(std::int64_t{10}, std::int64_t{9}), std::nullopt);
  EXPECT_EQ(with(std::int64_t{9}, std::int64_t{9}), "high_value must be greater than low_value");
  EXPECT_EQ(with(std::int64_t{-1}, caf::none), "high_value must not be negative");
  EXPECT_EQ(with(caf::none, std::int64_t{-5}), "low_value must not be negative");
  fw::interest i{" Anna@X.org", "lirf", caf::none, caf::none};
  ASSERT_EQ(check_interest(i), std::nullopt);
  EXPECT_EQ(i.user_email, "anna@x.org");
  EXPECT_EQ(i.airport_code, "LIRF");
}

TEST(interest_rules, flight_queries) {
  fw::flight_query q{"lirf", "", 100, caf::none, caf::none};
  EXPECT_EQ(check_flight_query(q), std::nullopt);
  q.type = "arrivals";
  EXPECT_EQ(check_flight_query(q), std::nullopt);
  q.type = "both";
  EXPECT_NE(check_flight_query(q), std::nullopt);
  q.type = "";
  q.limit = 0;
  EXPECT_NE(check_flight_query(q), std::nullopt);
  q.limit = 1001;
  EXPECT_NE(check_flight_query(q), std::nullopt);
  q.limit = 1000;
  q.since = 10;
  q.until = 5;
  EXPECT_EQ(check_flight_query(q), "since must not be after until");
}

TEST(opensky_json, parses_the_wire_format_and_trims_callsigns) {
  auto flights = fw::parse_opensky_flights(R"([
    {"icao24":"3c675a","firstSeen":1739690000,"estDepartureAirport":"EDDF",
     "lastSeen":1739700000,"estArrivalAirport":"LIRF","callsign":"DLH123  ",
     "estDepartureAirportHorizDistance":1234,"estDepartureAirportVertDistance":56,
     "estArrivalAirportHorizDistance":789,"estArrivalAirportVertDistance":12,
     "departureAirportCandidatesCount":1,"arrivalAirportCandidatesCount":2},
    {"icao24":"406287","firstSeen":1,"estDepartureAirport":null,"lastSeen":2,
     "estArrivalAirport":"LIRF","callsign":null,"estDepartureAirportHorizDistance":null,
     "estDepartureAirportVertDistance":null,"estArrivalAirportHorizDistance":null,
     "estArrivalAirportVertDistance":null,"departureAirportCandidatesCount":0,
     "arrivalAirportCandidatesCount":0}])");
  ASSERT_EQ(flights.size(), 2u);
  EXPECT_EQ(flights[0].callsign, "DLH123");
  EXPECT_EQ(flights[0].est_departure_airport_horiz_distance, std::int64_t{1234});
  EXPECT_EQ(flights[1].est_departure_airport, "");
  EXPECT_EQ(flights[1].callsign, "");
  EXPECT_EQ(flights[1].est_arrival_airport_vert_distance, caf::none);
  EXPECT_THROW(fw::parse_opensky_flights(R"({"error":"x"})"), std::exception);
  EXPECT_THROW(fw::parse_opensky_flights(R"([{"icao24":"x"}])"), std::exception);
}

TEST(circuit_breaker, opens_after_consecutive_failures_and_closes_after_a_good_trial) {
  using clock = fw::circuit_breaker::clock;
  fw::circuit_breaker b{3, 60s};
  auto t = clock::now();
  EXPECT_TRUE(b.allow(t));
  b.record_failure(t);
  b.record_failure(t);
  b.record_success(); // a success resets the count
  b.record_failure(t);
  b.record_failure(t);
  EXPECT_EQ(b.current(), fw::circuit_breaker::state::closed);
  b.record_failure(t);
  EXPECT_EQ(b.current(), fw::circuit_breaker::state::open);
  EXPECT_FALSE(b.allow(t + 59s));
  EXPECT_TRUE(b.allow(t + 61s)); // the one trial
  EXPECT_EQ(b.current(), fw::circuit_breaker::state::half_open);
  EXPECT_FALSE(b.allow(t + 61s)); // nobody else while it runs
  b.record_failure(t + 62s);     // failed trial: open again, for the full time
  EXPECT_EQ(b.current(), fw::circuit_breaker::state::open);
  EXPECT_FALSE(b.allow(t + 100s));
  EXPECT_TRUE(b.allow(t + 123s));
  b.record_success();
  EXPECT_EQ(b.current(), fw::circuit_breaker::state::closed);
  EXPECT_TRUE(b.allow(t + 123s));
}

} // namespace

// -- sharding the collection ---------------------------------------------------------------

#include "actors/data_collector/sharding.hpp"

#include <map>

namespace {

std::vector<std::string> airports(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    std::string code = "AAAA";
    for (int k = 0, v = i; k < 4; ++k, v /= 26)
      code[3 - k] = static_cast<char>('A' + v % 26);
    out.push_back(code);
  }
  return out;
}

TEST(sharding, every_airport_has_one_owner_among_the_nodes_the_same_on_every_node) {
  const std::vector<std::string> nodes{"node-a", "node-b", "node-c"};
  std::map<std::string, int> per_node;
  for (const auto& a : airports(3000)) {
    const auto& owner = fw::data_collector::owner_of(a, nodes);
    ++per_node[owner];
    // The order nodes are listed in does not matter.
    EXPECT_EQ(owner, fw::data_collector::owner_of(a, {"node-c", "node-a", "node-b"}));
  }
  ASSERT_EQ(per_node.size(), 3u);
  for (const auto& [node, n] : per_node)
    EXPECT_GT(n, 800) << node << " gets about a third";
  EXPECT_EQ(fw::data_collector::owner_of("LIRF", {"solo"}), "solo");
}

TEST(sharding, only_the_airports_of_a_lost_or_new_node_move) {
  const std::vector<std::string> three{"node-a", "node-b", "node-c"};
  const std::vector<std::string> two{"node-a", "node-c"};
  int moved = 0;
  for (const auto& a : airports(3000)) {
    const auto& before = fw::data_collector::owner_of(a, three);
    const auto& after = fw::data_collector::owner_of(a, two);
    if (before != "node-b")
      EXPECT_EQ(after, before) << a << " moved though its owner stayed";
    else
      ++moved;
    // And back: node-b rejoining takes exactly its airports back.
    EXPECT_EQ(fw::data_collector::owner_of(a, three), before);
  }
  EXPECT_GT(moved, 800);
}

} // namespace
