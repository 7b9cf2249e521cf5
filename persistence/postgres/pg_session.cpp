#include "persistence/postgres/pg_session.hpp"

#include "persistence/migrations.hpp"

#include <pqxx/pqxx>

#include <chrono>
#include <string_view>
#include <utility>
#include <vector>

namespace fw {

namespace {

// -- connection and error mapping -------------------------------------------------------

/// Serialises migrations of concurrent nodes (an arbitrary constant: "fwmigr" in ASCII).
constexpr std::string_view sql_migration_lock = "SELECT pg_advisory_xact_lock(112564359620978)";
constexpr std::string_view sql_no_statement_timeout = "SET LOCAL statement_timeout = 0";

constexpr std::string_view sql_create_schema_migrations = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version       INTEGER PRIMARY KEY,
  description   TEXT NOT NULL,
  applied_at_ms BIGINT NOT NULL
))sql";

constexpr std::string_view sql_schema_version =
    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";

constexpr std::string_view sql_record_migration =
    "INSERT INTO schema_migrations (version, description, applied_at_ms) VALUES ($1, $2, $3)";

constexpr std::string_view sql_probe = "SELECT 1";

std::int64_t now_unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// `uri` with connect_timeout=5 and tcp_user_timeout (when `timeout` is set) appended
/// unless it sets them itself.
std::string with_timeouts(std::string uri, std::chrono::milliseconds timeout) {
  auto add = [&uri](const std::string& param) {
    if (uri.find(param.substr(0, param.find('=') + 1)) != std::string::npos)
      return;
    uri += (uri.find('?') == std::string::npos ? "?" : "&") + param;
  };
  add("connect_timeout=5");
  if (timeout.count() > 0)
    add("tcp_user_timeout=" + std::to_string(timeout.count()));
  return uri;
}

/// The passwords in a libpq URI, raw: from the userinfo ("scheme://user:password@host...")
/// and from "password=" query parameters.
std::vector<std::string> uri_passwords(const std::string& uri) {
  std::vector<std::string> out;
  auto start = uri.find("://");
  if (start == std::string::npos)
    return out;
  start += 3;
  auto at = uri.find('@', start);
  auto colon = uri.find(':', start);
  if (at != std::string::npos && colon != std::string::npos && colon < at &&
      uri.find('/', start) > at && at > colon + 1)
    out.push_back(uri.substr(colon + 1, at - colon - 1));
  if (auto q = uri.find('?'); q != std::string::npos)
    for (auto p = uri.find("password=", q); p != std::string::npos;
         p = uri.find("password=", p + 1))
      if (uri[p - 1] == '?' || uri[p - 1] == '&') {
        auto value = p + 9;
        if (auto end = uri.find('&', value); end != value && value < uri.size())
          out.push_back(uri.substr(value, end - value));
      }
  return out;
}

/// A libpq/libpqxx message on one line, with `secrets` blanked out: libpq echoes parts
/// of a malformed URI, and those parts may be the password.
std::string one_line(std::string msg, const std::vector<std::string>& secrets = {}) {
  for (const auto& secret : secrets)
    for (auto pos = msg.find(secret); pos != std::string::npos; pos = msg.find(secret, pos))
      msg.replace(pos, secret.size(), "***");
  std::string out;
  bool space = false;
  for (char c : msg) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space)
      out += ' ';
    space = false;
    out += c;
  }
  return out;
}

/// The primary line of a server error ("ERROR:  duplicate key ... \"users_pkey\""), without
/// the DETAIL lines (which quote row values) and the severity prefix.
std::string primary_message(const std::string& what) {
  auto line = what.substr(0, what.find('\n'));
  for (std::string_view prefix : {"ERROR:", "FATAL:", "PANIC:"})
    if (line.starts_with(prefix)) {
      line.erase(0, prefix.size());
      break;
    }
  return one_line(line);
}

/// SQLSTATEs meaning "the server is gone, not accepting us or too slow": connection
/// exceptions (class 08), admin/crash shutdown, cannot connect now, too many connections,
/// statement timeout.
bool unavailable_sqlstate(const std::string& state) {
  return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03" ||
         state == "53300" || state == "57014"; // 57014: statement_timeout: server too slow
}

