// The user-manager through the gateway, as the seed's clients use it: registration,
// lookup, deletion, the Telegram link, and at-most-once under Idempotency-Key (the seed's
// four scenarios, request binding, expiry, 100 concurrent duplicates). Every test runs
// against a node on SQLite and a node on a real PostgreSQL; recovery from a database
// restart runs on PostgreSQL.

#include "tests/integration/node_process.hpp"
#include "tests/support/net.hpp"
#include "tests/support/postgres_server.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace {

using namespace std::chrono_literals;
using fw::test::http_get;
using fw::test::http_request;
using fw::test::http_result;
using fw::test::node_process;
using json = nlohmann::json;

json body_of(const http_result& r) {
  return json::parse(r.body, nullptr, false);
}

const std::string mario = R"({"email":"mario.rossi@gmail.com","first_name":"Mario",
  "last_name":"Rossi","tax_code":"RSSMRA85D15Z404E","iban":"IT19Z1234567890000123456789"})";

std::vector<std::string> with_key(const std::string& key) {
  return {"Content-Type: application/json", "Idempotency-Key: " + key};
}

/// One PostgreSQL server for the whole program; each test gets its own database. A
/// static object, so that it is stopped (and its directory removed) when the program ends.
fw::test::postgres_server& shared_postgres() {
  static fw::test::postgres_server server;
  static const bool started = (server.start(), true);
  (void)started;
  return server;
}

std::string fresh_postgres_database() {
  static std::atomic<int> counter{0};
  auto& pg = shared_postgres();
  auto name = "um_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  auto admin_url = pg.url();
  admin_url = admin_url.substr(0, admin_url.rfind('/')) + "/postgres";
  pqxx::connection admin{admin_url};
  pqxx::nontransaction tx{admin};
  tx.exec("CREATE DATABASE " + tx.quote_name(name));
  return admin_url.substr(0, admin_url.rfind('/')) + "/" + name;
}

class user_manager : public ::testing::TestWithParam<std::string> {
protected:
  /// A node on this test's backend, plus extra FW_* settings.
  std::unique_ptr<node_process>
  start_node(std::vector<std::pair<std::string, std::string>> env = {}, bool wait_ready = true) {
    if (GetParam() == "postgres")
      env.emplace_back("FW_STORAGE_URL", fresh_postgres_database());
    return std::make_unique<node_process>(node_process::options{{}, std::move(env), wait_ready});
  }

  void SetUp() override {
    node = start_node();
    base = node->url() + "/user-manager";
  }

  http_result create(const std::string& body, const std::string& key) {
    return http_request("POST", base + "/users", body, with_key(key));
  }

  json users() {
    return body_of(http_get(base + "/users"));
  }

  std::unique_ptr<node_process> node;
  std::string base;
};

// -- the seed's four scenarios ----------------------------------------------------------

TEST_P(user_manager, scenario_1_and_2_first_request_creates_repeat_replays) {
  auto first = create(mario, "3f9d2e1b-8c4a-4d6f-b1e2-5a7f8c2d9e4a");
  ASSERT_EQ(first.status, 201) << first.body << node->process().output();
  EXPECT_EQ(body_of(first), json({{"message", "User created successfully"}}));
  EXPECT_EQ(first.headers.count("idempotent-replayed"), 0u);

  auto again = create(mario, "3f9d2e1b-8c4a-4d6f-b1e2-5a7f8c2d9e4a");
  EXPECT_EQ(again.status, 201) << again.body;
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.headers["idempotent-replayed"], "true");
  EXPECT_EQ(users().size(), 1u);
}

