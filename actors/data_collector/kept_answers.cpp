#include "actors/data_collector/kept_answers.hpp"

#include <prometheus/counter.h>

namespace fw::data_collector {

std::string list_key(const flight_query& q) {
  auto bound = [](const caf::optional<std::int64_t>& x) {
    return x ? std::to_string(*x) : std::string{"-"};
  };
  return "list|" + q.airport_code + "|" + q.type + "|" + std::to_string(q.limit) + "|"
         + bound(q.since) + "|" + bound(q.until);
}

std::string average_key(const std::string& airport, const std::string& type,
                        std::int64_t days) {
  return "average|" + airport + "|" + type + "|" + std::to_string(days);
}

std::string last_key(const std::string& airport, const std::string& type) {
  return "last|" + airport + "|" + type;
}

void kept_answers::pin(const void* owner, const std::string& key, answer_ptr answer,
                       clock::time_point fresh_until) {
  std::lock_guard lock{mutex_};
  pinned_.insert_or_assign(key, pinned{owner, std::move(answer), fresh_until});
}

void kept_answers::unpin(const void* owner, const std::string& key) {
  answer_ptr dropped; // freed outside the lock
  std::lock_guard lock{mutex_};
  if (auto it = pinned_.find(key); it != pinned_.end() && it->second.owner == owner) {
    dropped = std::move(it->second.answer);
    pinned_.erase(it);
  }
}

void kept_answers::unpin_all(const void* owner) {
  std::lock_guard lock{mutex_};
  std::erase_if(pinned_, [owner](const auto& kv) { return kv.second.owner == owner; });
}

kept_answers::answer_ptr kept_answers::find(const std::string& key, clock::time_point now) const {
  std::lock_guard lock{mutex_};
  auto it = pinned_.find(key);
  if (it == pinned_.end() || now >= it->second.fresh_until)
    return nullptr;
  return it->second.answer;
}

void kept_answers::set_hit_counter(prometheus::Counter* hits) {
  hits_.store(hits);
}

void kept_answers::count_hit() const {
  if (auto* hits = hits_.load())
    hits->Increment();
}

} // namespace fw::data_collector