/// One libpqxx connection plus the "dead" flag: after a lost connection every call fails
/// with storage_unavailable (libpqxx 6 would otherwise silently reconnect), and the owner
/// discards the session.
class pg_connection {
public:
  pg_connection(const std::string& uri, std::chrono::milliseconds statement_timeout) {
    try {
      conn_ = std::make_unique<pqxx::connection>(with_timeouts(uri, statement_timeout));
      if (statement_timeout.count() > 0) {
        pqxx::nontransaction tx{*conn_};
        tx.exec_params("SELECT set_config('statement_timeout', $1, false)",
                       std::to_string(statement_timeout.count()));
      }
    } catch (const pqxx::pqxx_exception& e) {
      throw storage_unavailable("cannot connect to PostgreSQL: " +
                                one_line(e.base().what(), uri_passwords(uri)));
    }
  }

  /// Registers a prepared statement. libpqxx 6 sends the PREPARE to the server only on
  /// its first execution, so registering before migrate() (tables missing) is fine.
  void prepare(std::string_view name, std::string_view sql) {
    conn_->prepare(std::string{name}, std::string{sql});
  }

  /// Runs `f(connection)`, mapping libpqxx failures onto the store contract. `op` names
  /// the operation for messages (never parameter values).
  template <class F>
  auto call(std::string_view op, F&& f) -> decltype(f(std::declval<pqxx::connection&>())) {
    if (dead_)
      throw storage_unavailable("PostgreSQL connection was lost");
    try {
      return std::forward<F>(f)(*conn_);
    } catch (const pqxx::broken_connection& e) {
      throw lost(op, e.what());
    } catch (const pqxx::in_doubt_error& e) {
      throw lost(op, e.what());
    } catch (const pqxx::sql_error& e) {
      if (unavailable_sqlstate(e.sqlstate()) || !conn_->is_open())
        throw lost(op, e.what());
      std::string msg = "PostgreSQL error in " + std::string{op};
      if (!e.sqlstate().empty())
        msg += " (SQLSTATE " + e.sqlstate() + ")";
      // Class 22 (data exception) messages may quote the offending value.
      if (!e.sqlstate().starts_with("22"))
        msg += ": " + primary_message(e.what());
      throw std::runtime_error(msg);
    } catch (const pqxx::conversion_error&) {
      throw std::runtime_error("PostgreSQL error in " + std::string{op} +
                               ": unexpected column value");
    } catch (const pqxx::pqxx_exception& e) {
      if (!conn_->is_open())
        throw lost(op, e.base().what());
      throw std::runtime_error("PostgreSQL error in " + std::string{op} + ": " +
                               primary_message(e.base().what()));
    }
  }

private:
  storage_unavailable lost(std::string_view op, const std::string& what) {
    dead_ = true;
    return storage_unavailable("PostgreSQL connection lost in " + std::string{op} + ": " +
                               primary_message(what));
  }

  std::unique_ptr<pqxx::connection> conn_;
  bool dead_ = false;
};

std::string text_or_empty(const pqxx::field& f) {
  return f.is_null() ? std::string{} : f.as<std::string>();
}

const char* null_if_empty(const std::string& s) {
  return s.empty() ? nullptr : s.c_str();
}

// -- users ------------------------------------------------------------------------------

constexpr std::string_view stmt_user_insert = "fw_user_insert";
constexpr std::string_view sql_user_insert = R"sql(
INSERT INTO users (email, first_name, last_name, tax_code, iban, created_at_ms)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING)sql";

constexpr std::string_view stmt_user_exists = "fw_user_exists";
constexpr std::string_view sql_user_exists = "SELECT 1 FROM users WHERE email = $1";

constexpr std::string_view stmt_user_find = "fw_user_find";
constexpr std::string_view sql_user_find = R"sql(
SELECT email, first_name, last_name, tax_code, iban, telegram_chat_id
FROM users WHERE email = $1)sql";

