#include "persistence/postgres/pg_session.hpp"

#include "messages/unix_time.hpp"
#include "persistence/flight_counts.hpp"

#include "persistence/migrations.hpp"

#include <pqxx/pqxx>

#include <algorithm>
#include <chrono>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
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
    statements_.emplace_back(name);
  }

  /// Sends every registered statement to the server now (each a round trip).
  void prepare_all() {
    call("prepare_statements", [&](pqxx::connection& c) {
      for (const auto& name : statements_)
        c.prepare_now(name);
    });
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

  /// Runs `f(tx)` inside the open transaction (see transaction()), or with each statement
  /// committing on its own when none is open. Failures map as in call().
  template <class F>
  auto exec(std::string_view op, F&& f) {
    return call(op, [&](pqxx::connection& c) {
      if (tx_)
        return f(static_cast<pqxx::transaction_base&>(*tx_));
      pqxx::nontransaction tx{c};
      return f(static_cast<pqxx::transaction_base&>(tx));
    });
  }

  /// For use inside call(): runs `f(tx)` all or nothing, in a transaction of its own or,
  /// when one is open, in a savepoint of it, so that a statement failing in `f` (a unique
  /// violation, say) rolls back only f's work and leaves the open transaction usable.
  /// The exception propagates. (libpqxx 6's subtransaction would not do: it issues its
  /// SAVEPOINT on the first exec(), but never for exec_prepared().)
  template <class F>
  auto atomic(pqxx::connection& c, F&& f) {
    if (!tx_) {
      pqxx::work tx{c};
      auto result = f(static_cast<pqxx::transaction_base&>(tx));
      tx.commit();
      return result;
    }
    tx_->exec("SAVEPOINT fw_atomic");
    try {
      auto result = f(static_cast<pqxx::transaction_base&>(*tx_));
      tx_->exec("RELEASE SAVEPOINT fw_atomic");
      return result;
    } catch (const pqxx::broken_connection&) {
      throw;
    } catch (...) {
      tx_->exec("ROLLBACK TO SAVEPOINT fw_atomic; RELEASE SAVEPOINT fw_atomic");
      throw;
    }
  }

  /// atomic() for an `f` that issues a single statement, which is atomic by itself: no
  /// transaction of its own (two round trips fewer) unless one is open.
  template <class F>
  auto atomic_statement(pqxx::connection& c, F&& f) {
    if (tx_)
      return atomic(c, std::forward<F>(f));
    pqxx::nontransaction tx{c};
    return f(static_cast<pqxx::transaction_base&>(tx));
  }

  /// store_session::transaction(): every exec() and atomic() call `body` makes runs in
  /// one server transaction, committed when it returns true.
  void transaction(const std::function<bool()>& body) {
    if (tx_)
      throw std::logic_error("store_session::transaction is not reentrant");
    call("transaction.begin", [&](pqxx::connection& c) { tx_ = std::make_unique<pqxx::work>(c); });
    // Whatever happens, the transaction object goes; unless committed it rolls back.
    struct close_tx {
      std::unique_ptr<pqxx::work>& tx;
      ~close_tx() {
        tx.reset();
      }
    } closing{tx_};
    if (body())
      call("transaction.commit", [&](pqxx::connection&) { tx_->commit(); });
  }

private:
  storage_unavailable lost(std::string_view op, const std::string& what) {
    dead_ = true;
    return storage_unavailable("PostgreSQL connection lost in " + std::string{op} + ": " +
                               primary_message(what));
  }

  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<pqxx::work> tx_; // the open transaction of transaction(), if any
  std::vector<std::string> statements_; // names of the prepared statements
  bool dead_ = false;
};

std::string text_or_empty(const pqxx::field& f) {
  return f.is_null() ? std::string{} : f.as<std::string>();
}

const char* null_if_empty(const std::string& s) {
  return s.empty() ? nullptr : s.c_str();
}

/// A PostgreSQL array literal ("{...}") built element by element: text quoted with '"'
/// and '\' escaped (so any content round-trips), absent numbers as NULL.
class array_literal {
public:
  array_literal() {
    text_ = "{";
  }

  void add(std::string_view s) {
    separate();
    text_ += '"';
    for (char c : s) {
      if (c == '"' || c == '\\')
        text_ += '\\';
      text_ += c;
    }
    text_ += '"';
  }

  void add(std::int64_t v) {
    separate();
    text_ += std::to_string(v);
  }

  void add(const caf::optional<std::int64_t>& v) {
    if (v)
      add(*v);
    else
      add_null();
  }

  /// Text stored as NULL when empty (as null_if_empty() for a single parameter).
  void add_or_null(std::string_view s) {
    if (s.empty())
      add_null();
    else
      add(s);
  }

  void add_null() {
    separate();
    text_ += "NULL";
  }

  const std::string& finish() {
    text_ += '}';
    return text_;
  }

private:
  void separate() {
    if (text_.size() > 1)
      text_ += ',';
  }

  std::string text_;
};

// -- users ------------------------------------------------------------------------------

constexpr std::string_view stmt_user_insert = "fw_user_insert";
constexpr std::string_view sql_user_insert = R"sql(
INSERT INTO users (email, first_name, last_name, tax_code, iban, created_at_ms)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING)sql";

// Many users at once. In the order of the unique key, so that concurrent batches take
// their index locks in one order. Answers what was inserted: of two users with one email
// the earlier in the batch (ordinality n) comes first, but a tax code taken by another
// user of the batch may keep it out.
constexpr std::string_view stmt_user_insert_many = "fw_user_insert_many";
constexpr std::string_view sql_user_insert_many = R"sql(
INSERT INTO users (email, first_name, last_name, tax_code, iban, created_at_ms)
SELECT email, first_name, last_name, tax_code, iban, $6
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY
  AS u(email, first_name, last_name, tax_code, iban, n)
ORDER BY email, n
ON CONFLICT DO NOTHING
RETURNING email, first_name, last_name, tax_code, iban)sql";

// Users with their Idempotency-Keys, completed, in one statement that commits on its own:
// one round trip instead of BEGIN, claim, insert, complete and COMMIT. A key already stored
// leaves its user out (LATERAL ... LIMIT 1: an index lookup whatever the plan, see
// sql_user_find_many); so does a taken email or tax code. The keys are inserted without ON
// CONFLICT: a key that a concurrent request stored after this statement's snapshot fails
// the whole statement (unique violation), so that a user is never stored without its key.
// Emails and keys are distinct within a call. Answers the keys stored.
constexpr std::string_view stmt_user_insert_keyed = "fw_user_insert_keyed";
constexpr std::string_view sql_user_insert_keyed = R"sql(
WITH req AS (
  SELECT r.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::text[], $7::text[])
    AS r(key, fingerprint, email, first_name, last_name, tax_code, iban)
  LEFT JOIN LATERAL (SELECT 1 AS taken FROM idempotency_keys k WHERE k.key = r.key LIMIT 1) AS t
    ON true
  WHERE t.taken IS NULL),
created AS (
  INSERT INTO users (email, first_name, last_name, tax_code, iban, created_at_ms)
  SELECT email, first_name, last_name, tax_code, iban, $8 FROM req ORDER BY email
  ON CONFLICT DO NOTHING
  RETURNING email)
INSERT INTO idempotency_keys (key, fingerprint, status, claim_token, user_email, created_at_ms,
                              response_code, response_body)
