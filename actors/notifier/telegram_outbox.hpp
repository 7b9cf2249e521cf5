#pragma once
// Messages on their way to Telegram, one queue per chat. A chat's messages go out one at a
// time and in order. Each call waits for its slot from the rate limiter (about 1/s per
// chat, 30/s overall), for a 429's retry_after, or for the backoff after a 5xx or a
// timeout. Those waits are times kept here, not sleeping threads: the senders only make
// calls, so one chat's waits never hold up another chat's messages, however many messages
// wait. Deterministic: time is always passed in. The owner (the notifier actor) makes the
// calls take_due() gives, reports each answer with on_answer(), and looks again at
// next_due().

#include "actors/notifier/telegram_client.hpp"
#include "messages/types.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fw {

/// How one message ended: status "sent", "failed" or "blocked" (the chat blocked the bot:
/// it must not be used again), after `attempts` calls.
struct delivery_result {
  std::string status;
  std::int64_t attempts = 0;
  std::string error; // why it failed; never holds the bot token
};

class telegram_outbox {
public:
  using clock = telegram_rate_limiter::clock;
  /// Gets the final outcome of a message: status "sent", "failed" or "blocked".
  using done_fn = std::function<void(delivery_result)>;

  struct retry_policy {
    unsigned max_attempts = 5;                          // calls that failed (5xx, timeout)
    clock::duration longest_wait = std::chrono::seconds{60}; // a longer retry_after fails
    clock::duration first_backoff = std::chrono::milliseconds{500}; // then doubling...
    clock::duration max_backoff = std::chrono::seconds{30};         // ...up to this
  };

  /// One sendMessage call to make now; its answer goes to on_answer(chat_id, ...).
  struct call {
    std::int64_t chat_id = 0;
    std::string html;
  };

  telegram_outbox(telegram_rate_limiter::limits limits, retry_policy policy);

  /// Queues `html` for `chat_id` behind that chat's earlier messages.
  void push(std::int64_t chat_id, std::string html, done_fn done, clock::time_point now);

  /// The calls due at `now`, earliest first and at most `max_calls`: the first message of
  /// each chat whose time has come and that has no call in progress. They count as in
  /// progress until on_answer(). Due calls left out stay due for the next take_due().
  /// The overall limit also holds for when calls are made, not only for the times they
  /// were given: calls that fell due while the senders were busy (Telegram slow or
  /// unreachable) go out at that rate afterwards, not in one burst.
  std::vector<call> take_due(clock::time_point now, std::size_t max_calls = SIZE_MAX);

  /// The answer to the call in progress for `chat_id`: ends the message (its done_fn is
  /// called) or sets the time of its next call. "blocked" ends every message of the chat.
  void on_answer(std::int64_t chat_id, const telegram_attempt& answer, clock::time_point now);

  /// When the next call falls due (its time, and room under the overall limit); nullopt
  /// when none waits for a time.
  std::optional<clock::time_point> next_due() const;

  /// Messages not finished yet, calls in progress included.
  std::size_t size() const {
    return size_;
  }

private:
  struct message {
    std::string html;
    done_fn done;
    std::int64_t attempts = 0; // calls made, 429s not counted
    unsigned waits = 0;        // 429s waited out
    clock::duration backoff{};
  };
  struct chat_queue {
    std::deque<message> messages;
    bool calling = false; // the first message's call is in progress; else it is in timeline_
  };

  /// Reserves the first message's next call (after any hold) and files it under its time.
  void schedule(std::int64_t chat_id, chat_queue& q, clock::time_point now);
  /// Ends the first message of `chat_id` with `result`; the next one gets its time.
  void finish(std::int64_t chat_id, delivery_result result, clock::time_point now);

  telegram_rate_limiter limiter_;
  unsigned global_per_second_; // 0: no overall limit
  std::deque<clock::time_point> recent_calls_; // when the calls of the last second were made
  retry_policy policy_;
  std::map<std::int64_t, chat_queue> chats_;
  std::multimap<clock::time_point, std::int64_t> timeline_; // chats by their next call
  std::size_t size_ = 0;
};

} // namespace fw
