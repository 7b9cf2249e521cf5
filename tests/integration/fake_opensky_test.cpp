// The fake OpenSky (tests/fakes/fake_opensky.hpp) speaks OpenSky's wire format:
// checked with plain libcurl requests, then by driving the real fw::opensky_client
// against it. Also: the demo traffic generator is deterministic and plausible.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/common/http_client.hpp"
#include "actors/common/metrics.hpp"
#include "actors/data_collector/opensky_client.hpp"
#include "messages/errors.hpp"
#include "tests/fakes/fake_opensky.hpp"
#include "tests/support/net.hpp"

namespace fw::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr std::int64_t day = 24 * 3600;
constexpr std::int64_t t0 = 1739690000;  // 2025-02-16 07:13:20 UTC

std::string token_form(const std::string& id, const std::string& secret,
                       const std::string& grant = "client_credentials") {
  return "grant_type=" + grant + "&client_id=" + url_encode(id) +
         "&client_secret=" + url_encode(secret);
}

http_result post_token(const fake_opensky& fake, const std::string& form) {
  return http_request("POST", fake.token_url(), form,
                      {"Content-Type: application/x-www-form-urlencoded"});
}

std::string get_token(const fake_opensky& fake, const std::string& id,
                      const std::string& secret) {
  auto r = post_token(fake, token_form(id, secret));
  EXPECT_EQ(r.status, 200) << r.body << r.error;
  return json::parse(r.body).at("access_token").get<std::string>();
}

std::string flights_url(const fake_opensky& fake, const std::string& kind,
                        const std::string& airport, std::int64_t begin, std::int64_t end) {
  return fake.url() + "/flights/" + kind + "?airport=" + airport +
         "&begin=" + std::to_string(begin) + "&end=" + std::to_string(end);
}

http_result get_flights(const fake_opensky& fake, const std::string& kind,
                        const std::string& airport, std::int64_t begin, std::int64_t end,
                        const std::string& token = "") {
  std::vector<std::string> headers{"Accept: application/json"};
  if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
  return http_request("GET", flights_url(fake, kind, airport, begin, end), "", headers);
}