TEST_P(user_manager, scenario_3_existing_user_with_new_key_is_409_and_the_key_replays_it) {
  ASSERT_EQ(create(mario, "k-1").status, 201);
  auto conflict = create(mario, "k-2");
  EXPECT_EQ(conflict.status, 409) << conflict.body;
  EXPECT_EQ(body_of(conflict)["error"], "conflict");
  // The user goes away; the key still answers what it answered.
  ASSERT_EQ(http_request("DELETE", base + "/users/mario.rossi@gmail.com", "", with_key("d-1"))
              .status,
            200);
  auto replay = create(mario, "k-2");
  EXPECT_EQ(replay.status, 409) << replay.body;
  EXPECT_EQ(replay.headers["idempotent-replayed"], "true");
  EXPECT_EQ(users().size(), 0u);
}

TEST_P(user_manager, scenario_4_state_changes_without_key_are_400_and_change_nothing) {
  auto post = http_request("POST", base + "/users", mario, {"Content-Type: application/json"});
  EXPECT_EQ(post.status, 400) << post.body;
  EXPECT_EQ(body_of(post)["error"], "invalid_argument");
  EXPECT_NE(body_of(post)["message"].get<std::string>().find("Idempotency-Key"),
            std::string::npos);
  EXPECT_EQ(users().size(), 0u);

  ASSERT_EQ(create(mario, "k").status, 201);
  auto del = http_request("DELETE", base + "/users/mario.rossi@gmail.com");
  EXPECT_EQ(del.status, 400) << del.body;
  EXPECT_EQ(http_get(base + "/users/mario.rossi@gmail.com").status, 200);
}

// -- beyond the seed: binding, expiry, concurrency ------------------------------------

TEST_P(user_manager, a_key_reused_for_a_different_request_is_422) {
  ASSERT_EQ(create(mario, "shared").status, 201);
  auto other_body = create(R"({"email":"anna@x.org","first_name":"Anna","last_name":"B"})",
                           "shared");
  EXPECT_EQ(other_body.status, 422) << other_body.body;
  EXPECT_EQ(body_of(other_body)["error"], "unprocessable");
  auto other_route =
    http_request("DELETE", base + "/users/mario.rossi@gmail.com", "", with_key("shared"));
  EXPECT_EQ(other_route.status, 422) << other_route.body;
  EXPECT_EQ(users().size(), 1u);
  // Whitespace and key order do not make a different request.
  auto same = create(R"({"iban":"IT19Z1234567890000123456789","tax_code":"RSSMRA85D15Z404E",
    "last_name":"Rossi", "first_name":"Mario","email":"mario.rossi@gmail.com"})",
                     "shared");
  EXPECT_EQ(same.status, 201) << same.body;
  EXPECT_EQ(same.headers["idempotent-replayed"], "true");
}

TEST_P(user_manager, an_expired_key_is_purged_and_can_be_used_again) {
  node = start_node({{"FW_USER_MANAGER_IDEMPOTENCY_TTL", "1s"},
                     {"FW_USER_MANAGER_IDEMPOTENCY_PURGE_INTERVAL", "200ms"}});
  base = node->url() + "/user-manager";
  ASSERT_EQ(create(mario, "short-lived").status, 201);
  EXPECT_EQ(create(mario, "short-lived").headers["idempotent-replayed"], "true");
  ASSERT_TRUE(fw::test::wait_until(
    [&] { return node->process().output().find("purged 1 expired") != std::string::npos; },
    5s))
    << node->process().output();
  auto reused = create(R"({"email":"anna@x.org","first_name":"Anna","last_name":"B"})",
                       "short-lived");
  EXPECT_EQ(reused.status, 201) << reused.body;
  EXPECT_EQ(reused.headers.count("idempotent-replayed"), 0u);
  EXPECT_EQ(users().size(), 2u);
}

