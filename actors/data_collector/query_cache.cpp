#include "actors/data_collector/query_cache.hpp"

namespace fw::data_collector {

namespace {

/// Heap bytes of a string beyond the small-string buffer.
std::size_t heap_of(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

std::size_t heap_of(const flight& f) {
  return heap_of(f.icao24) + heap_of(f.est_departure_airport) + heap_of(f.est_arrival_airport)
         + heap_of(f.callsign);
}

/// Hash-map nodes (the cache's and the board's), list node, the shared answer's control
/// block and allocation headers of one entry, roughly.
constexpr std::size_t entry_overhead = 240;

} // namespace

query_cache::query_cache(clock::duration ttl, std::size_t max_bytes, kept_answers* board)
  : ttl_(ttl), max_bytes_(max_bytes), board_(board) {
}

query_cache::~query_cache() {
  if (board_)
    board_->unpin_all(this);
}

std::size_t query_cache::weight(const std::string& key, const cached_answer& answer) {
  std::size_t w = entry_overhead + 3 * heap_of(key) + sizeof(entry) + sizeof(cached_answer);
  if (const auto* body = std::get_if<std::string>(&answer))
    w += heap_of(*body);
  else if (const auto* page = std::get_if<list_body>(&answer))
    w += heap_of(page->text) + heap_of(page->gzip);
  else if (const auto* last = std::get_if<std::optional<flight>>(&answer); last && *last)
    w += heap_of(**last);
  return w;
}

query_cache::lookup query_cache::find(const std::string& key, clock::time_point now) {
  auto it = entries_.find(key);
  if (it == entries_.end())
    return {};
  auto& e = it->second;
  if (now >= e.expires) {
    erase(it);
    return {};
  }
  lookup out{e.answer.get(), std::nullopt};
  if (now >= e.refresh_at && !joinable_.contains(key)) {
    out.refresh = start(e.airport, key);
    e.refresh_at = e.expires; // once; a failed refresh leaves the answer to expire
  }
  return out;
}

std::optional<query_cache::ticket> query_cache::wait(const std::string& airport,
                                                     const std::string& key, waiter w) {
  if (enabled()) {
    if (auto j = joinable_.find(key); j != joinable_.end()) {
      running_.at(j->second).waiters.push_back(std::move(w));
      return std::nullopt;
    }
  }
  const auto t = start(airport, key);
  running_.at(t).waiters.push_back(std::move(w));
  return t;
}

query_cache::ticket query_cache::start(const std::string& airport, const std::string& key) {
  const auto t = next_ticket_++;
  auto& r = running_[t];
  r.airport = airport;
  r.key = key;
  r.current = enabled();
  if (r.current)
    joinable_.emplace(key, t);
  return t;
}

std::vector<query_cache::waiter> query_cache::finish(ticket t,
                                                     const caf::expected<cached_answer>& answer,
                                                     clock::time_point now) {
  auto it = running_.find(t);
  if (it == running_.end())
    return {};
  auto r = std::move(it->second);
  running_.erase(it);
  if (r.current)
    joinable_.erase(r.key);
  if (!answer || !r.current)
    return std::move(r.waiters);
  if (auto old = entries_.find(r.key); old != entries_.end())
    erase(old);
  const auto w = weight(r.key, *answer);
  if (w > max_bytes_)
    return std::move(r.waiters);
  while (bytes_ + w > max_bytes_ && !order_.empty())
    erase(entries_.find(order_.front()));
  order_.push_back(r.key);
  const auto renew_after =
    ttl_ / 2 + ttl_ * std::uniform_int_distribution<int>{0, 40}(jitter_) / 100;
  auto kept = std::make_shared<const cached_answer>(*answer);
  if (board_)
    board_->pin(this, r.key, kept, now + renew_after);
  entries_.emplace(r.key, entry{r.airport, std::move(kept), now + renew_after, now + ttl_, w,
                                std::prev(order_.end())});
  bytes_ += w;
  return std::move(r.waiters);
}

void query_cache::invalidate(const std::string& airport) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (it->second.airport == airport)
      erase(it);
    it = next;
  }
  // A request from now on must not get the answer of a query that began before, and
  // that answer is not kept.
  for (auto& [t, r] : running_)
    if (r.current && r.airport == airport) {
      joinable_.erase(r.key);
      r.current = false;
    }
}

void query_cache::erase(std::unordered_map<std::string, entry>::iterator it) {
  if (board_)
    board_->unpin(this, it->first);
  bytes_ -= it->second.weight;
  order_.erase(it->second.age);
  entries_.erase(it);
}

} // namespace fw::data_collector