std::set<std::string> icaos(const json& flights) {
  std::set<std::string> out;
  for (const auto& f : flights) out.insert(f.at("icao24").get<std::string>());
  return out;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------------------
// Wire format, over plain HTTP

TEST(FakeOpenSky, UrlsLookLikeOpenSkys) {
  fake_opensky fake;
  EXPECT_EQ(fake.url(), "http://127.0.0.1:" + std::to_string(fake.port()) + "/api");
  EXPECT_EQ(fake.token_url(),
            "http://127.0.0.1:" + std::to_string(fake.port()) +
                "/auth/realms/opensky-network/protocol/openid-connect/token");
}

TEST(FakeOpenSky, TokenFlow) {
  fake_opensky fake;
  fake.require_credentials("demo-client", "s3cr&t");
  fake.set_token_lifetime(900s);

  auto ok = post_token(fake, token_form("demo-client", "s3cr&t"));
  ASSERT_EQ(ok.status, 200) << ok.body << ok.error;
  EXPECT_EQ(ok.headers["content-type"], "application/json");
  auto j = json::parse(ok.body);
  EXPECT_FALSE(j.at("access_token").get<std::string>().empty());
  EXPECT_EQ(j.at("expires_in"), 900);
  EXPECT_EQ(j.at("token_type"), "Bearer");

  auto second = post_token(fake, token_form("demo-client", "s3cr&t"));
  ASSERT_EQ(second.status, 200);
  EXPECT_NE(json::parse(second.body).at("access_token"), j.at("access_token"));

  auto wrong = post_token(fake, token_form("demo-client", "nope"));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(json::parse(wrong.body).at("error"), "invalid_client");
  auto grant = post_token(fake, token_form("demo-client", "s3cr&t", "password"));
  EXPECT_EQ(grant.status, 400);
  EXPECT_EQ(json::parse(grant.body).at("error"), "unsupported_grant_type");

  fake.fail_token_next(1, 503);
  EXPECT_EQ(post_token(fake, token_form("demo-client", "s3cr&t")).status, 503);

  EXPECT_EQ(fake.token_request_count(), 5u);
  EXPECT_EQ(fake.tokens_issued(), 2u);
  EXPECT_EQ(fake.flight_request_count(), 0u);
}

TEST(FakeOpenSky, FlightsNeedAValidBearerOnceCredentialsAreRequired) {
  fake_opensky fake;
  fake.add_arrival("EDDF", {"3c675a", t0, t0 + 3600, "LIRF", std::nullopt, "DLH123"});
  const auto b = t0, e = t0 + 7200;

  // Anonymous access works until credentials are required...
  EXPECT_EQ(get_flights(fake, "arrival", "EDDF", b, e).status, 200);
  // ...but a token that is presented must be valid.
  EXPECT_EQ(get_flights(fake, "arrival", "EDDF", b, e, "forged").status, 401);

  fake.require_credentials("id", "secret");
  auto none = get_flights(fake, "arrival", "EDDF", b, e);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.headers["www-authenticate"], "Bearer");

  auto token = get_token(fake, "id", "secret");
  EXPECT_EQ(get_flights(fake, "arrival", "EDDF", b, e, token).status, 200);

  fake.expire_tokens();
  auto expired = get_flights(fake, "arrival", "EDDF", b, e, token);
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(expired.headers["www-authenticate"].find("invalid_token"), std::string::npos);

  token = get_token(fake, "id", "secret");
  EXPECT_EQ(get_flights(fake, "arrival", "EDDF", b, e, token).status, 200);

  // Tokens also run out by themselves.
  fake.set_token_lifetime(1s);
  auto short_lived = get_token(fake, "id", "secret");
  EXPECT_EQ(get_flights(fake, "arrival", "EDDF", b, e, short_lived).status, 200);
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(get_flights(fake, "arrival", "EDDF", b, e, short_lived).status, 401);

  auto reqs = fake.flight_requests();
  ASSERT_EQ(reqs.size(), 8u);
  EXPECT_FALSE(reqs[0].had_bearer);
  EXPECT_EQ(reqs[0].status, 200u);
  EXPECT_TRUE(reqs[1].had_bearer);
  EXPECT_FALSE(reqs[1].bearer_valid);
  EXPECT_FALSE(reqs[2].had_bearer);
  EXPECT_EQ(reqs[2].status, 401u);
  EXPECT_TRUE(reqs[3].bearer_valid);
  EXPECT_EQ(reqs[3].airport, "EDDF");
  EXPECT_EQ(reqs[3].begin, b);
  EXPECT_EQ(reqs[3].end, e);
  EXPECT_EQ(reqs[3].endpoint, opensky_endpoint::arrival);
  EXPECT_EQ(reqs[3].flights, 1u);
  EXPECT_TRUE(reqs[4].had_bearer);
  EXPECT_FALSE(reqs[4].bearer_valid);
  EXPECT_EQ(reqs[7].status, 401u);
}

TEST(FakeOpenSky, ServesOpenSkysFlightObjects) {
  fake_opensky fake;
  fake_flight f{"3c675a", 1739690000, 1739700000, "EDDF", "LIRF", "DLH123"};
  f.departure_horiz_distance = 1234;
  f.departure_vert_distance = 56;
  f.arrival_horiz_distance = 789;
  f.arrival_vert_distance = 12;
  f.departure_candidates = 1;
  f.arrival_candidates = 2;
  fake.add_flight(f);
  fake.add_flight({"4ca7b3", 1739690500, 1739701000, std::nullopt, "LIRF", std::nullopt});

  auto r = get_flights(fake, "arrival", "LIRF", 1739699000, 1739702000);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json");
  // Exactly OpenSky's field names, order and padding.
  EXPECT_EQ(r.body,
            R"([{"icao24":"3c675a","firstSeen":1739690000,"estDepartureAirport":"EDDF",)"
            R"("lastSeen":1739700000,"estArrivalAirport":"LIRF","callsign":"DLH123  ",)"
            R"("estDepartureAirportHorizDistance":1234,"estDepartureAirportVertDistance":56,)"
            R"("estArrivalAirportHorizDistance":789,"estArrivalAirportVertDistance":12,)"
            R"("departureAirportCandidatesCount":1,"arrivalAirportCandidatesCount":2},)"
            R"({"icao24":"4ca7b3","firstSeen":1739690500,"estDepartureAirport":null,)"
            R"("lastSeen":1739701000,"estArrivalAirport":"LIRF","callsign":null,)"
            R"("estDepartureAirportHorizDistance":null,"estDepartureAirportVertDistance":null,)"
            R"("estArrivalAirportHorizDistance":null,"estArrivalAirportVertDistance":null,)"
            R"("departureAirportCandidatesCount":null,"arrivalAirportCandidatesCount":null}])");
  EXPECT_EQ(to_opensky_json(std::vector<fake_flight>{f}),
            "[" + to_opensky_json(f) + "]");
}

