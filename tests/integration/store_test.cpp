// The stores (persistence/stores.hpp) against both real backends: SQLite (a fresh file
// per test) and PostgreSQL (one throw-away server for the suite, a fresh database per
// test, so migrations always run from scratch). Only the public interface is exercised;
// raw SQL is used solely to plant a schema version from the future.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <latch>
#include <limits>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "actors/user_manager/idempotent_command.hpp"
#include "messages/errors.hpp"
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

interest make_interest(std::string email, std::string airport,
                       caf::optional<std::int64_t> high = caf::none,
                       caf::optional<std::int64_t> low = caf::none) {
  interest i;
  i.user_email = std::move(email);
  i.airport_code = std::move(airport);
  i.high_value = high;
  i.low_value = low;
  return i;
}

flight make_flight(std::string icao24, std::int64_t first_seen, std::string departure,
                   std::int64_t last_seen, std::string arrival, std::string callsign = "TST123") {
  flight f;
  f.icao24 = std::move(icao24);
  f.first_seen = first_seen;
  f.est_departure_airport = std::move(departure);
  f.last_seen = last_seen;
  f.est_arrival_airport = std::move(arrival);
  f.callsign = std::move(callsign);
  return f;
}

flight_query query(std::string airport, std::string type, std::int64_t limit = 100,
                   caf::optional<std::int64_t> since = caf::none,
                   caf::optional<std::int64_t> until = caf::none) {
  flight_query q;
  q.airport_code = std::move(airport);
  q.type = std::move(type);
  q.limit = limit;
  q.since = since;
  q.until = until;
  return q;
}

// The icao24s, in order (flights in these tests have distinct icao24s).
std::vector<std::string> icao24s(const std::vector<flight>& flights) {
  std::vector<std::string> out;
  for (const auto& f : flights)
    out.push_back(f.icao24);
  return out;
}

std::vector<std::string> airports_of(const std::vector<interest>& interests) {
  std::vector<std::string> out;
  for (const auto& i : interests)
    out.push_back(i.airport_code);
  return out;
}

std::vector<std::string> emails_of(const std::vector<interest>& interests) {
  std::vector<std::string> out;
  for (const auto& i : interests)
    out.push_back(i.user_email);
  return out;
}

using strings = std::vector<std::string>;

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

// A database written by the previous release (schema version 1, before interests and
// flights existed): its tables are created by hand with migration 1's SQL, as that release
// did, and it holds users. Opening it with this build upgrades it in place.
TEST_P(StoreTest, Version1DatabaseIsUpgradedKeepingItsUsers) {
  open(); // creates the (empty) SQLite file; PostgreSQL's database exists already
  const auto& v1 = migrations().at(0);
  ASSERT_EQ(v1.version, 1);
  std::string sql = R"sql(
CREATE TABLE schema_migrations (
  version       INTEGER PRIMARY KEY,
  description   TEXT NOT NULL,
  applied_at_ms BIGINT NOT NULL
);
)sql";
  sql += is_sqlite() ? v1.sqlite : v1.postgres;
  sql += R"sql(;
INSERT INTO schema_migrations (version, description, applied_at_ms)
  VALUES (1, 'users and idempotency keys', 1700000000000);
INSERT INTO users (email, first_name, last_name, tax_code, iban, telegram_chat_id,
                   created_at_ms)
  VALUES ('ada@example.org', 'Ada', 'Lovelace', 'TAX1', NULL, 5000000000, 1700000000000),
         ('bob@example.org', 'Bob', 'Builder', NULL, 'IT60X0542811101000000123456', NULL,
          1700000000001);
INSERT INTO idempotency_keys (key, fingerprint, status, claim_token, user_email,
                              created_at_ms, response_code, response_body)
  VALUES ('k1', 'fp', 'completed', 't1', 'ada@example.org', 1700000000000, 201, 'done')
)sql";
  raw_exec(sql);

  auto s = open();
  EXPECT_EQ(s->migrate(), latest_schema_version());
  EXPECT_EQ(latest_schema_version(), 4);
  auto all = s->users().list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].email, "ada@example.org");
  EXPECT_EQ(all[0].tax_code, "TAX1");
  EXPECT_EQ(chat_id(all[0]), 5'000'000'000);
  EXPECT_EQ(all[1].iban, "IT60X0542811101000000123456");
  auto replay = s->idempotency().claim(request("k1", "fp", "t2", 1'700'000'000'001));
  EXPECT_EQ(replay.result, outcome::completed) << name(replay.result);
  EXPECT_EQ(replay.body, "done");
  // The new tables exist and work.
  EXPECT_EQ(s->interests().upsert(make_interest("ada@example.org", "LIRF", 10, 1)),
            interest_store::upsert_outcome::inserted);
  EXPECT_EQ(s->flights().insert({make_flight("abc123", 100, "LSZH", 200, "LIRF")}), 1u);
  EXPECT_EQ(s->flights().count("LIRF", "arrivals", 0, 1000), 1);
  // And the upgrade is recorded: a new session has nothing left to do.
  auto again = open();
  EXPECT_EQ(again->migrate(), latest_schema_version());
  EXPECT_EQ(again->interests().for_user("ada@example.org").size(), 1u);
}

// A database written by the release before the alert pipeline (schema version 2), with
// users (one linked to Telegram), interests and flights: opening it with this build adds
// version 3 in place, keeping every row; the chat stays active.
TEST_P(StoreTest, Version2DatabaseIsUpgradedKeepingUsersInterestsAndFlights) {
  open(); // creates the (empty) SQLite file; PostgreSQL's database exists already
  const auto& v1 = migrations().at(0);
  const auto& v2 = migrations().at(1);
  ASSERT_EQ(v1.version, 1);
  ASSERT_EQ(v2.version, 2);
  std::string sql = R"sql(
CREATE TABLE schema_migrations (
  version       INTEGER PRIMARY KEY,
  description   TEXT NOT NULL,
  applied_at_ms BIGINT NOT NULL
);
)sql";
  sql += is_sqlite() ? v1.sqlite : v1.postgres;
  sql += ";\n";
  sql += is_sqlite() ? v2.sqlite : v2.postgres;
  sql += R"sql(;
INSERT INTO schema_migrations (version, description, applied_at_ms)
  VALUES (1, 'users and idempotency keys', 1700000000000),
         (2, 'interests and flights', 1700000000001);
INSERT INTO users (email, first_name, last_name, tax_code, iban, telegram_chat_id,
                   created_at_ms)
  VALUES ('ada@example.org', 'Ada', 'Lovelace', 'TAX1', NULL, 5000000000, 1700000000000),
         ('bob@example.org', 'Bob', 'Builder', NULL, NULL, NULL, 1700000000001);
INSERT INTO user_interests (user_email, airport_code, high_value, low_value, created_at_ms)
  VALUES ('ada@example.org', 'LIRF', 10, NULL, 1700000000000),
         ('bob@example.org', 'EGLL', NULL, 2, 1700000000000);