TEST_P(user_manager, hundred_concurrent_identical_requests_create_exactly_one_user) {
  constexpr int clients = 100;
  std::vector<http_result> results(clients);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&, i] {
      ready++;
      while (ready.load() < clients)
        std::this_thread::yield();
      results[i] = create(mario, "one-key-for-all");
    });
  for (auto& t : threads)
    t.join();
  int created = 0, replayed = 0, in_progress = 0;
  for (const auto& r : results) {
    if (r.status == 201 && r.headers.count("idempotent-replayed") == 0)
      ++created;
    else if (r.status == 201)
      ++replayed;
    else if (r.status == 409 && body_of(r)["message"].get<std::string>().find("in progress")
                                  != std::string::npos)
      ++in_progress;
    else
      ADD_FAILURE() << "unexpected answer " << r.status << " " << r.body << r.error;
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(created + replayed + in_progress, clients);
  EXPECT_EQ(users().size(), 1u);
  // Once settled, the key replays the creation.
  EXPECT_EQ(create(mario, "one-key-for-all").headers["idempotent-replayed"], "true");
}

TEST_P(user_manager, concurrent_creates_that_share_a_batch_each_get_their_own_answer) {
  // 60 requests at once, so that many share a batch: 20 users, each asked for three times
  // with three keys. Exactly one request per user creates it; the other two get 409.
  constexpr int users_count = 20;
  constexpr int clients = 3 * users_count;
  std::vector<http_result> results(clients);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  auto body = [](int user) {
    return R"({"email":"user)" + std::to_string(user) +
           R"(@x.org","first_name":"U","last_name":"N"})";
  };
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&, i] {
      ready++;
      while (ready.load() < clients)
        std::this_thread::yield();
      results[i] = create(body(i % users_count), "key-" + std::to_string(i));
    });
  for (auto& t : threads)
    t.join();
  std::vector<int> created(users_count, 0);
  for (int i = 0; i < clients; ++i) {
    const auto& r = results[i];
    if (r.status == 201)
      ++created[i % users_count];
    else
      EXPECT_EQ(r.status, 409) << r.body << r.error;
  }
  for (int u = 0; u < users_count; ++u)
    EXPECT_EQ(created[u], 1) << "user" << u;
  EXPECT_EQ(users().size(), static_cast<std::size_t>(users_count));
  // Every key replays its own answer.
  for (int i = 0; i < clients; ++i) {
    auto again = create(body(i % users_count), "key-" + std::to_string(i));
    EXPECT_EQ(again.status, results[i].status) << i;
    EXPECT_EQ(again.body, results[i].body) << i;
    EXPECT_EQ(again.headers["idempotent-replayed"], "true") << i;
  }
  auto one = body_of(http_get(base + "/users/user7@x.org"));
  EXPECT_EQ(one["email"], "user7@x.org");
}

// -- validation -------------------------------------------------------------------------

TEST_P(user_manager, invalid_input_is_400_with_a_reason_and_does_not_use_up_the_key) {
  const std::string long_name(101, 'x');
  const std::vector<std::pair<std::string, std::string>> cases{
    {R"({"first_name":"A","last_name":"B"})", "email is required"},
    {R"({"email":"not-an-address","first_name":"A","last_name":"B"})", "email"},
    {R"({"email":"a@b","first_name":"A","last_name":"B"})", "email"},
    {R"({"email":"a@b.io","first_name":"  ","last_name":"B"})", "first_name"},
    {R"({"email":"a@b.io","first_name":"A","last_name":")" + long_name + R"("})", "last_name"},
    {R"({"email":"a@b.io","first_name":"A","last_name":"B","iban":"IT00Z1234567890000123456789"})",
     "checksum"},
    {R"({"email":"a@b.io","first_name":"A","last_name":"B","iban":"IT19"})", "iban"},
    {R"({"email":"a@b.io","first_name":"A","last_name":"B","tax_code":"RSS-MRA"})", "tax_code"},
    {R"({"email":42,"first_name":"A","last_name":"B"})", "email must be a string"},
    {R"(["email"])", "JSON object"},
    {R"({"email":)", "JSON"},
  };
  for (const auto& [body, reason] : cases) {
    auto r = create(body, "reusable");
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_NE(r.body.find(reason), std::string::npos) << body << " -> " << r.body;
  }
  EXPECT_EQ(users().size(), 0u);
  auto ok = create(R"({"email":" Anna@X.org ","first_name":"Anna","last_name":"B",
    "iban":"it60 x054 2811 1010 0000 0123 456"})", "reusable");
  EXPECT_EQ(ok.status, 201) << ok.body;
  auto anna = body_of(http_get(base + "/users/anna@x.org"));
  EXPECT_EQ(anna["email"], "anna@x.org");
  EXPECT_EQ(anna["iban"], "IT60X0542811101000000123456");
}