TEST(FakeOpenSky, FiltersByAirportAndInterval) {
  fake_opensky fake;
  // Arrivals at EDDF by lastSeen, departures from EDDF by firstSeen.
  fake.add_flight({"000001", t0 - 5000, t0 + 100, "LIRF", "EDDF", "AAA1"});
  fake.add_flight({"000002", t0 + 200, t0 + 3000, "EDDF", "LICC", "AAA2"});
  fake.add_flight({"000003", t0 - 900, t0 + 3600, "EGLL", "EDDF", "AAA3"});  // end: inclusive
  fake.add_flight({"000004", t0 - 100, t0 + 3601, "EDDF", "EDDF", "AAA4"});  // after end
  fake.add_arrival("LIRF", {"000005", t0 + 10, t0 + 20, "EDDF", std::nullopt, "AAA5"});
  fake.add_departure("EDDM", {"000006", t0, t0 + 50, std::nullopt, "EDDF", "AAA6"});

  auto arr = get_flights(fake, "arrival", "EDDF", t0, t0 + 3600);
  ASSERT_EQ(arr.status, 200) << arr.body;
  EXPECT_EQ(icaos(json::parse(arr.body)), (std::set<std::string>{"000001", "000003", "000006"}));

  auto dep = get_flights(fake, "departure", "EDDF", t0, t0 + 3600);
  ASSERT_EQ(dep.status, 200) << dep.body;
  EXPECT_EQ(icaos(json::parse(dep.body)), (std::set<std::string>{"000002", "000005"}));

  auto dep_earlier = get_flights(fake, "departure", "EDDF", t0 - 100, t0 + 3600);
  EXPECT_EQ(icaos(json::parse(dep_earlier.body)),
            (std::set<std::string>{"000002", "000004", "000005"}));

  auto lirf = get_flights(fake, "arrival", "LIRF", t0, t0 + 3600);
  EXPECT_EQ(icaos(json::parse(lirf.body)), (std::set<std::string>{"000005"}));
  auto eddm = get_flights(fake, "departure", "eddm", t0, t0 + 3600);  // case-insensitive
  EXPECT_EQ(icaos(json::parse(eddm.body)), (std::set<std::string>{"000006"}));

  fake.clear_flights();
  EXPECT_EQ(get_flights(fake, "arrival", "EDDF", t0, t0 + 3600).status, 404);
}

TEST(FakeOpenSky, NotFoundWhenNoFlightInTheInterval) {
  fake_opensky fake;
  fake.add_arrival("EDDF", {"3c675a", t0, t0 + 3600, "LIRF", std::nullopt, "DLH123"});
  auto r = get_flights(fake, "arrival", "EDDF", t0 + 3601, t0 + 7200);
  EXPECT_EQ(r.status, 404);
  EXPECT_FALSE(r.body.empty());
  EXPECT_EQ(json::parse(r.body).at("status"), 404);
  EXPECT_EQ(get_flights(fake, "arrival", "LICC", t0, t0 + 7200).status, 404);
  EXPECT_EQ(get_flights(fake, "departure", "EDDF", t0, t0 + 7200).status, 404);
}

