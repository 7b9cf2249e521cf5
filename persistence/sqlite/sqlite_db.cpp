#include "persistence/sqlite/sqlite_db.hpp"

#include "persistence/sqlite/file_coordinator.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>
#include <thread>

namespace fw::sqlite {

namespace {

// Primary result codes meaning "the database file cannot be used" rather than "this
// statement is wrong": the session is lost and should be reopened.
bool is_unavailable(int rc) {
  switch (rc & 0xff) {
  case SQLITE_CANTOPEN:
  case SQLITE_NOTADB:
  case SQLITE_IOERR:
  case SQLITE_CORRUPT:
  case SQLITE_FULL:
  case SQLITE_READONLY: // includes READONLY_DBMOVED: the file was deleted or moved
  case SQLITE_PERM:
  case SQLITE_NOLFS:
    return true;
  default:
    return false;
  }
}

// The beginning of a statement's SQL, to say which one failed (never parameter values:
// those are bound, not part of the text).
std::string_view sql_head(std::string_view sql) {
  auto first = sql.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos)
    return {};
  sql.remove_prefix(first);
  constexpr std::size_t max_len = 48;
  if (auto nl = sql.find('\n'); nl < max_len)
    return sql.substr(0, nl);
  return sql.substr(0, max_len);
}

constexpr int busy_timeout_ms = 5000;

/// The busy handler: while another connection holds the write lock, retry every 250 us
/// at first, then every millisecond, for busy_timeout_ms in all. SQLite's own
/// (sqlite3_busy_timeout) sleeps 1, 2, 5, 10, 15, 20, 25 ... ms between tries, so a
/// storage worker queued behind another's sub-millisecond write slept up to 25 ms.
int retry_while_busy(void* started, int count) {
  using namespace std::chrono;
  auto& first_call = *static_cast<steady_clock::time_point*>(started);
  const auto now = steady_clock::now();
  if (count == 0)
    first_call = now;
  else if (now - first_call >= milliseconds{busy_timeout_ms})
    return 0; // SQLITE_BUSY for the caller
  std::this_thread::sleep_for(count < 4 ? microseconds{250} : microseconds{1000});
  return 1;
}

/// SQLite's automatic checkpoint runs inside the COMMIT that fills the WAL: it would
/// hold the write gate, and the request, while 1000 pages are copied back into the
/// database file and synced. This WAL hook only notes the size; end_write() hands it to
/// the file's coordinator, whose background thread checkpoints.
int note_wal_size(void* pages, sqlite3*, const char*, int wal_pages) {
  *static_cast<int*>(pages) = wal_pages;
  return SQLITE_OK;
}

} // namespace

// -- database -------------------------------------------------------------------------

database::database(const std::string& path) {
  auto parent = std::filesystem::path{path}.parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec)
      throw storage_unavailable("cannot create directory " + parent.string() +
                                " for SQLite: " + ec.message());
  }
  constexpr int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw storage_unavailable("cannot open SQLite database " + path + ": " + msg);
  }
  sqlite3_extended_result_codes(db_, 1);
  try {
    // The busy handler first: switching to WAL needs a lock another connection may hold.
    rc = sqlite3_busy_handler(db_, retry_while_busy, &busy_since_);
    if (rc != SQLITE_OK)
      fail(rc, "busy_handler");
    // The first read of the file happens here: a file that is not a database fails now.
    // Switching a fresh file to WAL needs an exclusive lock for which SQLite does not
    // call the busy handler (several connections opening the same new file get
    // SQLITE_BUSY at once), so retry for up to the busy timeout.
    using namespace std::chrono;
    const auto deadline = steady_clock::now() + milliseconds{busy_timeout_ms};
    for (auto pause = milliseconds{1};; pause = std::min(pause * 2, milliseconds{50})) {
      rc = sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
      if (rc == SQLITE_OK)
        break;
      if ((rc & 0xff) != SQLITE_BUSY || steady_clock::now() >= deadline)
        fail(rc, "PRAGMA journal_mode=WAL");
      std::this_thread::sleep_for(pause);
    }
    exec("PRAGMA foreign_keys=ON");
    exec("PRAGMA synchronous=NORMAL");
    file_ = file_coordinator::of(path);
    sqlite3_wal_hook(db_, note_wal_size, &wal_pages_); // replaces the autocheckpoint
  } catch (const storage_unavailable& e) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw storage_unavailable("cannot open SQLite database " + path + ": " + e.what());
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

database::~database() {
  // Statements are finalized by their owners first (they are members declared after
  // the database); sqlite3_close_v2 copes with stragglers anyway.
  sqlite3_close_v2(db_);
  if (writes_open_ > 0)
    file_->gate().unlock();
}

void database::exec(std::string_view sql) {
  std::string text{sql};
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK)
    fail(rc, sql_head(sql));
}

std::int64_t database::changes() const {
  return sqlite3_changes64(db_);
}

bool database::autocommit() const {
  return sqlite3_get_autocommit(db_) != 0;
}

bool database::file_moved() const {
  int moved = 0;
  int rc = sqlite3_file_control(db_, "main", SQLITE_FCNTL_HAS_MOVED, &moved);
  return rc == SQLITE_OK && moved != 0;
}