SELECT req.key, req.fingerprint, 'completed', '', req.email, $8, $9, $10
FROM req JOIN created ON created.email = req.email
ORDER BY req.key
RETURNING key)sql";

constexpr std::string_view stmt_user_exists = "fw_user_exists";
constexpr std::string_view sql_user_exists = "SELECT 1 FROM users WHERE email = $1";

// An inactive chat (the bot was blocked) stays stored, and so keeps its uniqueness, but
// is reported as no chat.
constexpr std::string_view stmt_user_find = "fw_user_find";
constexpr std::string_view sql_user_find = R"sql(
SELECT email, first_name, last_name, tax_code, iban,
  CASE WHEN telegram_inactive = 0 THEN telegram_chat_id END
FROM users WHERE email = $1)sql";

constexpr std::string_view stmt_user_find_many = "fw_user_find_many";
// Each email through the index: LATERAL ... LIMIT 1 cannot become a join, which the plan
// of a prepared statement (made once, often while the table is still small) might do by
// scanning the whole table.
constexpr std::string_view sql_user_find_many = R"sql(
SELECT u.email, u.first_name, u.last_name, u.tax_code, u.iban,
  CASE WHEN u.telegram_inactive = 0 THEN u.telegram_chat_id END
FROM unnest($1::text[]) AS wanted(email),
LATERAL (SELECT * FROM users WHERE users.email = wanted.email LIMIT 1) AS u)sql";

// COLLATE "C": byte order, as SQLite's, whatever the database's locale.
constexpr std::string_view stmt_user_list = "fw_user_list";
constexpr std::string_view sql_user_list = R"sql(
SELECT email, first_name, last_name, tax_code, iban,
  CASE WHEN telegram_inactive = 0 THEN telegram_chat_id END
FROM users ORDER BY email COLLATE "C")sql";

constexpr std::string_view stmt_user_delete = "fw_user_delete";
constexpr std::string_view sql_user_delete = "DELETE FROM users WHERE email = $1";

// Linking (again) makes the chat active.
constexpr std::string_view stmt_user_set_chat = "fw_user_set_chat";
constexpr std::string_view sql_user_set_chat =
    "UPDATE users SET telegram_chat_id = $2, telegram_inactive = 0 WHERE email = $1";

constexpr std::string_view stmt_user_chat_inactive = "fw_user_chat_inactive";
constexpr std::string_view sql_user_chat_inactive =
    "UPDATE users SET telegram_inactive = 1 WHERE telegram_chat_id = $1";

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
    db_.prepare(stmt_user_insert_many, sql_user_insert_many);
    db_.prepare(stmt_user_insert_keyed, sql_user_insert_keyed);
    db_.prepare(stmt_user_exists, sql_user_exists);
    db_.prepare(stmt_user_find, sql_user_find);
    db_.prepare(stmt_user_find_many, sql_user_find_many);
    db_.prepare(stmt_user_list, sql_user_list);
    db_.prepare(stmt_user_delete, sql_user_delete);
    db_.prepare(stmt_user_set_chat, sql_user_set_chat);
    db_.prepare(stmt_user_chat_inactive, sql_user_chat_inactive);
  }

  write_result create(const user& u) override {
    return db_.exec("users.create", [&](pqxx::transaction_base& tx) {
      // ON CONFLICT DO NOTHING without a target covers both unique keys (email, tax
      // code); when nothing was inserted, find out which one was taken. The row may be
      // deleted in between: then try again.
      for (int attempt = 0; attempt < 5; ++attempt) {
        auto now = unix_ms();
        auto r = tx.exec_prepared(std::string{stmt_user_insert}, u.email, u.first_name, u.last_name,
                                  null_if_empty(u.tax_code), null_if_empty(u.iban), now);
        if (r.affected_rows() == 1)
          return write_result::ok;
        if (!tx.exec_prepared(std::string{stmt_user_exists}, u.email).empty())
          return write_result::email_taken;
        if (!u.tax_code.empty())
          return write_result::tax_code_taken;
      }
      throw std::runtime_error("PostgreSQL error in users.create: conflicting row keeps "
                               "disappearing");
    });
  }

  // One statement inserts every user it can; the rest (taken email or tax code) go
  // through create(), which tells which of the two was taken.
  std::vector<write_result> create_many(const std::vector<user>& users) override {
    if (users.size() < 2)
      return user_store::create_many(users);
    auto inserted = db_.exec("users.create_many", [&](pqxx::transaction_base& tx) {
      array_literal emails, first_names, last_names, tax_codes, ibans;
      for (const auto& u : users) {
        emails.add(u.email);
        first_names.add(u.first_name);
        last_names.add(u.last_name);
        tax_codes.add_or_null(u.tax_code);
        ibans.add_or_null(u.iban);
      }
      auto r = tx.exec_prepared(std::string{stmt_user_insert_many}, emails.finish(),
                                first_names.finish(), last_names.finish(), tax_codes.finish(),
                                ibans.finish(), unix_ms());
      std::unordered_map<std::string, user> out; // by email, which is unique
      for (const auto& row : r) {
        user u;
        u.email = row[0].as<std::string>();
        u.first_name = row[1].as<std::string>();
        u.last_name = row[2].as<std::string>();
        u.tax_code = text_or_empty(row[3]);
        u.iban = text_or_empty(row[4]);
        out.emplace(u.email, std::move(u));
      }
      return out;
    });
    // A user was created when the row stored under its email is its own: the first of
    // identical ones counts, and a same-email user that was kept out is not mistaken for
    // the one inserted.
    std::vector<write_result> out;
    out.reserve(users.size());
    for (const auto& u : users) {
      auto i = inserted.find(u.email);
      const bool mine = i != inserted.end() && i->second.first_name == u.first_name &&
                        i->second.last_name == u.last_name && i->second.tax_code == u.tax_code &&
                        i->second.iban == u.iban;
      if (mine)
        inserted.erase(i);
      out.push_back(mine ? write_result::ok : create(u));
    }
    return out;
  }

  std::vector<bool> create_many_with_keys(const std::vector<keyed_user>& users,
                                          std::uint16_t status, const std::string& body,
                                          std::int64_t now_ms) override {
    if (users.empty())
      return {};
    auto stored = db_.exec("users.create_many_with_keys", [&](pqxx::transaction_base& tx) {
      array_literal keys, fingerprints, emails, first_names, last_names, tax_codes, ibans;
      for (const auto& k : users) {
        keys.add(k.key);
        fingerprints.add(k.fingerprint);
        emails.add(k.u.email);
        first_names.add(k.u.first_name);
        last_names.add(k.u.last_name);
        tax_codes.add_or_null(k.u.tax_code);
        ibans.add_or_null(k.u.iban);
      }
      auto r = tx.exec_prepared(std::string{stmt_user_insert_keyed}, keys.finish(),
                                fingerprints.finish(), emails.finish(),
                                first_names.finish(), last_names.finish(), tax_codes.finish(),
                                ibans.finish(), now_ms, static_cast<int>(status), body);
      std::unordered_set<std::string> out;
      for (const auto& row : r)
        out.insert(row[0].as<std::string>());
      return out;
    });
    std::vector<bool> out;
    out.reserve(users.size());
    for (const auto& k : users)
      out.push_back(stored.contains(k.key));
    return out;
  }

  std::vector<std::optional<user>> find_many(const std::vector<std::string>& emails) override {
    if (emails.size() < 2)
      return user_store::find_many(emails);
    auto found = db_.exec("users.find_many", [&](pqxx::transaction_base& tx) {
      array_literal list;
      for (const auto& email : emails)
        list.add(email);
      auto r = tx.exec_prepared(std::string{stmt_user_find_many}, list.finish());
      std::unordered_map<std::string, user> by_email;
      for (const auto& row : r) {
        auto u = to_user(row);
        by_email.emplace(u.email, std::move(u));
      }
      return by_email;
    });
    std::vector<std::optional<user>> out;
    out.reserve(emails.size());
    for (const auto& email : emails) {
      auto i = found.find(email);
      out.push_back(i == found.end() ? std::nullopt : std::optional<user>{i->second});
    }
    return out;
  }

  std::optional<user> find(const std::string& email) override {
    return db_.exec("users.find", [&](pqxx::transaction_base& tx) -> std::optional<user> {
      auto r = tx.exec_prepared(std::string{stmt_user_find}, email);
      if (r.empty())
        return std::nullopt;
      return to_user(r[0]);
    });
  }

  std::vector<user> list() override {
    return db_.exec("users.list", [&](pqxx::transaction_base& tx) {
      auto r = tx.exec_prepared(std::string{stmt_user_list});
      std::vector<user> out;
      out.reserve(r.size());
      for (const auto& row : r)
        out.push_back(to_user(row));
      return out;
    });
  }

  bool remove(const std::string& email) override {
    return db_.exec("users.remove", [&](pqxx::transaction_base& tx) {
      return tx.exec_prepared(std::string{stmt_user_delete}, email).affected_rows() > 0;
    });
  }

  write_result set_telegram_chat_id(const std::string& email, std::int64_t chat_id) override {
    // A unique violation aborts the transaction it happens in: atomic() confines it when
    // the call is part of a larger transaction.
    return db_.call("users.set_telegram_chat_id", [&](pqxx::connection& c) {
      try {
        return db_.atomic(c, [&](pqxx::transaction_base& tx) {
          auto r = tx.exec_prepared(std::string{stmt_user_set_chat}, email, chat_id);
          return r.affected_rows() > 0 ? write_result::ok : write_result::not_found;
        });
      } catch (const pqxx::unique_violation&) {
        return write_result::chat_id_taken;
      }
    });
  }

  void mark_chat_inactive(std::int64_t chat_id) override {
    db_.exec("users.mark_chat_inactive", [&](pqxx::transaction_base& tx) {
      tx.exec_prepared(std::string{stmt_user_chat_inactive}, chat_id);
    });
  }

