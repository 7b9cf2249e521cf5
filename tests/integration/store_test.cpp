// The stores (persistence/stores.hpp) against both real backends: SQLite (a fresh file
// per test) and PostgreSQL (one throw-away server for the suite, a fresh database per
// test, so migrations always run from scratch). Only the public interface is exercised;
// raw SQL is used solely to plant a schema version from the future.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <latch>
#include <limits>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "persistence/migrations.hpp"
#include "persistence/storage_url.hpp"
#include "persistence/stores.hpp"
#include "tests/support/net.hpp"
#include "tests/support/postgres_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace fw {
namespace {

using write_result = user_store::write_result;
using outcome = idempotency_store::claim_result::outcome;

const char* name(write_result r) {
  switch (r) {
  case write_result::ok:
    return "ok";
  case write_result::not_found:
    return "not_found";
  case write_result::email_taken:
    return "email_taken";
  case write_result::tax_code_taken:
    return "tax_code_taken";
  case write_result::chat_id_taken:
    return "chat_id_taken";
  }
  return "?";
}

const char* name(outcome o) {
  switch (o) {
  case outcome::claimed:
    return "claimed";
  case outcome::in_progress:
    return "in_progress";
  case outcome::completed:
    return "completed";
  case outcome::mismatch:
    return "mismatch";
  }
  return "?";
}

user make_user(std::string email, std::string tax_code = "", std::string iban = "") {
  user u;
  u.email = std::move(email);
  u.first_name = "Ada";
  u.last_name = "Lovelace";
  u.tax_code = std::move(tax_code);
  u.iban = std::move(iban);
  return u;
}

// The user with this email; throws (failing the test, without a crash) if absent.
user get(user_store& users, const std::string& email) {
  auto u = users.find(email);
  if (!u)
    throw std::runtime_error("no user " + email);
  return *u;
}

// The chat id, 0 if none (0 is never a chat id in these tests).
std::int64_t chat_id(const user& u) {
  return u.telegram_chat_id.value_or(0);
}

idempotency_store::claim_request request(std::string key, std::string fingerprint,
                                         std::string token, std::int64_t now_ms,
                                         std::int64_t expired_before_ms = 0,
                                         std::int64_t stale_before_ms = 0) {
  idempotency_store::claim_request r;
  r.key = std::move(key);
  r.fingerprint = std::move(fingerprint);
  r.token = std::move(token);
  r.user_email = "ada@example.org";
  r.now_ms = now_ms;
  r.expired_before_ms = expired_before_ms;
  r.stale_before_ms = stale_before_ms;
  return r;
}

class StoreTest : public ::testing::TestWithParam<std::string> {
protected:
  static void TearDownTestSuite() {
    pg_.reset();
  }

  // The PostgreSQL server shared by the suite, started by the first test that needs it
  // (so a run filtered to SQLite does not pay for it) and stopped in TearDownTestSuite.
  static test::postgres_server& pg() {
    if (!pg_) {
      auto server = std::make_unique<test::postgres_server>();
      server->start();
      pg_ = std::move(server);
    }
    return *pg_;
  }

  static std::string pg_url(const std::string& db) {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(pg().port()) + "/" + db;
  }

  bool is_sqlite() const {
    return GetParam() == "sqlite";
  }

  void SetUp() override {
    std::string url;
    if (is_sqlite()) {
      dir_ = std::make_unique<test::temp_dir>("fw-store-");
      // A directory that does not exist yet: opening creates it.
      url = "sqlite://" + (dir_->path() / "data" / "flightwatch.db").string();
    } else {
      db_name_ = "store_test_" + std::to_string(++db_counter_);
      pqxx::connection admin{pg_url("postgres")};
      pqxx::nontransaction tx{admin};
      tx.exec0("CREATE DATABASE " + tx.quote_name(db_name_));
      url = pg_url(db_name_);
    }
    auto loc = parse_storage_url(url);
    ASSERT_TRUE(loc) << url;
    location_ = *loc;
  }