INSERT INTO flight_data (icao24, first_seen, est_departure_airport, last_seen,
                         est_arrival_airport, callsign, arrival_airport_candidates_count)
  VALUES ('abc123', 100, 'LSZH', 200, 'LIRF', 'SWR1', 3),
         ('def456', 300, 'LIRF', 400, '', 'AZA2', NULL)
)sql";
  raw_exec(sql);

  auto s = open();
  EXPECT_EQ(s->migrate(), 4);
  EXPECT_EQ(latest_schema_version(), 4);
  auto all = s->users().list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].email, "ada@example.org");
  EXPECT_EQ(all[0].tax_code, "TAX1");
  EXPECT_EQ(chat_id(all[0]), 5'000'000'000) << "an existing link is active";
  EXPECT_FALSE(all[1].telegram_chat_id);
  EXPECT_EQ(s->interests().for_user("ada@example.org"),
            std::vector<interest>{make_interest("ada@example.org", "LIRF", 10, caf::none)});
  EXPECT_EQ(s->interests().airports(), (strings{"EGLL", "LIRF"}));
  auto arrival = make_flight("abc123", 100, "LSZH", 200, "LIRF", "SWR1");
  arrival.arrival_airport_candidates_count = 3;
  EXPECT_EQ(s->flights().list(query("LIRF", "")),
            (std::vector<flight>{make_flight("def456", 300, "LIRF", 400, "", "AZA2"), arrival}));
  EXPECT_EQ(s->flights().insert({arrival}), 0u) << "deduplication still works";
  // The new column and tables work.
  s->users().mark_chat_inactive(5'000'000'000);
  EXPECT_FALSE(get(s->users(), "ada@example.org").telegram_chat_id);
  EXPECT_TRUE(s->alerts().record("e1", "ada@example.org", "LIRF", std::nullopt, "", 1000));
  EXPECT_EQ(s->alerts().processed("e1"), std::optional<std::string>{""});
  s->telegram_links().create("tok", "bob@example.org", 1000);
  EXPECT_EQ(s->telegram_links().consume("tok", 0), std::optional<std::string>{"bob@example.org"});
  // And the upgrade is recorded.
  auto again = open();
  EXPECT_EQ(again->migrate(), 4);
  EXPECT_EQ(again->flights().count("LIRF", "", 0, 1000), 2);
  // Whole hours are counted from the per-hour counters, filled from the stored flights.
  EXPECT_EQ(again->flights().count("LIRF", "", 0, 7199), 2);
  EXPECT_EQ(again->flights().count("LIRF", "departures", 0, 3599), 1);
  EXPECT_EQ(again->flights().count("LSZH", "departures", -3600, 3599), 1);
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

// Telegram answered 403 (bot blocked): the chat is kept but no longer reported, until the
// user links (this or another) chat again.
TEST_P(StoreTest, InactiveChatIsHiddenUntilLinkedAgain) {
  auto s = open_migrated();
  auto& users = s->users();
  ASSERT_EQ(users.create(make_user("ada@example.org")), write_result::ok);
  ASSERT_EQ(users.create(make_user("bob@example.org")), write_result::ok);
  constexpr std::int64_t big = 5'000'000'000;
  ASSERT_EQ(users.set_telegram_chat_id("ada@example.org", big), write_result::ok);
  ASSERT_EQ(users.set_telegram_chat_id("bob@example.org", 7), write_result::ok);

  users.mark_chat_inactive(big);
  EXPECT_FALSE(get(users, "ada@example.org").telegram_chat_id) << "find hides it";
  auto all = users.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_FALSE(all[0].telegram_chat_id) << "list hides it";
  EXPECT_EQ(chat_id(all[1]), 7) << "other users untouched";
  users.mark_chat_inactive(big);  // again: no effect
  users.mark_chat_inactive(1234); // nobody's chat: no effect
  EXPECT_EQ(chat_id(get(users, "bob@example.org")), 7);

  // The chat id is still stored: nobody else can take it.
  EXPECT_EQ(users.set_telegram_chat_id("bob@example.org", big), write_result::chat_id_taken);
  EXPECT_EQ(chat_id(get(users, "bob@example.org")), 7);

  // Linking the same chat again makes it active.
  EXPECT_EQ(users.set_telegram_chat_id("ada@example.org", big), write_result::ok);
  EXPECT_EQ(chat_id(get(users, "ada@example.org")), big);

  // Linking another chat does too, and frees the old one.
  users.mark_chat_inactive(big);
  EXPECT_EQ(users.set_telegram_chat_id("ada@example.org", 8), write_result::ok);
  EXPECT_EQ(chat_id(get(users, "ada@example.org")), 8);
  EXPECT_EQ(users.set_telegram_chat_id("bob@example.org", big), write_result::ok);
  EXPECT_EQ(chat_id(get(users, "bob@example.org")), big);
  // Deactivating bob's new chat leaves ada's alone.
  users.mark_chat_inactive(big);
  EXPECT_FALSE(get(users, "bob@example.org").telegram_chat_id);
  EXPECT_EQ(chat_id(get(users, "ada@example.org")), 8);
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

TEST_P(StoreTest, TransactionCommitsEveryCallTogether) {
  auto s = open_migrated();
  s->transaction([&] {
    EXPECT_EQ(s->idempotency().claim(request("k", "fp", "t1", 1000)).result, outcome::claimed);
    EXPECT_EQ(s->users().create(make_user("ada@example.org")), write_result::ok);
    // The stores' own transactions nest: a conflict inside one leaves the rest intact.
    EXPECT_EQ(s->users().create(make_user("ada@example.org")), write_result::email_taken);
    EXPECT_TRUE(s->idempotency().complete("k", "t1", 201, "created"));
    return true;
  });
  EXPECT_TRUE(s->users().find("ada@example.org"));
  auto replay = s->idempotency().claim(request("k", "fp", "t2", 1001));
  EXPECT_EQ(replay.result, outcome::completed);
  EXPECT_EQ(replay.body, "created");
}

TEST_P(StoreTest, TransactionRollsBackWhenTheBodySaysSoOrThrows) {
  auto s = open_migrated();
  s->transaction([&] {
    EXPECT_EQ(s->idempotency().claim(request("k", "fp", "t1", 1000)).result, outcome::claimed);
    EXPECT_EQ(s->users().create(make_user("ada@example.org")), write_result::ok);
    return false;
  });
  EXPECT_FALSE(s->users().find("ada@example.org"));
  EXPECT_THROW(s->transaction([&]() -> bool {
    EXPECT_EQ(s->idempotency().claim(request("k", "fp", "t2", 1001)).result, outcome::claimed);
    EXPECT_EQ(s->users().create(make_user("ada@example.org")), write_result::ok);
    throw std::runtime_error("the command failed");
  }),
               std::runtime_error);
  EXPECT_FALSE(s->users().find("ada@example.org"));
  // Neither claim stayed: the key is free for the retry.
  EXPECT_EQ(s->idempotency().claim(request("k", "fp", "t3", 1002)).result, outcome::claimed);
  // The session works normally afterwards.
  EXPECT_EQ(s->users().create(make_user("ada@example.org")), write_result::ok);
}

TEST_P(StoreTest, TransactionSurvivesATakenChatId) {
  auto s = open_migrated();
  ASSERT_EQ(s->users().create(make_user("ada@example.org")), write_result::ok);
  ASSERT_EQ(s->users().create(make_user("bob@example.org")), write_result::ok);
  ASSERT_EQ(s->users().set_telegram_chat_id("ada@example.org", 42), write_result::ok);
  s->transaction([&] {
    EXPECT_EQ(s->idempotency().claim(request("k", "fp", "t1", 1000)).result, outcome::claimed);
    // On PostgreSQL a unique violation aborts its transaction unless it is confined.
    EXPECT_EQ(s->users().set_telegram_chat_id("bob@example.org", 42), write_result::chat_id_taken);
    EXPECT_TRUE(s->idempotency().complete("k", "t1", 409, "taken"));
    return true;
  });
  EXPECT_EQ(s->idempotency().claim(request("k", "fp", "t2", 1001)).body, "taken");
  EXPECT_EQ(chat_id(get(s->users(), "bob@example.org")), 0);
}

TEST_P(StoreTest, TransactionHidesItsClaimAndReportsItInProgress) {
  auto s = open_migrated();
  auto other = open();
  s->transaction([&] {
    EXPECT_EQ(s->idempotency().claim(request("k", "fp", "t1", 1000)).result, outcome::claimed);
    EXPECT_EQ(s->users().create(make_user("ada@example.org")), write_result::ok);
    EXPECT_FALSE(other->users().find("ada@example.org")) << "uncommitted work is invisible";
    // SQLite's writers take turns, so another session's claim would wait for this
    // transaction; PostgreSQL answers at once.
    if (!is_sqlite()) {
      EXPECT_EQ(other->idempotency().claim(request("k", "fp", "t2", 1001)).result,
                outcome::in_progress);
    }
    EXPECT_TRUE(s->idempotency().complete("k", "t1", 201, "created"));
    return true;
  });
  EXPECT_EQ(other->idempotency().claim(request("k", "fp", "t3", 1002)).result, outcome::completed);
  EXPECT_TRUE(other->users().find("ada@example.org"));
}

// -- batches: create_many, find_many, claim_many, complete_many --------------------------

TEST_P(StoreTest, UsersCreateManyAnswersEachUserInOrder) {
  auto s = open_migrated();
  ASSERT_EQ(s->users().create(make_user("taken@example.org")), write_result::ok);
  auto second = make_user("amy@example.org");
  second.first_name = "Second";
  auto results = s->users().create_many({make_user("zed@example.org", "RSSMRA85D15Z404E",
                                                   "IT60X0542811101000000123456"),
                                         make_user("taken@example.org"),
                                         make_user("amy@example.org"),
                                         second,
                                         make_user("quote\"back\\slash{a,b}@example.org")});
  std::vector<std::string> got;
  for (auto r : results)
    got.push_back(name(r));
  // Of two users with one email, the first in the batch is created.
  EXPECT_EQ(got, (strings{"ok", "email_taken", "ok", "email_taken", "ok"}));
  auto zed = get(s->users(), "zed@example.org");
  EXPECT_EQ(zed.tax_code, "RSSMRA85D15Z404E");
  EXPECT_EQ(zed.iban, "IT60X0542811101000000123456");
  EXPECT_EQ(get(s->users(), "amy@example.org").first_name, "Ada");
  EXPECT_EQ(get(s->users(), "amy@example.org").tax_code, "") << "no tax code is stored as NULL";
  EXPECT_EQ(get(s->users(), "quote\"back\\slash{a,b}@example.org").last_name, "Lovelace");
  EXPECT_EQ(s->users().list().size(), 4u);
}

TEST_P(StoreTest, UsersCreateManyAnswersOkExactlyForTheUsersStored) {
  // Two users share an email, and the first shares a tax code with a third: which of them
  // get in depends on the order the backend inserts them in, as for concurrent requests.
  // Whatever it is, "ok" must mean that this user's data is what is stored.
  auto s = open_migrated();
  auto second = make_user("zed@example.org");
  second.first_name = "Second";
  const std::vector<user> batch{make_user("zed@example.org", "RSSMRA85D15Z404E"), second,
                                make_user("bea@example.org", "RSSMRA85D15Z404E")};
  auto results = s->users().create_many(batch);
  ASSERT_EQ(results.size(), batch.size());
  int created = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto stored = s->users().find(batch[i].email);
    const bool is_this_one = stored && stored->first_name == batch[i].first_name &&
                             stored->tax_code == batch[i].tax_code;
    EXPECT_EQ(results[i] == write_result::ok, is_this_one) << i << ": " << name(results[i]);
    if (results[i] == write_result::ok)
      ++created;
    else
      EXPECT_TRUE(results[i] == write_result::email_taken ||
                  results[i] == write_result::tax_code_taken)
          << name(results[i]);
  }
  EXPECT_EQ(created, static_cast<int>(s->users().list().size()));
  EXPECT_GE(created, 1);
  EXPECT_LE(created, 2);
}

TEST_P(StoreTest, UsersFindManyAnswersEachEmailInOrder) {
  auto s = open_migrated();
  ASSERT_EQ(s->users().create(make_user("ada@example.org", "RSSMRA85D15Z404E")), write_result::ok);
  ASSERT_EQ(s->users().create(make_user("bob@example.org")), write_result::ok);
  ASSERT_EQ(s->users().set_telegram_chat_id("bob@example.org", 7), write_result::ok);
  auto found = s->users().find_many(
    {"bob@example.org", "nobody@example.org", "ada@example.org", "bob@example.org"});
  ASSERT_EQ(found.size(), 4u);
  ASSERT_TRUE(found[0]);
  EXPECT_EQ(found[0]->email, "bob@example.org");
  EXPECT_EQ(chat_id(*found[0]), 7);
  EXPECT_FALSE(found[1]);
  ASSERT_TRUE(found[2]);
  EXPECT_EQ(found[2]->tax_code, "RSSMRA85D15Z404E");
  ASSERT_TRUE(found[3]);
  EXPECT_EQ(found[3]->email, "bob@example.org");
  EXPECT_TRUE(s->users().find_many({}).empty());
}

TEST_P(StoreTest, IdempotencyClaimManyThenCompleteManyInOneTransaction) {
  auto s = open_migrated();
  auto& idem = s->idempotency();
  ASSERT_EQ(idem.claim(request("done", "fp", "t0", 1000)).result, outcome::claimed);
  ASSERT_TRUE(idem.complete("done", "t0", 201, "first answer"));
  s->transaction([&] {
    auto claims = idem.claim_many({request("new-1", "fp", "a", 2000),
                                   request("done", "fp", "b", 2000),
                                   request("done", "other", "c", 2000),
                                   request("new-2", "fp", "d", 2000),
                                   request("new-1", "fp", "e", 2000),
                                   request("new-1", "other", "f", 2000)});
    std::vector<std::string> got;
    for (const auto& c : claims)
      got.push_back(name(c.result));
    EXPECT_EQ(got, (strings{"claimed", "completed", "mismatch", "claimed", "in_progress",
                            "mismatch"}));
    EXPECT_EQ(claims[1].status, 201);
    EXPECT_EQ(claims[1].body, "first answer");
    const std::string body = R"({"message":"a \"quoted\" {body}, with \\ and ✈"})";
    EXPECT_EQ(idem.complete_many({{"new-1", "a", 201, body},
                                  {"new-2", "d", 409, "taken"},
                                  {"new-2", "wrong-token", 500, "never"}}),
              2u);
    return true;
  });
  auto one = idem.claim(request("new-1", "fp", "g", 3000));
  EXPECT_EQ(one.result, outcome::completed);
  EXPECT_EQ(one.status, 201);
  EXPECT_EQ(one.body, R"({"message":"a \"quoted\" {body}, with \\ and ✈"})");
  auto two = idem.claim(request("new-2", "fp", "h", 3000));
  EXPECT_EQ(two.status, 409);
  EXPECT_EQ(two.body, "taken");
}