TEST_P(user_manager, duplicate_tax_code_is_409) {
  ASSERT_EQ(create(mario, "a").status, 201);
  auto r = create(R"({"email":"other@gmail.com","first_name":"O","last_name":"R",
    "tax_code":"rssmra85d15z404e"})", "b");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("tax_code"), std::string::npos);
}

// -- reads and delete -------------------------------------------------------------------

TEST_P(user_manager, get_list_and_delete_users) {
  EXPECT_EQ(users(), json::array());
  auto absent = http_get(base + "/users/nobody@x.org");
  EXPECT_EQ(absent.status, 404);
  EXPECT_EQ(body_of(absent)["error"], "not_found");

  ASSERT_EQ(create(mario, "1").status, 201);
  ASSERT_EQ(create(R"({"email":"anna@x.org","first_name":"Anna","last_name":"B"})", "2").status,
            201);
  auto all = users();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["email"], "anna@x.org"); // ordered by email
  EXPECT_TRUE(all[0]["tax_code"].is_null());
  auto m = body_of(http_get(base + "/users/Mario.Rossi@Gmail.com"));
  EXPECT_EQ(m, json({{"email", "mario.rossi@gmail.com"},
                     {"first_name", "Mario"},
                     {"last_name", "Rossi"},
                     {"tax_code", "RSSMRA85D15Z404E"},
                     {"iban", "IT19Z1234567890000123456789"},
                     {"telegram_chat_id", nullptr}}));

  auto del = http_request("DELETE", base + "/users/mario.rossi@gmail.com", "", with_key("d"));
  EXPECT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(body_of(del)["message"], "User deleted successfully");
  EXPECT_EQ(http_get(base + "/users/mario.rossi@gmail.com").status, 404);
  auto again = http_request("DELETE", base + "/users/mario.rossi@gmail.com", "", with_key("d"));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.headers["idempotent-replayed"], "true");
  auto gone = http_request("DELETE", base + "/users/mario.rossi@gmail.com", "", with_key("d2"));
  EXPECT_EQ(gone.status, 404) << gone.body;
  EXPECT_EQ(users().size(), 1u);
}

// -- Telegram link ----------------------------------------------------------------------