TEST(FakeOpenSky, RejectsBadParametersAndIntervalsOverTwoDays) {
  fake_opensky fake;
  fake.add_arrival("EDDF", {"3c675a", t0, t0 + 3600, "LIRF", std::nullopt, "DLH123"});
  EXPECT_EQ(get_flights(fake, "arrival", "EDDF", t0, t0 + 2 * day + 1).status, 400);
  EXPECT_EQ(get_flights(fake, "arrival", "EDDF", t0 - day, t0 + day).status, 200);  // 2 days: fine
  EXPECT_EQ(get_flights(fake, "departure", "EDDF", t0, t0 + 3 * day).status, 400);
  EXPECT_EQ(get_flights(fake, "arrival", "EDDF", t0 + 10, t0).status, 400);  // begin > end
  EXPECT_EQ(http_get(fake.url() + "/flights/arrival?airport=EDDF&begin=1").status, 400);
  EXPECT_EQ(http_get(fake.url() + "/flights/arrival?begin=1&end=2").status, 400);
  EXPECT_EQ(http_get(fake.url() + "/flights/arrival?airport=EDDF&begin=x&end=2").status, 400);
  auto r = get_flights(fake, "arrival", "EDDF", t0, t0 + 2 * day + 1);
  EXPECT_EQ(json::parse(r.body).at("status"), 400);
}

TEST(FakeOpenSky, RateLimitWithRetryAfterHeader) {
  fake_opensky fake;
  fake.add_arrival("EDDF", {"3c675a", t0, t0 + 3600, "LIRF", std::nullopt, "DLH123"});
  fake.rate_limit_next(2, 42);
  for (int i = 0; i < 2; ++i) {
    auto r = get_flights(fake, "arrival", "EDDF", t0, t0 + 7200);
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.headers["x-rate-limit-retry-after-seconds"], "42");
  }
  auto ok = get_flights(fake, "arrival", "EDDF", t0, t0 + 7200);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.headers.count("x-rate-limit-retry-after-seconds"), 0u);
}

TEST(FakeOpenSky, ScriptedFailuresQueueInOrder) {
  fake_opensky fake;
  fake.add_arrival("EDDF", {"3c675a", t0, t0 + 3600, "LIRF", std::nullopt, "DLH123"});
  fake.fail_next(2, 503);
  fake.rate_limit_next(1, 5);
  fake.fail_next(1);  // 500
  std::vector<long> got;
  for (int i = 0; i < 5; ++i) got.push_back(get_flights(fake, "arrival", "EDDF", t0, t0 + 7200).status);
  EXPECT_EQ(got, (std::vector<long>{503, 503, 429, 500, 200}));

  fake.fail_next(3, 502);
  fake.clear_scripted_failures();
  EXPECT_EQ(get_flights(fake, "arrival", "EDDF", t0, t0 + 7200).status, 200);
  // The token endpoint is not affected by flights failures.
  fake.fail_next(1, 500);
  EXPECT_EQ(post_token(fake, token_form("a", "b")).status, 200);
  EXPECT_EQ(get_flights(fake, "arrival", "EDDF", t0, t0 + 7200).status, 500);
}

TEST(FakeOpenSky, RemainingCreditsHeaderOnEveryAnswer) {
  fake_opensky fake;
  fake.add_arrival("EDDF", {"3c675a", t0, t0 + 3600, "LIRF", std::nullopt, "DLH123"});
  EXPECT_EQ(get_flights(fake, "arrival", "EDDF", t0, t0 + 7200).headers.count("x-rate-limit-remaining"), 0u);
  fake.set_remaining_credits(3997);
  auto ok = get_flights(fake, "arrival", "EDDF", t0, t0 + 7200);
  EXPECT_EQ(ok.headers["x-rate-limit-remaining"], "3997");
  auto empty = get_flights(fake, "arrival", "EDDF", t0 + day, t0 + day + 10);
  EXPECT_EQ(empty.status, 404);
  EXPECT_EQ(empty.headers["x-rate-limit-remaining"], "3997");
  fake.fail_next(1, 500);
  EXPECT_EQ(get_flights(fake, "arrival", "EDDF", t0, t0 + 7200).headers["x-rate-limit-remaining"], "3997");
  fake.set_remaining_credits(std::nullopt);
  EXPECT_EQ(get_flights(fake, "arrival", "EDDF", t0, t0 + 7200).headers.count("x-rate-limit-remaining"), 0u);
}