  std::unique_ptr<store_session> open() const {
    return open_session(location_);
  }

  std::unique_ptr<store_session> open_migrated() const {
    auto s = open();
    s->migrate();
    return s;
  }

  // Runs raw SQL against the test's database (setup only).
  void raw_exec(const std::string& sql) const {
    if (is_sqlite()) {
      sqlite3* db = nullptr;
      int rc = sqlite3_open_v2(location_.target.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
      std::string err;
      if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
      if (rc != SQLITE_OK)
        err = sqlite3_errmsg(db);
      sqlite3_close(db);
      if (!err.empty())
        throw std::runtime_error("raw sqlite: " + err);
    } else {
      pqxx::connection conn{location_.target};
      pqxx::work tx{conn};
      tx.exec0(sql);
      tx.commit();
    }
  }

  storage_location location_;

private:
  std::unique_ptr<test::temp_dir> dir_;
  std::string db_name_;
  static inline std::unique_ptr<test::postgres_server> pg_;
  static inline int db_counter_ = 0;
};

// -- session and migrations -------------------------------------------------------------

TEST_P(StoreTest, SessionReportsBackendAndProbes) {
  auto s = open();
  EXPECT_STREQ(s->backend(), GetParam() == "sqlite" ? "sqlite" : "postgres");
  EXPECT_NO_THROW(s->probe());
}

TEST_P(StoreTest, MigrateEmptyDatabaseToLatestThenNoOpKeepingData) {
  {
    auto s = open();
    EXPECT_EQ(s->migrate(), latest_schema_version());
    EXPECT_EQ(s->migrate(), latest_schema_version()); // same session, again
    EXPECT_EQ(s->users().create(make_user("ada@example.org", "LVLDAA15T10X000A")),
              write_result::ok);
  }
  auto s = open();
  EXPECT_EQ(s->migrate(), latest_schema_version());
  auto found = s->users().find("ada@example.org");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->tax_code, "LVLDAA15T10X000A");
  EXPECT_EQ(s->users().list().size(), 1u);
}

TEST_P(StoreTest, ConcurrentMigrationsAllSucceed) {
  constexpr int n = 8;
  std::latch start{n};
  std::vector<int> versions(n, -1);
  std::vector<std::string> errors(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      std::unique_ptr<store_session> s;
      try {
        s = open(); // concurrently too: the database file may not exist yet
      } catch (const std::exception& e) {
        errors[i] = std::string{"open: "} + e.what();
      }
      start.arrive_and_wait(); // also after a failure, or the others wait forever
      if (!s)
        return;
      try {
        versions[i] = s->migrate();
      } catch (const std::exception& e) {
        errors[i] = std::string{"migrate: "} + e.what();
      }
    });
  for (auto& t : threads)
    t.join();
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(errors[i], "") << "thread " << i;
    EXPECT_EQ(versions[i], latest_schema_version()) << "thread " << i;
  }
  auto s = open();
  EXPECT_EQ(s->migrate(), latest_schema_version());
  EXPECT_EQ(s->users().create(make_user("ada@example.org")), write_result::ok);
}

TEST_P(StoreTest, NewerSchemaVersionIsRefusedAndDataKept) {
  {
    auto s = open_migrated();
    ASSERT_EQ(s->users().create(make_user("ada@example.org", "TAX1")), write_result::ok);
  }
  const int future = latest_schema_version() + 1;
  raw_exec("INSERT INTO schema_migrations (version, description, applied_at_ms) VALUES (" +
           std::to_string(future) + ", 'from the future', 0)");
  auto s = open();
  try {
    s->migrate();
    ADD_FAILURE() << "migrate accepted schema version " << future;
  } catch (const storage_unavailable& e) {
    ADD_FAILURE() << "storage_unavailable instead of runtime_error: " << e.what();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string{e.what()}.find("newer"), std::string::npos) << e.what();
    EXPECT_NE(std::string{e.what()}.find(std::to_string(future)), std::string::npos) << e.what();
  }
  // Nothing was dropped or downgraded, and the session still works.
  auto again = open();
  auto found = again->users().find("ada@example.org");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->tax_code, "TAX1");
  EXPECT_THROW(again->migrate(), std::runtime_error);
  EXPECT_EQ(again->users().list().size(), 1u);
}