TEST_P(user_manager, telegram_chat_id_is_linked_unique_and_64_bit) {
  ASSERT_EQ(create(mario, "1").status, 201);
  ASSERT_EQ(create(R"({"email":"anna@x.org","first_name":"Anna","last_name":"B"})", "2").status,
            201);
  auto link = [&](const std::string& body, std::vector<std::string> headers = {}) {
    return http_request("POST", base + "/users/telegram", body, headers);
  };
  // The seed's clients send the id as a string and no key.
  auto r = link(R"({"email":"mario.rossi@gmail.com","telegram_chat_id":"5000000001"})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_of(http_get(base + "/users/mario.rossi@gmail.com"))["telegram_chat_id"],
            5000000001LL);
  EXPECT_EQ(link(R"({"email":"mario.rossi@gmail.com","telegram_chat_id":5000000001})").status,
            200);
  auto taken = link(R"({"email":"anna@x.org","telegram_chat_id":5000000001})");
  EXPECT_EQ(taken.status, 409) << taken.body;
  auto group = link(R"({"email":"anna@x.org","telegram_chat_id":-1001234567890})");
  EXPECT_EQ(group.status, 200) << group.body;
  auto unknown = link(R"({"email":"nobody@x.org","telegram_chat_id":7})");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  for (auto bad : {R"({"email":"anna@x.org","telegram_chat_id":"abc"})",
                   R"({"email":"anna@x.org","telegram_chat_id":1.5})",
                   R"({"email":"anna@x.org","telegram_chat_id":"99999999999999999999"})",
                   R"({"email":"anna@x.org"})", R"({"telegram_chat_id":7})"}) {
    auto b = link(bad);
    EXPECT_EQ(b.status, 400) << bad << " -> " << b.body;
  }
  // A key is honoured when sent.
  auto keyed = link(R"({"email":"anna@x.org","telegram_chat_id":42})", with_key("t"));
  EXPECT_EQ(keyed.status, 200);
  auto replay = link(R"({"email":"anna@x.org","telegram_chat_id":42})", with_key("t"));
  EXPECT_EQ(replay.headers["idempotent-replayed"], "true");
  EXPECT_EQ(link(R"({"email":"anna@x.org","telegram_chat_id":43})", with_key("t")).status, 422);
}

// -- metrics ----------------------------------------------------------------------------

TEST_P(user_manager, metrics_count_users_replays_and_store_latency) {
  ASSERT_EQ(create(mario, "m").status, 201);
  ASSERT_EQ(create(mario, "m").status, 201);
  ASSERT_EQ(http_request("DELETE", base + "/users/mario.rossi@gmail.com", "", with_key("x"))
              .status,
            200);
  auto metrics = http_get(node->url() + "/metrics").body;
  auto has = [&](const std::string& line) {
    return metrics.find(line) != std::string::npos;
  };
  EXPECT_TRUE(has(R"(flightwatch_users_created_total{node="test-node",service="user_manager"} 1)"))
    << metrics;
  EXPECT_TRUE(has(R"(flightwatch_users_deleted_total{node="test-node",service="user_manager"} 1)"));
  EXPECT_TRUE(has(R"(flightwatch_idempotent_replays_total{node="test-node",operation="create_user",service="user_manager"} 1)"));
  EXPECT_TRUE(has(R"(route="/user-manager/users",service="user_manager",status="201"} 2)"));
  EXPECT_TRUE(has("flightwatch_store_operation_duration_seconds_count{backend=\"" + GetParam()
                  + "\",node=\"test-node\",operation=\"create_user\",service=\"storage\"} 2"));
}

