#include "persistence/sqlite/sqlite_session.hpp"

#include "persistence/migrations.hpp"
#include "persistence/sqlite/sqlite_db.hpp"

#include <chrono>
#include <string_view>

namespace fw {

namespace {

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// -- users ----------------------------------------------------------------------------

constexpr std::string_view user_insert_sql = R"sql(
INSERT INTO users (email, first_name, last_name, tax_code, iban, created_at_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)
)sql";

constexpr std::string_view user_exists_sql = "SELECT 1 FROM users WHERE email = ?1";

constexpr std::string_view user_find_sql = R"sql(
SELECT email, first_name, last_name, tax_code, iban, telegram_chat_id
FROM users WHERE email = ?1
)sql";

constexpr std::string_view user_list_sql = R"sql(
SELECT email, first_name, last_name, tax_code, iban, telegram_chat_id
FROM users ORDER BY email
)sql";

constexpr std::string_view user_delete_sql = "DELETE FROM users WHERE email = ?1";

constexpr std::string_view user_set_chat_id_sql =
    "UPDATE users SET telegram_chat_id = ?2 WHERE email = ?1";

class sqlite_user_store final : public user_store {
public:
  explicit sqlite_user_store(sqlite::database& db)
    : db_(db), insert_(db, user_insert_sql), exists_(db, user_exists_sql), find_(db, user_find_sql),
      list_(db, user_list_sql), delete_(db, user_delete_sql),
      set_chat_id_(db, user_set_chat_id_sql) {}

  write_result create(const user& u) override {
    // One write transaction, so that after a constraint failure the existence check
    // sees the same state the INSERT saw.
    sqlite::transaction tx{db_};
    try {
      auto q = insert_.use();
      q->bind(1, u.email)
          .bind(2, u.first_name)
          .bind(3, u.last_name)
          .bind_text_or_null(4, u.tax_code)
          .bind_text_or_null(5, u.iban)
          .bind(6, now_ms());
      q->run();
    } catch (const sqlite::constraint_violation&) {
      // email is the primary key, tax_code the only other unique column written here.
      auto q = exists_.use();
      q->bind(1, u.email);
      auto result = q->step() ? write_result::email_taken : write_result::tax_code_taken;
      return result; // tx rolls back (nothing was written)
    }
    tx.commit();
    return write_result::ok;
  }

  std::optional<user> find(const std::string& email) override {
    auto q = find_.use();
    q->bind(1, email);
    if (!q->step())
      return std::nullopt;
    return read(*q);
  }

  std::vector<user> list() override {
    std::vector<user> out;
    auto q = list_.use();
    while (q->step())
      out.push_back(read(*q));
    return out;
  }

  bool remove(const std::string& email) override {
    auto q = delete_.use();
    q->bind(1, email);
    return q->run() > 0;
  }

  write_result set_telegram_chat_id(const std::string& email, std::int64_t chat_id) override {
    try {
      auto q = set_chat_id_.use();
      q->bind(1, email).bind(2, chat_id);
      // SQLite counts matched rows, so setting the same id again is 1 change.
      return q->run() > 0 ? write_result::ok : write_result::not_found;
    } catch (const sqlite::constraint_violation&) {
      return write_result::chat_id_taken; // UNIQUE (telegram_chat_id)
    }
  }

private:
  static user read(const sqlite::statement& q) {
    user u;
    u.email = q.column_text(0);
    u.first_name = q.column_text(1);
    u.last_name = q.column_text(2);
    u.tax_code = q.column_text(3); // NULL reads as ""
    u.iban = q.column_text(4);
    if (auto id = q.column_nullable_int64(5))
      u.telegram_chat_id = *id;
    return u;
  }

  sqlite::database& db_;
  sqlite::statement insert_;
  sqlite::statement exists_;
  sqlite::statement find_;
  sqlite::statement list_;
  sqlite::statement delete_;
  sqlite::statement set_chat_id_;
};

// -- idempotency keys -----------------------------------------------------------------

constexpr std::string_view idem_insert_sql = R"sql(
INSERT INTO idempotency_keys (key, fingerprint, status, claim_token, user_email, created_at_ms)
VALUES (?1, ?2, 'in-progress', ?3, ?4, ?5)
ON CONFLICT (key) DO NOTHING
)sql";

// Takes over an expired completed key, or a stale in-progress claim of the same request.
constexpr std::string_view idem_take_over_sql = R"sql(
UPDATE idempotency_keys
SET fingerprint = ?2, status = 'in-progress', claim_token = ?3, user_email = ?4,
    created_at_ms = ?5, response_code = NULL, response_body = NULL
WHERE key = ?1
  AND ((status = 'completed' AND created_at_ms < ?6)
       OR (status = 'in-progress' AND created_at_ms < ?7 AND fingerprint = ?2))
)sql";

constexpr std::string_view idem_select_sql = R"sql(
SELECT status, fingerprint, response_code, response_body
FROM idempotency_keys WHERE key = ?1
)sql";

constexpr std::string_view idem_complete_sql = R"sql(
UPDATE idempotency_keys
SET status = 'completed', response_code = ?3, response_body = ?4
WHERE key = ?1 AND claim_token = ?2 AND status = 'in-progress'
)sql";

constexpr std::string_view idem_release_sql = R"sql(
DELETE FROM idempotency_keys
WHERE key = ?1 AND claim_token = ?2 AND status = 'in-progress'
)sql";

constexpr std::string_view idem_purge_sql = "DELETE FROM idempotency_keys WHERE created_at_ms < ?1";