private:
  pg_connection& db_;
};

// -- idempotency keys -------------------------------------------------------------------

constexpr std::string_view stmt_idem_insert = "fw_idem_insert";
// The claim first takes a transaction-scoped advisory lock on the key, without waiting.
// Inside store_session::transaction() the claim row stays invisible to others until the
// command's answer is committed with it; the lock is what tells a concurrent request with
// the same key that it is in progress (instead of waiting on the uncommitted row). A
// 64-bit hash collision between two keys only ever gives a spurious "in progress".
// Answers (lock taken, rows inserted).
constexpr std::string_view sql_idem_insert = R"sql(
WITH held AS (SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS mine),
inserted AS (
  INSERT INTO idempotency_keys (key, fingerprint, status, claim_token, user_email, created_at_ms)
  SELECT $1, $2, 'in-progress', $3, $4, $5 FROM held WHERE mine
  ON CONFLICT (key) DO NOTHING
  RETURNING 1)
SELECT (SELECT mine FROM held), (SELECT count(*)::int FROM inserted))sql";

// The same for many keys at once. The try-locks never wait, so their order does not
// matter; the inserts go in key order, as users'. A key twice in the batch is locked
// twice (the lock is reentrant) and inserted once. Answers, in the batch's order, (lock
// taken, row inserted).
constexpr std::string_view stmt_idem_insert_many = "fw_idem_insert_many";
constexpr std::string_view sql_idem_insert_many = R"sql(
WITH req AS MATERIALIZED (
  SELECT r.*, pg_try_advisory_xact_lock(hashtextextended(r.key, 0)) AS mine
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY
    AS r(key, fingerprint, token, user_email, created_at_ms, n)),
inserted AS (
  INSERT INTO idempotency_keys (key, fingerprint, status, claim_token, user_email, created_at_ms)
  SELECT key, fingerprint, 'in-progress', token, user_email, created_at_ms
  FROM req WHERE mine ORDER BY key, n
  ON CONFLICT (key) DO NOTHING
  RETURNING claim_token)
SELECT req.mine, inserted.claim_token IS NOT NULL
FROM req LEFT JOIN inserted ON inserted.claim_token = req.token
ORDER BY req.n)sql";

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

// Each row is found through the key's index (LATERAL, as in sql_user_find_many), then
// updated by its row id. The rows are this transaction's own claims, which no other
// transaction can change meanwhile.
constexpr std::string_view stmt_idem_complete_many = "fw_idem_complete_many";
constexpr std::string_view sql_idem_complete_many = R"sql(
UPDATE idempotency_keys AS k
SET status = 'completed', response_code = v.code, response_body = v.body
FROM (SELECT held.row_id, d.code, d.body
      FROM unnest($1::text[], $2::text[], $3::int[], $4::text[]) AS d(key, token, code, body),
      LATERAL (SELECT ctid AS row_id FROM idempotency_keys
               WHERE key = d.key AND claim_token = d.token AND status = 'in-progress'
               LIMIT 1) AS held) AS v
WHERE k.ctid = v.row_id)sql";

constexpr std::string_view stmt_idem_purge = "fw_idem_purge";
constexpr std::string_view sql_idem_purge = "DELETE FROM idempotency_keys WHERE created_at_ms < $1";

class pg_idempotency_store final : public idempotency_store {
public:
  explicit pg_idempotency_store(pg_connection& db) : db_(db) {
    db_.prepare(stmt_idem_insert, sql_idem_insert);
    db_.prepare(stmt_idem_insert_many, sql_idem_insert_many);
    db_.prepare(stmt_idem_takeover, sql_idem_takeover);
    db_.prepare(stmt_idem_get, sql_idem_get);
    db_.prepare(stmt_idem_complete, sql_idem_complete);
    db_.prepare(stmt_idem_complete_many, sql_idem_complete_many);
    db_.prepare(stmt_idem_purge, sql_idem_purge);
  }

