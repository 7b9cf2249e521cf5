// Three flightwatch processes joined over CAF's network transport, with one PostgreSQL,
// the Kafka test broker and fake OpenSky and Telegram: A (gateway, user-manager), B
// (data-collector, user-manager), C (data-collector, alert-evaluator, notifier). Requests
// through A reach roles on B and C; the airports are split between B and C; when B is
// killed A and C notice within about a second, C takes B's airports over within 3 s,
// requests keep succeeding and every alert is delivered once; B restarted takes its share
// back.

#include "tests/fakes/fake_opensky.hpp"
#include "tests/fakes/fake_telegram.hpp"
#include "tests/integration/node_process.hpp"
#include "tests/support/kafka_broker.hpp"
#include "tests/support/net.hpp"
#include "tests/support/postgres_server.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <regex>
#include <set>
#include <thread>

namespace {

using namespace std::chrono_literals;
using fw::test::fake_opensky;
using fw::test::fake_telegram;
using fw::test::http_get;
using fw::test::http_request;
using fw::test::node_process;
using fw::test::wait_until;
using json = nlohmann::json;

std::int64_t unix_now() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

const std::vector<std::string> airports{"LIRF", "LIMC", "LICC", "EGLL", "LFPG",
                                        "EDDF", "KJFK", "RJTT", "OMDB", "LEMD"};

class cluster : public ::testing::Test {
protected:
  cluster() {
    pg.start();
    for (auto& [name, port] : ports)
      port = fw::test::free_port();
  }

  std::string address(const std::string& node) {
    return "127.0.0.1:" + std::to_string(ports.at(node));
  }

  std::unique_ptr<node_process> start(const std::string& node, const std::string& roles) {
    std::vector<std::pair<std::string, std::string>> env{
      {"FW_STORAGE_URL", pg.url()},
      {"FW_KAFKA_BROKERS", kafka.bootstrap()},
      {"FW_NODE_NAME", node},
      {"FW_OPENSKY_BASE_URL", opensky.url()},
      {"FW_OPENSKY_AUTH_URL", opensky.token_url()},
      {"FW_COLLECTOR_INTERVAL", "1h"},
      {"FW_TELEGRAM_API_URL", telegram.url()},
      {"FW_TELEGRAM_BOT_TOKEN", telegram.token()},
      {"FW_TELEGRAM_POLL_TIMEOUT", "1s"},
      {"FW_LOG_LEVEL", "debug"},
      {"FW_CLUSTER_PORT", std::to_string(ports.at(node))},
      {"FW_CLUSTER_SEEDS", node == "node-a" ? address("node-b") : address("node-a")}};
    return std::make_unique<node_process>(
      node_process::options{{"--roles", roles}, env, roles.find("gateway") != std::string::npos});
  }

  void start_all() {
    a = start("node-a", "gateway,user-manager");
    b = start("node-b", "data-collector,user-manager");
    c = start("node-c", "data-collector,alert-evaluator,notifier");
    ASSERT_TRUE(wait_until([&] { return up_nodes() == std::set<std::string>{"node-b", "node-c"}; },
                           15s))
      << status().dump() << logs();
    // The collectors' first collection (2 s after start, once the peers are known) has
    // nothing to fetch yet; after it, only new interests make fetches.
    std::this_thread::sleep_for(2500ms);
  }

  json status() {
    auto r = http_get(a->url() + "/cluster/status");
    return r.status == 200 ? json::parse(r.body) : json{};
  }

  /// Peers A sees up.
  std::set<std::string> up_nodes() {
    std::set<std::string> out;
    for (const auto& n : status().value("nodes", json::array()))
      if (n["state"] == "up")
        out.insert(n["name"].get<std::string>());
    return out;
  }

  /// The airports `n` collected (its debug log has a line per stored collection), from
  /// the `skip`-th character of its output on.
  static std::set<std::string> collected(node_process& n, size_t skip = 0) {
    static const std::regex line{"data-collector: ([A-Z]{4}): [0-9]+ new flights"};
    auto out = n.process().output().substr(std::min(skip, n.process().output().size()));
    std::set<std::string> found;
    for (std::sregex_iterator i{out.begin(), out.end(), line}, end; i != end; ++i)
      found.insert((*i)[1]);
    return found;
  }

  /// A's flightwatch_cluster_peers{state} is `n`.
  bool peers_metric(const std::string& state, int n) {
    auto body = http_get(a->url() + "/metrics").body;
    const std::regex line{"flightwatch_cluster_peers\\{[^}]*state=\"" + state + "\"[^}]*\\} ([0-9]+)"};
    std::smatch m;
    return std::regex_search(body, m, line) && std::stoi(m[1]) == n;
  }

  void busy(const std::string& airport, int n) {
    const auto now = unix_now();
    for (int i = 0; i < n; ++i) {
      char icao[7];
      std::snprintf(icao, sizeof icao, "%c%05d", airport[3] | 0x20, i);
      opensky.add_flight({icao, now - 3600, now - 60, "EDDF", airport, "DLH" + std::to_string(i)});
    }
  }