TEST(FakeOpenSky, DelayAndOutage) {
  fake_opensky fake;
  fake.add_arrival("EDDF", {"3c675a", t0, t0 + 3600, "LIRF", std::nullopt, "DLH123"});
  fake.set_delay(400ms);
  auto slow = http_request("GET", flights_url(fake, "arrival", "EDDF", t0, t0 + 7200), "", {}, 100ms);
  EXPECT_EQ(slow.status, 0);
  auto start = std::chrono::steady_clock::now();
  auto late = get_flights(fake, "arrival", "EDDF", t0, t0 + 7200);
  EXPECT_EQ(late.status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 380ms);
  // Token answers are not delayed.
  start = std::chrono::steady_clock::now();
  EXPECT_EQ(post_token(fake, token_form("a", "b")).status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 300ms);
  fake.set_delay(0ms);

  fake.stop();
  EXPECT_FALSE(fake.running());
  EXPECT_EQ(get_flights(fake, "arrival", "EDDF", t0, t0 + 7200).status, 0);
  fake.start();
  EXPECT_EQ(get_flights(fake, "arrival", "EDDF", t0, t0 + 7200).status, 200);
  EXPECT_TRUE(fake.wait_for_flight_requests(3, 1s));
  EXPECT_EQ(fake.request_count(), 4u);  // the token request included

  fake.clear_requests();
  EXPECT_EQ(fake.request_count(), 0u);
  EXPECT_TRUE(fake.flight_requests().empty());
  EXPECT_EQ(fake.token_request_count(), 0u);
}

// ---------------------------------------------------------------------------
// The demo traffic generator

TEST(TrafficGenerator, SameIntervalSameFlights) {
  const std::int64_t from = t0 - 7 * day;
  traffic_generator a{{"EDDF", "LICC", "LIRF"}, 7, from};
  traffic_generator same{{"EDDF", "LICC", "LIRF"}, 7, from};
  traffic_generator other{{"EDDF", "LICC", "LIRF"}, 8, from};
  const auto now = t0;
  for (auto ep : {opensky_endpoint::arrival, opensky_endpoint::departure}) {
    auto first = a.flights(ep, "EDDF", t0 - 2 * day, t0 - day, now);
    ASSERT_FALSE(first.empty());
    EXPECT_EQ(first, a.flights(ep, "EDDF", t0 - 2 * day, t0 - day, now));
    EXPECT_EQ(first, same.flights(ep, "EDDF", t0 - 2 * day, t0 - day, now));
    EXPECT_NE(first, other.flights(ep, "EDDF", t0 - 2 * day, t0 - day, now));

    // A sub-interval yields exactly the matching part of the bigger one.
    const auto b = t0 - 2 * day + 5000, e = t0 - 2 * day + 30000;
    std::vector<fake_flight> expected;
    for (const auto& f : first) {
      const auto t = ep == opensky_endpoint::arrival ? f.last_seen : f.first_seen;
      if (b <= t && t <= e) expected.push_back(f);
    }
    EXPECT_EQ(a.flights(ep, "EDDF", b, e, now), expected);
  }
}

TEST(TrafficGenerator, PlausibleTraffic) {
  const std::int64_t from = t0 - 7 * day;
  traffic_generator gen{{"EDDF", "LICC", "XYZW"}, 1, from};
  const std::regex icao24{"[0-9a-f]{6}"};
  const std::regex callsign{"[A-Z]{3}[0-9]{1,4}[A-Z]{0,2}"};
  // A whole UTC day, six days ago.
  const std::int64_t midnight = (t0 / day - 6) * day;
  std::map<std::string, std::size_t> per_day;
  for (const std::string airport : {"EDDF", "LICC", "XYZW"}) {
    auto arr = gen.flights(opensky_endpoint::arrival, airport, midnight, midnight + day - 1, t0);
    auto dep = gen.flights(opensky_endpoint::departure, airport, midnight, midnight + day - 1, t0);
    per_day[airport] = arr.size() + dep.size();
    EXPECT_GE(per_day[airport], 60u) << airport;
    EXPECT_LE(per_day[airport], 1000u) << airport;

    std::size_t night = 0, midday = 0;
    for (const auto& f : arr) {
      EXPECT_TRUE(std::regex_match(f.icao24, icao24)) << f.icao24;
      if (f.callsign) {
        EXPECT_TRUE(std::regex_match(*f.callsign, callsign)) << *f.callsign;
      }
      EXPECT_EQ(f.arrival, airport);
      EXPECT_NE(f.departure, airport);
      EXPECT_LT(f.first_seen, f.last_seen);
      EXPECT_LE(f.last_seen - f.first_seen, 16 * 3600);
      const auto hour = (f.last_seen - midnight) / 3600;
      if (hour >= 1 && hour < 4) ++night;
      if (hour >= 10 && hour < 13) ++midday;
    }
    for (const auto& f : dep) EXPECT_EQ(f.departure, airport);
    EXPECT_GT(midday, 2 * night) << airport << ": more traffic by day than at night";
    EXPECT_TRUE(std::is_sorted(arr.begin(), arr.end(), [](const auto& x, const auto& y) {
      return x.last_seen < y.last_seen;
    }));
  }
  EXPECT_GT(per_day["EDDF"], 2 * per_day["LICC"]) << "a hub is busier";
  EXPECT_TRUE(gen.flights(opensky_endpoint::arrival, "LIRF", midnight, midnight + day, t0).empty())
      << "only the listed airports have traffic";
}