class sqlite_idempotency_store final : public idempotency_store {
public:
  explicit sqlite_idempotency_store(sqlite::database& db)
    : db_(db), insert_(db, idem_insert_sql), take_over_(db, idem_take_over_sql),
      select_(db, idem_select_sql), complete_(db, idem_complete_sql),
      release_(db, idem_release_sql), purge_(db, idem_purge_sql) {}

  claim_result claim(const claim_request& req) override {
    using outcome = claim_result::outcome;
    // Each step is atomic on its own; the write transaction additionally takes the
    // write lock once (waiting through the busy timeout) instead of once per statement.
    // The row cannot vanish between the steps inside it; the retry loop is kept for
    // robustness only.
    for (int attempt = 0; attempt < 3; ++attempt) {
      sqlite::transaction tx{db_};
      {
        auto q = insert_.use();
        q->bind(1, req.key)
            .bind(2, req.fingerprint)
            .bind(3, req.token)
            .bind(4, req.user_email)
            .bind(5, req.now_ms);
        if (q->run() == 1) {
          tx.commit();
          return {};
        }
      }
      {
        auto q = take_over_.use();
        q->bind(1, req.key)
            .bind(2, req.fingerprint)
            .bind(3, req.token)
            .bind(4, req.user_email)
            .bind(5, req.now_ms)
            .bind(6, req.expired_before_ms)
            .bind(7, req.stale_before_ms);
        if (q->run() == 1) {
          tx.commit();
          return {};
        }
      }
      claim_result out;
      {
        auto q = select_.use();
        q->bind(1, req.key);
        if (!q->step())
          continue; // released or purged meanwhile: try again
        auto status = q->column_text(0);
        if (q->column_text(1) != req.fingerprint) {
          out.result = outcome::mismatch;
        } else if (status == "completed") {
          out.result = outcome::completed;
          out.status = static_cast<std::uint16_t>(q->column_int64(2));
          out.body = q->column_text(3);
        } else {
          out.result = outcome::in_progress;
        }
      }
      tx.commit();
      return out;
    }
    throw std::runtime_error("idempotency claim: key kept disappearing, giving up");
  }

  bool complete(const std::string& key, const std::string& token, std::uint16_t status,
                const std::string& body) override {
    auto q = complete_.use();
    q->bind(1, key).bind(2, token).bind(3, std::int64_t{status}).bind(4, body);
    return q->run() == 1;
  }

  void release(const std::string& key, const std::string& token) override {
    auto q = release_.use();
    q->bind(1, key).bind(2, token);
    q->run();
  }

  std::uint64_t purge(std::int64_t expired_before_ms) override {
    auto q = purge_.use();
    q->bind(1, expired_before_ms);
    return static_cast<std::uint64_t>(q->run());
  }

private:
  sqlite::database& db_;
  sqlite::statement insert_;
  sqlite::statement take_over_;
  sqlite::statement select_;
  sqlite::statement complete_;
  sqlite::statement release_;
  sqlite::statement purge_;
};

// -- session --------------------------------------------------------------------------

constexpr std::string_view create_migrations_table_sql = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version       INTEGER PRIMARY KEY,
  description   TEXT NOT NULL,
  applied_at_ms BIGINT NOT NULL
)
)sql";

constexpr std::string_view current_version_sql =
    "SELECT coalesce(max(version), 0) FROM schema_migrations";

constexpr std::string_view record_migration_sql =
    "INSERT INTO schema_migrations (version, description, applied_at_ms) VALUES (?1, ?2, ?3)";

constexpr std::string_view probe_sql = "SELECT 1";

class sqlite_session final : public store_session {
public:
  explicit sqlite_session(const std::string& path)
    : db_(path), users_(db_), idempotency_(db_), probe_(db_, probe_sql) {}

  const char* backend() const override {
    return "sqlite";
  }

  void probe() override {
    auto q = probe_.use();
    if (!q->step())
      throw storage_unavailable("SQLite probe returned no row");
    // SELECT 1 never touches the file: check that it is still the one at the path.
    if (db_.file_moved())
      throw storage_unavailable("SQLite database file was deleted or moved");
  }

  int migrate() override {
    sqlite::statement current{db_, current_version_sql};
    sqlite::statement record{db_, record_migration_sql};
    const int latest = latest_schema_version();
    for (;;) {
      // BEGIN IMMEDIATE serialises concurrent migrations (other sessions or processes);
      // the version is re-read inside the transaction.
      sqlite::transaction tx{db_};
      db_.exec(create_migrations_table_sql);
      int version = 0;
      {
        auto q = current.use();
        q->step();
        version = static_cast<int>(q->column_int64(0));
      }
      if (version > latest)
        throw std::runtime_error("database schema version " + std::to_string(version) +
                                 " is newer than this build knows (" + std::to_string(latest) +
                                 ")");
      const migration* next = nullptr;
      for (const auto& m : migrations())
        if (m.version > version) {
          next = &m;
          break;
        }
      if (!next) {
        tx.commit();
        return version;
      }
      for (auto stmt : split_statements(next->sqlite))
        db_.exec(stmt);
      {
        auto q = record.use();
        q->bind(1, std::int64_t{next->version}).bind(2, next->description).bind(3, now_ms());
        q->run();
      }
      tx.commit();
    }
  }

  user_store& users() override {
    return users_;
  }

  idempotency_store& idempotency() override {
    return idempotency_;
  }

private:
  sqlite::database db_; // first: the stores' statements are finalized before it closes
  sqlite_user_store users_;
  sqlite_idempotency_store idempotency_;
  sqlite::statement probe_;
};

} // namespace

std::unique_ptr<store_session> open_sqlite_session(const std::string& path) {
  return std::make_unique<sqlite_session>(path);
}

} // namespace fw
