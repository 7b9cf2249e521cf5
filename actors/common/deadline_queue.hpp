#pragma once
// Calls in flight that all share one timeout, oldest first: open order is deadline order,
// so one timer armed for the oldest open call expires them all. This replaces CAF's
// per-request timeout on hot paths: each of those costs two events on CAF's clock thread
// (arm and cancel, each a lock, a condition-variable broadcast and a wake-up of that
// thread), which profiling showed to be the largest single cost of a short call
// (docs/performance.md); here a call costs a push and a pop. Not thread-safe: one actor
// owns it and its one timer: open_armed() and on_tick() say when to arm that timer, so
// that at most one tick is pending whatever the number of calls.

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

namespace fw {

template <class T>
class deadline_queue {
public:
  using clock = std::chrono::steady_clock;
  using ticket = std::uint64_t;

  explicit deadline_queue(clock::duration timeout) : timeout_(timeout) {
  }

  /// A call starts now; `payload` is handed back by close() or to expire()'s callback.
  ticket open(T payload, clock::time_point now = clock::now()) {
    entries_.push_back({now + timeout_, std::move(payload)});
    return first_ + entries_.size() - 1;
  }

  /// open(), and arms the owner's timer through `arm(delay)` unless a tick is pending.
  template <class Arm>
  ticket open_armed(T payload, Arm&& arm, clock::time_point now = clock::now()) {
    const auto t = open(std::move(payload), now);
    if (!armed_) {
      armed_ = true;
      arm(timeout_);
    }
    return t;
  }

  /// The owner's tick: expire(), then arms the timer again through `arm(delay)` for the
  /// oldest call still open.
  template <class OnExpired, class Arm>
  void on_tick(OnExpired&& on_expired, Arm&& arm, clock::time_point now = clock::now()) {
    armed_ = false;
    expire(now, on_expired);
    if (auto due = next_due()) {
      armed_ = true;
      arm(*due - now);
    }
  }

  /// The call ended in time: its payload. Nothing when it had expired (or was closed).
  std::optional<T> close(ticket t) {
    if (t < first_ || t - first_ >= entries_.size())
      return std::nullopt;
    auto out = std::exchange(entries_[t - first_].payload, std::nullopt);
    pop_closed();
    return out;
  }

  /// Hands the payload of every open call due at `now` to `on_expired`, oldest first.
  template <class F>
  void expire(clock::time_point now, F&& on_expired) {
    while (!entries_.empty() && entries_.front().due <= now) {
      auto payload = std::move(entries_.front().payload);
      entries_.pop_front();
      ++first_;
      pop_closed();
      if (payload)
        on_expired(*payload);
    }
  }

  /// When the oldest open call is due; nothing when no call is open.
  std::optional<clock::time_point> next_due() const {
    if (entries_.empty())
      return std::nullopt;
    return entries_.front().due;
  }

private:
  struct entry {
    clock::time_point due;
    std::optional<T> payload; // empty once closed
  };

  void pop_closed() {
    while (!entries_.empty() && !entries_.front().payload) {
      entries_.pop_front();
      ++first_;
    }
  }

  clock::duration timeout_;
  std::deque<entry> entries_;
  ticket first_ = 0;   // ticket of entries_.front()
  bool armed_ = false; // a tick is pending (open_armed, on_tick)
};

} // namespace fw
