// The alert pipeline with its roles in three processes joined by the Kafka test broker
// and one PostgreSQL: node A (gateway, user-manager, data-collector), node B
// (alert-evaluator), node C (notifier and the user-manager it asks for chat ids). Alerts
// reach Telegram once each, also when the notifier process is killed while alerts are
// produced and started again.

#include "tests/fakes/fake_opensky.hpp"
#include "tests/fakes/fake_telegram.hpp"
#include "tests/integration/node_process.hpp"
#include "tests/support/kafka_broker.hpp"
#include "tests/support/net.hpp"
#include "tests/support/postgres_server.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <gtest/gtest.h>

#include <csignal>
#include <map>

namespace {

using namespace std::chrono_literals;
using fw::test::fake_opensky;
using fw::test::fake_telegram;
using fw::test::http_get;
using fw::test::http_request;
using fw::test::node_process;
using json = nlohmann::json;

std::int64_t unix_now() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

class kafka_pipeline : public ::testing::Test {
protected:
  kafka_pipeline() {
    pg.start();
  }

  std::vector<std::pair<std::string, std::string>> env(const std::string& name) {
    return {{"FW_STORAGE_URL", pg.url()},
            {"FW_KAFKA_BROKERS", kafka.bootstrap()},
            {"FW_NODE_NAME", name},
            {"FW_OPENSKY_BASE_URL", opensky.url()},
            {"FW_OPENSKY_AUTH_URL", opensky.token_url()},
            {"FW_COLLECTOR_INTERVAL", "1h"},
            {"FW_TELEGRAM_API_URL", telegram.url()},
            {"FW_TELEGRAM_BOT_TOKEN", telegram.token()},
            {"FW_TELEGRAM_POLL_TIMEOUT", "1s"}};
  }

  std::unique_ptr<node_process> start_node(const std::string& name, const std::string& roles,
                                           bool gateway) {
    return std::make_unique<node_process>(
      node_process::options{{"--roles", roles}, env(name), gateway});
  }

  /// Waits until the node's log says its consumers joined (or at least started).
  static bool consuming(node_process& n) {
    return fw::test::wait_until(
      [&] { return n.process().output().find("storage: ready") != std::string::npos; }, 15s);
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
    ASSERT_EQ(http_request("POST", base + "/data-collector/interests",
                           json{{"email", email}, {"airport_code", airport}, {"high_value", 2}}
                             .dump())
                .status,
              201);
  }

  void busy(const std::string& airport, int n) {
    const auto now = unix_now();
    for (int i = 0; i < n; ++i) {
      char icao[7];
      std::snprintf(icao, sizeof icao, "%c%05d", airport[3] | 0x20, i);
      opensky.add_flight({icao, now - 3600, now - 60, "EDDF", airport, "DLH" + std::to_string(i)});
    }
  }

  std::map<std::int64_t, int> messages_per_chat() {
    std::map<std::int64_t, int> out;
    for (const auto& m : telegram.messages())
      ++out[m.chat_id];
    return out;
  }

  fw::test::postgres_server pg;
  fw::test::kafka_broker kafka;
  fake_opensky opensky;
  fake_telegram telegram;
  std::unique_ptr<node_process> a, b, c;
};

TEST_F(kafka_pipeline, alerts_cross_processes_once_even_when_the_notifier_is_killed) {
  a = start_node("node-a", "gateway,user-manager,data-collector", true);
  b = start_node("node-b", "alert-evaluator", false);
  c = start_node("node-c", "notifier,user-manager", false);
  ASSERT_TRUE(consuming(*b)) << b->process().output();
  ASSERT_TRUE(consuming(*c)) << c->process().output();

  busy("LIRF", 10);
  user_watching("anna@x.org", 1001, "LIRF");
  ASSERT_TRUE(telegram.wait_for_messages(1, 30s))
    << "A:\n" << a->process().output() << "\nB:\n" << b->process().output() << "\nC:\n"
    << c->process().output();
  auto first = telegram.messages_to(1001);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_NE(first[0].plain_text.find("The number of flights (10) exceeded the high threshold "
                                     "of 2."),
            std::string::npos);

  // Once the first notification is recorded as sent (a kill between Telegram's answer
  // and that record is the one window where a message can go out twice), the notifier
  // dies; alerts keep being produced meanwhile.
  ASSERT_TRUE(fw::test::wait_until(
    [&] {
      pqxx::connection conn{pg.url()};
      pqxx::nontransaction tx{conn};
      auto r = tx.exec("SELECT count(*) FROM notifications WHERE status = 'sent'");
      return r[0][0].as<int>() == 1;
    },
    5s));
  c->process().signal(SIGKILL);
  ASSERT_TRUE(c->process().wait_for(5s));
  const std::vector<std::pair<std::string, std::int64_t>> others{
    {"LICC", 1002}, {"LIMC", 1003}, {"EGLL", 1004}, {"LFPG", 1005}};
  for (const auto& [airport, chat] : others) {
    busy(airport, 5);
    user_watching("user" + std::to_string(chat) + "@x.org", chat, airport);
  }
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(telegram.messages().size(), 1u) << "nobody sends while the notifier is down";

  c = start_node("node-c", "notifier,user-manager", false);
  ASSERT_TRUE(telegram.wait_for_messages(1 + others.size(), 40s)) << c->process().output();
  std::this_thread::sleep_for(2s);
  auto counts = messages_per_chat();
  EXPECT_EQ(counts[1001], 1) << [&] {
    pqxx::connection conn{pg.url()};
    pqxx::nontransaction tx{conn};
    std::string out;
    for (const auto& row : tx.exec("SELECT event_id, user_email, status, attempts FROM "
                                   "notifications ORDER BY created_at_ms"))
      out += row[0].as<std::string>() + " " + row[1].as<std::string>() + " "
             + row[2].as<std::string>() + " " + row[3].as<std::string>() + "\n";
    return out;
  }();
  for (const auto& [airport, chat] : others)
    EXPECT_EQ(counts[chat], 1) << airport;
  EXPECT_EQ(telegram.messages().size(), 1 + others.size());
}

} // namespace