INSTANTIATE_TEST_SUITE_P(backends, user_manager, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

// -- PostgreSQL lost and back -----------------------------------------------------------

TEST(user_manager_postgres, every_storage_worker_connects_at_start) {
  // Else the first requests after a start each wait for a connection of their own.
  auto url = fresh_postgres_database();
  node_process node{{{}, {{"FW_STORAGE_URL", url}, {"FW_STORAGE_POOL_SIZE", "4"}}}};
  const auto db = url.substr(url.rfind('/') + 1);
  pqxx::connection observer{url};
  int connected = 0;
  EXPECT_TRUE(fw::test::wait_until(
    [&] {
      pqxx::nontransaction tx{observer};
      connected = tx.exec_params1("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 "
                                  "AND pid <> pg_backend_pid()",
                                  db)[0]
                    .as<int>();
      return connected == 4;
    },
    5s, 50ms))
    << connected << " of 4 workers connected\n"
    << node.process().output();
}

TEST(user_manager_postgres, database_restart_gives_503_then_recovers_by_itself) {
  auto url = fresh_postgres_database();
  node_process node{{{}, {{"FW_STORAGE_URL", url}}}};
  auto base = node.url() + "/user-manager";
  ASSERT_EQ(http_request("POST", base + "/users", mario, with_key("before")).status, 201);

  auto& pg = shared_postgres();
  pg.stop();
  auto down = http_request("POST", base + "/users",
                           R"({"email":"anna@x.org","first_name":"Anna","last_name":"B"})",
                           with_key("during"));
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ(body_of(down)["error"], "unavailable");
  EXPECT_EQ(http_get(base + "/users").status, 503);
  EXPECT_EQ(http_get(node.url() + "/health").status, 503);

  pg.start_again();
  // The same request with the same key succeeds once the database is back: the failed
  // attempt left no claim behind.
  http_result after;
  ASSERT_TRUE(fw::test::wait_until(
    [&] {
      after = http_request("POST", base + "/users",
                           R"({"email":"anna@x.org","first_name":"Anna","last_name":"B"})",
                           with_key("during"));
      return after.status == 201;
    },
    15s, 200ms))
    << after.status << " " << after.body << node.process().output();
  EXPECT_EQ(body_of(http_get(base + "/users")).size(), 2u);
  EXPECT_EQ(http_get(node.url() + "/health").status, 200);
}

TEST(user_manager_postgres, a_stuck_database_gives_503_in_time_and_recovers) {
  auto url = fresh_postgres_database();
  node_process node{{{}, {{"FW_STORAGE_URL", url}, {"FW_STORAGE_TIMEOUT", "500ms"}}}};
  auto base = node.url() + "/user-manager";
  ASSERT_EQ(http_request("POST", base + "/users", mario, with_key("a")).status, 201);
  {
    // Another client holds an exclusive lock: every statement on users blocks.
    pqxx::connection blocker{url};
    pqxx::work tx{blocker};
    tx.exec("LOCK TABLE users IN ACCESS EXCLUSIVE MODE");
    auto start = std::chrono::steady_clock::now();
    auto stuck = http_get(base + "/users/mario.rossi@gmail.com");
    EXPECT_EQ(stuck.status, 503) << stuck.body;
    EXPECT_EQ(body_of(stuck)["error"], "unavailable");
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  } // the lock goes with the transaction
  http_result after;
  ASSERT_TRUE(fw::test::wait_until(
    [&] {
      after = http_get(base + "/users/mario.rossi@gmail.com");
      return after.status == 200;
    },
    10s, 100ms))
    << after.status << " " << after.body;
  EXPECT_EQ(body_of(after)["email"], "mario.rossi@gmail.com");
}

TEST(user_manager_postgres, database_down_at_start_is_retried_until_it_is_up) {
  auto url = fresh_postgres_database();
  auto& pg = shared_postgres();
  pg.stop();
  // The server is shared: whatever happens here, the later tests get it back.
  struct restart_at_end {
    fw::test::postgres_server& pg;
    ~restart_at_end() {
      if (!pg.running())
        pg.start_again();
    }
  } restart{pg};
  node_process node{{{}, {{"FW_STORAGE_URL", url}}, false}};
  ASSERT_TRUE(fw::test::wait_until(
    [&] { return node.process().output().find("retrying in") != std::string::npos; }, 5s))
    << node.process().output();
  // Storage fails its first migration before the gateway (spawned last) listens.
  http_result health;
  ASSERT_TRUE(fw::test::wait_until(
    [&] {
      health = http_get(node.url() + "/health");
      return health.status != 0;
    },
    5s, 50ms));
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_EQ(body_of(health)["components"]["storage"]["ready"], false);
  EXPECT_EQ(http_request("POST", node.url() + "/user-manager/users", mario, with_key("x")).status,
            503);
  EXPECT_TRUE(node.process().running());

  pg.start_again();
  EXPECT_TRUE(node.wait_ready(15s)) << node.process().output();
  EXPECT_EQ(http_request("POST", node.url() + "/user-manager/users", mario, with_key("x")).status,
            201);
  EXPECT_EQ(node.process().output().find("postgres@"), std::string::npos)
    << "the storage URL must not be logged verbatim";
}

} // namespace
