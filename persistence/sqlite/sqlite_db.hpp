#pragma once
// A small RAII layer over the sqlite3 C API, used only by sqlite_session.cpp: a connection
// (database), prepared statements bound by 1-based index, and a transaction guard.
//
// Errors: a database that cannot be opened or read (CANTOPEN, NOTADB, IOERR, CORRUPT,
// FULL, ...) throws fw::storage_unavailable; a constraint violation throws
// sqlite::constraint_violation (carrying the extended result code); anything else throws
// std::runtime_error. Messages come from sqlite3_errmsg and never carry parameter values.

#include "persistence/stores.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace fw::sqlite {

class file_coordinator;

/// A UNIQUE / PRIMARY KEY / NOT NULL / ... constraint failed. `extended_code()` is e.g.
/// SQLITE_CONSTRAINT_UNIQUE or SQLITE_CONSTRAINT_PRIMARYKEY; what() names the column
/// ("UNIQUE constraint failed: users.email").
class constraint_violation : public std::runtime_error {
public:
  constraint_violation(int extended_code, const std::string& what)
    : std::runtime_error(what), extended_code_(extended_code) {}
  int extended_code() const noexcept {
    return extended_code_;
  }

private:
  int extended_code_;
};

/// One connection (SQLITE_OPEN_NOMUTEX: use it from one thread at a time).
class database {
public:
  /// Opens (creating it and its parent directory if needed) the file at `path` with WAL
  /// journal, a 5000 ms busy handler, foreign_keys=ON, synchronous=NORMAL. Throws
  /// storage_unavailable when the file cannot be opened or is not a database.
  explicit database(const std::string& path);
  ~database();

  database(const database&) = delete;
  database& operator=(const database&) = delete;

  /// Runs one or more statements without parameters (schema, PRAGMA, BEGIN/COMMIT).
  void exec(std::string_view sql);
  /// Rows changed by the most recent INSERT/UPDATE/DELETE on this connection.
  std::int64_t changes() const;
  /// False inside an explicit transaction.
  bool autocommit() const;
  /// True when the database file was deleted, renamed or replaced since it was opened
  /// (SQLite keeps using the open, possibly unlinked file; in WAL mode even writes
  /// succeed into it).
  bool file_moved() const;

  sqlite3* handle() const noexcept {
    return db_;
  }

  /// Throws the exception matching `rc` (see the header comment); `what` says which
  /// operation failed.
  [[noreturn]] void fail(int rc, std::string_view what) const;

  /// The write gate: every connection of this process to the same file takes it before
  /// it writes (a write transaction, or a writing statement outside one) and gives it
  /// back when the write ends. SQLite lets one writer in at a time anyway; waiting here
  /// wakes the next writer the moment the previous one commits, where SQLite's busy
  /// handler can only poll. Other processes still meet the busy handler. Waits up to the
  /// busy timeout, then throws as SQLITE_BUSY would. Counted: nested calls are free.
  void begin_write(std::string_view what);
  void end_write() noexcept;

private:
  sqlite3* db_ = nullptr;
  std::chrono::steady_clock::time_point busy_since_; // of the current wait for a lock
  std::shared_ptr<file_coordinator> file_;           // shared with the file's connections
  int writes_open_ = 0;                              // begin_write() calls not yet ended
  int wal_pages_ = 0; // the WAL's size after this connection's last commit
};

/// A prepared statement, prepared on first use and then reused (reset and bindings
/// cleared per use). Use it through `use()`:
///
///   auto q = find_stmt_.use();
///   q->bind(1, email);
///   while (q->step()) { ... q->column_text(0) ... }
///
/// The guard resets the statement when it goes out of scope, so no read snapshot or
/// lock stays open between calls.
class statement {
public:
  class guard {
  public:
    explicit guard(statement& s) : s_(&s) {}
    guard(guard&& other) noexcept : s_(other.s_) {
      other.s_ = nullptr;
    }
    guard(const guard&) = delete;
    guard& operator=(const guard&) = delete;
    guard& operator=(guard&&) = delete;
    ~guard();

    statement* operator->() const noexcept {
      return s_;
    }
    statement& operator*() const noexcept {
      return *s_;
    }

  private:
    statement* s_;
  };

  statement(database& db, std::string_view sql) : db_(&db), sql_(sql) {}
  ~statement();

  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  /// Prepares the statement if not yet done, resets it and clears its bindings.
  [[nodiscard]] guard use();

  // Binding, 1-based. Text is copied (SQLITE_TRANSIENT).
  statement& bind(int index, std::string_view text);
  statement& bind(int index, const std::string& text) {
    return bind(index, std::string_view{text});
  }
  statement& bind(int index, const char* text) {
    return bind(index, std::string_view{text});
  }
  statement& bind(int index, std::int64_t value);
  statement& bind_null(int index);
  /// Binds NULL for an empty string, else the text.
  statement& bind_text_or_null(int index, std::string_view text);
  statement& bind(int index, const std::optional<std::int64_t>& value);

  /// True when a row is available, false when done. Throws on error.
  bool step();
  /// Steps to completion (for INSERT/UPDATE/DELETE); returns changes().
  std::int64_t run();

  // Column getters, 0-based, valid after step() returned true.
  bool column_is_null(int index) const;
  std::string column_text(int index) const; // NULL reads as ""
  std::optional<std::string> column_nullable_text(int index) const;
  std::int64_t column_int64(int index) const; // NULL reads as 0
  std::optional<std::int64_t> column_nullable_int64(int index) const;

private:
  void prepare();
  void check_bind(int rc);
  void end_write() noexcept; // of a writing statement run outside a transaction

  database* db_;
  std::string_view sql_;
  sqlite3_stmt* stmt_ = nullptr;
  bool writing_ = false; // holds the database's write gate (see database::begin_write)
};

/// BEGIN (IMMEDIATE by default, which takes the write lock up front and waits for it
/// through the busy timeout; a deferred transaction that later writes can fail with
/// SQLITE_BUSY without waiting). Rolls back in the destructor unless committed.
/// Inside an open transaction it is a SAVEPOINT instead: committing it releases the
/// savepoint (the enclosing transaction decides), rolling it back undoes only its part.
class transaction {
public:
  enum class kind { immediate, deferred };

  explicit transaction(database& db, kind k = kind::immediate);
  ~transaction();

  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;

  void commit();
  void rollback();

private:
  const char* undo_sql() const; // what rolls back this transaction or savepoint

  void end() noexcept; // closes the transaction's hold on the write gate

  database& db_;
  bool open_ = false;
  bool nested_ = false;
  bool writing_ = false; // an outermost IMMEDIATE transaction holds the write gate
};

} // namespace fw::sqlite