TEST_P(StoreTest, IdempotencyClaimManyRollsBackWithItsTransaction) {
  auto s = open_migrated();
  auto other = open_migrated();
  s->transaction([&] {
    auto claims = s->idempotency().claim_many(
      {request("k1", "fp", "a", 1000), request("k2", "fp", "b", 1000)});
    EXPECT_EQ(claims[0].result, outcome::claimed);
    EXPECT_EQ(claims[1].result, outcome::claimed);
    if (!is_sqlite()) { // PostgreSQL answers at once; SQLite's writers take turns
      auto seen = other->idempotency().claim_many(
        {request("k1", "fp", "c", 1001), request("k2", "fp", "d", 1001)});
      EXPECT_EQ(seen[0].result, outcome::in_progress);
      EXPECT_EQ(seen[1].result, outcome::in_progress);
    }
    return false;
  });
  auto again = other->idempotency().claim_many(
    {request("k1", "fp", "e", 1002), request("k2", "fp", "f", 1002)});
  EXPECT_EQ(again[0].result, outcome::claimed);
  EXPECT_EQ(again[1].result, outcome::claimed);
}

using keyed_user = user_store::keyed_user;

TEST_P(StoreTest, UsersCreateManyWithKeysStoresEachUserWithItsKeyOrNeither) {
  auto s = open_migrated();
  ASSERT_EQ(s->users().create(make_user("taken@example.org")), write_result::ok);
  ASSERT_EQ(s->users().create(make_user("tax@example.org", "RSSMRA85D15Z404E")), write_result::ok);
  ASSERT_EQ(s->idempotency().claim(request("used", "fp-old", "t0", 1000)).result, outcome::claimed);
  ASSERT_TRUE(s->idempotency().complete("used", "t0", 409, "the old answer"));
  const std::string body = R"({"message":"a \"quoted\" {body}, with \\ and ✈"})";
  auto done = s->users().create_many_with_keys(
    {{make_user("ada@example.org", "", "IT60X0542811101000000123456"), "k-ada", "fp-ada"},
     {make_user("taken@example.org"), "k-taken", "fp"},
     {make_user("bea@example.org", "RSSMRA85D15Z404E"), "k-tax", "fp"},
     {make_user("cy@example.org"), "used", "fp-cy"},
     {make_user("q\"uote{a,b}@example.org"), "k-quote", "fp-q"}},
    201, body, 2000);
  auto claim_of = [&](const std::string& key, const std::string& fp) {
    return s->idempotency().claim(request(key, fp, "probe", 3000));
  };
  if (is_sqlite()) { // no quick way: nothing done, nothing changed
    EXPECT_EQ(done, std::vector<bool>(5, false));
    EXPECT_FALSE(s->users().find("ada@example.org"));
    EXPECT_EQ(claim_of("k-ada", "fp-ada").result, outcome::claimed);
    return;
  }
  // Only the users whose key is new and whose email and tax code are free.
  EXPECT_EQ(done, (std::vector<bool>{true, false, false, false, true}));
  EXPECT_EQ(get(s->users(), "ada@example.org").iban, "IT60X0542811101000000123456");
  EXPECT_EQ(get(s->users(), "q\"uote{a,b}@example.org").first_name, "Ada");
  auto ada = claim_of("k-ada", "fp-ada");
  EXPECT_EQ(ada.result, outcome::completed);
  EXPECT_EQ(ada.status, 201);
  EXPECT_EQ(ada.body, body);
  EXPECT_EQ(claim_of("k-ada", "fp-other").result, outcome::mismatch) << "bound to its request";
  EXPECT_EQ(claim_of("k-quote", "fp-q").result, outcome::completed);
  // Those left out changed nothing: their keys are free and their users absent.
  EXPECT_FALSE(s->users().find("bea@example.org"));
  EXPECT_FALSE(s->users().find("cy@example.org"));
  EXPECT_EQ(claim_of("k-taken", "fp").result, outcome::claimed);
  EXPECT_EQ(claim_of("k-tax", "fp").result, outcome::claimed);
  auto used = claim_of("used", "fp-old");
  EXPECT_EQ(used.result, outcome::completed);
  EXPECT_EQ(used.body, "the old answer");
  EXPECT_EQ(s->users().list().size(), 4u);
  EXPECT_TRUE(s->users().create_many_with_keys({}, 201, body, 4000).empty());
}

TEST_P(StoreTest, UsersCreateManyWithKeysNeverStoresAUserWithoutItsKey) {
  if (is_sqlite())
    GTEST_SKIP() << "SQLite has no quick way (the default creates none)";
  auto s = open_migrated();
  auto other = open_migrated();
  // Another request holds key "k" (claimed, not yet committed) for another user: this
  // statement's snapshot cannot see it, so only the key's uniqueness can keep ada out.
  std::latch claimed{2};
  std::thread holder([&] {
    other->transaction([&] {
      EXPECT_EQ(other->idempotency().claim(request("k", "fp-bob", "t1", 1000)).result,
                outcome::claimed);
      EXPECT_EQ(other->users().create(make_user("bob@example.org")), write_result::ok);
      claimed.arrive_and_wait();
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      EXPECT_TRUE(other->idempotency().complete("k", "t1", 201, "bob's answer"));
      return true;
    });
  });
  claimed.arrive_and_wait();
  bool threw = false;
  std::vector<bool> done;
  try {
    done = s->users().create_many_with_keys(
      {{make_user("ada@example.org"), "k", "fp-ada"},
       {make_user("cy@example.org"), "k-cy", "fp-cy"}},
      201, "created", 2000);
  } catch (const std::runtime_error&) {
    threw = true; // it could not tell: nothing changed
  }
  holder.join();
  if (!threw) {
    ASSERT_EQ(done.size(), 2u);
    EXPECT_FALSE(done[0]);
  }
  EXPECT_FALSE(s->users().find("ada@example.org")) << "a user stored without its key";
  auto k = s->idempotency().claim(request("k", "fp-bob", "probe", 3000));
  EXPECT_EQ(k.result, outcome::completed);
  EXPECT_EQ(k.body, "bob's answer");
  EXPECT_EQ(s->users().find("cy@example.org").has_value(), !threw && done[1]);
}

// -- the user-manager's idempotent batches (actors/user_manager) over these stores -------

// Creates the users at `which`; `fail` makes the user with that email answer 503, and
// `throw_for` makes the command throw when that user is among those it runs.
user_manager::batch_command creating(const std::vector<user>& users, std::string fail = "",
                                     std::string throw_for = "") {
  return [users, fail, throw_for](store_session& s, const std::vector<std::size_t>& which) {
    std::vector<user> chosen;
    for (auto i : which) {
      if (users[i].email == throw_for)
        throw std::runtime_error("the command failed");
      chosen.push_back(users[i]);
    }
    auto results = s.users().create_many(chosen);
    std::vector<command_reply> out;
    for (std::size_t k = 0; k < results.size(); ++k) {
      if (chosen[k].email == fail)
        out.push_back({503, "unavailable", false});
      else
        out.push_back({static_cast<std::uint16_t>(results[k] == write_result::ok ? 201 : 409),
                       "created " + chosen[k].email, false});
    }
    return out;
  };
}