  // Atomicity comes from the single-row INSERT ... ON CONFLICT and the conditional
  // UPDATE; outside a transaction each statement commits on its own.
  claim_result claim(const claim_request& req) override {
    return db_.exec("idempotency.claim", [&](pqxx::transaction_base& tx) {
      using outcome = claim_result::outcome;
      for (int attempt = 0; attempt < 10; ++attempt) {
        auto claimed = tx.exec_prepared(std::string{stmt_idem_insert}, req.key, req.fingerprint,
                                        req.token, req.user_email, req.now_ms);
        if (!claimed[0][0].as<bool>())
          return claim_result{outcome::in_progress, 0, {}}; // a running transaction holds it
        if (claimed[0][1].as<int>() == 1)
          return claim_result{outcome::claimed, 0, {}};
        auto taken = tx.exec_prepared(std::string{stmt_idem_takeover}, req.key, req.fingerprint,
                                      req.token, req.user_email, req.now_ms, req.expired_before_ms,
                                      req.stale_before_ms);
        if (taken.affected_rows() == 1)
          return claim_result{outcome::claimed, 0, {}};
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

  // One statement claims every absent key; the keys it could not insert (they exist, or
  // came twice) go through claim(), which tells why.
  std::vector<claim_result> claim_many(const std::vector<claim_request>& reqs) override {
    if (reqs.size() < 2)
      return idempotency_store::claim_many(reqs);
    auto rows = db_.exec("idempotency.claim_many", [&](pqxx::transaction_base& tx) {
      array_literal keys, fingerprints, tokens, emails, times;
      for (const auto& req : reqs) {
        keys.add(req.key);
        fingerprints.add(req.fingerprint);
        tokens.add(req.token);
        emails.add(req.user_email);
        times.add(req.now_ms);
      }
      return tx.exec_prepared(std::string{stmt_idem_insert_many}, keys.finish(),
                              fingerprints.finish(), tokens.finish(), emails.finish(),
                              times.finish());
    });
    if (rows.size() != reqs.size())
      throw std::runtime_error("PostgreSQL error in idempotency.claim_many: wrong row count");
    using outcome = claim_result::outcome;
    std::vector<claim_result> out;
    out.reserve(reqs.size());
    for (std::size_t i = 0; i < reqs.size(); ++i) {
      if (!rows[i][0].as<bool>())
        out.push_back({outcome::in_progress, 0, {}}); // a running transaction holds it
      else if (rows[i][1].as<bool>())
        out.push_back({outcome::claimed, 0, {}});
      else
        out.push_back(claim(reqs[i]));
    }
    return out;
  }

  std::size_t complete_many(const std::vector<completion>& done) override {
    if (done.size() < 2)
      return idempotency_store::complete_many(done);
    return db_.exec("idempotency.complete_many", [&](pqxx::transaction_base& tx) {
      array_literal keys, tokens, statuses, bodies;
      for (const auto& d : done) {
        keys.add(d.key);
        tokens.add(d.token);
        statuses.add(std::int64_t{d.status});
        bodies.add(d.body);
      }
      auto r = tx.exec_prepared(std::string{stmt_idem_complete_many}, keys.finish(),
                                tokens.finish(), statuses.finish(), bodies.finish());
      return static_cast<std::size_t>(r.affected_rows());
    });
  }

  bool complete(const std::string& key, const std::string& token, std::uint16_t status,
                const std::string& body) override {
    return db_.exec("idempotency.complete", [&](pqxx::transaction_base& tx) {
      auto r = tx.exec_prepared(std::string{stmt_idem_complete}, key, token,
                                static_cast<int>(status), body);
      return r.affected_rows() == 1;
    });
  }

  std::uint64_t purge(std::int64_t expired_before_ms) override {
    return db_.exec("idempotency.purge", [&](pqxx::transaction_base& tx) {
      auto r = tx.exec_prepared(std::string{stmt_idem_purge}, expired_before_ms);
      return static_cast<std::uint64_t>(r.affected_rows());
    });
  }

private:
  pg_connection& db_;
};

// -- interests --------------------------------------------------------------------------

std::optional<std::int64_t> to_std(const caf::optional<std::int64_t>& x) {
  if (x)
    return *x;
  return std::nullopt;
}

caf::optional<std::int64_t> nullable_int64(const pqxx::field& f) {
  if (f.is_null())
    return caf::none;
  return f.as<std::int64_t>();
}

// created_at_ms is kept when the interest exists. xmax = 0 holds exactly for a row version
// this statement inserted (an updated row carries the updating transaction's id). No row
// comes back when the user does not exist. The casts type the parameters, which a SELECT
// list (unlike VALUES) does not take from the target columns.
constexpr std::string_view stmt_interest_upsert = "fw_interest_upsert";
constexpr std::string_view sql_interest_upsert = R"sql(
INSERT INTO user_interests (user_email, airport_code, high_value, low_value, created_at_ms)
SELECT $1::text, $2::text, $3::bigint, $4::bigint, $5::bigint
WHERE EXISTS (SELECT 1 FROM users WHERE email = $1::text)
ON CONFLICT (user_email, airport_code)
DO UPDATE SET high_value = EXCLUDED.high_value, low_value = EXCLUDED.low_value
RETURNING (xmax = 0) AS inserted)sql";

constexpr std::string_view stmt_interest_update = "fw_interest_update";
constexpr std::string_view sql_interest_update = R"sql(
UPDATE user_interests SET high_value = $3, low_value = $4
WHERE user_email = $1 AND airport_code = $2)sql";

constexpr std::string_view stmt_interest_delete = "fw_interest_delete";
constexpr std::string_view sql_interest_delete =
    "DELETE FROM user_interests WHERE user_email = $1 AND airport_code = $2";

constexpr std::string_view stmt_interest_for_user = "fw_interest_for_user";
constexpr std::string_view sql_interest_for_user = R"sql(
SELECT user_email, airport_code, high_value, low_value
FROM user_interests WHERE user_email = $1 ORDER BY airport_code COLLATE "C")sql";

constexpr std::string_view stmt_interest_delete_user = "fw_interest_delete_user";
constexpr std::string_view sql_interest_delete_user =
    "DELETE FROM user_interests WHERE user_email = $1";

constexpr std::string_view stmt_interest_for_airport = "fw_interest_for_airport";
constexpr std::string_view sql_interest_for_airport = R"sql(
SELECT user_email, airport_code, high_value, low_value
FROM user_interests WHERE airport_code = $1 ORDER BY user_email COLLATE "C")sql";

// GROUP BY rather than DISTINCT: DISTINCT would not allow ordering by the collated column.
constexpr std::string_view stmt_interest_airports = "fw_interest_airports";
constexpr std::string_view sql_interest_airports = R"sql(
SELECT airport_code FROM user_interests
GROUP BY airport_code ORDER BY airport_code COLLATE "C")sql";

std::vector<interest> to_interests(const pqxx::result& r) {
  std::vector<interest> out;
  out.reserve(r.size());
  for (const auto& row : r) {
    interest i;
    i.user_email = row[0].as<std::string>();
    i.airport_code = row[1].as<std::string>();
    i.high_value = nullable_int64(row[2]);
    i.low_value = nullable_int64(row[3]);
    out.push_back(std::move(i));
  }
  return out;
}

class pg_interest_store final : public interest_store {
public:
  explicit pg_interest_store(pg_connection& db) : db_(db) {
    db_.prepare(stmt_interest_upsert, sql_interest_upsert);
    db_.prepare(stmt_interest_update, sql_interest_update);
    db_.prepare(stmt_interest_delete, sql_interest_delete);
    db_.prepare(stmt_interest_for_user, sql_interest_for_user);
    db_.prepare(stmt_interest_delete_user, sql_interest_delete_user);
    db_.prepare(stmt_interest_for_airport, sql_interest_for_airport);
    db_.prepare(stmt_interest_airports, sql_interest_airports);
  }