// COLLATE "C": byte order, as SQLite's, whatever the database's locale.
constexpr std::string_view stmt_user_list = "fw_user_list";
constexpr std::string_view sql_user_list = R"sql(
SELECT email, first_name, last_name, tax_code, iban, telegram_chat_id
FROM users ORDER BY email COLLATE "C")sql";

constexpr std::string_view stmt_user_delete = "fw_user_delete";
constexpr std::string_view sql_user_delete = "DELETE FROM users WHERE email = $1";

constexpr std::string_view stmt_user_set_chat = "fw_user_set_chat";
constexpr std::string_view sql_user_set_chat =
    "UPDATE users SET telegram_chat_id = $2 WHERE email = $1";

user to_user(const pqxx::row& r) {
  user u;
  u.email = r[0].as<std::string>();
  u.first_name = r[1].as<std::string>();
  u.last_name = r[2].as<std::string>();
  u.tax_code = text_or_empty(r[3]);
  u.iban = text_or_empty(r[4]);
  if (!r[5].is_null())
    u.telegram_chat_id = r[5].as<std::int64_t>();
  return u;
}

class pg_user_store final : public user_store {
public:
  explicit pg_user_store(pg_connection& db) : db_(db) {
    db_.prepare(stmt_user_insert, sql_user_insert);
    db_.prepare(stmt_user_exists, sql_user_exists);
    db_.prepare(stmt_user_find, sql_user_find);
    db_.prepare(stmt_user_list, sql_user_list);
    db_.prepare(stmt_user_delete, sql_user_delete);
    db_.prepare(stmt_user_set_chat, sql_user_set_chat);
  }

  write_result create(const user& u) override {
    return db_.call("users.create", [&](pqxx::connection& c) {
      // ON CONFLICT DO NOTHING without a target covers both unique keys (email, tax
      // code); when nothing was inserted, find out which one was taken. The row may be
      // deleted in between: then try again.
      for (int attempt = 0; attempt < 5; ++attempt) {
        auto now = now_unix_ms();
        {
          pqxx::nontransaction tx{c};
          auto r =
              tx.exec_prepared(std::string{stmt_user_insert}, u.email, u.first_name, u.last_name,
                               null_if_empty(u.tax_code), null_if_empty(u.iban), now);
          if (r.affected_rows() == 1)
            return write_result::ok;
        }
        pqxx::nontransaction tx{c};
        if (!tx.exec_prepared(std::string{stmt_user_exists}, u.email).empty())
          return write_result::email_taken;
        if (!u.tax_code.empty())
          return write_result::tax_code_taken;
      }
      throw std::runtime_error("PostgreSQL error in users.create: conflicting row keeps "
                               "disappearing");
    });
  }

  std::optional<user> find(const std::string& email) override {
    return db_.call("users.find", [&](pqxx::connection& c) -> std::optional<user> {
      pqxx::nontransaction tx{c};
      auto r = tx.exec_prepared(std::string{stmt_user_find}, email);
      if (r.empty())
        return std::nullopt;
      return to_user(r[0]);
    });
  }

  std::vector<user> list() override {
    return db_.call("users.list", [&](pqxx::connection& c) {
      pqxx::nontransaction tx{c};
      auto r = tx.exec_prepared(std::string{stmt_user_list});
      std::vector<user> out;
      out.reserve(r.size());
      for (const auto& row : r)
        out.push_back(to_user(row));
      return out;
    });
  }

  bool remove(const std::string& email) override {
    return db_.call("users.remove", [&](pqxx::connection& c) {
      pqxx::nontransaction tx{c};
      return tx.exec_prepared(std::string{stmt_user_delete}, email).affected_rows() > 0;
    });
  }

  write_result set_telegram_chat_id(const std::string& email, std::int64_t chat_id) override {
    return db_.call("users.set_telegram_chat_id", [&](pqxx::connection& c) {
      pqxx::nontransaction tx{c};
      try {
        auto r = tx.exec_prepared(std::string{stmt_user_set_chat}, email, chat_id);
        return r.affected_rows() > 0 ? write_result::ok : write_result::not_found;
      } catch (const pqxx::unique_violation&) {
        return write_result::chat_id_taken;
      }
    });
  }

private:
  pg_connection& db_;
};

