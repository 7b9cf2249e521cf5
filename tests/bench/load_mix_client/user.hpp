#pragma once
// load_mix_client's simulated user: load_mix.py's FlightwatchUser (its tasks, their weights
// and the checks of the answers), and what all users of a run share.

// Boost 1.74 Asio/Beast with -std=c++20 on g++ 12 needs <utility> before any Boost header.
#include <utility>

#include "tests/bench/load_mix_client/connection.hpp"
#include "tests/bench/load_mix_client/options.hpp"
#include "tests/bench/load_mix_client/statistics.hpp"

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>

namespace fw::load_mix {

/// Whether a body is a JSON array, checked without building the document. Flight lists are
/// tens of KB and the node answers the same page of an airport many times over (it keeps its
/// answers for seconds): a body equal to the last one that passed for its target passes
/// without being parsed again, which nearly halves the client's CPU at saturation.
class list_checker {
public:
  bool is_list(const std::string& target, const std::string& body);

private:
  std::unordered_map<std::string, std::string> last_passed_; ///< per target
};

/// What every user shares: the options, the target, the clock, randomness and statistics.
struct run_context {
  options opts;
  tcp::resolver::results_type endpoints;
  std::string host_header;
  std::string timeout_text; ///< "10 s", for the timeout failures
  clock_type::time_point start;
  clock_type::time_point deadline;
  std::mt19937_64 rng;
  std::uint64_t serial = 0; ///< users made so far, as load_mix.py's _serial
  int pid = 0;
  std::optional<std::string> sla_document; ///< the node's SLA document, read once
  list_checker lists;
  std::uint64_t connects = 0; ///< connections opened
  statistics stats;
  int active_users = 0;
  bool spawning_done = false;
  net::steady_timer* history_timer = nullptr; ///< woken when the last user ends

  bool stopping() const {
    return clock_type::now() >= deadline;
  }

  bool all_users_ended() const {
    return spawning_done && active_users == 0;
  }

  float seconds_since_start(clock_type::time_point t) const {
    return std::chrono::duration<float>(t - start).count();
  }

  template <class Range>
  std::string_view choice(const Range& r) {
    return r[std::uniform_int_distribution<std::size_t>(0, r.size() - 1)(rng)];
  }

  int randint(int low, int high) { // inclusive, as Python's random.randint
    return std::uniform_int_distribution<int>(low, high)(rng);
  }
};

/// A user's whole life; the spawner counted it in active_users already.
awaitable<void> run_user(run_context& ctx);

} // namespace fw::load_mix