std::vector<std::string> statuses(const std::vector<caf::expected<command_reply>>& replies) {
  std::vector<std::string> out;
  for (const auto& r : replies)
    out.push_back(r ? std::to_string(r->status) + (r->replayed ? " replayed" : "") : "error");
  return out;
}

std::vector<caf::expected<command_reply>>
run_batch(store_session& s, const std::vector<user_manager::keyed_request>& batch,
          const user_manager::batch_command& cmd) {
  const user_manager::idempotency_policy policy{std::chrono::hours{24}, std::chrono::minutes{1}};
  return run_idempotent_batch(s, policy, "create_user", batch, cmd);
}

TEST_P(StoreTest, IdempotentBatchAnswersEachRequestAsIfAlone) {
  auto s = open_migrated();
  // Earlier: key "done" created bob.
  auto bob = make_user("bob@example.org");
  ASSERT_EQ(statuses(run_batch(*s, {{"done", "fp-bob", bob.email}}, creating({bob}))),
            strings{"201"});
  const std::vector<user> users{make_user("ada@example.org"), bob, bob,
                                make_user("ada@example.org"), make_user("cy@example.org"), bob};
  const std::vector<user_manager::keyed_request> batch{
    {"k-ada", "fp-ada", "ada@example.org"}, // new
    {"done", "fp-bob", bob.email},          // replays the earlier answer
    {"done", "fp-other", bob.email},        // the key was used for another request
    {"k-ada", "fp-ada", "ada@example.org"}, // the same key twice in one batch
    {"k-cy", "fp-cy", "cy@example.org"},    // new
    {"k-bob", "fp-bob2", bob.email},        // new key, existing user: 409, stored
  };
  auto replies = run_batch(*s, batch, creating(users));
  EXPECT_EQ(statuses(replies), (strings{"201", "201 replayed", "422", "409", "201", "409"}));
  EXPECT_EQ(replies[1]->body, "created bob@example.org");
  EXPECT_NE(replies[3]->body.find("in progress"), std::string::npos) << replies[3]->body;
  EXPECT_EQ(s->users().list().size(), 3u);
  // Every key that ran now replays its answer, the 409 too.
  auto again = run_batch(*s,
                         {{"k-ada", "fp-ada", "ada@example.org"},
                          {"k-cy", "fp-cy", "cy@example.org"},
                          {"k-bob", "fp-bob2", bob.email}},
                         creating({users[0], users[4], bob}));
  EXPECT_EQ(statuses(again), (strings{"201 replayed", "201 replayed", "409 replayed"}));
}

TEST_P(StoreTest, IdempotentBatchConfinesA5xxOrAFailureToItsRequest) {
  auto s = open_migrated();
  const std::vector<user> users{make_user("ada@example.org"), make_user("bob@example.org"),
                                make_user("cy@example.org")};
  const std::vector<user_manager::keyed_request> batch{{"k-ada", "fp", "ada@example.org"},
                                                       {"k-bob", "fp", "bob@example.org"},
                                                       {"k-cy", "fp", "cy@example.org"}};
  // A command answering 5xx: only its own request fails.
  auto replies = run_batch(*s, batch, creating(users, "bob@example.org"));
  EXPECT_EQ(statuses(replies), (strings{"201", "503", "201"}));
  EXPECT_TRUE(s->users().find("ada@example.org"));
  EXPECT_FALSE(s->users().find("bob@example.org")) << "a 5xx is rolled back";
  EXPECT_TRUE(s->users().find("cy@example.org"));
  // A command that throws: only its own request fails, with an error.
  const std::vector<user> more{make_user("dan@example.org"), make_user("eve@example.org")};
  const std::vector<user_manager::keyed_request> next{{"k-dan", "fp", "dan@example.org"},
                                                      {"k-eve", "fp", "eve@example.org"}};
  replies = run_batch(*s, next, creating(more, "", "eve@example.org"));
  EXPECT_EQ(statuses(replies), (strings{"201", "error"}));
  EXPECT_EQ(message_of(replies[1].error()), "storage operation create_user failed");
  EXPECT_TRUE(s->users().find("dan@example.org"));
  EXPECT_FALSE(s->users().find("eve@example.org"));
  // The failed requests left their keys free: a retry runs them.
  EXPECT_EQ(statuses(run_batch(*s, batch, creating(users))),
            (strings{"201 replayed", "201", "201 replayed"}));
  EXPECT_EQ(statuses(run_batch(*s, next, creating(more))),
            (strings{"201 replayed", "201"}));
  EXPECT_EQ(s->users().list().size(), 5u);
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

// -- interests --------------------------------------------------------------------------

using upsert_outcome = interest_store::upsert_outcome;
constexpr auto inserted = upsert_outcome::inserted;

// Registers users (an interest is stored only for a user that exists).
void add_users(store_session& s, std::initializer_list<const char*> emails) {
  for (const auto* email : emails)
    ASSERT_EQ(s.users().create(make_user(email)), write_result::ok) << email;
}

TEST_P(StoreTest, InterestsUpsertInsertsThenReplacesThresholds) {
  auto s = open_migrated();
  add_users(*s, {"ada@example.org", "bob@example.org"});
  auto& interests = s->interests();
  EXPECT_EQ(interests.upsert(make_interest("ada@example.org", "LIRF", 10, 2)), inserted);
  EXPECT_EQ(interests.upsert(make_interest("ada@example.org", "LIRF", 20, caf::none)),
            upsert_outcome::updated)
      << "existing interest: not new";
  auto all = interests.for_user("ada@example.org");
  ASSERT_EQ(all.size(), 1u) << "still one row";
  EXPECT_EQ(all[0], make_interest("ada@example.org", "LIRF", 20, caf::none));
  // Same airport, another user; same user, another airport: both new.
  EXPECT_EQ(interests.upsert(make_interest("bob@example.org", "LIRF")), inserted);
  EXPECT_EQ(interests.upsert(make_interest("ada@example.org", "EGLL")), inserted);
  EXPECT_EQ(interests.for_user("ada@example.org").size(), 2u);
  EXPECT_EQ(interests.for_airport("LIRF").size(), 2u);
}

TEST_P(StoreTest, InterestsOfAnUnknownUserAreNotStored) {
  auto s = open_migrated();
  add_users(*s, {"ada@example.org"});
  auto& interests = s->interests();
  EXPECT_EQ(interests.upsert(make_interest("bob@example.org", "LIRF", 10, 2)),
            upsert_outcome::no_user);
  EXPECT_EQ(interests.upsert(make_interest("Ada@example.org", "LIRF")), upsert_outcome::no_user)
      << "emails are compared as stored (the roles normalise them first)";
  EXPECT_TRUE(interests.for_airport("LIRF").empty());
  EXPECT_TRUE(interests.airports().empty());
  // Nor updated: an interest left behind by a deleted user stays as it was.
  ASSERT_EQ(interests.upsert(make_interest("ada@example.org", "LIRF", 10, 2)), inserted);
  ASSERT_TRUE(s->users().remove("ada@example.org"));
  EXPECT_EQ(interests.upsert(make_interest("ada@example.org", "LIRF", 99, 1)),
            upsert_outcome::no_user);
  EXPECT_EQ(interests.for_user("ada@example.org"),
            std::vector<interest>{make_interest("ada@example.org", "LIRF", 10, 2)});
}

TEST_P(StoreTest, InterestsNullThresholdsRoundTrip) {
  auto s = open_migrated();
  add_users(*s, {"a@example.org"});
  auto& interests = s->interests();
  const std::int64_t big = 5'000'000'000; // above 2^32
  const auto none = make_interest("a@example.org", "LIRF");
  const auto high_only = make_interest("a@example.org", "EGLL", big, caf::none);
  const auto low_only = make_interest("a@example.org", "KJFK", caf::none, -3);
  const auto zeros = make_interest("a@example.org", "LFPG", 0, 0);
  for (const auto& i : {none, high_only, low_only, zeros})
    ASSERT_EQ(interests.upsert(i), inserted) << i.airport_code;
  auto all = interests.for_user("a@example.org");
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0], high_only); // EGLL
  EXPECT_EQ(all[1], low_only);  // KJFK
  EXPECT_EQ(all[2], zeros);     // LFPG: 0 is a value, not NULL
  EXPECT_EQ(all[3], none);      // LIRF
  EXPECT_FALSE(all[3].high_value);
  EXPECT_FALSE(all[3].low_value);
  // Thresholds can be cleared again.
  ASSERT_TRUE(interests.update_thresholds(make_interest("a@example.org", "LFPG")));
  EXPECT_EQ(interests.for_airport("LFPG").at(0), make_interest("a@example.org", "LFPG"));
}

TEST_P(StoreTest, InterestsUpdateThresholdsAndRemove) {
  auto s = open_migrated();
  add_users(*s, {"ada@example.org"});
  auto& interests = s->interests();
  EXPECT_FALSE(interests.update_thresholds(make_interest("ada@example.org", "LIRF", 5, 1)))
      << "absent interest";
  EXPECT_TRUE(interests.for_user("ada@example.org").empty()) << "update must not insert";

  ASSERT_EQ(interests.upsert(make_interest("ada@example.org", "LIRF", 5, 1)), inserted);
  EXPECT_TRUE(interests.update_thresholds(make_interest("ada@example.org", "LIRF", 50, 10)));
  EXPECT_TRUE(interests.update_thresholds(make_interest("ada@example.org", "LIRF", 50, 10)))
      << "same values again";
  EXPECT_EQ(interests.for_user("ada@example.org"),
            std::vector<interest>{make_interest("ada@example.org", "LIRF", 50, 10)});
  EXPECT_FALSE(interests.update_thresholds(make_interest("ada@example.org", "EGLL", 5, 1)));

  EXPECT_FALSE(interests.remove("ada@example.org", "EGLL"));
  EXPECT_FALSE(interests.remove("bob@example.org", "LIRF"));
  EXPECT_TRUE(interests.remove("ada@example.org", "LIRF"));
  EXPECT_FALSE(interests.remove("ada@example.org", "LIRF"));
  EXPECT_TRUE(interests.for_user("ada@example.org").empty());
  // Removed means gone: upserting again is new.
  EXPECT_EQ(interests.upsert(make_interest("ada@example.org", "LIRF")), inserted);
}

