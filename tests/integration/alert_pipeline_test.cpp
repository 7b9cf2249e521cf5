// The alert pipeline end to end on one node with both fakes: OpenSky traffic above a
// user's threshold gives exactly one Telegram message with the seed's sentence, continued
// traffic gives none, and the return to normal gives one "back to normal". Telegram's
// 429, 500 and 403 answers, the console channel without a bot token, and the
// notification history.

#include "tests/fakes/fake_opensky.hpp"
#include "tests/fakes/fake_telegram.hpp"
#include "tests/integration/node_process.hpp"
#include "tests/support/net.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <thread>

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

constexpr std::int64_t chat = 5'000'000'001;

class alert_pipeline : public ::testing::Test {
protected:
  void start(bool with_telegram, std::vector<std::pair<std::string, std::string>> extra = {}) {
    std::vector<std::pair<std::string, std::string>> env{
      {"FW_OPENSKY_BASE_URL", opensky.url()},
      {"FW_OPENSKY_AUTH_URL", opensky.token_url()},
      {"FW_COLLECTOR_INTERVAL", "300ms"},
      {"FW_TELEGRAM_API_URL", telegram.url()},
    };
    if (with_telegram)
      env.emplace_back("FW_TELEGRAM_BOT_TOKEN", telegram.token());
    for (auto& e : extra)
      env.push_back(std::move(e));
    node = std::make_unique<node_process>(node_process::options{{}, std::move(env), true});
  }

  /// A user with a linked chat and an interest in LIRF with high_value 2.
  void user_watching_lirf() {
    user_watching("anna@x.org", chat, "LIRF", 2);
  }

  /// A user `email` with Telegram chat `chat_id` and an interest in `airport` above `high`.
  void user_watching(const std::string& email, std::int64_t chat_id, const std::string& airport,
                     std::int64_t high) {
    auto base = node->url();
    ASSERT_EQ(http_request("POST", base + "/user-manager/users",
                           json{{"email", email}, {"first_name", "Ann"}, {"last_name", "B"}}.dump(),
                           {"Idempotency-Key: create-" + email})
                .status,
              201);
    ASSERT_EQ(http_request("POST", base + "/user-manager/users/telegram",
                           json{{"email", email}, {"telegram_chat_id", chat_id}}.dump())
                .status,
              200);
    ASSERT_EQ(http_request("POST", base + "/data-collector/interests",
                           json{{"email", email}, {"airport_code", airport}, {"high_value", high}}
                             .dump())
                .status,
              201);
  }

  /// `n` flights that arrived at LIRF one second ago.
  void busy_lirf(int n) {
    const auto now = unix_now();
    for (int i = 0; i < n; ++i) {
      char icao[7];
      std::snprintf(icao, sizeof icao, "a%05d", i);
      opensky.add_flight({icao, now - 3600, now - 1, "EDDF", "LIRF", "DLH" + std::to_string(i)});
    }
  }

  json history() {
    return json::parse(http_get(node->url() + "/notifier/notifications/anna@x.org").body);
  }

  fake_opensky opensky;
  fake_telegram telegram;
  std::unique_ptr<node_process> node;
};

TEST_F(alert_pipeline, busy_airport_gives_one_message_then_one_back_to_normal) {
  // A 4 s window: the flights leave it a few seconds later, and traffic is back to 0. They
  // are dated once the node is up, so that a slow start (sanitizers, a loaded machine)
  // cannot age them out before the first collection.
  start(true, {{"FW_COLLECTOR_WINDOW", "4s"}});
  busy_lirf(10);
  user_watching_lirf();
  ASSERT_TRUE(telegram.wait_for_messages(1, 5s)) << node->process().output();
  auto first = telegram.messages_to(chat);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_NE(first[0].plain_text.find(
              "The number of flights (10) exceeded the high threshold of 2."),
            std::string::npos)
    << first[0].plain_text;
  EXPECT_EQ(first[0].parse_mode, "HTML");

  // Further collections while still busy: no new message.
  const auto requests = opensky.flight_request_count();
  ASSERT_TRUE(opensky.wait_for_flight_requests(requests + 4, 5s));
  // Then the flights age out of the window: exactly one "back to normal".
  ASSERT_TRUE(telegram.wait_for_messages(2, 10s)) << node->process().output();
  std::this_thread::sleep_for(1s);
  auto all = telegram.messages_to(chat);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_NE(all[1].plain_text.find("Back to normal"), std::string::npos) << all[1].plain_text;

  auto h = history();
  ASSERT_EQ(h.size(), 2u) << h.dump();
  EXPECT_EQ(h[0]["kind"], "resolved");
  EXPECT_EQ(h[1]["kind"], "firing");
  EXPECT_EQ(h[1]["status"], "sent");
  EXPECT_EQ(h[1]["channel"], "telegram");
  auto metrics = http_get(node->url() + "/metrics").body;
  EXPECT_NE(metrics.find(R"(alerts_fired_total{kind="firing",node="test-node",service="alert_evaluator"} 1)"),
            std::string::npos)
    << metrics;
  EXPECT_NE(metrics.find(R"(notifications_sent_total{channel="telegram",node="test-node",service="notifier",status="sent"} 2)"),
            std::string::npos);
  EXPECT_EQ(node->process().output().find(telegram.token()), std::string::npos);
}