// -- users ------------------------------------------------------------------------------

TEST_P(StoreTest, UsersCreateFindListRemove) {
  auto s = open_migrated();
  auto& users = s->users();
  auto carol = make_user("carol@example.org", "CRLTAX", "IT60X0542811101000000123456");
  carol.first_name = "Carol";
  carol.telegram_chat_id = 42; // ignored by create
  EXPECT_EQ(users.create(carol), write_result::ok);
  EXPECT_EQ(users.create(make_user("alice@example.org", "ALCTAX")), write_result::ok);
  EXPECT_EQ(users.create(make_user("bob@example.org")), write_result::ok);

  auto found = users.find("carol@example.org");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->email, "carol@example.org");
  EXPECT_EQ(found->first_name, "Carol");
  EXPECT_EQ(found->last_name, "Lovelace");
  EXPECT_EQ(found->tax_code, "CRLTAX");
  EXPECT_EQ(found->iban, "IT60X0542811101000000123456");
  EXPECT_FALSE(found->telegram_chat_id) << "create must ignore telegram_chat_id";
  EXPECT_FALSE(users.find("nobody@example.org"));
  EXPECT_FALSE(users.find("CAROL@example.org")) << "emails match exactly";

  auto all = users.list();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].email, "alice@example.org");
  EXPECT_EQ(all[1].email, "bob@example.org");
  EXPECT_EQ(all[2].email, "carol@example.org");
  EXPECT_EQ(all[2].iban, "IT60X0542811101000000123456");

  EXPECT_TRUE(users.remove("bob@example.org"));
  EXPECT_FALSE(users.remove("bob@example.org"));
  EXPECT_FALSE(users.remove("nobody@example.org"));
  EXPECT_FALSE(users.find("bob@example.org"));
  EXPECT_EQ(users.list().size(), 2u);
}

TEST_P(StoreTest, UsersUniqueEmailAndTaxCode) {
  auto s = open_migrated();
  auto& users = s->users();
  ASSERT_EQ(users.create(make_user("ada@example.org", "TAX1")), write_result::ok);
  auto other = make_user("ada@example.org", "TAX2");
  other.first_name = "Other";
  EXPECT_EQ(users.create(other), write_result::email_taken);
  EXPECT_EQ(users.create(make_user("ada@example.org")), write_result::email_taken);
  EXPECT_EQ(users.create(make_user("ada@example.org", "TAX1")), write_result::email_taken);
  EXPECT_EQ(users.create(make_user("bob@example.org", "TAX1")), write_result::tax_code_taken);
  // Never overwritten, nothing half-written.
  EXPECT_EQ(get(users, "ada@example.org").first_name, "Ada");
  EXPECT_EQ(get(users, "ada@example.org").tax_code, "TAX1");
  EXPECT_FALSE(users.find("bob@example.org"));
  EXPECT_EQ(users.list().size(), 1u);
  // The session is still usable after the constraint failures.
  EXPECT_EQ(users.create(make_user("bob@example.org", "TAX2")), write_result::ok);
}