// -- idempotency keys -------------------------------------------------------------------

constexpr std::string_view stmt_idem_insert = "fw_idem_insert";
constexpr std::string_view sql_idem_insert = R"sql(
INSERT INTO idempotency_keys (key, fingerprint, status, claim_token, user_email, created_at_ms)
VALUES ($1, $2, 'in-progress', $3, $4, $5)
ON CONFLICT (key) DO NOTHING)sql";

// Takes over an expired completed key, or a stale in-progress claim of the same request.
// Concurrent takeovers serialise on the row lock; the losers re-check the WHERE clause
// against the winner's fresh created_at_ms and update nothing.
constexpr std::string_view stmt_idem_takeover = "fw_idem_takeover";
constexpr std::string_view sql_idem_takeover = R"sql(
UPDATE idempotency_keys
SET fingerprint = $2, status = 'in-progress', claim_token = $3, user_email = $4,
    created_at_ms = $5, response_code = NULL, response_body = NULL
WHERE key = $1
  AND ((status = 'completed' AND created_at_ms < $6)
       OR (status = 'in-progress' AND created_at_ms < $7 AND fingerprint = $2)))sql";

constexpr std::string_view stmt_idem_get = "fw_idem_get";
constexpr std::string_view sql_idem_get = R"sql(
SELECT status, fingerprint, response_code, response_body
FROM idempotency_keys WHERE key = $1)sql";

constexpr std::string_view stmt_idem_complete = "fw_idem_complete";
constexpr std::string_view sql_idem_complete = R"sql(
UPDATE idempotency_keys
SET status = 'completed', response_code = $3, response_body = $4
WHERE key = $1 AND claim_token = $2 AND status = 'in-progress')sql";

constexpr std::string_view stmt_idem_release = "fw_idem_release";
constexpr std::string_view sql_idem_release = R"sql(
DELETE FROM idempotency_keys
WHERE key = $1 AND claim_token = $2 AND status = 'in-progress')sql";

constexpr std::string_view stmt_idem_purge = "fw_idem_purge";
constexpr std::string_view sql_idem_purge = "DELETE FROM idempotency_keys WHERE created_at_ms < $1";

class pg_idempotency_store final : public idempotency_store {
public:
  explicit pg_idempotency_store(pg_connection& db) : db_(db) {
    db_.prepare(stmt_idem_insert, sql_idem_insert);
    db_.prepare(stmt_idem_takeover, sql_idem_takeover);
    db_.prepare(stmt_idem_get, sql_idem_get);
    db_.prepare(stmt_idem_complete, sql_idem_complete);
    db_.prepare(stmt_idem_release, sql_idem_release);
    db_.prepare(stmt_idem_purge, sql_idem_purge);
  }

  // Each statement runs on its own (autocommit); atomicity comes from the single-row
  // INSERT ... ON CONFLICT and the conditional UPDATE, not from explicit locks.
  claim_result claim(const claim_request& req) override {
    return db_.call("idempotency.claim", [&](pqxx::connection& c) {
      using outcome = claim_result::outcome;
      for (int attempt = 0; attempt < 10; ++attempt) {
        {
          pqxx::nontransaction tx{c};
          auto r = tx.exec_prepared(std::string{stmt_idem_insert}, req.key, req.fingerprint,
                                    req.token, req.user_email, req.now_ms);
          if (r.affected_rows() == 1)
            return claim_result{outcome::claimed, 0, {}};
        }
        {
          pqxx::nontransaction tx{c};
          auto r = tx.exec_prepared(std::string{stmt_idem_takeover}, req.key, req.fingerprint,
                                    req.token, req.user_email, req.now_ms, req.expired_before_ms,
                                    req.stale_before_ms);
          if (r.affected_rows() == 1)
            return claim_result{outcome::claimed, 0, {}};
        }
        pqxx::nontransaction tx{c};
        auto r = tx.exec_prepared(std::string{stmt_idem_get}, req.key);
        if (r.empty())
          continue; // released or purged meanwhile: try again
        const auto& row = r[0];
        if (row[1].as<std::string>() != req.fingerprint)
          return claim_result{outcome::mismatch, 0, {}};
        if (row[0].as<std::string>() != "completed")
          return claim_result{outcome::in_progress, 0, {}};
        claim_result done{outcome::completed, 0, {}};
        if (!row[2].is_null())
          done.status = static_cast<std::uint16_t>(row[2].as<int>());
        done.body = text_or_empty(row[3]);
        return done;
      }
      // Each round found the key held and then gone again (claims being released as
      // fast as they are made): it is busy, the client retries later.
      return claim_result{outcome::in_progress, 0, {}};
    });
  }