TEST_F(alert_pipeline, a_new_interest_in_a_fresh_airport_is_checked_without_fetching_again) {
  busy_lirf(5);
  start(true, {{"FW_COLLECTOR_INTERVAL", "1h"}});
  user_watching_lirf();
  ASSERT_TRUE(telegram.wait_for_messages(1, 5s)) << node->process().output();
  const auto fetches = opensky.flight_request_count();

  // A second user's interest in LIRF, collected moments ago: checked on what is stored.
  constexpr std::int64_t other_chat = 5'000'000'002;
  user_watching("bruno@x.org", other_chat, "LIRF", 3);
  ASSERT_TRUE(telegram.wait_for_messages(2, 5s)) << node->process().output();
  auto to_bruno = telegram.messages_to(other_chat);
  ASSERT_EQ(to_bruno.size(), 1u);
  EXPECT_NE(to_bruno[0].plain_text.find(
              "The number of flights (5) exceeded the high threshold of 3."),
            std::string::npos)
    << to_bruno[0].plain_text;
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(opensky.flight_request_count(), fetches); // OpenSky was not asked again
  EXPECT_EQ(telegram.messages_to(chat).size(), 1u);   // nor was the first user told again
}

TEST_F(alert_pipeline, without_a_bot_token_notifications_go_to_the_log) {
  busy_lirf(5);
  start(false);
  user_watching_lirf();
  ASSERT_TRUE(fw::test::wait_until(
    [&] {
      return node->process().output().find("to anna@x.org: Traffic alert at LIRF: The number "
                                            "of flights (5) exceeded the high threshold of 2.")
             != std::string::npos;
    },
    5s))
    << node->process().output();
  auto h = history();
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0]["channel"], "console");
  EXPECT_EQ(h[0]["status"], "sent");
  EXPECT_EQ(telegram.request_count(), 0u);
}

TEST_F(alert_pipeline, telegram_429_and_500_are_retried_until_delivered) {
  busy_lirf(3);
  telegram.rate_limit_next(1, 1);
  telegram.fail_next(2, 500);
  start(true);
  const auto started = std::chrono::steady_clock::now();
  user_watching_lirf();
  ASSERT_TRUE(telegram.wait_for_messages(1, 10s)) << node->process().output();
  EXPECT_GE(std::chrono::steady_clock::now() - started, 1s); // waited as Telegram asked
  EXPECT_EQ(telegram.calls().size(), 4u); // 429, 500, 500, 200
  ASSERT_TRUE(fw::test::wait_until([&] { return history().size() == 1u; }, 3s));
  auto h = history();
  EXPECT_EQ(h[0]["status"], "sent");
  EXPECT_EQ(h[0]["attempts"], 3); // waiting out the 429 is not a failed attempt
}