TEST_P(StoreTest, UsersWithoutTaxCodeOrIbanStoreNull) {
  auto s = open_migrated();
  auto& users = s->users();
  EXPECT_EQ(users.create(make_user("a@example.org")), write_result::ok);
  EXPECT_EQ(users.create(make_user("b@example.org")), write_result::ok);
  EXPECT_EQ(users.create(make_user("c@example.org", "", "")), write_result::ok);
  for (const auto& u : users.list()) {
    EXPECT_EQ(u.tax_code, "") << u.email;
    EXPECT_EQ(u.iban, "") << u.email;
    EXPECT_FALSE(u.telegram_chat_id) << u.email;
  }
  EXPECT_EQ(users.list().size(), 3u);
  EXPECT_EQ(get(users, "b@example.org").iban, "");
}

TEST_P(StoreTest, TelegramChatIdRoundTripsAndIsUnique) {
  auto s = open_migrated();
  auto& users = s->users();
  ASSERT_EQ(users.create(make_user("ada@example.org")), write_result::ok);
  ASSERT_EQ(users.create(make_user("bob@example.org")), write_result::ok);

  constexpr std::int64_t big = 5'000'000'000;        // above 2^32
  constexpr std::int64_t group = -1'001'234'567'890; // a Telegram group id
  EXPECT_EQ(users.set_telegram_chat_id("ada@example.org", big), write_result::ok);
  EXPECT_EQ(chat_id(get(users, "ada@example.org")), big);
  EXPECT_EQ(users.set_telegram_chat_id("ada@example.org", big), write_result::ok)
      << "setting the same id again";

  EXPECT_EQ(users.set_telegram_chat_id("bob@example.org", big), write_result::chat_id_taken);
  EXPECT_FALSE(get(users, "bob@example.org").telegram_chat_id);
  EXPECT_EQ(users.set_telegram_chat_id("bob@example.org", group), write_result::ok);
  EXPECT_EQ(chat_id(get(users, "bob@example.org")), group);

  EXPECT_EQ(users.set_telegram_chat_id("nobody@example.org", 7), write_result::not_found);

  // Moving ada to another id frees the old one.
  EXPECT_EQ(users.set_telegram_chat_id("ada@example.org", 7), write_result::ok);
  EXPECT_EQ(users.set_telegram_chat_id("bob@example.org", big), write_result::ok);
  auto all = users.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(chat_id(all[0]), 7);
  EXPECT_EQ(chat_id(all[1]), big);
}

// -- idempotency keys -------------------------------------------------------------------

TEST_P(StoreTest, IdempotencyClaimInProgressCompleteReplay) {
  auto s = open_migrated();
  auto& idem = s->idempotency();
  EXPECT_EQ(idem.claim(request("k1", "fp", "t1", 1000)).result, outcome::claimed);
  EXPECT_EQ(idem.claim(request("k1", "fp", "t2", 1001)).result, outcome::in_progress);
  EXPECT_EQ(idem.claim(request("k1", "other", "t3", 1002)).result, outcome::mismatch);

  EXPECT_FALSE(idem.complete("k1", "wrong-token", 500, "nope"));
  EXPECT_FALSE(idem.complete("absent", "t1", 200, "x"));
  EXPECT_EQ(idem.claim(request("k1", "fp", "t2", 1003)).result, outcome::in_progress);

  const std::string body = R"({"email":"ada@example.org","name":"Adà ✈"})";
  EXPECT_TRUE(idem.complete("k1", "t1", 201, body));
  EXPECT_FALSE(idem.complete("k1", "t1", 500, "again")) << "completes once";

  auto replay = idem.claim(request("k1", "fp", "t4", 1004));
  EXPECT_EQ(replay.result, outcome::completed) << name(replay.result);
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.body, body);
  EXPECT_EQ(idem.claim(request("k1", "other", "t5", 1005)).result, outcome::mismatch);

  // Keys are independent.
  EXPECT_EQ(idem.claim(request("k2", "other", "t6", 1006)).result, outcome::claimed);
}

