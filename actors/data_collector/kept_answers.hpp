#pragma once
// The data-collector's kept answers (query_cache.hpp), readable from any thread. The
// cache pins each answer it keeps and unpins it when it drops it, so the gateway answers a
// request whose answer is kept on its HTTP I/O thread: no message to the role and back (two
// thread hand-offs) and no copy of the answer into a message. Only answers before their
// renewal point are given out; a request after it goes to the role, which serves the kept
// answer and renews it in the background, as before. So an answer given out here is never
// older than collector.query_cache_ttl, and new flights unpin their airport's answers at
// once, as they drop them from the cache.

#include "actors/data_collector/list_page.hpp"
#include "messages/types.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>

namespace prometheus {
class Counter;
}

namespace fw::data_collector {

/// A stored answer: a response body (JSON text, rendered once per query run: an average,
/// or a page of flights with its gzip encoding), or the last flight (or none).
using cached_answer = std::variant<std::string, list_body, std::optional<flight>>;

/// Keys of kept answers, the same for the role and the gateway: a query and its
/// parameters, after the role's input rules normalised them (interest_rules.hpp).
std::string list_key(const flight_query& q);
std::string average_key(const std::string& airport, const std::string& type, std::int64_t days);
std::string last_key(const std::string& airport, const std::string& type);

class kept_answers {
public:
  using clock = std::chrono::steady_clock;
  using answer_ptr = std::shared_ptr<const cached_answer>;

  /// `owner` (a query_cache) keeps `answer` for `key`; it is given out until `fresh_until`.
  void pin(const void* owner, const std::string& key, answer_ptr answer,
           clock::time_point fresh_until);
  /// `owner` dropped the answer of `key` (one pinned by another owner stays).
  void unpin(const void* owner, const std::string& key);
  /// Everything `owner` pinned goes (its role instance stops).
  void unpin_all(const void* owner);
  /// The answer of `key` if one is pinned and `now` is before its fresh_until.
  answer_ptr find(const std::string& key, clock::time_point now) const;

  /// The role's counter of answers served from its cache; find() does not count, so that
  /// a caller that cannot use what it found counts nothing.
  void set_hit_counter(prometheus::Counter* hits);
  void count_hit() const;

private:
  struct pinned {
    const void* owner = nullptr;
    answer_ptr answer;
    clock::time_point fresh_until;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, pinned> pinned_;
  std::atomic<prometheus::Counter*> hits_{nullptr};
};

} // namespace fw::data_collector
