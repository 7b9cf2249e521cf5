#pragma once
// What this process's connections to one SQLite file share: the write gate and the
// background checkpointer (see database::begin_write and database::end_write).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace fw::sqlite {

/// The write gate: a mutex, plus a way for the checkpointer to go first. With a plain
/// mutex, a connection that writes back to back takes the gate again before a woken
/// waiter runs, so the checkpointer could wait for as long as the writes go on.
class write_gate {
public:
  /// For writers: false when not acquired within `timeout`.
  bool try_lock_for(std::chrono::milliseconds timeout);
  /// For the checkpointer: writers arriving while it waits queue behind it.
  bool try_lock_first(std::chrono::milliseconds timeout);
  void unlock();

private:
  std::timed_mutex mutex_;
  std::atomic<bool> first_waiting_{false};
  std::mutex first_m_;
  std::condition_variable first_done_;
};

class file_coordinator {
public:
  /// The coordinator of the file at `path` (one per file in this process, kept alive by
  /// the connections that hold it).
  static std::shared_ptr<file_coordinator> of(const std::string& path);

  explicit file_coordinator(std::string path) : path_(std::move(path)) {}
  ~file_coordinator(); // stops the checkpointer

  file_coordinator(const file_coordinator&) = delete;
  file_coordinator& operator=(const file_coordinator&) = delete;

  /// One writer at a time among this process's connections to the file.
  write_gate& gate() noexcept {
    return gate_;
  }

  /// A write that left the WAL at `wal_pages` has ended (and released the gate). From
  /// checkpoint_pages on, asks for a checkpoint on the checkpointer's own connection
  /// and thread, so that copying the WAL back into the database file and syncing it
  /// delays no request. SQLite reuses the WAL from its start only when a writer begins
  /// after everything in it was copied back, which a checkpoint beside busy writers
  /// rarely achieves: once the WAL has reached wal_limit_pages, the checkpointer copies
  /// the rest holding the write gate, so the next writer restarts it and the WAL stays
  /// bounded.
  void write_ended(int wal_pages);

private:
  static constexpr int checkpoint_pages = 1000; // SQLite's default autocheckpoint
  static constexpr int wal_limit_pages = 4000;  // 16 MB with 4 KiB pages

  void run_checkpoints();

  const std::string path_;
  write_gate gate_;
  std::mutex m_;
  std::condition_variable cv_;
  bool due_ = false;
  bool stopping_ = false;
  std::thread checkpointer_; // started on the first request
};

} // namespace fw::sqlite