TEST_P(StoreTest, IdempotencyEmptyBodyReplays) {
  auto s = open_migrated();
  auto& idem = s->idempotency();
  ASSERT_EQ(idem.claim(request("k", "fp", "t", 1000)).result, outcome::claimed);
  ASSERT_TRUE(idem.complete("k", "t", 204, ""));
  auto replay = idem.claim(request("k", "fp", "t2", 1001));
  EXPECT_EQ(replay.result, outcome::completed);
  EXPECT_EQ(replay.status, 204);
  EXPECT_EQ(replay.body, "");
}

TEST_P(StoreTest, IdempotencyStaleClaimIsTakenOver) {
  auto s = open_migrated();
  auto& idem = s->idempotency();
  ASSERT_EQ(idem.claim(request("k", "fp", "old", 1000)).result, outcome::claimed);
  // Not stale yet (created at 1000, stale_before 1000): still in progress.
  EXPECT_EQ(idem.claim(request("k", "fp", "t1", 1500, 0, 1000)).result, outcome::in_progress);
  // Stale, but a different request: not taken over.
  EXPECT_EQ(idem.claim(request("k", "other", "t2", 2000, 0, 1500)).result, outcome::mismatch);
  // Stale, same request: taken over with the new token.
  EXPECT_EQ(idem.claim(request("k", "fp", "new", 2000, 0, 1500)).result, outcome::claimed);
  EXPECT_FALSE(idem.complete("k", "old", 200, "late")) << "the lost claim cannot complete";
  // The new claim is fresh again (created at 2000).
  EXPECT_EQ(idem.claim(request("k", "fp", "t3", 2100, 0, 1500)).result, outcome::in_progress);
  idem.release("k", "old"); // not the holder: no effect
  EXPECT_EQ(idem.claim(request("k", "fp", "t4", 2200, 0, 1500)).result, outcome::in_progress);
  EXPECT_TRUE(idem.complete("k", "new", 200, "ok"));
  auto replay = idem.claim(request("k", "fp", "t5", 2300, 0, 1500));
  EXPECT_EQ(replay.result, outcome::completed);
  EXPECT_EQ(replay.body, "ok");
  // A completed key is never "stale".
  EXPECT_EQ(idem.claim(request("k", "fp", "t6", 9000, 0, 9000)).result, outcome::completed);
}

TEST_P(StoreTest, IdempotencyExpiredCompletedKeyIsClaimedAgain) {
  auto s = open_migrated();
  auto& idem = s->idempotency();
  ASSERT_EQ(idem.claim(request("k", "fp", "t1", 1000)).result, outcome::claimed);
  ASSERT_TRUE(idem.complete("k", "t1", 200, "first"));
  // Not expired (created at 1000, expired_before 1000).
  EXPECT_EQ(idem.claim(request("k", "fp", "t2", 1500, 1000)).result, outcome::completed);
  // Expired: the key is as good as absent, so it is claimed again.
  EXPECT_EQ(idem.claim(request("k", "fp", "t3", 2000, 1500)).result, outcome::claimed);
  EXPECT_EQ(idem.claim(request("k", "fp", "t4", 2001, 1500)).result, outcome::in_progress)
      << "the takeover is a fresh in-progress claim, not the old response";
  EXPECT_FALSE(idem.complete("k", "t1", 200, "stale token"));
  EXPECT_TRUE(idem.complete("k", "t3", 202, "second"));
  auto replay = idem.claim(request("k", "fp", "t5", 2002, 1500));
  EXPECT_EQ(replay.result, outcome::completed);
  EXPECT_EQ(replay.status, 202);
  EXPECT_EQ(replay.body, "second");
  // An expired key may be reused for a different request.
  EXPECT_EQ(idem.claim(request("k", "other", "t6", 5000, 3000)).result, outcome::claimed);
}

