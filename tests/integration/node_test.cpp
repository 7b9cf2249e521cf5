// The flightwatch binary as users and operators run it: start, stop, config errors,
// gateway routing and limits, /health, /metrics, and a role that keeps crashing.

#include "tests/integration/node_process.hpp"
#include "tests/support/net.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <csignal>

namespace {

using namespace std::chrono_literals;
using fw::test::http_get;
using fw::test::http_request;
using fw::test::node_process;
using json = nlohmann::json;

json body_of(const fw::test::http_result& r) {
  return json::parse(r.body, nullptr, false);
}

/// Runs the binary to completion (for --help, --check-config, bad config).
fw::test::command_result run(std::vector<std::string> args,
                             std::vector<std::pair<std::string, std::string>> env = {}) {
  fw::test::child_process::options o;
  o.argv.push_back(fw::test::flightwatch_binary());
  for (auto& a : args)
    o.argv.push_back(a);
  o.env = std::move(env);
  return fw::test::run_command(std::move(o), 10s);
}

TEST(node, sigterm_stops_it_cleanly_within_two_seconds) {
  node_process node{{}};
  ASSERT_EQ(http_get(node.url() + "/health").status, 200) << node.process().output();
  auto start = std::chrono::steady_clock::now();
  node.process().signal(SIGTERM);
  auto code = node.process().wait_for(2s);
  ASSERT_TRUE(code) << "still running 2 s after SIGTERM\n" << node.process().output();
  EXPECT_EQ(*code, 0) << node.process().output();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_NE(node.process().output().find("stopped"), std::string::npos);
}

TEST(node, sigint_with_open_keep_alive_connection_stops_cleanly) {
  node_process node{{}};
  // An idle keep-alive connection must not hold the shutdown up.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(node.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  node.process().signal(SIGINT);
  auto code = node.process().wait_for(2s);
  ::close(fd);
  ASSERT_TRUE(code) << node.process().output();
  EXPECT_EQ(*code, 0);
}

TEST(node, starts_quickly) {
  auto start = std::chrono::steady_clock::now();
  node_process node{{}};
  EXPECT_EQ(http_get(node.url() + "/health").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST(node, config_errors_name_the_key_and_stop_startup) {
  auto r = run({}, {{"FW_GATEWAY_PORT", "eighty"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("FW_GATEWAY_PORT (gateway.port): expected an integer"),
            std::string::npos)
    << r.output;
  r = run({"--config", std::string{FW_SOURCE_DIR} + "/tests/integration/data/unknown_key.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("gateway.listen_port: unknown key"), std::string::npos) << r.output;
  r = run({"--roles", "gateway,pilot"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("node.roles: unknown role 'pilot'"), std::string::npos) << r.output;
  r = run({"--bogus"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST(node, check_config_prints_effective_settings_with_secrets_masked) {
  auto r = run({"--check-config", "--config", std::string{FW_SOURCE_DIR} + "/config/flightwatch.yaml"},
               {{"FW_TELEGRAM_BOT_TOKEN", "123456:very-secret-token"},
                {"FW_GATEWAY_PORT", "9999"}});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("port: 9999"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("very-secret-token"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bot_token: \"***\""), std::string::npos) << r.output;
}

TEST(node, help_and_version) {
  auto r = run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--check-config"), std::string::npos);
  r = run({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("flightwatch "), std::string::npos);
}

TEST(node, gateway_routes_ping_to_each_role) {
  node_process node{{}};
  for (auto [prefix, role] : std::vector<std::pair<std::string, std::string>>{
         {"/user-manager", "user-manager"},
         {"/data-collector", "data-collector"},
         {"/sla-detector", "sla-watchdog"}}) {
    auto r = http_get(node.url() + prefix + "/ping");
    EXPECT_EQ(r.status, 200) << prefix;
    EXPECT_EQ(r.headers["content-type"], "application/json");
    auto j = body_of(r);
    EXPECT_EQ(j["message"], "pong") << r.body;
    EXPECT_EQ(j["service"], role) << r.body;
    EXPECT_EQ(j["node"], "test-node") << r.body;
  }
}

TEST(node, health_reports_every_role_and_storage) {
  node_process node{{}};
  auto r = http_get(node.url() + "/health");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = body_of(r);
  EXPECT_EQ(j["status"], "ok");
  for (auto name : {"storage", "topics", "gateway", "user-manager", "data-collector",
                    "alert-evaluator", "notifier", "sla-watchdog"})
    EXPECT_EQ(j["components"][name]["ready"], true) << name << " in " << r.body;
}

TEST(node, role_not_hosted_here_answers_503_naming_it) {
  node_process node{{.args = {"--roles", "gateway,user-manager"}, .env = {}, .wait_ready = true}};
  auto r = http_get(node.url() + "/data-collector/ping");
  EXPECT_EQ(r.status, 503) << r.body;
  auto j = body_of(r);
  EXPECT_EQ(j["error"], "unavailable");
  EXPECT_NE(j["message"].get<std::string>().find("data-collector"), std::string::npos);
  EXPECT_EQ(http_get(node.url() + "/user-manager/ping").status, 200);
}

TEST(node, unreachable_database_makes_health_503_but_node_stays_up) {
  node_process node{{.args = {},
                     .env = {{"FW_STORAGE_URL", "postgresql://flightwatch@127.0.0.1:1/fw"}},
                     .wait_ready = false}};
  fw::test::http_result r;
  ASSERT_TRUE(fw::test::wait_until(
    [&] {
      r = http_get(node.url() + "/health");
      return r.status == 503;
    },
    5s))
    << node.process().output();
  auto j = body_of(r);
  EXPECT_EQ(j["status"], "unavailable");
  EXPECT_EQ(j["components"]["storage"]["ready"], false) << r.body;
  EXPECT_EQ(j["components"]["user-manager"]["ready"], true) << r.body;
  EXPECT_EQ(http_get(node.url() + "/user-manager/ping").status, 200);
  EXPECT_TRUE(node.process().running());
}

TEST(node, errors_are_json_with_proper_status) {
  node_process node{{.args = {}, .env = {{"FW_GATEWAY_MAX_BODY_BYTES", "1024"}}, .wait_ready = true}};
  auto r = http_get(node.url() + "/no/such/route");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(body_of(r)["error"], "not_found") << r.body;

  r = http_request("POST", node.url() + "/user-manager/ping", "{}",
                   {"Content-Type: application/json"});
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(body_of(r)["error"], "method_not_allowed") << r.body;
  EXPECT_EQ(r.headers["allow"], "GET");

  r = http_request("GET", node.url() + "/user-manager/ping", std::string(4096, 'x'),
                   {"Content-Type: application/json"});
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(body_of(r).contains("error")) << r.body;

  r = http_request("GET", node.url() + "/user-manager/ping", "{\"email\": ",
                   {"Content-Type: application/json"});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body_of(r)["error"], "invalid_json") << r.body;
}

TEST(node, metrics_count_the_requests_made) {
  node_process node{{}};
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(http_get(node.url() + "/user-manager/ping").status, 200);
  http_get(node.url() + "/nowhere");
  auto r = http_get(node.url() + "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.headers["content-type"].find("text/plain"), std::string::npos);
  EXPECT_NE(r.body.find("http_requests_total{method=\"GET\",node=\"test-node\",route=\"/user-"
                        "manager/ping\",service=\"user_manager\",status=\"200\"} 3"),
            std::string::npos)
    << r.body;
  EXPECT_NE(r.body.find("route=\"unmatched\",service=\"gateway\",status=\"404\"} 1"),
            std::string::npos);
  EXPECT_NE(r.body.find("http_request_duration_seconds_count{method=\"GET\",node=\"test-node\","
                        "route=\"/user-manager/ping\",service=\"user_manager\"} 3"),
            std::string::npos);
  EXPECT_NE(r.body.find("http_requests_in_progress"), std::string::npos);
  EXPECT_NE(r.body.find("process_resident_memory_bytes"), std::string::npos);
  EXPECT_NE(r.body.find("flightwatch_role_restarts_total"), std::string::npos);
}

TEST(node, a_roles_metrics_path_serves_that_roles_series_only) {
  // As each of the seed's services served its own /metrics: a Prometheus that scrapes every
  // role's path of one node must not get a series twice (sum() would count it twice).
  node_process node{{}};
  ASSERT_EQ(http_get(node.url() + "/user-manager/ping").status, 200);
  ASSERT_EQ(http_get(node.url() + "/data-collector/ping").status, 200);
  auto um = http_get(node.url() + "/user-manager/metrics");
  ASSERT_EQ(um.status, 200);
  EXPECT_NE(um.headers["content-type"].find("text/plain"), std::string::npos);
  EXPECT_NE(um.body.find("http_requests_total{method=\"GET\",node=\"test-node\",route=\"/user-"
                         "manager/ping\",service=\"user_manager\",status=\"200\"} 1"),
            std::string::npos)
    << um.body;
  EXPECT_NE(um.body.find("flightwatch_users_created_total{node=\"test-node\",service=\"user_"
                         "manager\"} 0"),
            std::string::npos)
    << um.body;
  EXPECT_NE(um.body.find("process_resident_memory_bytes"), std::string::npos);
  EXPECT_EQ(um.body.find("service=\"data_collector\""), std::string::npos) << um.body;
  EXPECT_EQ(um.body.find("service=\"storage\""), std::string::npos) << um.body;
  auto dc = http_get(node.url() + "/data-collector/metrics").body;
  EXPECT_NE(dc.find("route=\"/data-collector/ping\",service=\"data_collector\",status=\"200\"} 1"),
            std::string::npos)
    << dc;
  EXPECT_EQ(dc.find("service=\"user_manager\""), std::string::npos) << dc;
  auto sla = http_get(node.url() + "/sla-detector/metrics").body;
  EXPECT_NE(sla.find("sla_checks_total{node=\"test-node\",service=\"sla_watchdog\"}"),
            std::string::npos)
    << sla;
  // /metrics keeps everything, the storage's series included.
  auto all = http_get(node.url() + "/metrics").body;
  EXPECT_NE(all.find("service=\"user_manager\""), std::string::npos);
  EXPECT_NE(all.find("service=\"data_collector\""), std::string::npos);
  EXPECT_NE(all.find("service=\"storage\""), std::string::npos) << all;
}

TEST(node, gateway_that_cannot_listen_keeps_crashing_and_stops_the_node) {
  // Occupy the port the node is told to use.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  node_process node{{.args = {},
                     .env = {{"FW_GATEWAY_PORT", std::to_string(ntohs(addr.sin_port))},
                             {"FW_NODE_MAX_RESTARTS", "2"},
                             {"FW_NODE_RESTART_BACKOFF", "20ms"}},
                     .wait_ready = false}};
  auto code = node.process().wait_for(10s);
  ::close(fd);
  ASSERT_TRUE(code) << node.process().output();
  EXPECT_EQ(*code, 1);
  auto out = node.process().output();
  EXPECT_NE(out.find("role gateway crashed 3 times"), std::string::npos) << out;
  EXPECT_NE(out.find("Address already in use"), std::string::npos) << out;
}

} // namespace