TEST_P(StoreTest, InterestsListsAreOrderedByteWise) {
  auto s = open_migrated();
  add_users(*s, {"ada@example.org", "bob@example.org", "carol@example.org", "Zed@example.org"});
  auto& interests = s->interests();
  // Upper case sorts before lower case byte-wise (not so in most locales).
  for (const auto* airport : {"LIRF", "EGLL", "KJFK", "LIMC", "egll"})
    ASSERT_EQ(interests.upsert(make_interest("ada@example.org", airport)), inserted);
  for (const auto* email : {"carol@example.org", "bob@example.org", "Zed@example.org"})
    ASSERT_EQ(interests.upsert(make_interest(email, "LIRF")), inserted);
  ASSERT_EQ(interests.upsert(make_interest("bob@example.org", "EGLL")), inserted);

  EXPECT_EQ(airports_of(interests.for_user("ada@example.org")),
            (strings{"EGLL", "KJFK", "LIMC", "LIRF", "egll"}));
  EXPECT_EQ(airports_of(interests.for_user("bob@example.org")), (strings{"EGLL", "LIRF"}));
  EXPECT_TRUE(interests.for_user("nobody@example.org").empty());

  EXPECT_EQ(emails_of(interests.for_airport("LIRF")),
            (strings{"Zed@example.org", "ada@example.org", "bob@example.org",
                     "carol@example.org"}));
  for (const auto& i : interests.for_airport("LIRF"))
    EXPECT_EQ(i.airport_code, "LIRF");
  EXPECT_EQ(emails_of(interests.for_airport("EGLL")),
            (strings{"ada@example.org", "bob@example.org"}));
  EXPECT_TRUE(interests.for_airport("ZZZZ").empty());

  EXPECT_EQ(interests.airports(), (strings{"EGLL", "KJFK", "LIMC", "LIRF", "egll"}))
      << "distinct and ordered";
}

TEST_P(StoreTest, InterestsRemoveAllOfUser) {
  auto s = open_migrated();
  add_users(*s, {"ada@example.org", "bob@example.org", "ada@example.org.evil"});
  auto& interests = s->interests();
  EXPECT_TRUE(interests.airports().empty());
  EXPECT_EQ(interests.remove_all_of_user("ada@example.org"), 0u);
  for (const auto* airport : {"LIRF", "EGLL", "KJFK"})
    ASSERT_EQ(interests.upsert(make_interest("ada@example.org", airport, 3, 1)), inserted);
  ASSERT_EQ(interests.upsert(make_interest("bob@example.org", "LIRF", 7, caf::none)), inserted);
  ASSERT_EQ(interests.upsert(make_interest("ada@example.org.evil", "LIMC")), inserted);

  EXPECT_EQ(interests.remove_all_of_user("ada@example.org"), 3u);
  EXPECT_EQ(interests.remove_all_of_user("ada@example.org"), 0u);
  EXPECT_TRUE(interests.for_user("ada@example.org").empty());
  EXPECT_EQ(interests.for_user("bob@example.org"),
            std::vector<interest>{make_interest("bob@example.org", "LIRF", 7, caf::none)})
      << "other users untouched";
  EXPECT_EQ(interests.for_user("ada@example.org.evil").size(), 1u);
  EXPECT_EQ(interests.airports(), (strings{"LIMC", "LIRF"}));
}

// -- flights ----------------------------------------------------------------------------

TEST_P(StoreTest, FlightsRoundTripEveryField) {
  auto s = open_migrated();
  auto& flights = s->flights();
  auto full = make_flight("4b1814", 1'700'000'000, "LSZH", 1'700'003'600, "LIRF",
                          R"(A"B\C,{D} NULL 'x')");
  full.est_departure_airport_horiz_distance = 1234;
  full.est_departure_airport_vert_distance = -56;
  full.est_arrival_airport_horiz_distance = 5'000'000'000;
  full.est_arrival_airport_vert_distance = 0;
  full.departure_airport_candidates_count = 3;
  full.arrival_airport_candidates_count = 1;
  auto bare = make_flight("3c6444", 1'700'000'100, "", 1'700'000'200, "LIRF", "");
  auto partly = make_flight("a1b2c3", 1'700'000'300, "NULL", 1'700'000'400, "LIRF", "\"\"");
  partly.est_arrival_airport_vert_distance = 7;
  ASSERT_EQ(flights.insert({full, bare, partly}), 3u);
  EXPECT_EQ(flights.list(query("LIRF", "arrivals")), (std::vector<flight>{full, partly, bare}));
  EXPECT_EQ(flights.list(query("LSZH", "departures")), std::vector<flight>{full});
  EXPECT_EQ(flights.list(query("NULL", "departures")), std::vector<flight>{partly});
  EXPECT_EQ(flights.insert({}), 0u);
}