TEST_F(alert_pipeline, a_chat_waiting_out_a_429_does_not_hold_up_other_chats) {
  busy_lirf(3);
  telegram.rate_limit_next(1, 6); // Anna's message: "retry after 6 s"
  start(true);
  user_watching_lirf();
  ASSERT_TRUE(fw::test::wait_until([&] { return telegram.calls().size() == 1u; }, 5s))
    << node->process().output();
  // Four more users, one after the other, each alerted while Anna's sender still waits:
  // every message goes to a sender that is free, none queues behind the wait.
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) {
    const std::int64_t other = chat + 1 + i;
    user_watching("user" + std::to_string(i) + "@x.org", other, "LIRF", 2);
    ASSERT_TRUE(
      fw::test::wait_until([&] { return telegram.messages_to(other).size() == 1u; }, 3s))
      << "user " << i << "'s alert waited behind the 429\n" << node->process().output();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_TRUE(telegram.messages_to(chat).empty()) << "Anna's retry came before its time";
  ASSERT_TRUE(
    fw::test::wait_until([&] { return telegram.messages_to(chat).size() == 1u; }, 10s));
}

TEST_F(alert_pipeline, one_chats_burst_of_alerts_holds_up_no_other_chat) {
  // Anna watches ten busy airports: ten alerts for one chat, which Telegram's pace of one
  // message a second per chat spreads over nine seconds. Bob's alert, raised while they
  // wait, is sent at once, not behind them (before per-chat queues, each of the four
  // senders slept until its slot for one of Anna's messages, and Bob's queued behind).
  const std::vector<std::string> airports{"LIRF", "EDDF", "EGLL", "LFPG", "LEMD",
                                          "EHAM", "LSZH", "LOWW", "EKCH", "ESSA"};
  const auto now = unix_now();
  for (const auto& airport : airports)
    for (int i = 0; i < 3; ++i)
      opensky.add_flight({airport.substr(1) + std::to_string(i), now - 3600, now - 1, "KJFK",
                          airport, "DLH" + std::to_string(i)});
  start(true);
  user_watching("anna@x.org", chat, airports[0], 2);
  for (std::size_t i = 1; i < airports.size(); ++i)
    ASSERT_EQ(http_request("POST", node->url() + "/data-collector/interests",
                           json{{"email", "anna@x.org"},
                                {"airport_code", airports[i]},
                                {"high_value", 2}}
                             .dump())
                .status,
              201);
  ASSERT_TRUE(
    fw::test::wait_until([&] { return history().size() == airports.size(); }, 10s))
    << history().dump() << node->process().output();
  const std::int64_t bob = chat + 1;
  const auto bob_started = std::chrono::steady_clock::now();
  user_watching("bob@x.org", bob, "LIRF", 2);
  ASSERT_TRUE(fw::test::wait_until([&] { return telegram.messages_to(bob).size() == 1u; }, 10s))
    << node->process().output();
  // Bob's user, chat and interest are made within this bound too; behind Anna's nine
  // waiting messages his alert would take five seconds or more.
  EXPECT_LT(telegram.messages_to(bob)[0].time - bob_started, 2500ms)
    << "Bob's alert waited behind Anna's";
  EXPECT_LT(telegram.messages_to(chat).size(), airports.size())
    << "Anna's alerts were all sent before Bob's: the test proves nothing";
  ASSERT_TRUE(fw::test::wait_until(
    [&] { return telegram.messages_to(chat).size() == airports.size(); }, 20s));
  const auto to_anna = telegram.messages_to(chat);
  for (std::size_t i = 1; i < to_anna.size(); ++i)
    EXPECT_GE(to_anna[i].time - to_anna[i - 1].time, 900ms) << "Telegram's per-chat pace";
}

TEST_F(alert_pipeline, a_slow_telegram_gets_each_alert_once) {
  // Telegram answers each call after 0.6 s (well within telegram.timeout, 2 s). Sixty
  // users' alerts come at once, one per chat. Each sender makes one call at a time; the
  // others wait in the outbox. Before, they queued in the four senders' mailboxes, fifteen
  // each: the last ones waited there past the call's timeout (telegram.timeout + 5 s),
  // were tried again, and were still sent, so their users got the alert twice.
  constexpr int users = 60;
  busy_lirf(3);
  telegram.set_delay(600ms);
  start(true, {{"FW_TELEGRAM_TIMEOUT", "2s"}, {"FW_COLLECTOR_INTERVAL", "1h"}});
  for (int i = 0; i < users; ++i)
    user_watching("user" + std::to_string(i) + "@x.org", chat + i, "LIRF", 2);
  auto sent = [&] {
    auto metrics = http_get(node->url() + "/notifier/metrics").body;
    return metrics.find(R"(notifications_sent_total{channel="telegram",node="test-node",)"
                        R"(service="notifier",status="sent"} )"
                        + std::to_string(users) + "\n")
           != std::string::npos;
  };
  ASSERT_TRUE(fw::test::wait_until(sent, 30s))
    << http_get(node->url() + "/notifier/metrics").body << node->process().output();
  for (int i = 0; i < users; ++i)
    EXPECT_EQ(telegram.messages_to(chat + i).size(), 1u) << "user" << i;
  auto h = json::parse(http_get(node->url() + "/notifier/notifications/user59@x.org").body);
  ASSERT_EQ(h.size(), 1u) << h.dump();
  EXPECT_EQ(h[0]["status"], "sent");
  EXPECT_EQ(h[0]["attempts"], 1) << h.dump();
}