  upsert_outcome upsert(const interest& i) override {
    return db_.exec("interests.upsert", [&](pqxx::transaction_base& tx) {
      auto r = tx.exec_prepared(std::string{stmt_interest_upsert}, i.user_email, i.airport_code,
                                to_std(i.high_value), to_std(i.low_value), unix_ms());
      if (r.empty())
        return upsert_outcome::no_user;
      return r.at(0).at(0).as<bool>() ? upsert_outcome::inserted : upsert_outcome::updated;
    });
  }

  bool update_thresholds(const interest& i) override {
    return db_.exec("interests.update_thresholds", [&](pqxx::transaction_base& tx) {
      auto r = tx.exec_prepared(std::string{stmt_interest_update}, i.user_email, i.airport_code,
                                to_std(i.high_value), to_std(i.low_value));
      return r.affected_rows() > 0;
    });
  }

  bool remove(const std::string& user_email, const std::string& airport_code) override {
    return db_.exec("interests.remove", [&](pqxx::transaction_base& tx) {
      auto r = tx.exec_prepared(std::string{stmt_interest_delete}, user_email, airport_code);
      return r.affected_rows() > 0;
    });
  }

  std::vector<interest> for_user(const std::string& user_email) override {
    return db_.exec("interests.for_user", [&](pqxx::transaction_base& tx) {
      return to_interests(tx.exec_prepared(std::string{stmt_interest_for_user}, user_email));
    });
  }

  std::uint64_t remove_all_of_user(const std::string& user_email) override {
    return db_.exec("interests.remove_all_of_user", [&](pqxx::transaction_base& tx) {
      auto r = tx.exec_prepared(std::string{stmt_interest_delete_user}, user_email);
      return static_cast<std::uint64_t>(r.affected_rows());
    });
  }

  std::vector<interest> for_airport(const std::string& airport_code) override {
    return db_.exec("interests.for_airport", [&](pqxx::transaction_base& tx) {
      return to_interests(tx.exec_prepared(std::string{stmt_interest_for_airport}, airport_code));
    });
  }

  std::vector<std::string> airports() override {
    return db_.exec("interests.airports", [&](pqxx::transaction_base& tx) {
      auto r = tx.exec_prepared(std::string{stmt_interest_airports});
      std::vector<std::string> out;
      out.reserve(r.size());
      for (const auto& row : r)
        out.push_back(row[0].as<std::string>());
      return out;
    });
  }

private:
  pg_connection& db_;
};

// -- flights ----------------------------------------------------------------------------

// Many flights per statement: one array parameter per column, unnested into rows.
// Deduplicated on the unique index flight_data_identity (also within the batch).
constexpr std::string_view stmt_flight_insert = "fw_flight_insert";
constexpr std::string_view sql_flight_insert = R"sql(
INSERT INTO flight_data (icao24, first_seen, est_departure_airport, last_seen,
  est_arrival_airport, callsign, est_departure_airport_horiz_distance,
  est_departure_airport_vert_distance, est_arrival_airport_horiz_distance,
  est_arrival_airport_vert_distance, departure_airport_candidates_count,
  arrival_airport_candidates_count)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[],
  $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[],
  $12::bigint[])
ON CONFLICT DO NOTHING
RETURNING est_departure_airport, est_arrival_airport, first_seen, last_seen)sql";

// The per-hour counters of the flights just stored (hourly_deltas: one row per key, in
// key order, so concurrent writers lock counter rows in the same order).
constexpr std::string_view stmt_flight_count_add = "fw_flight_count_add";
constexpr std::string_view sql_flight_count_add = R"sql(
INSERT INTO flight_hourly_counts AS c (airport, hour, arrivals, departures,
  departures_elsewhere)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
ON CONFLICT (airport, hour) DO UPDATE SET arrivals = c.arrivals + excluded.arrivals,
  departures = c.departures + excluded.departures,
  departures_elsewhere = c.departures_elsewhere + excluded.departures_elsewhere)sql";

// The time bounds are always given (the int64 extremes when absent), so every query is a
// range scan of its index: flight_data_arrivals (est_arrival_airport, last_seen) or
// flight_data_departures (est_departure_airport, first_seen), read backwards; ties on the
// time (rare) are ordered by id with an incremental sort.
constexpr std::string_view stmt_flight_list_arrivals = "fw_flight_list_arrivals";
constexpr std::string_view sql_flight_list_arrivals = R"sql(
SELECT icao24, first_seen, est_departure_airport, last_seen, est_arrival_airport, callsign,
  est_departure_airport_horiz_distance, est_departure_airport_vert_distance,
  est_arrival_airport_horiz_distance, est_arrival_airport_vert_distance,
  departure_airport_candidates_count, arrival_airport_candidates_count
FROM flight_data
WHERE est_arrival_airport = $1 AND last_seen BETWEEN $2 AND $3
ORDER BY last_seen DESC, id DESC LIMIT $4)sql";

constexpr std::string_view stmt_flight_list_departures = "fw_flight_list_departures";
constexpr std::string_view sql_flight_list_departures = R"sql(
SELECT icao24, first_seen, est_departure_airport, last_seen, est_arrival_airport, callsign,
  est_departure_airport_horiz_distance, est_departure_airport_vert_distance,
  est_arrival_airport_horiz_distance, est_arrival_airport_vert_distance,
  departure_airport_candidates_count, arrival_airport_candidates_count
FROM flight_data
WHERE est_departure_airport = $1 AND first_seen BETWEEN $2 AND $3
ORDER BY first_seen DESC, id DESC LIMIT $4)sql";

// Both: the arrivals, plus the departures that do not also arrive there (those are timed
// by their arrival and already in the first half). Each half is ordered and limited on
// its own so that the planner merges two backward index scans (Merge Append) and stops
// after `limit` rows; a plain UNION ALL ... ORDER BY reads every row at the airport.
constexpr std::string_view stmt_flight_list_both = "fw_flight_list_both";
constexpr std::string_view sql_flight_list_both = R"sql(
SELECT * FROM (
  (SELECT icao24, first_seen, est_departure_airport, last_seen, est_arrival_airport, callsign,
    est_departure_airport_horiz_distance, est_departure_airport_vert_distance,
    est_arrival_airport_horiz_distance, est_arrival_airport_vert_distance,
    departure_airport_candidates_count, arrival_airport_candidates_count,
    last_seen AS t, id
  FROM flight_data
  WHERE est_arrival_airport = $1 AND last_seen BETWEEN $2 AND $3
  ORDER BY last_seen DESC, id DESC LIMIT $4)
  UNION ALL
  (SELECT icao24, first_seen, est_departure_airport, last_seen, est_arrival_airport, callsign,
    est_departure_airport_horiz_distance, est_departure_airport_vert_distance,
    est_arrival_airport_horiz_distance, est_arrival_airport_vert_distance,
    departure_airport_candidates_count, arrival_airport_candidates_count,
    first_seen AS t, id
  FROM flight_data
  WHERE est_departure_airport = $1 AND est_arrival_airport <> $1
    AND first_seen BETWEEN $2 AND $3
  ORDER BY first_seen DESC, id DESC LIMIT $4)
) AS f
ORDER BY t DESC, id DESC LIMIT $4)sql";