TEST(TrafficGenerator, HistoryStartsAtAvailableFromAndGrowsWithTime) {
  const std::int64_t from = t0 - 7 * day;
  traffic_generator gen{{"EDDF"}, 3, from};
  EXPECT_TRUE(gen.flights(opensky_endpoint::arrival, "EDDF", from - day, from, t0).empty());
  for (const auto& f : gen.flights(opensky_endpoint::departure, "EDDF", from, from + day, t0))
    EXPECT_GE(f.first_seen, from);

  // Later, more has landed; nothing that was reported disappears or changes.
  auto earlier = gen.flights(opensky_endpoint::arrival, "EDDF", t0 - day, t0 + day, t0);
  auto later = gen.flights(opensky_endpoint::arrival, "EDDF", t0 - day, t0 + day, t0 + 6 * 3600);
  EXPECT_GT(later.size(), earlier.size());
  for (const auto& f : earlier) EXPECT_NE(std::find(later.begin(), later.end(), f), later.end());
  for (const auto& f : later) EXPECT_LE(f.last_seen, t0 + 6 * 3600);
  auto departures = gen.flights(opensky_endpoint::departure, "EDDF", t0 - 3600, t0, t0);
  for (const auto& f : departures) EXPECT_LE(f.last_seen, t0) << "still in the air";
}

TEST(TrafficGenerator, ServedByTheFakeDeterministically) {
  fake_opensky fake;
  const auto now = unix_now();
  fake.set_generator(std::make_shared<traffic_generator>(std::vector<std::string>{"EDDF"}, 5,
                                                         now - 7 * day));
  const auto b = now - 3 * day, e = now - 2 * day;
  auto first = get_flights(fake, "arrival", "EDDF", b, e);
  ASSERT_EQ(first.status, 200);
  auto again = get_flights(fake, "arrival", "EDDF", b, e);
  EXPECT_EQ(first.body, again.body);
  auto parsed = parse_opensky_flights(first.body);  // the real client's parser accepts it
  EXPECT_EQ(parsed.size(), json::parse(first.body).size());
  EXPECT_GT(parsed.size(), 100u);

  // Added flights are served alongside generated ones.
  fake.add_arrival("EDDF", {"abcdef", b + 10, b + 20, "LIRF", std::nullopt, "TST1"});
  auto more = json::parse(get_flights(fake, "arrival", "EDDF", b, e).body);
  EXPECT_EQ(more.size(), parsed.size() + 1);
  EXPECT_EQ(get_flights(fake, "arrival", "LIRF", b, e).status, 404);
  fake.set_generator(nullptr);
  EXPECT_EQ(json::parse(get_flights(fake, "arrival", "EDDF", b, e).body).size(), 1u);
}

// ---------------------------------------------------------------------------
// The real client against the fake

class OpenSkyClientAgainstFake : public ::testing::Test {
 protected:
  OpenSkyClientAgainstFake() {
    fake.require_credentials("fw-client", "fw-secret");
    cfg.base_url = fake.url();
    cfg.auth_url = fake.token_url();
    cfg.client_id = "fw-client";
    cfg.client_secret = "fw-secret";
    cfg.timeout = std::chrono::seconds{5};
  }

  fake_opensky fake;
  opensky_settings cfg;
  node_metrics metrics{"fake-opensky-test"};
  http_client http;
};