TEST_F(alert_pipeline, a_chat_that_blocked_the_bot_is_not_used_again) {
  busy_lirf(3);
  telegram.block_chat(chat);
  start(true, {{"FW_COLLECTOR_WINDOW", "4s"}});
  user_watching_lirf();
  ASSERT_TRUE(fw::test::wait_until(
    [&] { return history().size() == 1u && history()[0]["status"] == "failed"; }, 5s))
    << history().dump() << node->process().output();
  EXPECT_EQ(telegram.calls().size(), 1u);
  auto user = json::parse(http_get(node->url() + "/user-manager/users/anna@x.org").body);
  EXPECT_TRUE(user["telegram_chat_id"].is_null()) << user.dump();
  // The resolution later is not sent to the blocked chat.
  ASSERT_TRUE(fw::test::wait_until([&] { return history().size() == 2u; }, 10s))
    << history().dump();
  EXPECT_EQ(history()[0]["status"], "skipped");
  EXPECT_EQ(telegram.calls().size(), 1u);
}

TEST_F(alert_pipeline, a_deep_link_links_the_chat_that_sends_start) {
  telegram.set_bot_username("flightwatch_test_bot");
  start(true, {{"FW_TELEGRAM_POLL_TIMEOUT", "1s"}});
  auto base = node->url() + "/user-manager";
  ASSERT_EQ(http_request("POST", base + "/users",
                         R"({"email":"anna@x.org","first_name":"Anna","last_name":"B"})",
                         {"Idempotency-Key: u1"})
              .status,
            201);
  EXPECT_EQ(http_request("POST", base + "/users/nobody@x.org/telegram-link").status, 404);
  // The poller learns the bot's name from getMe shortly after start.
  fw::test::http_result created;
  ASSERT_TRUE(fw::test::wait_until(
    [&] {
      created = http_request("POST", base + "/users/Anna@x.org/telegram-link");
      return created.status == 201;
    },
    5s))
    << created.status << " " << created.body << node->process().output();
  auto link = json::parse(created.body)["link"].get<std::string>();
  const std::string prefix = "https://t.me/flightwatch_test_bot?start=";
  ASSERT_EQ(link.rfind(prefix, 0), 0u) << link;
  auto token = link.substr(prefix.size());

  telegram.push_update(chat, "/start " + token, "anna");
  ASSERT_TRUE(fw::test::wait_until(
    [&] {
      auto u = json::parse(http_get(base + "/users/anna@x.org").body);
      return u["telegram_chat_id"] == chat;
    },
    5s))
    << node->process().output();
  ASSERT_TRUE(telegram.wait_for_messages(1, 5s));
  EXPECT_NE(telegram.messages_to(chat)[0].plain_text.find("Linked"), std::string::npos);

  // A token works once.
  telegram.push_update(chat + 1, "/start " + token, "mallory");
  ASSERT_TRUE(telegram.wait_for_messages(2, 5s));
  EXPECT_NE(telegram.messages_to(chat + 1)[0].plain_text.find("not valid"), std::string::npos);
  auto u = json::parse(http_get(base + "/users/anna@x.org").body);
  EXPECT_EQ(u["telegram_chat_id"], chat);

  // Stopping does not wait for the long poll.
  const auto stopping = std::chrono::steady_clock::now();
  node->process().signal(SIGTERM);
  ASSERT_TRUE(node->process().wait_for(5s));
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 3s);
}

} // namespace