// Counts over [$2, $3] as plan_count splits them: the counters of hours [$6, $7] plus the
// flights timed in [$2, $4] and in [$5, $3], each a range scan of the time index.
constexpr std::string_view stmt_flight_count_arrivals = "fw_flight_count_arrivals";
constexpr std::string_view sql_flight_count_arrivals = R"sql(
SELECT ((SELECT count(*) FROM flight_data
         WHERE est_arrival_airport = $1 AND last_seen BETWEEN $2 AND $4)
      + (SELECT count(*) FROM flight_data
         WHERE est_arrival_airport = $1 AND last_seen BETWEEN $5 AND $3)
      + (SELECT COALESCE(sum(arrivals), 0) FROM flight_hourly_counts
         WHERE airport = $1 AND hour BETWEEN $6 AND $7))::bigint)sql";

constexpr std::string_view stmt_flight_count_departures = "fw_flight_count_departures";
constexpr std::string_view sql_flight_count_departures = R"sql(
SELECT ((SELECT count(*) FROM flight_data
         WHERE est_departure_airport = $1 AND first_seen BETWEEN $2 AND $4)
      + (SELECT count(*) FROM flight_data
         WHERE est_departure_airport = $1 AND first_seen BETWEEN $5 AND $3)
      + (SELECT COALESCE(sum(departures), 0) FROM flight_hourly_counts
         WHERE airport = $1 AND hour BETWEEN $6 AND $7))::bigint)sql";

constexpr std::string_view stmt_flight_count_both = "fw_flight_count_both";
constexpr std::string_view sql_flight_count_both = R"sql(
SELECT ((SELECT count(*) FROM flight_data
         WHERE est_arrival_airport = $1 AND last_seen BETWEEN $2 AND $4)
      + (SELECT count(*) FROM flight_data
         WHERE est_arrival_airport = $1 AND last_seen BETWEEN $5 AND $3)
      + (SELECT count(*) FROM flight_data
         WHERE est_departure_airport = $1 AND est_arrival_airport <> $1
           AND first_seen BETWEEN $2 AND $4)
      + (SELECT count(*) FROM flight_data
         WHERE est_departure_airport = $1 AND est_arrival_airport <> $1
           AND first_seen BETWEEN $5 AND $3)
      + (SELECT COALESCE(sum(arrivals + departures_elsewhere), 0) FROM flight_hourly_counts
         WHERE airport = $1 AND hour BETWEEN $6 AND $7))::bigint)sql";

/// Flights per INSERT statement (12 array parameters of this many elements).
constexpr std::size_t flight_insert_batch = 1000;

flight to_flight(const pqxx::row& r) {
  flight f;
  f.icao24 = r[0].as<std::string>();
  f.first_seen = r[1].as<std::int64_t>();
  f.est_departure_airport = r[2].as<std::string>();
  f.last_seen = r[3].as<std::int64_t>();
  f.est_arrival_airport = r[4].as<std::string>();
  f.callsign = r[5].as<std::string>();
  f.est_departure_airport_horiz_distance = nullable_int64(r[6]);
  f.est_departure_airport_vert_distance = nullable_int64(r[7]);
  f.est_arrival_airport_horiz_distance = nullable_int64(r[8]);
  f.est_arrival_airport_vert_distance = nullable_int64(r[9]);
  f.departure_airport_candidates_count = nullable_int64(r[10]);
  f.arrival_airport_candidates_count = nullable_int64(r[11]);
  return f;
}

class pg_flight_store final : public flight_store {
public:
  explicit pg_flight_store(pg_connection& db) : db_(db) {
    db_.prepare(stmt_flight_insert, sql_flight_insert);
    db_.prepare(stmt_flight_count_add, sql_flight_count_add);
    db_.prepare(stmt_flight_list_arrivals, sql_flight_list_arrivals);
    db_.prepare(stmt_flight_list_departures, sql_flight_list_departures);
    db_.prepare(stmt_flight_list_both, sql_flight_list_both);
    db_.prepare(stmt_flight_count_arrivals, sql_flight_count_arrivals);
    db_.prepare(stmt_flight_count_departures, sql_flight_count_departures);
    db_.prepare(stmt_flight_count_both, sql_flight_count_both);
  }

  std::uint64_t insert(const std::vector<flight>& flights) override {
    if (flights.empty())
      return 0;
    // Inserted in the order of the unique key, so concurrent inserts of overlapping
    // batches take their index locks in the same order and cannot deadlock.
    std::vector<const flight*> sorted;
    sorted.reserve(flights.size());
    for (const auto& f : flights)
      sorted.push_back(&f);
    std::sort(sorted.begin(), sorted.end(), [](const flight* a, const flight* b) {
      return std::tie(a->icao24, a->first_seen, a->est_departure_airport, a->est_arrival_airport) <
             std::tie(b->icao24, b->first_seen, b->est_departure_airport, b->est_arrival_airport);
    });
    return db_.call("flights.insert", [&](pqxx::connection& c) {
      return db_.atomic(c, [&](pqxx::transaction_base& tx) {
        std::vector<flight> added; // what the counters need of each new flight
        for (std::size_t begin = 0; begin < sorted.size(); begin += flight_insert_batch) {
          auto end = std::min(sorted.size(), begin + flight_insert_batch);
          array_literal icao24, first_seen, departure, last_seen, arrival, callsign, dep_horiz,
              dep_vert, arr_horiz, arr_vert, dep_candidates, arr_candidates;
          for (auto i = begin; i < end; ++i) {
            const auto& f = *sorted[i];
            icao24.add(f.icao24);
            first_seen.add(f.first_seen);
            departure.add(f.est_departure_airport);
            last_seen.add(f.last_seen);
            arrival.add(f.est_arrival_airport);
            callsign.add(f.callsign);
            dep_horiz.add(f.est_departure_airport_horiz_distance);
            dep_vert.add(f.est_departure_airport_vert_distance);
            arr_horiz.add(f.est_arrival_airport_horiz_distance);
            arr_vert.add(f.est_arrival_airport_vert_distance);
            dep_candidates.add(f.departure_airport_candidates_count);
            arr_candidates.add(f.arrival_airport_candidates_count);
          }
          auto r = tx.exec_prepared(std::string{stmt_flight_insert}, icao24.finish(),
                                    first_seen.finish(), departure.finish(), last_seen.finish(),
                                    arrival.finish(), callsign.finish(), dep_horiz.finish(),
                                    dep_vert.finish(), arr_horiz.finish(), arr_vert.finish(),
                                    dep_candidates.finish(), arr_candidates.finish());
          for (const auto& row : r) {
            flight f;
            f.est_departure_airport = row[0].as<std::string>();
            f.est_arrival_airport = row[1].as<std::string>();
            f.first_seen = row[2].as<std::int64_t>();
            f.last_seen = row[3].as<std::int64_t>();
            added.push_back(std::move(f));
          }
        }
        std::vector<const flight*> pointers;
        for (const auto& f : added)
          pointers.push_back(&f);
        auto deltas = hourly_deltas(pointers);
        if (!deltas.empty()) {
          array_literal airports, hours, arrivals, departures, elsewhere;
          for (const auto& d : deltas) {
            airports.add(d.airport);
            hours.add(d.hour);
            arrivals.add(d.arrivals);
            departures.add(d.departures);
            elsewhere.add(d.departures_elsewhere);
          }
          tx.exec_prepared(std::string{stmt_flight_count_add}, airports.finish(), hours.finish(),
                           arrivals.finish(), departures.finish(), elsewhere.finish());
        }
        return static_cast<std::uint64_t>(added.size());
      });
    });
  }

