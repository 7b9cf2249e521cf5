#pragma once
// Answers to flight queries (list, count, last), kept for collector.query_cache_ttl.
// Stored flights change only when a collection stores a batch, and that drops the
// airport's answers at once (invalidate(), on every data-collector of the cluster), so a
// busy airport read many times a second costs one query per TTL instead of one per
// request. The TTL bounds what invalidation cannot: the moving "last N days" window of a
// count, and an invalidation lost on the way to a peer. Concurrent misses of one key share
// one query, and an answer that began before its airport changed is never stored. An
// answer read late in its TTL (from a random point between half and 90% of it, so that
// answers stored together are not all renewed together) is queried again in the
// background: a key in steady use never expires and its requests never wait for the
// database.
// Memory is bounded: the oldest answers go first when max_bytes would be exceeded.
// Each kept answer is also pinned on a kept_answers board (when given one), which the
// gateway reads from its I/O threads.

#include "actors/data_collector/kept_answers.hpp"
#include "actors/data_collector/list_page.hpp"
#include "messages/types.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

namespace fw::data_collector {

class query_cache {
public:
  using clock = std::chrono::steady_clock;
  using waiter = std::function<void(const caf::expected<cached_answer>&)>;
  /// One query being run for a key (from wait()); hand it back to finish().
  using ticket = std::uint64_t;

  /// ttl 0 disables the cache: find() never hits and wait() never joins. Kept answers are
  /// pinned on `board` (if any) until they are dropped or the cache is destroyed.
  query_cache(clock::duration ttl, std::size_t max_bytes, kept_answers* board = nullptr);
  ~query_cache();
  query_cache(const query_cache&) = delete;
  query_cache& operator=(const query_cache&) = delete;

  bool enabled() const {
    return ttl_ > clock::duration::zero();
  }
  struct lookup {
    /// The answer for the key if one is stored and younger than the TTL.
    const cached_answer* answer = nullptr;
    /// Set when that answer is due for renewal and nobody queries the key yet: the
    /// caller runs the query and passes this to finish().
    std::optional<ticket> refresh;
  };
  lookup find(const std::string& key, clock::time_point now);
  /// Registers `w` for `key`'s answer. When a query for it is already running, `w` joins it
  /// and nothing is returned; otherwise the caller runs the query and passes the ticket to
  /// finish().
  std::optional<ticket> wait(const std::string& airport, const std::string& key, waiter w);
  /// The query of `t` ended: stores a successful answer unless its airport changed while it
  /// ran, and returns every waiter of the query (the caller calls them with `answer`).
  std::vector<waiter> finish(ticket t, const caf::expected<cached_answer>& answer,
                             clock::time_point now);
  /// Flights of `airport` changed: its answers go, and running queries of it are neither
  /// stored nor joined any more.
  void invalidate(const std::string& airport);

  std::size_t bytes() const {
    return bytes_;
  }
  std::size_t size() const {
    return entries_.size();
  }

  /// What an answer is counted as against max_bytes (its heap and bookkeeping).
  static std::size_t weight(const std::string& key, const cached_answer& answer);

private:
  struct entry {
    std::string airport;
    kept_answers::answer_ptr answer; // shared with the board
    clock::time_point refresh_at; // from here on a read queries it again
    clock::time_point expires;
    std::size_t weight = 0;
    std::list<std::string>::iterator age; // position in order_
  };
  struct running {
    std::string airport;
    std::string key;
    /// Its answer is up to date, so requests may join it and it may be kept: false with
    /// the cache off, and from the moment its airport's flights change.
    bool current = true;
    std::vector<waiter> waiters;
  };

  ticket start(const std::string& airport, const std::string& key);
  void erase(std::unordered_map<std::string, entry>::iterator it);

  clock::duration ttl_;
  std::size_t max_bytes_;
  kept_answers* board_;
  std::size_t bytes_ = 0;
  std::unordered_map<std::string, entry> entries_;
  std::list<std::string> order_; // keys, oldest stored first
  std::unordered_map<ticket, running> running_;
  std::unordered_map<std::string, ticket> joinable_; // key -> its current running query
  ticket next_ticket_ = 1;
  std::minstd_rand jitter_;
};

} // namespace fw::data_collector