TEST_P(StoreTest, IdempotencyReleaseLetsTheRetryRun) {
  auto s = open_migrated();
  auto& idem = s->idempotency();
  ASSERT_EQ(idem.claim(request("k", "fp", "t1", 1000)).result, outcome::claimed);
  idem.release("k", "wrong");
  EXPECT_EQ(idem.claim(request("k", "fp", "t2", 1001)).result, outcome::in_progress);
  idem.release("k", "t1");
  EXPECT_EQ(idem.claim(request("k", "fp", "t3", 1002)).result, outcome::claimed);
  EXPECT_FALSE(idem.complete("k", "t1", 200, "x"));
  ASSERT_TRUE(idem.complete("k", "t3", 200, "done"));
  idem.release("k", "t3"); // completed: release does not drop it
  EXPECT_EQ(idem.claim(request("k", "fp", "t4", 1003)).result, outcome::completed);
}

TEST_P(StoreTest, IdempotencyPurgeRemovesOnlyOldKeys) {
  auto s = open_migrated();
  auto& idem = s->idempotency();
  ASSERT_EQ(idem.claim(request("old-done", "fp", "t1", 1000)).result, outcome::claimed);
  ASSERT_TRUE(idem.complete("old-done", "t1", 200, "x"));
  ASSERT_EQ(idem.claim(request("old-pending", "fp", "t2", 2000)).result, outcome::claimed);
  ASSERT_EQ(idem.claim(request("new", "fp", "t3", 3000)).result, outcome::claimed);
  ASSERT_EQ(idem.claim(request("edge", "fp", "t4", 2500)).result, outcome::claimed);

  EXPECT_EQ(idem.purge(2500), 2u); // strictly before 2500
  EXPECT_EQ(idem.purge(2500), 0u);
  EXPECT_EQ(idem.claim(request("old-done", "fp", "t5", 4000)).result, outcome::claimed);
  EXPECT_EQ(idem.claim(request("old-pending", "fp", "t6", 4000)).result, outcome::claimed);
  EXPECT_EQ(idem.claim(request("new", "fp", "t7", 4000)).result, outcome::in_progress);
  EXPECT_EQ(idem.claim(request("edge", "fp", "t8", 4000)).result, outcome::in_progress);
  EXPECT_FALSE(idem.complete("old-pending", "t2", 200, "x")) << "purged claim is gone";
  EXPECT_EQ(idem.purge(std::numeric_limits<std::int64_t>::max()), 4u);
}

// -- concurrency ------------------------------------------------------------------------

constexpr int concurrent_sessions = 32;

TEST_P(StoreTest, ConcurrentClaimsOfOneKeyHaveExactlyOneWinner) {
  open_migrated();
  std::vector<std::unique_ptr<store_session>> sessions;
  for (int i = 0; i < concurrent_sessions; ++i)
    sessions.push_back(open());
  std::vector<std::string> results(concurrent_sessions);
  std::latch start{concurrent_sessions};
  std::vector<std::thread> threads;
  for (int i = 0; i < concurrent_sessions; ++i)
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      try {
        auto r = sessions[i]->idempotency().claim(
            request("same-key", "fp", "token-" + std::to_string(i), 1000 + i));
        results[i] = name(r.result);
      } catch (const std::exception& e) {
        results[i] = std::string{"error: "} + e.what();
      }
    });
  for (auto& t : threads)
    t.join();
  int claimed = 0;
  int winner = -1;
  for (int i = 0; i < concurrent_sessions; ++i) {
    if (results[i] == "claimed") {
      ++claimed;
      winner = i;
    } else {
      EXPECT_EQ(results[i], "in_progress") << "session " << i;
    }
  }
  ASSERT_EQ(claimed, 1);
  // Only the winner's token completes.
  auto& idem = sessions[0]->idempotency();
  EXPECT_FALSE(idem.complete(
      "same-key", "token-" + std::to_string((winner + 1) % concurrent_sessions), 200, ""));
  EXPECT_TRUE(idem.complete("same-key", "token-" + std::to_string(winner), 200, "won"));
}

