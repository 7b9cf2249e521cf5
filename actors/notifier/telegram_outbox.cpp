#include "actors/notifier/telegram_outbox.hpp"

#include <algorithm>
#include <utility>

namespace fw {

telegram_outbox::telegram_outbox(telegram_rate_limiter::limits limits, retry_policy policy)
  : limiter_(limits), global_per_second_(limits.global_per_second), policy_(policy) {
  policy_.max_attempts = std::max(1u, policy_.max_attempts);
}

void telegram_outbox::push(std::int64_t chat_id, std::string html, done_fn done,
                           clock::time_point now) {
  auto& q = chats_[chat_id];
  q.messages.push_back({std::move(html), std::move(done), 0, 0, policy_.first_backoff});
  ++size_;
  if (q.messages.size() == 1)
    schedule(chat_id, q, now);
}

void telegram_outbox::schedule(std::int64_t chat_id, chat_queue& q, clock::time_point now) {
  q.calling = false;
  timeline_.emplace(limiter_.reserve(chat_id, now), chat_id);
}

std::vector<telegram_outbox::call> telegram_outbox::take_due(clock::time_point now,
                                                             std::size_t max_calls) {
  if (global_per_second_ > 0) {
    while (!recent_calls_.empty() && recent_calls_.front() <= now - std::chrono::seconds{1})
      recent_calls_.pop_front();
    max_calls = std::min<std::size_t>(max_calls, global_per_second_ - recent_calls_.size());
  }
  std::vector<call> calls;
  auto end = timeline_.begin();
  for (; end != timeline_.end() && end->first <= now && calls.size() < max_calls; ++end) {
    auto& q = chats_.at(end->second);
    q.calling = true;
    auto& m = q.messages.front();
    ++m.attempts;
    calls.push_back({end->second, m.html});
  }
  timeline_.erase(timeline_.begin(), end);
  if (global_per_second_ > 0)
    recent_calls_.insert(recent_calls_.end(), calls.size(), now);
  return calls;
}

std::optional<telegram_outbox::clock::time_point> telegram_outbox::next_due() const {
  if (timeline_.empty())
    return std::nullopt;
  auto at = timeline_.begin()->first;
  if (global_per_second_ > 0 && recent_calls_.size() >= global_per_second_) // a full second
    at = std::max(at, recent_calls_[recent_calls_.size() - global_per_second_]
                        + std::chrono::seconds{1});
  return at;
}

void telegram_outbox::on_answer(std::int64_t chat_id, const telegram_attempt& answer,
                                clock::time_point now) {
  auto it = chats_.find(chat_id);
  if (it == chats_.end() || !it->second.calling)
    return; // not a call of ours (cannot happen: one call per chat at a time)
  auto& q = it->second;
  auto& m = q.messages.front();
  if (answer.status == "ok") {
    finish(chat_id, {"sent", m.attempts, {}}, now);
  } else if (answer.status == "blocked") {
    // Telegram will refuse every message to this chat: none is sent, all end "blocked".
    std::vector<std::pair<done_fn, delivery_result>> ended;
    for (auto& msg : q.messages)
      ended.emplace_back(std::move(msg.done),
                         delivery_result{"blocked", msg.attempts, answer.error});
    size_ -= q.messages.size();
    chats_.erase(it);
    for (auto& [done, result] : ended)
      done(std::move(result));
  } else if (answer.status == "retry_after") {
    const auto wait = std::chrono::seconds{answer.retry_after_s};
    if (wait > policy_.longest_wait || ++m.waits > policy_.max_attempts) {
      // Not worth holding the chat for: the message fails (its event says so).
      finish(chat_id,
             {"failed", m.attempts,
              "Telegram asked to wait " + std::to_string(answer.retry_after_s) + " s"},
             now);
      return;
    }
    --m.attempts; // waiting as asked is not a failed attempt
    limiter_.hold(chat_id, now + wait);
    schedule(chat_id, q, now);
  } else if (answer.status == "transient" && m.attempts < policy_.max_attempts) {
    limiter_.hold(chat_id, now + m.backoff);
    m.backoff = std::min(m.backoff * 2, policy_.max_backoff);
    schedule(chat_id, q, now);
  } else {
    // "rejected" (a permanent 4xx), or the last attempt failed: its error is the reason.
    finish(chat_id, {"failed", m.attempts, answer.error}, now);
  }
}

void telegram_outbox::finish(std::int64_t chat_id, delivery_result result,
                             clock::time_point now) {
  auto it = chats_.find(chat_id);
  auto done = std::move(it->second.messages.front().done);
  it->second.messages.pop_front();
  --size_;
  if (it->second.messages.empty())
    chats_.erase(it);
  else
    schedule(chat_id, it->second, now);
  // Last: `done` may push more messages.
  done(std::move(result));
}

} // namespace fw
