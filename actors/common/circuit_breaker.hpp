#pragma once
// A circuit breaker around calls to an external service: after `failure_threshold`
// consecutive failures it opens and refuses calls for `open_for`; then it lets one trial
// call through (half-open): success closes it, failure opens it again. Thread-safe.

#include <chrono>
#include <mutex>

namespace fw {

class circuit_breaker {
public:
  enum class state { closed = 0, open = 1, half_open = 2 };
  using clock = std::chrono::steady_clock;

  circuit_breaker(unsigned failure_threshold, clock::duration open_for)
    : threshold_(failure_threshold), open_for_(open_for) {
  }

  /// May a call go out now? In half-open state only one trial at a time is allowed.
  bool allow(clock::time_point now = clock::now()) {
    std::lock_guard guard{mtx_};
    switch (state_) {
      case state::closed:
        return true;
      case state::open:
        if (now < reopen_at_)
          return false;
        state_ = state::half_open;
        trial_in_flight_ = true;
        return true;
      case state::half_open:
        if (trial_in_flight_)
          return false;
        trial_in_flight_ = true;
        return true;
    }
    return false;
  }

  void record_success() {
    std::lock_guard guard{mtx_};
    failures_ = 0;
    trial_in_flight_ = false;
    state_ = state::closed;
  }

  void record_failure(clock::time_point now = clock::now()) {
    std::lock_guard guard{mtx_};
    trial_in_flight_ = false;
    if (state_ == state::half_open || ++failures_ >= threshold_) {
      state_ = state::open;
      reopen_at_ = now + open_for_;
      failures_ = 0;
    }
  }

  state current() const {
    std::lock_guard guard{mtx_};
    return state_;
  }

  /// How long until an open breaker lets a trial through (zero when not open).
  clock::duration retry_in(clock::time_point now = clock::now()) const {
    std::lock_guard guard{mtx_};
    return state_ == state::open && now < reopen_at_ ? reopen_at_ - now : clock::duration{};
  }

private:
  mutable std::mutex mtx_;
  unsigned threshold_;
  clock::duration open_for_;
  state state_ = state::closed;
  unsigned failures_ = 0;
  bool trial_in_flight_ = false;
  clock::time_point reopen_at_{};
};

} // namespace fw