TEST_P(StoreTest, ConcurrentCreatesOfOneUserHaveExactlyOneWinner) {
  open_migrated();
  std::vector<std::unique_ptr<store_session>> sessions;
  for (int i = 0; i < concurrent_sessions; ++i)
    sessions.push_back(open());
  std::vector<std::string> results(concurrent_sessions);
  std::latch start{concurrent_sessions};
  std::vector<std::thread> threads;
  for (int i = 0; i < concurrent_sessions; ++i)
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      try {
        results[i] = name(sessions[i]->users().create(make_user("ada@example.org", "TAX1")));
      } catch (const std::exception& e) {
        results[i] = std::string{"error: "} + e.what();
      }
    });
  for (auto& t : threads)
    t.join();
  int ok = 0;
  for (int i = 0; i < concurrent_sessions; ++i) {
    if (results[i] == "ok")
      ++ok;
    else
      EXPECT_EQ(results[i], "email_taken") << "session " << i;
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(sessions[0]->users().list().size(), 1u);
}

// -- unavailability ---------------------------------------------------------------------

TEST_P(StoreTest, UnreachableDatabaseThrowsStorageUnavailable) {
  test::temp_dir dir{"fw-store-bad-"};
  std::string url;
  if (is_sqlite()) {
    auto path = dir.path() / "not-a-database.db";
    std::ofstream{path} << std::string(8192, 'x');
    url = "sqlite://" + path.string();
  } else {
    url = "postgresql://postgres@127.0.0.1:" + std::to_string(test::free_port()) + "/x";
  }
  auto loc = parse_storage_url(url);
  ASSERT_TRUE(loc);
  EXPECT_THROW(
      {
        auto s = open_session(*loc);
        s->migrate(); // a backend may only notice on first use
      },
      storage_unavailable);
}

TEST(StoreUnavailable, SqliteDirectoryCannotBeCreated) {
  test::temp_dir dir{"fw-store-bad-"};
  auto blocker = dir.path() / "file";
  std::ofstream{blocker} << "a file, not a directory";
  auto loc = parse_storage_url("sqlite://" + (blocker / "sub" / "fw.db").string());
  ASSERT_TRUE(loc);
  EXPECT_THROW(open_session(*loc), storage_unavailable);
}

TEST(StoreUnavailable, ClosedPostgresPortThrowsQuickly) {
  auto loc = parse_storage_url(
      "postgresql://postgres@127.0.0.1:" + std::to_string(test::free_port()) + "/x");
  ASSERT_TRUE(loc);
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(open_session(*loc), storage_unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds{5});
}

// PostgreSQL: the server stops under an open session (the shared server is restarted and
// left running). SQLite: the database file is deleted under an open session.
TEST_P(StoreTest, LostDatabaseThrowsStorageUnavailableAndRecovers) {
  auto s = open_migrated();
  ASSERT_EQ(s->users().create(make_user("ada@example.org")), write_result::ok);
  if (is_sqlite()) {
    std::filesystem::path file{location_.target};
    for (const auto* suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(file.string() + suffix);
    // SQLite keeps using the open (unlinked) file; the probe notices.
    EXPECT_THROW(s->probe(), storage_unavailable);
    auto fresh = open(); // a new, empty database at the same path
    EXPECT_NO_THROW(fresh->probe());
    EXPECT_EQ(fresh->migrate(), latest_schema_version());
    EXPECT_EQ(fresh->users().create(make_user("bob@example.org")), write_result::ok);
    return;
  }
  pg().stop();
  EXPECT_THROW(s->probe(), storage_unavailable);
  EXPECT_THROW(s->users().find("ada@example.org"), storage_unavailable);
  EXPECT_THROW(open(), storage_unavailable);
  pg().start_again();
  auto fresh = open();
  EXPECT_NO_THROW(fresh->probe());
  EXPECT_EQ(fresh->migrate(), latest_schema_version());
  EXPECT_TRUE(fresh->users().find("ada@example.org")) << "data survives the restart";
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

} // namespace
} // namespace fw