void database::begin_write(std::string_view what) {
  if (writes_open_ == 0 && !file_->gate().try_lock_for(std::chrono::milliseconds{busy_timeout_ms}))
    throw std::runtime_error("SQLite " + std::string{what} +
                             ": database is locked (another writer of this process)");
  ++writes_open_;
}

void database::end_write() noexcept {
  if (writes_open_ == 0 || --writes_open_ > 0)
    return;
  file_->gate().unlock();
  file_->write_ended(wal_pages_);
  wal_pages_ = 0;
}

void database::fail(int rc, std::string_view what) const {
  std::string msg = "SQLite ";
  msg += what;
  msg += ": ";
  msg += db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  if (is_unavailable(rc))
    throw storage_unavailable(msg);
  if ((rc & 0xff) == SQLITE_CONSTRAINT)
    throw constraint_violation(rc, msg);
  throw std::runtime_error(msg);
}

// -- statement ------------------------------------------------------------------------

statement::guard::~guard() {
  if (s_ && s_->stmt_) {
    sqlite3_reset(s_->stmt_);
    s_->end_write();
  }
}

statement::~statement() {
  end_write();
  sqlite3_finalize(stmt_);
}

void statement::end_write() noexcept {
  if (writing_) {
    writing_ = false;
    db_->end_write();
  }
}

void statement::prepare() {
  int rc = sqlite3_prepare_v3(db_->handle(), sql_.data(), static_cast<int>(sql_.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    db_->fail(rc, sql_head(sql_));
  }
}

statement::guard statement::use() {
  if (!stmt_)
    prepare();
  sqlite3_reset(stmt_);
  end_write();
  sqlite3_clear_bindings(stmt_);
  return guard{*this};
}

void statement::check_bind(int rc) {
  if (rc != SQLITE_OK)
    db_->fail(rc, sql_head(sql_));
}

statement& statement::bind(int index, std::string_view text) {
  check_bind(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

statement& statement::bind(int index, std::int64_t value) {
  check_bind(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

statement& statement::bind_null(int index) {
  check_bind(sqlite3_bind_null(stmt_, index));
  return *this;
}

statement& statement::bind_text_or_null(int index, std::string_view text) {
  return text.empty() ? bind_null(index) : bind(index, text);
}

statement& statement::bind(int index, const std::optional<std::int64_t>& value) {
  return value ? bind(index, *value) : bind_null(index);
}

bool statement::step() {
  // A write outside a transaction is a transaction of its own: it takes the write gate
  // for as long as it runs (until done, failed or reset).
  if (!writing_ && db_->autocommit() && !sqlite3_stmt_readonly(stmt_)) {
    db_->begin_write(sql_head(sql_));
    writing_ = true;
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW)
    return true;
  end_write();
  if (rc == SQLITE_DONE)
    return false;
  db_->fail(rc, sql_head(sql_));
}

std::int64_t statement::run() {
  while (step()) {
  }
  return db_->changes();
}

bool statement::column_is_null(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

std::string statement::column_text(int index) const {
  auto* text = sqlite3_column_text(stmt_, index);
  if (!text)
    return {};
  auto len = sqlite3_column_bytes(stmt_, index);
  return std::string{reinterpret_cast<const char*>(text), static_cast<std::size_t>(len)};
}

std::optional<std::string> statement::column_nullable_text(int index) const {
  if (column_is_null(index))
    return std::nullopt;
  return column_text(index);
}

std::int64_t statement::column_int64(int index) const {
  return sqlite3_column_int64(stmt_, index);
}

std::optional<std::int64_t> statement::column_nullable_int64(int index) const {
  if (column_is_null(index))
    return std::nullopt;
  return column_int64(index);
}

// -- transaction ----------------------------------------------------------------------

transaction::transaction(database& db, kind k) : db_(db), nested_(!db.autocommit()) {
  if (nested_) {
    db_.exec("SAVEPOINT fw_nested");
  } else if (k == kind::immediate) {
    db_.begin_write("BEGIN IMMEDIATE");
    writing_ = true;
    try {
      db_.exec("BEGIN IMMEDIATE");
    } catch (...) {
      end();
      throw;
    }
  } else {
    db_.exec("BEGIN DEFERRED");
  }
  open_ = true;
}

transaction::~transaction() {
  if (open_ && !db_.autocommit()) {
    // Best effort; an error here leaves the enclosing transaction to roll back.
    sqlite3_exec(db_.handle(), undo_sql(), nullptr, nullptr, nullptr);
  }
  end();
}

void transaction::end() noexcept {
  if (writing_) {
    writing_ = false;
    db_.end_write();
  }
}

const char* transaction::undo_sql() const {
  return nested_ ? "ROLLBACK TO fw_nested; RELEASE fw_nested" : "ROLLBACK";
}

void transaction::commit() {
  db_.exec(nested_ ? "RELEASE fw_nested" : "COMMIT");
  open_ = false;
  end();
}

void transaction::rollback() {
  open_ = false;
  // An I/O error or a full disk may have rolled the whole transaction back already.
  if (!db_.autocommit())
    db_.exec(undo_sql());
  end();
}

} // namespace fw::sqlite