TEST_P(StoreTest, FlightsInsertDeduplicates) {
  auto s = open_migrated();
  auto& flights = s->flights();
  const std::vector<flight> batch{
      make_flight("aaa001", 1000, "LSZH", 4000, "LIRF"),
      make_flight("aaa002", 1000, "LIRF", 4000, "EGLL"),
      make_flight("aaa003", 1000, "", 4000, ""), // both airports unknown
      make_flight("aaa004", 1000, "", 4000, "LIRF"),
  };
  EXPECT_EQ(flights.insert(batch), 4u);
  EXPECT_EQ(flights.insert(batch), 0u) << "the same batch again";

  // Only icao24, first_seen and the two airports identify a flight.
  auto later_report = batch[0];
  later_report.last_seen = 4100;
  later_report.callsign = "OTHER";
  later_report.arrival_airport_candidates_count = 2;
  auto unknown_again = make_flight("aaa003", 1000, "", 5000, "", "X");
  EXPECT_EQ(flights.insert({later_report, unknown_again}), 0u);

  // Differing in one airport only: a different flight.
  EXPECT_EQ(flights.insert({make_flight("aaa001", 1000, "LSZH", 4000, "LIMC")}), 1u);
  EXPECT_EQ(flights.insert({make_flight("aaa003", 1000, "", 4000, "LIRF")}), 1u);
  EXPECT_EQ(flights.insert({make_flight("aaa003", 1000, "LIRF", 4000, "")}), 1u);
  EXPECT_EQ(flights.insert({make_flight("aaa001", 1001, "LSZH", 4000, "LIRF")}), 1u);

  // Duplicates within one batch count once; old and new mixed count the new ones.
  auto fresh = make_flight("bbb001", 2000, "LIRF", 3000, "LIMC");
  EXPECT_EQ(flights.insert({fresh, batch[1], fresh, make_flight("bbb002", 2000, "", 3000, ""),
                            make_flight("bbb002", 2000, "", 3000, "")}),
            2u);

  // The first report is kept.
  auto arrivals = flights.list(query("LIRF", "arrivals"));
  ASSERT_EQ(arrivals.size(), 4u); // aaa001 (1000), aaa004, aaa003 (""->LIRF), aaa001 (1001)
  for (const auto& f : arrivals)
    EXPECT_EQ(f.last_seen, 4000) << f.icao24;
  EXPECT_EQ(flights.count("", "arrivals", 0, 10'000), 3) << "unknown arrival airport";
  EXPECT_EQ(flights.count("", "departures", 0, 10'000), 4) << "unknown departure airport";
}

// Flights at LIRF (time there in brackets): arrivals a1 (1000), a2 (2000), a3 (3000);
// departures d1 (1500), d2 (2500); round trip r departing at 500 and arriving at 3500;
// and traffic elsewhere.
std::vector<flight> lirf_traffic() {
  return {
      make_flight("a1", 100, "LSZH", 1000, "LIRF"),
      make_flight("a2", 200, "", 2000, "LIRF"),
      make_flight("a3", 300, "EGLL", 3000, "LIRF"),
      make_flight("d1", 1500, "LIRF", 9000, "EGLL"),
      make_flight("d2", 2500, "LIRF", 2600, ""),
      make_flight("r", 500, "LIRF", 3500, "LIRF"),
      make_flight("x1", 1000, "EGLL", 2000, "LSZH"),
      make_flight("x2", 2000, "LSZH", 3000, "EGLL"),
  };
}

TEST_P(StoreTest, FlightsListByTypeNewestFirstWithinWindow) {
  auto s = open_migrated();
  auto& flights = s->flights();
  ASSERT_EQ(flights.insert(lirf_traffic()), 8u);

  EXPECT_EQ(icao24s(flights.list(query("LIRF", "arrivals"))), (strings{"r", "a3", "a2", "a1"}));
  EXPECT_EQ(icao24s(flights.list(query("LIRF", "departures"))), (strings{"d2", "d1", "r"}));
  EXPECT_EQ(icao24s(flights.list(query("LIRF", "arrivals", 2))), (strings{"r", "a3"}));
  EXPECT_EQ(icao24s(flights.list(query("LIRF", "departures", 1))), (strings{"d2"}));
  EXPECT_TRUE(flights.list(query("LIRF", "arrivals", 0)).empty());

  // Inclusive bounds, either or both.
  EXPECT_EQ(icao24s(flights.list(query("LIRF", "arrivals", 100, 2000))),
            (strings{"r", "a3", "a2"}));
  EXPECT_EQ(icao24s(flights.list(query("LIRF", "arrivals", 100, caf::none, 2000))),
            (strings{"a2", "a1"}));
  EXPECT_EQ(icao24s(flights.list(query("LIRF", "arrivals", 100, 2000, 3000))),
            (strings{"a3", "a2"}));
  EXPECT_EQ(icao24s(flights.list(query("LIRF", "arrivals", 100, 2000, 2000))), (strings{"a2"}));
  EXPECT_EQ(icao24s(flights.list(query("LIRF", "arrivals", 1, 1000, 2000))), (strings{"a2"}));
  EXPECT_TRUE(flights.list(query("LIRF", "arrivals", 100, 2001, 2999)).empty());
  EXPECT_TRUE(flights.list(query("LIRF", "arrivals", 100, 3000, 2000)).empty());
  // Departures are timed by first_seen (d1's last_seen 9000 is irrelevant).
  EXPECT_EQ(icao24s(flights.list(query("LIRF", "departures", 100, 1500, 2500))),
            (strings{"d2", "d1"}));
  EXPECT_TRUE(flights.list(query("LIRF", "departures", 100, 8000)).empty());

  EXPECT_TRUE(flights.list(query("LIMC", "arrivals")).empty());
  EXPECT_EQ(icao24s(flights.list(query("EGLL", "arrivals"))), (strings{"d1", "x2"}));
  EXPECT_THROW(flights.list(query("LIRF", "landings")), std::runtime_error);
}

TEST_P(StoreTest, FlightsListBothMergesWithoutDuplicates) {
  auto s = open_migrated();
  auto& flights = s->flights();
  ASSERT_EQ(flights.insert(lirf_traffic()), 8u);

  // r departs and arrives at LIRF: listed once, timed by its arrival (3500).
  EXPECT_EQ(icao24s(flights.list(query("LIRF", ""))),
            (strings{"r", "a3", "d2", "a2", "d1", "a1"}));
  EXPECT_EQ(icao24s(flights.list(query("LIRF", "", 3))), (strings{"r", "a3", "d2"}));
  EXPECT_EQ(icao24s(flights.list(query("LIRF", "", 100, 1500, 2500))),
            (strings{"d2", "a2", "d1"}));
  EXPECT_EQ(icao24s(flights.list(query("LIRF", "", 2, 1000, 2500))), (strings{"d2", "a2"}));
  EXPECT_TRUE(flights.list(query("LIRF", "", 100, 400, 600)).empty())
      << "r's time at LIRF is its arrival, not its departure at 500";
  EXPECT_EQ(icao24s(flights.list(query("LIRF", "", 100, 3500))), (strings{"r"}));
  EXPECT_EQ(icao24s(flights.list(query("LSZH", ""))), (strings{"x2", "x1", "a1"}));
}

TEST_P(StoreTest, FlightsTiesAreOrderedNewestInsertFirst) {
  auto s = open_migrated();
  auto& flights = s->flights();
  ASSERT_EQ(flights.insert({make_flight("t1", 100, "LSZH", 1000, "LIRF")}), 1u);
  ASSERT_EQ(flights.insert({make_flight("t2", 200, "EGLL", 1000, "LIRF")}), 1u);
  ASSERT_EQ(flights.insert({make_flight("t3", 1000, "LIRF", 2000, "LSZH")}), 1u);
  EXPECT_EQ(icao24s(flights.list(query("LIRF", "arrivals"))), (strings{"t2", "t1"}));
  EXPECT_EQ(icao24s(flights.list(query("LIRF", ""))), (strings{"t3", "t2", "t1"}));
  EXPECT_EQ(icao24s(flights.list(query("LIRF", "", 1))), (strings{"t3"}));
  EXPECT_EQ(flights.last("LIRF", "arrivals")->icao24, "t2");
}

TEST_P(StoreTest, FlightsCountInclusiveWindowPerType) {
  auto s = open_migrated();
  auto& flights = s->flights();
  EXPECT_EQ(flights.count("LIRF", "", 0, 10'000), 0);
  ASSERT_EQ(flights.insert(lirf_traffic()), 8u);

  EXPECT_EQ(flights.count("LIRF", "arrivals", 0, 10'000), 4);
  EXPECT_EQ(flights.count("LIRF", "arrivals", 1000, 3000), 3) << "both ends inclusive";
  EXPECT_EQ(flights.count("LIRF", "arrivals", 1001, 2999), 1);
  EXPECT_EQ(flights.count("LIRF", "arrivals", 3500, 3500), 1);
  EXPECT_EQ(flights.count("LIRF", "departures", 0, 10'000), 3);
  EXPECT_EQ(flights.count("LIRF", "departures", 500, 1500), 2);
  EXPECT_EQ(flights.count("LIRF", "departures", 1501, 2499), 0);
  EXPECT_EQ(flights.count("LIRF", "", 0, 10'000), 6) << "r counted once";
  EXPECT_EQ(flights.count("LIRF", "", 1500, 2500), 3);
  EXPECT_EQ(flights.count("LIRF", "", 400, 600), 0) << "r is timed by its arrival";
  EXPECT_EQ(flights.count("LIRF", "", 3000, 3500), 2);
  EXPECT_EQ(flights.count("LIRF", "", 2000, 1000), 0);
  EXPECT_EQ(flights.count("LIMC", "", 0, 10'000), 0);
  EXPECT_EQ(flights.count("LSZH", "", 0, 10'000), 3);
  EXPECT_THROW(flights.count("LIRF", "both", 0, 1), std::runtime_error);
}

// Counts of long windows sum per-hour counters and count the partial hours at the edges
// row by row: every window gives what counting the rows one by one gives.
TEST_P(StoreTest, FlightsCountOverHoursMatchesRowByRowCount) {
  auto s = open_migrated();
  auto& flights = s->flights();
  std::vector<flight> all;
  // Times around hour boundaries (3599/3600, 7199/7200, ...) over 6 hours, three airports,
  // flights from and to the same airport, and an unknown airport.
  const char* airports[] = {"LIRF", "LIMC", "LIRF", "", "LIRF"};
  for (int i = 0; i < 60; ++i) {
    const std::int64_t first = (i % 7) * 3600 + (i % 3 == 0 ? 3599 : i * 61 % 3600);
    const std::int64_t last = first + 1 + (i % 5) * 1800;
    all.push_back(make_flight("f" + std::to_string(i), first, airports[i % 5], last,
                              airports[(i + 1) % 5]));
  }
  ASSERT_EQ(flights.insert(all), all.size());
  ASSERT_EQ(flights.insert({all.begin(), all.begin() + 20}), 0u) << "counted once only";
  auto expected = [&](const std::string& airport, const std::string& type, std::int64_t from,
                      std::int64_t to) {
    std::int64_t n = 0;
    for (const auto& f : all) {
      bool arrives = f.est_arrival_airport == airport && f.last_seen >= from && f.last_seen <= to;
      bool departs =
        f.est_departure_airport == airport && f.first_seen >= from && f.first_seen <= to;
      if (type == "arrivals")
        n += arrives;
      else if (type == "departures")
        n += departs;
      else
        n += arrives || (departs && f.est_arrival_airport != airport);
    }
    return n;
  };
  const std::int64_t bounds[] = {-1, 0, 1, 3599, 3600, 3601, 7199, 7200, 12'000, 25'199, 25'200,
                                 40'000};
  for (const auto* airport : {"LIRF", "LIMC", ""})
    for (const auto* type : {"arrivals", "departures", ""})
      for (auto from : bounds)
        for (auto to : bounds)
          ASSERT_EQ(flights.count(airport, type, from, to), expected(airport, type, from, to))
            << airport << " " << type << " [" << from << ", " << to << "]";
}

TEST_P(StoreTest, FlightsLastPerType) {
  auto s = open_migrated();
  auto& flights = s->flights();
  for (const auto* type : {"arrivals", "departures", ""})
    EXPECT_FALSE(flights.last("LIRF", type)) << "empty table, type '" << type << "'";
  ASSERT_EQ(flights.insert(lirf_traffic()), 8u);
  auto arrival = flights.last("LIRF", "arrivals");
  ASSERT_TRUE(arrival);
  EXPECT_EQ(*arrival, make_flight("r", 500, "LIRF", 3500, "LIRF"));
  auto departure = flights.last("LIRF", "departures");
  ASSERT_TRUE(departure);
  EXPECT_EQ(departure->icao24, "d2");
  auto any = flights.last("LIRF", "");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->icao24, "r");
  EXPECT_EQ(flights.last("LSZH", "departures")->icao24, "x2");
  auto lszh = flights.last("LSZH", "arrivals");
  ASSERT_TRUE(lszh);
  EXPECT_EQ(lszh->icao24, "x1");
  EXPECT_FALSE(flights.last("LIMC", ""));
  EXPECT_FALSE(flights.last("LIMC", "arrivals"));
}

TEST_P(StoreTest, FlightsBulkInsertOfThousands) {
  auto s = open_migrated();
  auto& flights = s->flights();
  constexpr int n = 5000;
  std::vector<flight> batch;
  batch.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto f = make_flight("b" + std::to_string(i), 1'700'000'000 + i, i % 2 ? "LSZH" : "",
                         1'700'010'000 + i, "LIRF", "CS" + std::to_string(i));
    if (i % 3 == 0)
      f.arrival_airport_candidates_count = i;
    batch.push_back(std::move(f));
  }
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(flights.insert(batch), std::uint64_t{n});
  auto first = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(flights.insert(batch), 0u);
  auto elapsed = std::chrono::steady_clock::now() - start;
  std::cout << "[ timing   ] " << GetParam() << ": insert " << n << " new: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(first).count()
            << " ms, again (all duplicates): "
            << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed - first).count()
            << " ms\n";
  EXPECT_LT(elapsed, std::chrono::seconds{20}) << "one transaction, not one per flight";
  EXPECT_EQ(flights.count("LIRF", "arrivals", 0, std::numeric_limits<std::int64_t>::max()), n);
  EXPECT_EQ(flights.count("LSZH", "departures", 0, std::numeric_limits<std::int64_t>::max()),
            n / 2);
  auto newest = flights.list(query("LIRF", "arrivals", 10));
  ASSERT_EQ(newest.size(), 10u);
  EXPECT_EQ(newest[0], batch[n - 1]);
  EXPECT_EQ(newest[9], batch[n - 10]);
}

TEST_P(StoreTest, ConcurrentOverlappingFlightInsertsCountEachFlightOnce) {
  open_migrated();
  constexpr int sessions_n = 8;
  constexpr int shared = 1000;
  std::vector<std::unique_ptr<store_session>> sessions;
  for (int i = 0; i < sessions_n; ++i)
    sessions.push_back(open());
  std::vector<std::uint64_t> added(sessions_n, 0);
  std::vector<std::string> errors(sessions_n);
  std::latch start{sessions_n};
  std::vector<std::thread> threads;
  for (int i = 0; i < sessions_n; ++i)
    threads.emplace_back([&, i] {
      // The shared flights in a different order per session, plus 10 of its own.
      std::vector<flight> batch;
      for (int k = 0; k < shared; ++k) {
        int j = (k * 7 + i * 131) % shared;
        batch.push_back(make_flight("s" + std::to_string(j), 1000 + j, "LSZH", 5000 + j, "LIRF"));
      }
      for (int k = 0; k < 10; ++k)
        batch.push_back(make_flight("own" + std::to_string(i) + "-" + std::to_string(k), 1000,
                                    "LSZH", 5000, "LIRF"));
      start.arrive_and_wait();
      try {
        added[i] = sessions[i]->flights().insert(batch);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  for (auto& t : threads)
    t.join();
  std::uint64_t total = 0;
  for (int i = 0; i < sessions_n; ++i) {
    EXPECT_EQ(errors[i], "") << "session " << i;
    EXPECT_GE(added[i], 10u) << "session " << i;
    total += added[i];
  }
  EXPECT_EQ(total, std::uint64_t{shared + sessions_n * 10});
  EXPECT_EQ(sessions[0]->flights().count("LIRF", "arrivals", 0, 10'000),
            shared + sessions_n * 10);
}

// -- alert states and processed events ----------------------------------------------------

alert_store::state make_state(std::string email, std::string airport, std::string condition,
                              std::int64_t threshold, std::int64_t count, std::int64_t since_ms,
                              std::int64_t last_notified_ms) {
  alert_store::state st;
  st.user_email = std::move(email);
  st.airport_code = std::move(airport);
  st.condition = std::move(condition);
  st.threshold = threshold;
  st.flight_count = count;
  st.since_ms = since_ms;
  st.last_notified_ms = last_notified_ms;
  return st;
}

using optional_text = std::optional<std::string>;

TEST_P(StoreTest, AlertsRecordStoresStateAndOutputThenDeletesOnNullopt) {
  auto s = open_migrated();
  auto& alerts = s->alerts();
  EXPECT_FALSE(alerts.find("ada@example.org", "LIRF"));
  EXPECT_FALSE(alerts.processed("e1"));

  const auto firing = make_state("ada@example.org", "LIRF", "high", 10, 12, 1000, 1000);
  const std::string notice = R"({"event_id":"e1-n","text":"12 flights > 10 ✈"})";
  EXPECT_TRUE(alerts.record("e1", "ada@example.org", "LIRF", firing, notice, 1000));
  EXPECT_EQ(alerts.find("ada@example.org", "LIRF"), firing);
  EXPECT_EQ(alerts.processed("e1"), optional_text{notice});
  EXPECT_FALSE(alerts.find("ada@example.org", "EGLL")) << "other airport";
  EXPECT_FALSE(alerts.find("bob@example.org", "LIRF")) << "other user";

  // A continuing condition replaces the state; nothing to publish is "" (not absent).
  const auto still = make_state("ada@example.org", "LIRF", "high", 10, 15, 1000, 1000);
  EXPECT_TRUE(alerts.record("e2", "ada@example.org", "LIRF", still, "", 2000));
  EXPECT_EQ(alerts.find("ada@example.org", "LIRF"), still);
  EXPECT_EQ(alerts.processed("e2"), optional_text{""});

  // The condition flips: every field is replaced.
  const auto low = make_state("ada@example.org", "LIRF", "low", 3, 1, 3000, 3000);
  EXPECT_TRUE(alerts.record("e3", "ada@example.org", "LIRF", low, "low notice", 3000));
  EXPECT_EQ(alerts.find("ada@example.org", "LIRF"), low);

  // Another (user, airport) is independent.
  const auto bob = make_state("bob@example.org", "LIRF", "high", 5, 6, 3500, 3500);
  EXPECT_TRUE(alerts.record("e4", "bob@example.org", "LIRF", bob, "bob notice", 3500));

  // Back to normal: the state is deleted, the event still recorded.
  EXPECT_TRUE(alerts.record("e5", "ada@example.org", "LIRF", std::nullopt, "resolved", 4000));
  EXPECT_FALSE(alerts.find("ada@example.org", "LIRF"));
  EXPECT_EQ(alerts.processed("e5"), optional_text{"resolved"});
  EXPECT_EQ(alerts.find("bob@example.org", "LIRF"), bob);
  // Nullopt with nothing stored is fine too.
  EXPECT_TRUE(alerts.record("e6", "carol@example.org", "KJFK", std::nullopt, "", 5000));
  EXPECT_FALSE(alerts.find("carol@example.org", "KJFK"));
  for (const auto* id : {"e1", "e2", "e3", "e4", "e5", "e6"})
    EXPECT_TRUE(alerts.processed(id)) << id;
}

TEST_P(StoreTest, AlertsDuplicateEventReturnsFalseAndChangesNothing) {
  auto s = open_migrated();
  auto& alerts = s->alerts();
  const auto firing = make_state("ada@example.org", "LIRF", "high", 10, 12, 1000, 1000);
  ASSERT_TRUE(alerts.record("e1", "ada@example.org", "LIRF", firing, "first", 1000));

  // Redelivered with another outcome: neither the state nor the output changes.
  const auto other = make_state("ada@example.org", "LIRF", "low", 1, 0, 9000, 9000);
  EXPECT_FALSE(alerts.record("e1", "ada@example.org", "LIRF", other, "second", 9000));
  EXPECT_EQ(alerts.find("ada@example.org", "LIRF"), firing);
  EXPECT_EQ(alerts.processed("e1"), optional_text{"first"});
  EXPECT_FALSE(alerts.record("e1", "ada@example.org", "LIRF", std::nullopt, "", 9000))
      << "nor deleted";
  EXPECT_EQ(alerts.find("ada@example.org", "LIRF"), firing);
  EXPECT_FALSE(alerts.record("e1", "bob@example.org", "EGLL", other, "third", 9000))
      << "an event id is processed once, whatever it is about";
  EXPECT_FALSE(alerts.find("bob@example.org", "EGLL"));
  EXPECT_EQ(alerts.processed("e1"), optional_text{"first"});
  // Its processed_at is the first one (purging before 9000 forgets it).
  EXPECT_EQ(alerts.purge_processed(1001), 1u);
  // The session still works after the refused records.
  EXPECT_TRUE(alerts.record("e2", "ada@example.org", "LIRF", other, "", 9001));
  EXPECT_EQ(alerts.find("ada@example.org", "LIRF"), other);
}

TEST_P(StoreTest, AlertsPurgeForgetsOnlyOldEventsAndKeepsStates) {
  auto s = open_migrated();
  auto& alerts = s->alerts();
  const auto firing = make_state("ada@example.org", "LIRF", "high", 10, 12, 1000, 1000);
  ASSERT_TRUE(alerts.record("old", "ada@example.org", "LIRF", firing, "a", 1000));
  ASSERT_TRUE(alerts.record("edge", "ada@example.org", "EGLL", std::nullopt, "b", 2000));
  ASSERT_TRUE(alerts.record("new", "bob@example.org", "LIRF", std::nullopt, "c", 3000));

  EXPECT_EQ(alerts.purge_processed(1000), 0u) << "strictly before";
  EXPECT_EQ(alerts.purge_processed(2000), 1u);
  EXPECT_EQ(alerts.purge_processed(2000), 0u);
  EXPECT_FALSE(alerts.processed("old"));
  EXPECT_EQ(alerts.processed("edge"), optional_text{"b"});
  EXPECT_EQ(alerts.processed("new"), optional_text{"c"});
  EXPECT_EQ(alerts.find("ada@example.org", "LIRF"), firing) << "states are not purged";
  // A purged event id is new again.
  EXPECT_TRUE(alerts.record("old", "ada@example.org", "LIRF", std::nullopt, "again", 4000));
  EXPECT_FALSE(alerts.find("ada@example.org", "LIRF"));
  EXPECT_EQ(alerts.purge_processed(std::numeric_limits<std::int64_t>::max()), 3u);
}

// -- notifications ------------------------------------------------------------------------

notification_store::record make_notification(std::string event_id, std::string email,
                                             std::int64_t created_at_ms,
                                             std::string kind = "firing") {
  notification_store::record n;
  n.event_id = std::move(event_id);
  n.user_email = std::move(email);
  n.airport_code = "LIRF";
  n.kind = std::move(kind);
  n.channel = "telegram";
  n.text = "12 flights at LIRF, above 10 ✈";
  n.status = "pending";
  n.created_at_ms = created_at_ms;
  n.updated_at_ms = created_at_ms;
  return n;
}

std::vector<std::string> event_ids(const std::vector<notification_store::record>& records) {
  std::vector<std::string> out;
  for (const auto& r : records)
    out.push_back(r.event_id);
  return out;
}

TEST_P(StoreTest, NotificationsOpenOnceThenUpdate) {
  auto s = open_migrated();
  auto& notes = s->notifications();
  const auto n = make_notification("n1", "ada@example.org", 1000);
  EXPECT_FALSE(notes.open(n)) << "new: nothing existed";
  EXPECT_EQ(notes.for_user("ada@example.org", 10), std::vector<notification_store::record>{n});

  // Redelivered (even with other content): the stored one is returned, unchanged.
  auto again = make_notification("n1", "ada@example.org", 5000, "repeat");
  again.text = "other";
  auto existing = notes.open(again);
  ASSERT_TRUE(existing);
  EXPECT_EQ(*existing, n);

  notes.update("n1", "failed", 2, "telegram: 502 Bad Gateway", 2000);
  notes.update("absent", "sent", 1, "", 2000); // no such notification: no effect
  auto failed = n;
  failed.status = "failed";
  failed.attempts = 2;
  failed.error = "telegram: 502 Bad Gateway";
  failed.updated_at_ms = 2000;
  existing = notes.open(again);
  ASSERT_TRUE(existing);
  EXPECT_EQ(*existing, failed);

  notes.update("n1", "sent", 3, "", 3000);
  auto sent = failed;
  sent.status = "sent";
  sent.attempts = 3;
  sent.error = "";
  sent.updated_at_ms = 3000;
  existing = notes.open(n);
  ASSERT_TRUE(existing);
  EXPECT_EQ(*existing, sent) << "a sent notification is reported as sent";
  EXPECT_EQ(notes.for_user("ada@example.org", 10), std::vector<notification_store::record>{sent});

  // A console notification with every field set round-trips.
  auto console = make_notification("n2", "ada@example.org", 4000, "sla_breach");
  console.channel = "console";
  console.status = "skipped";
  console.error = "no Telegram chat";
  console.attempts = 0;
  console.updated_at_ms = 4001;
  EXPECT_FALSE(notes.open(console));
  EXPECT_EQ(notes.open(console), std::optional<notification_store::record>{console});
}

TEST_P(StoreTest, NotificationsForUserNewestFirstWithLimit) {
  auto s = open_migrated();
  auto& notes = s->notifications();
  EXPECT_TRUE(notes.for_user("ada@example.org", 10).empty());
  // Created out of order; b and c in the same millisecond.
  for (const auto& n : {make_notification("a", "ada@example.org", 1000),
                        make_notification("c", "ada@example.org", 3000),
                        make_notification("d", "ada@example.org", 4000),
                        make_notification("b", "ada@example.org", 3000),
                        make_notification("x", "bob@example.org", 5000),
                        make_notification("y", "ada@example.org.evil", 5000)})
    ASSERT_FALSE(notes.open(n)) << n.event_id;

  EXPECT_EQ(event_ids(notes.for_user("ada@example.org", 10)), (strings{"d", "b", "c", "a"}));
  EXPECT_EQ(event_ids(notes.for_user("ada@example.org", 2)), (strings{"d", "b"}));
  EXPECT_EQ(event_ids(notes.for_user("ada@example.org", 1)), (strings{"d"}));
  EXPECT_TRUE(notes.for_user("ada@example.org", 0).empty());
  EXPECT_EQ(event_ids(notes.for_user("bob@example.org", 10)), (strings{"x"}));
  EXPECT_TRUE(notes.for_user("nobody@example.org", 10).empty());
  // Updating does not reorder (ordered by creation).
  notes.update("a", "sent", 1, "", 9000);
  EXPECT_EQ(event_ids(notes.for_user("ada@example.org", 10)), (strings{"d", "b", "c", "a"}));
}

// -- Telegram link tokens -----------------------------------------------------------------

TEST_P(StoreTest, TelegramLinkTokenIsConsumedOnceAndExpires) {
  auto s = open_migrated();
  auto& links = s->telegram_links();
  links.create("tok-a", "ada@example.org", 1000);
  links.create("tok-b", "bob@example.org", 2000);
  links.create("tok-old", "ada@example.org", 500);

  EXPECT_FALSE(links.consume("unknown", 0));
  EXPECT_FALSE(links.consume("TOK-A", 0)) << "tokens match exactly";
  EXPECT_FALSE(links.consume("tok-old", 501)) << "created before valid_after: expired";
  EXPECT_FALSE(links.consume("tok-b", 2001));
  EXPECT_EQ(links.consume("tok-b", 2000), optional_text{"bob@example.org"}) << "inclusive";
  EXPECT_FALSE(links.consume("tok-b", 0)) << "a token works once";
  EXPECT_EQ(links.consume("tok-a", 1000), optional_text{"ada@example.org"});
  EXPECT_FALSE(links.consume("tok-a", 1000));
  // An expired-looking attempt does not consume it: still usable with a valid window.
  EXPECT_EQ(links.consume("tok-old", 0), optional_text{"ada@example.org"});
  EXPECT_FALSE(links.consume("tok-old", 0));
  // A user may hold several tokens.
  links.create("tok-a2", "ada@example.org", 3000);
  EXPECT_EQ(links.consume("tok-a2", 0), optional_text{"ada@example.org"});
  // The same token cannot be created twice.
  EXPECT_THROW(links.create("tok-a", "bob@example.org", 4000), std::runtime_error);
  EXPECT_FALSE(links.consume("tok-a", 0)) << "still the used one";
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

// Runs `f(session, i)` on `n` sessions at once; returns what each returned, or "error: ...".
template <class F>
std::vector<std::string> run_concurrently(std::vector<std::unique_ptr<store_session>>& sessions,
                                          F f) {
  const auto n = static_cast<std::ptrdiff_t>(sessions.size());
  std::vector<std::string> results(sessions.size());
  std::latch start{n};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < sessions.size(); ++i)
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      try {
        results[i] = f(*sessions[i], static_cast<int>(i));
      } catch (const std::exception& e) {
        results[i] = std::string{"error: "} + e.what();
      }
    });
  for (auto& t : threads)
    t.join();
  return results;
}

TEST_P(StoreTest, ConcurrentRecordsOfOneEventHaveExactlyOneWinner) {
  open_migrated();
  constexpr int n = 16;
  std::vector<std::unique_ptr<store_session>> sessions;
  for (int i = 0; i < n; ++i)
    sessions.push_back(open());
  auto results = run_concurrently(sessions, [](store_session& s, int i) -> std::string {
    auto st = make_state("ada@example.org", "LIRF", "high", 10, 100 + i, 1000, 1000);
    return s.alerts().record("same-event", "ada@example.org", "LIRF", st,
                             "output-" + std::to_string(i), 1000 + i)
               ? "true"
               : "false";
  });
  int winner = -1;
  int wins = 0;
  for (int i = 0; i < n; ++i) {
    if (results[i] == "true") {
      ++wins;
      winner = i;
    } else {
      EXPECT_EQ(results[i], "false") << "session " << i;
    }
  }
  ASSERT_EQ(wins, 1);
  // The winner's output and state, nobody else's.
  auto& alerts = sessions[0]->alerts();
  EXPECT_EQ(alerts.processed("same-event"), optional_text{"output-" + std::to_string(winner)});
  EXPECT_EQ(alerts.find("ada@example.org", "LIRF"),
            make_state("ada@example.org", "LIRF", "high", 10, 100 + winner, 1000, 1000));
}

TEST_P(StoreTest, ConcurrentOpensOfOneNotificationHaveExactlyOneWinner) {
  open_migrated();
  constexpr int n = 16;
  std::vector<std::unique_ptr<store_session>> sessions;
  for (int i = 0; i < n; ++i)
    sessions.push_back(open());
  auto results = run_concurrently(sessions, [](store_session& s, int i) -> std::string {
    auto existing =
        s.notifications().open(make_notification("same", "ada@example.org", 1000 + i));
    return existing ? "existing " + std::to_string(existing->created_at_ms) : "new";
  });
  int winner = -1;
  for (int i = 0; i < n; ++i) {
    if (results[i] == "new") {
      EXPECT_EQ(winner, -1) << "second winner: session " << i;
      winner = i;
    }
  }
  ASSERT_NE(winner, -1);
  for (int i = 0; i < n; ++i) {
    if (i != winner) {
      EXPECT_EQ(results[i], "existing " + std::to_string(1000 + winner)) << "session " << i;
    }
  }
}

TEST_P(StoreTest, ConcurrentConsumesOfOneLinkTokenHaveExactlyOneWinner) {
  open_migrated();
  constexpr int n = 16;
  std::vector<std::unique_ptr<store_session>> sessions;
  for (int i = 0; i < n; ++i)
    sessions.push_back(open());
  sessions[0]->telegram_links().create("tok", "ada@example.org", 1000);
  auto results = run_concurrently(sessions, [](store_session& s, int) -> std::string {
    return s.telegram_links().consume("tok", 0).value_or("none");
  });
  int wins = 0;
  for (int i = 0; i < n; ++i) {
    if (results[i] == "ada@example.org")
      ++wins;
    else
      EXPECT_EQ(results[i], "none") << "session " << i;
  }
  EXPECT_EQ(wins, 1);
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