  std::vector<flight> list(const flight_query& q) override {
    if (q.limit <= 0)
      return {};
    auto stmt = list_statement(parse_flight_type(q.type));
    std::int64_t since = q.since ? *q.since : no_lower_bound;
    std::int64_t until = q.until ? *q.until : no_upper_bound;
    return db_.exec("flights.list", [&](pqxx::transaction_base& tx) {
      auto r = tx.exec_prepared(std::string{stmt}, q.airport_code, since, until, q.limit);
      std::vector<flight> out;
      out.reserve(r.size());
      for (const auto& row : r)
        out.push_back(to_flight(row));
      return out;
    });
  }

  std::int64_t count(const std::string& airport_code, const std::string& type, std::int64_t from,
                     std::int64_t to) override {
    auto stmt = count_statement(parse_flight_type(type));
    const auto plan = plan_count(airport_code, from, to);
    return db_.exec("flights.count", [&](pqxx::transaction_base& tx) {
      auto r = tx.exec_prepared(std::string{stmt}, airport_code, from, to, plan.head_end,
                                plan.tail_begin, plan.first_hour, plan.last_hour);
      return r.at(0).at(0).as<std::int64_t>();
    });
  }

  std::optional<flight> last(const std::string& airport_code, const std::string& type) override {
    flight_query q;
    q.airport_code = airport_code;
    q.type = type;
    q.limit = 1;
    auto found = list(q);
    if (found.empty())
      return std::nullopt;
    return std::move(found.front());
  }

private:
  static std::string_view list_statement(flight_direction d) {
    switch (d) {
    case flight_direction::arrivals:
      return stmt_flight_list_arrivals;
    case flight_direction::departures:
      return stmt_flight_list_departures;
    case flight_direction::both:
      break;
    }
    return stmt_flight_list_both;
  }

  static std::string_view count_statement(flight_direction d) {
    switch (d) {
    case flight_direction::arrivals:
      return stmt_flight_count_arrivals;
    case flight_direction::departures:
      return stmt_flight_count_departures;
    case flight_direction::both:
      break;
    }
    return stmt_flight_count_both;
  }

  pg_connection& db_;
};

// -- alert states and processed events --------------------------------------------------

constexpr std::string_view stmt_alert_find = "fw_alert_find";
constexpr std::string_view sql_alert_find = R"sql(
SELECT user_email, airport_code, condition, threshold, flight_count, since_ms,
  last_notified_ms
FROM alert_states WHERE user_email = $1 AND airport_code = $2)sql";

constexpr std::string_view stmt_alert_processed = "fw_alert_processed";
constexpr std::string_view sql_alert_processed =
    "SELECT output FROM processed_events WHERE event_id = $1";

// One statement, so one round trip and atomic by itself: marks the event processed and,
// only if that inserted the mark, stores the next state ($11 true) or deletes the state.
// No mark inserted (0 returned) means the event was processed before; a concurrent
// insert of the same event waits for the other transaction and then inserts nothing.
constexpr std::string_view stmt_alert_record = "fw_alert_record";
constexpr std::string_view sql_alert_record = R"sql(
WITH mark AS (
  INSERT INTO processed_events (event_id, output, processed_at_ms)
  VALUES ($1, $2, $3)
  ON CONFLICT (event_id) DO NOTHING
  RETURNING 1),
kept AS (
  INSERT INTO alert_states (user_email, airport_code, condition, threshold, flight_count,
    since_ms, last_notified_ms)
  SELECT $4::text, $5::text, $6::text, $7::bigint, $8::bigint, $9::bigint, $10::bigint
  FROM mark WHERE $11::boolean
  ON CONFLICT (user_email, airport_code)
  DO UPDATE SET condition = EXCLUDED.condition, threshold = EXCLUDED.threshold,
    flight_count = EXCLUDED.flight_count, since_ms = EXCLUDED.since_ms,
    last_notified_ms = EXCLUDED.last_notified_ms),
dropped AS (
  DELETE FROM alert_states WHERE user_email = $4 AND airport_code = $5
    AND NOT $11::boolean AND EXISTS (SELECT 1 FROM mark))
SELECT count(*) FROM mark)sql";

constexpr std::string_view stmt_alert_purge = "fw_alert_purge";
constexpr std::string_view sql_alert_purge =
    "DELETE FROM processed_events WHERE processed_at_ms < $1";

class pg_alert_store final : public alert_store {
public:
  explicit pg_alert_store(pg_connection& db) : db_(db) {
    db_.prepare(stmt_alert_find, sql_alert_find);
    db_.prepare(stmt_alert_processed, sql_alert_processed);
    db_.prepare(stmt_alert_record, sql_alert_record);
    db_.prepare(stmt_alert_purge, sql_alert_purge);
  }

  std::optional<state> find(const std::string& user_email,
                            const std::string& airport_code) override {
    return db_.exec("alerts.find", [&](pqxx::transaction_base& tx) -> std::optional<state> {
      auto r = tx.exec_prepared(std::string{stmt_alert_find}, user_email, airport_code);
      if (r.empty())
        return std::nullopt;
      const auto& row = r[0];
      state st;
      st.user_email = row[0].as<std::string>();
      st.airport_code = row[1].as<std::string>();
      st.condition = row[2].as<std::string>();
      st.threshold = row[3].as<std::int64_t>();
      st.flight_count = row[4].as<std::int64_t>();
      st.since_ms = row[5].as<std::int64_t>();
      st.last_notified_ms = row[6].as<std::int64_t>();
      return st;
    });
  }

  std::optional<std::string> processed(const std::string& event_id) override {
    return db_.exec("alerts.processed",
                    [&](pqxx::transaction_base& tx) -> std::optional<std::string> {
                      auto r = tx.exec_prepared(std::string{stmt_alert_processed}, event_id);
                      if (r.empty())
                        return std::nullopt;
                      return r[0][0].as<std::string>();
                    });
  }

  bool record(const std::string& event_id, const std::string& user_email,
              const std::string& airport_code, const std::optional<state>& next,
              const std::string& output, std::int64_t now_ms) override {
    const auto kept = next.value_or(state{}); // unused when there is no next state
    return db_.call("alerts.record", [&](pqxx::connection& c) {
      return db_.atomic_statement(c, [&](pqxx::transaction_base& tx) {
        auto r = tx.exec_prepared(std::string{stmt_alert_record}, event_id, output, now_ms,
                                  user_email, airport_code, kept.condition, kept.threshold,
                                  kept.flight_count, kept.since_ms, kept.last_notified_ms,
                                  next.has_value());
        return r[0][0].as<std::int64_t>() == 1; // 0: processed before, nothing written
      });
    });
  }

  std::uint64_t purge_processed(std::int64_t before_ms) override {
    return db_.exec("alerts.purge_processed", [&](pqxx::transaction_base& tx) {
      auto r = tx.exec_prepared(std::string{stmt_alert_purge}, before_ms);
      return static_cast<std::uint64_t>(r.affected_rows());
    });
  }

private:
  pg_connection& db_;
};

// -- notifications ----------------------------------------------------------------------

constexpr std::string_view stmt_notification_insert = "fw_notification_insert";
constexpr std::string_view sql_notification_insert = R"sql(
INSERT INTO notifications (event_id, user_email, airport_code, kind, channel, text, status,
  error, attempts, created_at_ms, updated_at_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (event_id) DO NOTHING)sql";

