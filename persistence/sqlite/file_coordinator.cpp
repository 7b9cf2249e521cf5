#include "persistence/sqlite/file_coordinator.hpp"

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <system_error>

namespace fw::sqlite {

bool write_gate::try_lock_for(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (first_waiting_.load(std::memory_order_acquire)) {
    std::unique_lock lock{first_m_};
    if (!first_done_.wait_until(lock, deadline, [this] { return !first_waiting_.load(); }))
      return false;
  }
  return mutex_.try_lock_until(deadline);
}

bool write_gate::try_lock_first(std::chrono::milliseconds timeout) {
  first_waiting_.store(true, std::memory_order_release);
  const bool locked = mutex_.try_lock_for(timeout);
  {
    std::lock_guard lock{first_m_};
    first_waiting_.store(false, std::memory_order_release);
  }
  first_done_.notify_all();
  return locked;
}

void write_gate::unlock() {
  mutex_.unlock();
}

std::shared_ptr<file_coordinator> file_coordinator::of(const std::string& path) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<file_coordinator>> registry;
  std::error_code ec;
  auto key = std::filesystem::weakly_canonical(path, ec).string();
  if (ec)
    key = path;
  std::lock_guard lock{registry_mutex};
  std::erase_if(registry, [](const auto& entry) { return entry.second.expired(); });
  auto& slot = registry[key];
  auto found = slot.lock();
  if (!found) {
    found = std::make_shared<file_coordinator>(path);
    slot = found;
  }
  return found;
}

file_coordinator::~file_coordinator() {
  {
    std::lock_guard lock{m_};
    stopping_ = true;
  }
  cv_.notify_one();
  if (checkpointer_.joinable())
    checkpointer_.join();
}

void file_coordinator::write_ended(int wal_pages) {
  if (wal_pages < checkpoint_pages)
    return;
  std::lock_guard lock{m_};
  due_ = true;
  if (!checkpointer_.joinable())
    checkpointer_ = std::thread{[this] { run_checkpoints(); }};
  else
    cv_.notify_one();
}

void file_coordinator::run_checkpoints() {
  sqlite3* db = nullptr;
  std::unique_lock lock{m_};
  while (true) {
    cv_.wait(lock, [this] { return due_ || stopping_; });
    if (stopping_)
      break;
    due_ = false;
    lock.unlock();
    // A file deleted or replaced since (tests do that; so may an operator) gets the
    // new file's WAL checkpointed, not the old one's.
    int moved = 0;
    if (db && sqlite3_file_control(db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK &&
        moved) {
      sqlite3_close_v2(db);
      db = nullptr;
    }
    // A new connection sees the WAL only once it has read the database (a checkpoint
    // before that reports "not in WAL mode" and does nothing).
    if (!db &&
        (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                         nullptr) != SQLITE_OK ||
         sqlite3_exec(db, "PRAGMA schema_version", nullptr, nullptr, nullptr) != SQLITE_OK)) {
      sqlite3_close_v2(db); // the file is gone: the writers report that themselves
      db = nullptr;
    }
    // PASSIVE: copies what no reader still needs and never waits for a lock. Best
    // effort, as SQLite's own autocheckpoint: what is left waits for the next request.
    int wal_pages = 0;
    if (db)
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_pages, nullptr);
    if (db && wal_pages >= wal_limit_pages && gate_.try_lock_first(std::chrono::seconds{5})) {
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      gate_.unlock();
    }
    lock.lock();
  }
  lock.unlock();
  sqlite3_close_v2(db);
}

} // namespace fw::sqlite