  bool complete(const std::string& key, const std::string& token, std::uint16_t status,
                const std::string& body) override {
    return db_.call("idempotency.complete", [&](pqxx::connection& c) {
      pqxx::nontransaction tx{c};
      auto r = tx.exec_prepared(std::string{stmt_idem_complete}, key, token,
                                static_cast<int>(status), body);
      return r.affected_rows() == 1;
    });
  }

  void release(const std::string& key, const std::string& token) override {
    db_.call("idempotency.release", [&](pqxx::connection& c) {
      pqxx::nontransaction tx{c};
      tx.exec_prepared(std::string{stmt_idem_release}, key, token);
    });
  }

  std::uint64_t purge(std::int64_t expired_before_ms) override {
    return db_.call("idempotency.purge", [&](pqxx::connection& c) {
      pqxx::nontransaction tx{c};
      auto r = tx.exec_prepared(std::string{stmt_idem_purge}, expired_before_ms);
      return static_cast<std::uint64_t>(r.affected_rows());
    });
  }

private:
  pg_connection& db_;
};

// -- session ----------------------------------------------------------------------------

class pg_session final : public store_session {
public:
  pg_session(const std::string& uri, std::chrono::milliseconds statement_timeout)
    : db_(uri, statement_timeout), users_(db_), idempotency_(db_) {}

  const char* backend() const override {
    return "postgres";
  }

  void probe() override {
    try {
      db_.call("probe", [](pqxx::connection& c) {
        pqxx::nontransaction tx{c};
        tx.exec(std::string{sql_probe});
      });
    } catch (const storage_unavailable&) {
      throw;
    } catch (const std::runtime_error& e) {
      throw storage_unavailable(e.what());
    }
  }

  int migrate() override {
    return db_.call("migrate", [](pqxx::connection& c) {
      // One transaction per migration, each under the advisory lock, re-reading the
      // version inside: concurrent nodes apply every migration exactly once.
      for (;;) {
        pqxx::work tx{c};
        // Migrations of big tables may take longer than one request may.
        tx.exec(std::string{sql_no_statement_timeout});
        tx.exec(std::string{sql_migration_lock});
        tx.exec(std::string{sql_create_schema_migrations});
        auto current = tx.exec1(std::string{sql_schema_version})[0].as<int>();
        if (current > latest_schema_version())
          throw std::runtime_error("database schema version " + std::to_string(current) +
                                   " is newer than this build knows (" +
                                   std::to_string(latest_schema_version()) + ")");
        const migration* next = nullptr;
        for (const auto& m : migrations())
          if (m.version > current) {
            next = &m;
            break;
          }
        if (next == nullptr) {
          tx.commit();
          return current;
        }
        for (auto stmt : split_statements(next->postgres))
          tx.exec(std::string{stmt});
        tx.exec_params(std::string{sql_record_migration}, next->version,
                       std::string{next->description}, now_unix_ms());
        tx.commit();
      }
    });
  }

  user_store& users() override {
    return users_;
  }

  idempotency_store& idempotency() override {
    return idempotency_;
  }

private:
  pg_connection db_;
  pg_user_store users_;
  pg_idempotency_store idempotency_;
};

} // namespace

std::unique_ptr<store_session> open_postgres_session(const std::string& uri,
                                                     std::chrono::milliseconds statement_timeout) {
  return std::make_unique<pg_session>(uri, statement_timeout);
}

} // namespace fw