constexpr std::string_view stmt_notification_find = "fw_notification_find";
constexpr std::string_view sql_notification_find = R"sql(
SELECT event_id, user_email, airport_code, kind, channel, text, status, error, attempts,
  created_at_ms, updated_at_ms
FROM notifications WHERE event_id = $1)sql";

constexpr std::string_view stmt_notification_update = "fw_notification_update";
constexpr std::string_view sql_notification_update = R"sql(
UPDATE notifications SET status = $2, attempts = $3, error = $4, updated_at_ms = $5
WHERE event_id = $1)sql";

// Newest first; ties (same millisecond) by event id, byte-wise as in SQLite.
constexpr std::string_view stmt_notification_for_user = "fw_notification_for_user";
constexpr std::string_view sql_notification_for_user = R"sql(
SELECT event_id, user_email, airport_code, kind, channel, text, status, error, attempts,
  created_at_ms, updated_at_ms
FROM notifications WHERE user_email = $1
ORDER BY created_at_ms DESC, event_id COLLATE "C" LIMIT $2)sql";

notification_store::record to_notification(const pqxx::row& r) {
  notification_store::record n;
  n.event_id = r[0].as<std::string>();
  n.user_email = r[1].as<std::string>();
  n.airport_code = r[2].as<std::string>();
  n.kind = r[3].as<std::string>();
  n.channel = r[4].as<std::string>();
  n.text = r[5].as<std::string>();
  n.status = r[6].as<std::string>();
  n.error = r[7].as<std::string>();
  n.attempts = r[8].as<std::int64_t>();
  n.created_at_ms = r[9].as<std::int64_t>();
  n.updated_at_ms = r[10].as<std::int64_t>();
  return n;
}

/// What open() stores for `n`: status "pending" unless given, updated_at_ms the creation
/// time unless given.
notification_store::record opened(const notification_store::record& n) {
  auto out = n;
  if (out.status.empty())
    out.status = "pending";
  if (out.updated_at_ms == 0)
    out.updated_at_ms = out.created_at_ms;
  return out;
}

class pg_notification_store final : public notification_store {
public:
  explicit pg_notification_store(pg_connection& db) : db_(db) {
    db_.prepare(stmt_notification_insert, sql_notification_insert);
    db_.prepare(stmt_notification_find, sql_notification_find);
    db_.prepare(stmt_notification_update, sql_notification_update);
    db_.prepare(stmt_notification_for_user, sql_notification_for_user);
  }

  // Notifications are never deleted, so a row the INSERT conflicted with (committed by
  // then: the INSERT waits for a concurrent one) is still there for the SELECT.
  std::optional<record> open(const record& n) override {
    return db_.exec("notifications.open", [&](pqxx::transaction_base& tx) -> std::optional<record> {
      const auto row = opened(n);
      auto inserted =
          tx.exec_prepared(std::string{stmt_notification_insert}, row.event_id, row.user_email,
                           row.airport_code, row.kind, row.channel, row.text, row.status, row.error,
                           row.attempts, row.created_at_ms, row.updated_at_ms);
      if (inserted.affected_rows() == 1)
        return std::nullopt;
      auto r = tx.exec_prepared(std::string{stmt_notification_find}, n.event_id);
      if (r.empty())
        throw std::runtime_error("notifications.open: conflicting row not found");
      return to_notification(r[0]);
    });
  }

  void update(const std::string& event_id, const std::string& status, std::int64_t attempts,
              const std::string& error, std::int64_t now_ms) override {
    db_.exec("notifications.update", [&](pqxx::transaction_base& tx) {
      tx.exec_prepared(std::string{stmt_notification_update}, event_id, status, attempts, error,
                       now_ms);
    });
  }

  std::vector<record> for_user(const std::string& user_email, std::int64_t limit) override {
    if (limit <= 0)
      return {};
    return db_.exec("notifications.for_user", [&](pqxx::transaction_base& tx) {
      auto r = tx.exec_prepared(std::string{stmt_notification_for_user}, user_email, limit);
      std::vector<record> out;
      out.reserve(r.size());
      for (const auto& row : r)
        out.push_back(to_notification(row));
      return out;
    });
  }

private:
  pg_connection& db_;
};

// -- Telegram link tokens ---------------------------------------------------------------

constexpr std::string_view stmt_link_insert = "fw_link_insert";
constexpr std::string_view sql_link_insert = R"sql(
INSERT INTO telegram_link_tokens (token, user_email, created_at_ms, used)
VALUES ($1, $2, $3, 0))sql";

// Marks the token used and returns its user in one statement: concurrent consumers
// serialise on the row lock, and the losers re-check used = 0 against the winner's update.
constexpr std::string_view stmt_link_consume = "fw_link_consume";
constexpr std::string_view sql_link_consume = R"sql(
UPDATE telegram_link_tokens SET used = 1
WHERE token = $1 AND used = 0 AND created_at_ms >= $2
RETURNING user_email)sql";

class pg_telegram_link_store final : public telegram_link_store {
public:
  explicit pg_telegram_link_store(pg_connection& db) : db_(db) {
    db_.prepare(stmt_link_insert, sql_link_insert);
    db_.prepare(stmt_link_consume, sql_link_consume);
  }

  void create(const std::string& token, const std::string& user_email,
              std::int64_t now_ms) override {
    db_.exec("telegram_links.create", [&](pqxx::transaction_base& tx) {
      tx.exec_prepared(std::string{stmt_link_insert}, token, user_email, now_ms);
    });
  }

  std::optional<std::string> consume(const std::string& token,
                                     std::int64_t valid_after_ms) override {
    return db_.exec(
        "telegram_links.consume", [&](pqxx::transaction_base& tx) -> std::optional<std::string> {
          auto r = tx.exec_prepared(std::string{stmt_link_consume}, token, valid_after_ms);
          if (r.empty())
            return std::nullopt;
          return r[0][0].as<std::string>();
        });
  }

private:
  pg_connection& db_;
};

// -- session ----------------------------------------------------------------------------

class pg_session final : public store_session {
public:
  pg_session(const std::string& uri, std::chrono::milliseconds statement_timeout)
    : db_(uri, statement_timeout), users_(db_), idempotency_(db_), interests_(db_), flights_(db_),
      alerts_(db_), notifications_(db_), telegram_links_(db_) {}

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

  void transaction(const std::function<bool()>& body) override {
    db_.transaction(body);
  }

  void prepare_statements() override {
    db_.prepare_all();
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
                       std::string{next->description}, unix_ms());
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

  interest_store& interests() override {
    return interests_;
  }

  flight_store& flights() override {
    return flights_;
  }

  alert_store& alerts() override {
    return alerts_;
  }

  notification_store& notifications() override {
    return notifications_;
  }

  telegram_link_store& telegram_links() override {
    return telegram_links_;
  }

private:
  pg_connection db_;
  pg_user_store users_;
  pg_idempotency_store idempotency_;
  pg_interest_store interests_;
  pg_flight_store flights_;
  pg_alert_store alerts_;
  pg_notification_store notifications_;
  pg_telegram_link_store telegram_links_;
};

} // namespace

std::unique_ptr<store_session> open_postgres_session(const std::string& uri,
                                                     std::chrono::milliseconds statement_timeout) {
  return std::make_unique<pg_session>(uri, statement_timeout);
}

} // namespace fw