TEST_F(OpenSkyClientAgainstFake, FetchesArrivalsWithCredentials) {
  fake_flight f{"3c675a", 1739690000, 1739700000, "EDDF", "LIRF", "DLH123"};
  f.departure_horiz_distance = 1234;
  f.arrival_candidates = 2;
  fake.add_flight(f);
  fake.add_flight({"4ca7b3", 1739690500, 1739701000, std::nullopt, "LIRF", std::nullopt});
  fake.add_flight({"300001", 1739690500, 1739701000, "LIRF", "EDDF", "ITY7"});  // elsewhere

  opensky_client client{cfg, metrics};
  auto got = client.fetch(http, flight_kind::arrivals, "LIRF", 1739699000, 1739702000);
  ASSERT_TRUE(got) << message_of(got.error());
  ASSERT_EQ(got->size(), 2u);
  const auto& x = (*got)[0];
  EXPECT_EQ(x.icao24, "3c675a");
  EXPECT_EQ(x.first_seen, 1739690000);
  EXPECT_EQ(x.last_seen, 1739700000);
  EXPECT_EQ(x.est_departure_airport, "EDDF");
  EXPECT_EQ(x.est_arrival_airport, "LIRF");
  EXPECT_EQ(x.callsign, "DLH123");  // trimmed
  EXPECT_EQ(x.est_departure_airport_horiz_distance, caf::optional<std::int64_t>{1234});
  EXPECT_FALSE(x.est_departure_airport_vert_distance);
  EXPECT_EQ(x.arrival_airport_candidates_count, caf::optional<std::int64_t>{2});
  EXPECT_EQ((*got)[1].est_departure_airport, "");
  EXPECT_EQ((*got)[1].callsign, "");

  auto again = client.fetch(http, flight_kind::departures, "LIRF", 1739690000, 1739691000);
  ASSERT_TRUE(again) << message_of(again.error());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].icao24, "300001");

  EXPECT_EQ(fake.token_request_count(), 1u) << "the token is cached";
  auto reqs = fake.flight_requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_TRUE(reqs[0].bearer_valid);
  EXPECT_EQ(reqs[0].endpoint, opensky_endpoint::arrival);
  EXPECT_EQ(reqs[1].endpoint, opensky_endpoint::departure);
  EXPECT_TRUE(reqs[1].bearer_valid);
}

TEST_F(OpenSkyClientAgainstFake, ThreeDayIntervalIsSplitInTwoRequests) {
  const auto b = t0, e = t0 + 3 * day;
  fake.add_arrival("EDDF", {"000001", b + 100, b + 3600, "LIRF", std::nullopt, "A1"});
  fake.add_arrival("EDDF", {"000002", b + day, b + day + 3600, "LICC", std::nullopt, "A2"});
  fake.add_arrival("EDDF", {"000003", b + 2 * day, b + 2 * day + 3600, "EGLL", std::nullopt, "A3"});
  fake.add_arrival("EDDF", {"000004", e - 7200, e - 100, "LFPG", std::nullopt, "A4"});
  // Exactly on the seam between the two requests: fetched once.
  fake.add_arrival("EDDF", {"000005", b + day, b + 2 * day, "LIMC", std::nullopt, "A5"});

  opensky_client client{cfg, metrics};
  auto got = client.fetch(http, flight_kind::arrivals, "EDDF", b, e);
  ASSERT_TRUE(got) << message_of(got.error());
  std::vector<std::string> ids;
  for (const auto& f : *got) ids.push_back(f.icao24);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids,
            (std::vector<std::string>{"000001", "000002", "000003", "000004", "000005"}));

  auto reqs = fake.flight_requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].begin, b);
  EXPECT_EQ(reqs[0].end, b + 2 * day);
  EXPECT_EQ(reqs[1].begin, b + 2 * day + 1); // bounds are inclusive: no second twice
  EXPECT_EQ(reqs[1].end, e);
  for (const auto& r : reqs) EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(fake.token_request_count(), 1u);
}

TEST_F(OpenSkyClientAgainstFake, NotFoundIsNoFlights) {
  opensky_client client{cfg, metrics};
  auto got = client.fetch(http, flight_kind::departures, "LICC", t0, t0 + 3600);
  ASSERT_TRUE(got) << message_of(got.error());
  EXPECT_TRUE(got->empty());
  ASSERT_EQ(fake.flight_requests().size(), 1u);
  EXPECT_EQ(fake.flight_requests()[0].status, 404u);
}