  void user_watching(const std::string& email, std::int64_t chat, const std::string& airport) {
    auto base = a->url();
    ASSERT_EQ(http_request("POST", base + "/user-manager/users",
                           json{{"email", email}, {"first_name", "A"}, {"last_name", "B"}}.dump(),
                           {"Idempotency-Key: u-" + email})
                .status,
              201);
    ASSERT_EQ(http_request("POST", base + "/user-manager/users/telegram",
                           json{{"email", email}, {"telegram_chat_id", chat}}.dump())
                .status,
              200);
    auto r = http_request("POST", base + "/data-collector/interests",
                          json{{"email", email}, {"airport_code", airport}, {"high_value", 2}}.dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }

  /// Flights requests the fake received per airport.
  std::map<std::string, int> requests_per_airport() {
    std::map<std::string, int> out;
    for (const auto& r : opensky.flight_requests())
      ++out[r.airport];
    return out;
  }

  std::string logs() {
    std::string out;
    for (auto* n : {a.get(), b.get(), c.get()})
      if (n)
        out += "\n---- " + std::string(n == a.get() ? "A" : n == b.get() ? "B" : "C") + "\n"
               + n->process().output();
    return out;
  }

  fw::test::postgres_server pg;
  fw::test::kafka_broker kafka;
  fake_opensky opensky;
  fake_telegram telegram;
  std::map<std::string, std::uint16_t> ports{{"node-a", 0}, {"node-b", 0}, {"node-c", 0}};
  std::unique_ptr<node_process> a, b, c;
};

TEST_F(cluster, requests_cross_nodes_airports_are_split_and_move_when_a_node_dies) {
  ASSERT_NO_FATAL_FAILURE(start_all());

  // A has no data-collector: its gateway reaches B's or C's.
  std::set<std::string> answered_by;
  for (int i = 0; i < 6; ++i) {
    auto r = http_get(a->url() + "/data-collector/ping");
    ASSERT_EQ(r.status, 200) << r.body;
    answered_by.insert(json::parse(r.body)["node"].get<std::string>());
  }
  EXPECT_EQ(answered_by, (std::set<std::string>{"node-b", "node-c"}));
  auto st = status();
  ASSERT_EQ(st["nodes"].size(), 3u) << st.dump();
  EXPECT_EQ(st["nodes"][0]["state"], "self");
  EXPECT_TRUE(peers_metric("up", 2)) << http_get(a->url() + "/metrics").body;

  // Every airport is fetched once (arrivals and departures), by one of B and C.
  for (size_t i = 0; i < airports.size(); ++i) {
    busy(airports[i], 5);
    ASSERT_NO_FATAL_FAILURE(
      user_watching("user" + std::to_string(i) + "@x.org", 2000 + std::int64_t(i), airports[i]));
  }
  ASSERT_TRUE(telegram.wait_for_messages(airports.size(), 40s)) << logs();
  auto per_airport = requests_per_airport();
  for (const auto& airport : airports)
    EXPECT_EQ(per_airport[airport], 2) << airport << " fetched more than once" << logs();
  const auto by_b = collected(*b);
  const auto by_c = collected(*c);
  EXPECT_FALSE(by_b.empty());
  EXPECT_FALSE(by_c.empty());
  std::set<std::string> both;
  both.insert(by_b.begin(), by_b.end());
  both.insert(by_c.begin(), by_c.end());
  EXPECT_EQ(both.size(), airports.size());
  EXPECT_EQ(by_b.size() + by_c.size(), airports.size()) << "an airport collected by both";

  // B dies: A notices within about a second, C takes B's airports over within 3 s and
  // fetches them at once; requests through A keep succeeding.
  const auto c_log = c->process().output().size();
  opensky.clear_requests();
  b->process().signal(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] { return up_nodes() == std::set<std::string>{"node-c"}; }, 2s))
    << status().dump();
  EXPECT_LT(std::chrono::steady_clock::now() - killed, 1500ms);
  ASSERT_TRUE(wait_until(
    [&] { return c->process().output().find("node node-b (") != std::string::npos
                 && c->process().output().find(") is lost", c_log) != std::string::npos; },
    1500ms))
    << "C did not notice" << c->process().output();
  EXPECT_TRUE(peers_metric("up", 1));
  EXPECT_TRUE(peers_metric("down", 1));
  for (int i = 0; i < 20; ++i) {
    auto r = http_get(a->url() + "/data-collector/interests/user0@x.org");
    ASSERT_EQ(r.status, 200) << "request " << i << ": " << r.body;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(wait_until([&] { return collected(*c, c_log) == by_b; }, 4s))
    << "B had " << by_b.size() << " airports" << logs();
  EXPECT_LT(std::chrono::steady_clock::now() - killed, 3s);

  // Every alert once: the airports C fetched again are still firing, not notified again.
  std::this_thread::sleep_for(2s);
  std::map<std::int64_t, int> per_chat;
  for (const auto& m : telegram.messages())
    ++per_chat[m.chat_id];
  for (size_t i = 0; i < airports.size(); ++i)
    EXPECT_EQ(per_chat[2000 + std::int64_t(i)], 1) << airports[i];

  // B back: it rejoins and collects its share again, and only that.
  const auto c_log_2 = c->process().output().size();
  b = start("node-b", "data-collector,user-manager");
  ASSERT_TRUE(wait_until([&] { return up_nodes() == std::set<std::string>{"node-b", "node-c"}; },
                         15s))
    << status().dump();
  ASSERT_TRUE(wait_until([&] { return collected(*b) == by_b; }, 10s)) << logs();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(collected(*b), by_b);
  EXPECT_TRUE(collected(*c, c_log_2).empty()) << "C fetched again";
}

} // namespace