TEST_F(OpenSkyClientAgainstFake, ExpiredTokenIsRefreshedExactlyOnce) {
  fake.add_arrival("EDDF", {"3c675a", t0, t0 + 3600, "LIRF", std::nullopt, "DLH123"});
  opensky_client client{cfg, metrics};
  ASSERT_TRUE(client.fetch(http, flight_kind::arrivals, "EDDF", t0, t0 + 7200));
  EXPECT_EQ(fake.token_request_count(), 1u);

  fake.expire_tokens();
  auto got = client.fetch(http, flight_kind::arrivals, "EDDF", t0, t0 + 7200);
  ASSERT_TRUE(got) << message_of(got.error());
  EXPECT_EQ(got->size(), 1u);
  EXPECT_EQ(fake.token_request_count(), 2u) << "exactly one refresh";
  auto reqs = fake.flight_requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[1].status, 401u);
  EXPECT_TRUE(reqs[1].had_bearer);
  EXPECT_EQ(reqs[2].status, 200u);
  EXPECT_TRUE(reqs[2].bearer_valid);

  // A token the fake keeps rejecting: one refresh, then the client gives up.
  fake.fail_next(2, 401);
  auto rejected = client.fetch(http, flight_kind::arrivals, "EDDF", t0, t0 + 7200);
  EXPECT_FALSE(rejected);
  EXPECT_EQ(fake.token_request_count(), 3u);
}

TEST_F(OpenSkyClientAgainstFake, WrongCredentialsFailWithoutCallingTheApi) {
  cfg.client_secret = "wrong";
  opensky_client client{cfg, metrics};
  auto got = client.fetch(http, flight_kind::arrivals, "EDDF", t0, t0 + 7200);
  ASSERT_FALSE(got);
  EXPECT_EQ(code_of(got.error()), ec::unavailable);
  EXPECT_EQ(fake.flight_request_count(), 0u);
}

TEST_F(OpenSkyClientAgainstFake, RateLimitServerErrorsAndCredits) {
  fake.add_arrival("EDDF", {"3c675a", t0, t0 + 3600, "LIRF", std::nullopt, "DLH123"});
  fake.set_remaining_credits(1234);
  opensky_client client{cfg, metrics};
  ASSERT_TRUE(client.fetch(http, flight_kind::arrivals, "EDDF", t0, t0 + 7200));
  EXPECT_NE(metrics.scrape().find("opensky_credits_remaining{node=\"fake-opensky-test\","
                                  "service=\"data_collector\"} 1234"),
            std::string::npos)
      << metrics.scrape();

  fake.fail_next(1, 503);
  auto failed = client.fetch(http, flight_kind::arrivals, "EDDF", t0, t0 + 7200);
  ASSERT_FALSE(failed);
  EXPECT_EQ(code_of(failed.error()), ec::unavailable);

  fake.rate_limit_next(1, 30);
  auto limited = client.fetch(http, flight_kind::arrivals, "EDDF", t0, t0 + 7200);
  ASSERT_FALSE(limited);
  EXPECT_EQ(code_of(limited.error()), ec::unavailable);
  EXPECT_NE(message_of(limited.error()).find("30 s"), std::string::npos)
      << message_of(limited.error());
  // The client honours the pause: no request reaches the fake meanwhile.
  const auto before = fake.flight_request_count();
  EXPECT_FALSE(client.fetch(http, flight_kind::arrivals, "EDDF", t0, t0 + 7200));
  EXPECT_EQ(fake.flight_request_count(), before);
}

TEST_F(OpenSkyClientAgainstFake, SlowAnswerTimesOut) {
  fake.add_arrival("EDDF", {"3c675a", t0, t0 + 3600, "LIRF", std::nullopt, "DLH123"});
  cfg.timeout = std::chrono::milliseconds{200};
  fake.set_delay(1500ms);
  opensky_client client{cfg, metrics};
  auto got = client.fetch(http, flight_kind::arrivals, "EDDF", t0, t0 + 7200);
  ASSERT_FALSE(got);
  EXPECT_EQ(code_of(got.error()), ec::timeout);
}

}  // namespace
}  // namespace fw::test
